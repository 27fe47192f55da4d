"""Logging scikit-learn models to MLflow: pinned requirements, a declared signature, signed.

Every forest the project logs goes through `log_sklearn_model`, which signs it (trust/), so
that register_model.py loads back only the forests the project made, and saves it without
pickle where the installed MLflow can (skops, on MLflow 3). `autologged_run` is train.py's
`mlflow.sklearn.autolog()` run. The differences between MLflow 2.x and 3.x in naming and
saving a logged model are handled here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

from homework.config import MODEL_ARTIFACT
from homework.data.lineage import log_datasets
from homework.tracking.connection import MLFLOW_3
from homework.tracking.experiments import set_experiment
from homework.trust.signing import sign_logged_model


def model_name(name: str) -> dict[str, str]:
    """The keyword that names a logged model: MLflow 3 renamed `artifact_path=` to `name=`
    (and `name=` is a TypeError on 2.x)."""
    return {"name" if MLFLOW_3 else "artifact_path": name}


@functools.cache
def installed_version(package: str) -> str:
    """The installed version of `package`, read once: each read parses its metadata files."""
    return version(package)


def pinned_requirements(*extra: str) -> list[str]:
    """Pinned requirements for a logged model, read from this environment (no slow inference).

    `extra`: what the model needs beside MLflow and scikit-learn (its format's package, ...).
    """
    packages = ("mlflow", "scikit-learn", "scipy", "numpy", *extra)
    return [f"{name}=={installed_version(name)}" for name in packages]


def forest_signature(model: Any) -> Any:
    """A forest on the vectorised matrix: float64 rows of its features in, minutes out.

    Declared from the model, as infer_signature would give it, without sample rows.
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    inputs = Schema([TensorSpec(np.dtype("float64"), (-1, model.n_features_in_))])
    outputs = Schema([TensorSpec(np.dtype("float64"), (-1,))])
    return ModelSignature(inputs=inputs, outputs=outputs)


def saving_format(as_autolog: bool) -> tuple[dict[str, Any], str]:
    """How a forest is saved (log_model's arguments), and the package that reads it back.

    skops on MLflow 3, trusting model/files.py's TRUSTED_TYPES (else its check right after saving
    refuses the trees); cloudpickle on 2.x, which has no other format, and for `as_autolog`,
    as autolog saves it.
    """
    from homework.model.files import TRUSTED_TYPES

    if MLFLOW_3 and not as_autolog:
        return {"serialization_format": "skops", "skops_trusted_types": TRUSTED_TYPES}, "skops"
    return {"serialization_format": "cloudpickle"}, "cloudpickle"


def log_sklearn_model(model: Any, as_autolog: bool = False) -> Any:
    """Log a scikit-learn model as `model` in the active run, and sign it.

    Every forest the project logs is signed, so that register_model.py loads only the
    trials hpo.py made, not one planted among them; on MLflow 3 it is saved with skops, so
    loading it unpickles nothing. `as_autolog`: pickled as autolog saves it (train.py's
    forest, the course's runs:/<id>/model, which nothing here loads back). No
    pip-requirement inference. Returns MLflow's ModelInfo. Load the model back by
    `runs:/<run_id>/model` or `model_info.model_uri`, never by artifact path: on MLflow 3
    a model is not among its run's artifacts.
    """
    import mlflow.sklearn

    saving, package = saving_format(as_autolog)
    model_info = mlflow.sklearn.log_model(
        model,
        **model_name(MODEL_ARTIFACT),
        signature=forest_signature(model),
        pip_requirements=pinned_requirements(package),
        **saving,
    )
    sign_logged_model(model_info)
    return model_info


@contextlib.contextmanager
def autologged_run(experiment: str, months: dict[str, Any]) -> Iterator[Any]:
    """One run of `experiment` under `mlflow.sklearn.autolog()`, with the `months` it uses.

    Autolog records every parameter of a forest fitted in the block. Two settings keep it
    fast and small: no dataset logging (it would turn the sparse matrix dense: gigabytes;
    the raw months are logged instead, see lineage.py) and no model logging (it would infer
    the pip requirements by loading the model again in a fresh interpreter: seconds); log
    the model with log_sklearn_model. Autolog is switched off again afterwards.
    """
    import mlflow

    mlflow.sklearn.autolog(log_datasets=False, log_models=False, silent=True)
    try:
        set_experiment(experiment)
        with mlflow.start_run() as run:
            log_datasets(months)
            yield run
    finally:
        mlflow.sklearn.autolog(disable=True)  # leave no patched scikit-learn behind
