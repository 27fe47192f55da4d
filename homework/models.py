"""Logging scikit-learn models to MLflow: pinned requirements, a declared signature, signed.

Every forest the project logs goes through `log_sklearn_model`, which signs it (trust/), so
that register_model.py loads back only the forests the project made. `autologged_run` is
train.py's `mlflow.sklearn.autolog()` run. The differences between MLflow 2.x and 3.x in
naming a logged model are handled here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

from homework.config import MODEL_ARTIFACT
from homework.lineage import log_datasets, pickled_months
from homework.tracking import MLFLOW_3, set_experiment
from homework.trust.loading import SigningFlavor


def model_name(name: str) -> dict[str, str]:
    """The keyword that names a logged model: MLflow 3 renamed `artifact_path=` to `name=`
    (and `name=` is a TypeError on 2.x)."""
    return {"name" if MLFLOW_3 else "artifact_path": name}


@functools.cache
def installed_version(package: str) -> str:
    """The installed version of `package`, read once: each read parses its metadata files."""
    return version(package)


def pinned_requirements(*extra: str) -> list[str]:
    """Pinned requirements for a logged model, read from this environment (no slow inference)."""
    packages = ("mlflow", "scikit-learn", "scipy", "numpy", "cloudpickle", *extra)
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


def log_sklearn_model(model: Any, run_id: str | None = None) -> Any:
    """Log a scikit-learn model as `model` in run `run_id` (default: the active run), signed.

    Every forest the project logs is signed, so that register_model.py unpickles only the
    trials hpo.py made, not one planted among them; it is signed as it is saved, before
    the upload (trust.loading.SigningFlavor). This is `mlflow.sklearn.log_model`, without
    pip-requirement inference. Returns MLflow's ModelInfo. Load the model back by
    `runs:/<run_id>/model` or `model_info.model_uri`, never by artifact path: on MLflow 3 a
    model is not among its run's artifacts.
    """
    import mlflow.sklearn
    from mlflow.models import Model

    # MLflow 3's default format, skops, refuses a forest's tree types: cloudpickle, as 2.x
    # and autolog use.
    return Model.log(
        **model_name(MODEL_ARTIFACT),
        flavor=SigningFlavor(mlflow.sklearn),
        run_id=run_id,
        sk_model=model,
        signature=forest_signature(model),
        pip_requirements=pinned_requirements(),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    )


@contextlib.contextmanager
def autologged_run(experiment: str, data_path: str) -> Iterator[Any]:
    """One run of `experiment` under `mlflow.sklearn.autolog()`, with the months it trains on.

    Autolog records every parameter of a forest fitted in the block. Two settings keep it
    fast and small: no dataset logging (it would turn the sparse matrix dense: gigabytes;
    the raw months are logged instead, see lineage.py) and no model logging (it would infer
    the pip requirements by loading the model again in a fresh interpreter: seconds); log
    the model with log_sklearn_model. Autolog is switched off again afterwards.
    """
    import mlflow

    datasets = pickled_months(data_path, ("train", "val"))
    mlflow.sklearn.autolog(log_datasets=False, log_models=False, silent=True)
    try:
        set_experiment(experiment)
        with mlflow.start_run() as run:
            log_datasets(datasets)
            yield run
    finally:
        mlflow.sklearn.autolog(disable=True)  # leave no patched scikit-learn behind
