"""Models through MLflow: logging them, registering them, signing them and loading them.

A model is loaded only from a local copy whose signature checked out (signing.py): MLflow
never unpickles a model straight from the server or the artifact store. The differences
between MLflow 2.x and 3.x in how models are named and stored are handled here, by
tracking.MLFLOW_3.
"""

from __future__ import annotations

import contextlib
import functools
import re
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import click

from homework.config import MODEL_ARTIFACT, SIGNED_MANIFEST
from homework.errors import UserError, first_line
from homework.tracking import MLFLOW_3, connection_lost, refused_status, server_failed, verbose

REGISTER_YOUR_OWN = "register your own with `make q6`"
RUN_THE_SEARCH_AGAIN = "run the search again with `make q5`"

# ---------------------------------------------------------------- signed models


def model_source(model_uri: str) -> tuple[str, str]:
    """Where to download `model_uri` from, and how messages name it.

    A registered version (models:/<name>@<alias> or models:/<name>/<version>) and an MLflow 3
    logged model (models:/m-<id>) are read from their own files: the alias is resolved once,
    so what is checked is what is loaded even if someone moves the alias meanwhile, and
    MLflow adds no file of its own to the download (by a models:/ URI it writes a
    `registered_model_meta` beside the model's files, which no signature covers).
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    source, name = model_uri, model_uri
    registered = re.fullmatch(r"models:/([^/@]+)(?:@([^/@]+)|/(\d+))", model_uri)
    if registered:
        model, alias, number = registered.groups()
        if alias:
            number = client.get_model_version_by_alias(model, alias).version
            name = f"{model_uri} (version {number})"
        source = client.get_model_version_download_uri(model, number)
    in_run = re.fullmatch(r"runs:/([0-9a-f]+)/([^/]+)", source)
    if MLFLOW_3 and in_run:  # a model is not among its run's artifacts: find the logged model
        source = logged_model_uri(client, *in_run.groups()) or source
    logged = re.fullmatch(r"models:/(m-[0-9a-f]+)", source)
    if MLFLOW_3 and logged:
        source = client.get_logged_model(logged.group(1)).artifact_location
    return source, name


def logged_model_uri(client: Any, run_id: str, name: str) -> str | None:
    """MLflow 3: `models:/m-<id>` of the model `name` logged in run `run_id`, if there is one."""
    experiment_id = client.get_run(run_id).info.experiment_id
    query = f"source_run_id = '{run_id}' AND name = '{name}'"
    found = client.search_logged_models(experiment_ids=[experiment_id], filter_string=query)
    return f"models:/{found[0].model_id}" if found else None


def download_verified(
    model_uri: str, folder: str, trust_unsigned: bool = False, remedy: str = REGISTER_YOUR_OWN
) -> str:
    """Download a model into `folder` and check its signature before anything in it is loaded.

    Returns the model's local folder. A model that is unsigned, signed by a key this
    machine does not trust, or whose files changed since signing is refused with one line
    naming the version and why (signing.check_folder) and the `remedy`; `trust_unsigned`
    turns that into a loud warning.
    """
    import mlflow

    from homework import signing

    with loading(model_uri):
        uri, name = model_source(model_uri)
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=folder))
    try:
        key_id, count = signing.check_folder(local)
    except signing.Untrusted as why:
        if not trust_unsigned:
            raise UserError(
                f"refusing to load {name}: {why}. Loading a model runs the code it holds: "
                f"{remedy}, or pass --trust_unsigned "
                "(make: TRUST_UNSIGNED=1) only if you trust whoever can write to the tracking "
                "server and its artifact store."
            ) from None
        click.echo(
            f"WARNING: --trust_unsigned: loading {name} although {why}; "
            "it runs whatever code it holds.",
            err=True,
        )
    else:
        if verbose():
            click.echo(f"Verified {name}: {count} files signed by {key_id}", err=True)
    return str(local)


def load_pyfunc(model_uri: str, trust_unsigned: bool = False) -> Any:
    """Load a logged or registered pyfunc (the champion) once its signature checks out.

    The model is downloaded and checked first (download_verified), then loaded from the
    checked files: MLflow never loads it from the server or the artifact store itself. A
    missing model is one clear line.
    """
    import mlflow

    with tempfile.TemporaryDirectory(prefix="model-") as folder:
        local = download_verified(model_uri, folder, trust_unsigned)
        with loading(model_uri):
            return mlflow.pyfunc.load_model(local)


def load_sklearn(model_uri: str, trust_unsigned: bool = False) -> Any:
    """Load a forest logged by train.py, hpo.py or register_model.py once its signature checks out.

    As load_pyfunc; a refusal tells the user to run the search again.
    """
    import mlflow.sklearn

    with tempfile.TemporaryDirectory(prefix="model-") as folder:
        local = download_verified(model_uri, folder, trust_unsigned, RUN_THE_SEARCH_AGAIN)
        with loading(model_uri):
            return mlflow.sklearn.load_model(local)


@contextlib.contextmanager
def loading(model_uri: str) -> Iterator[None]:
    """A model that is missing or broken becomes one clear line; a failing server stays itself."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, OSError) as exc:
        if server_failed(exc) or connection_lost(exc) or refused_status(exc):
            raise  # reporting() tells the user the server is down or refused, not the model
        raise UserError(
            f"cannot load {model_uri}: {first_line(exc)[:300]} "
            "(register the champion with `make q6`, or pass --model_uri)."
        ) from None


def sign_logged_model(model_info: Any) -> None:
    """Sign a model just logged: every file as the store holds it (signing.sign_folder).

    The signed manifest is uploaded into the model's own folder, so every copy of the
    model carries it. Says which key signed it with --verbose, and always when the key
    was made just now (the user should know where it lies).
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    from homework import signing

    source, _ = model_source(model_info.model_uri)  # runs:/<id>/<path> on 2.x
    with tempfile.TemporaryDirectory(prefix="sign-") as scratch:
        folder = Path(mlflow.artifacts.download_artifacts(source, dst_path=scratch))
        key_id, created = signing.sign_folder(folder)
        manifest = str(folder / SIGNED_MANIFEST)
        if MLFLOW_3:  # a logged model's files are its own, not among its run's artifacts
            MlflowClient().log_model_artifact(model_info.model_id, manifest)
        else:
            MlflowClient().log_artifact(model_info.run_id, manifest, model_info.artifact_path)
    if created or verbose():
        made = f" (made just now in {signing.key_dir()})" if created else ""
        click.echo(f"Signed the model with key {key_id}{made}", err=True)


# ---------------------------------------------------------------- logging models


def register_model(model_uri: str, name: str, tags: dict[str, str]) -> str:
    """`mlflow.register_model`; its two progress lines on stderr only with MLflow's INFO lines."""
    import mlflow
    from mlflow.utils import logging_utils

    if not verbose():
        logging_utils.disable_logging()
    try:
        return mlflow.register_model(model_uri, name, tags=tags).version
    finally:
        logging_utils.enable_logging()


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


def matrix_signature(X: Any, y: Any) -> Any:
    """The signature of a forest on the vectorised matrix (float64 tensors), from five rows."""
    from mlflow.models import infer_signature

    return infer_signature(X[:5], y[:5])


def log_sklearn_model(model: Any, **kwargs: Any) -> Any:
    """Log a scikit-learn model as `model` in the active run, and sign it (sign_logged_model).

    Every forest the project logs is signed, so that register_model.py unpickles only the
    trials hpo.py made (load_sklearn), not one planted among them. No pip-requirement
    inference. Returns MLflow's ModelInfo. Load the model back by `runs:/<run_id>/model` or
    `model_info.model_uri`, never by artifact path: on MLflow 3 a model is not among
    its run's artifacts.
    """
    import mlflow.sklearn

    kwargs.setdefault("pip_requirements", pinned_requirements())
    # MLflow 3's default format, skops, refuses a forest's tree types: cloudpickle, as 2.x
    # and autolog use.
    kwargs.setdefault("serialization_format", mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    model_info = mlflow.sklearn.log_model(model, **model_name(MODEL_ARTIFACT), **kwargs)
    sign_logged_model(model_info)
    return model_info


def keep_sparse(X: Any) -> Any:
    """`X` (same arrays, no copy) as a matrix that cannot be made dense: fit with it under autolog.

    MLflow 3's sklearn autolog builds a dataset from the training matrix after every fit,
    whatever `log_datasets` says: `_log_posttraining_metadata` calls `_create_dataset(X, ...)`,
    which runs `X.toarray()` on a sparse X (3 GB for the 66k x 5.7k taxi matrix), only to tag
    the training metrics with the dataset; it catches any error there and goes on without it.
    So with this matrix autolog logs everything but the dataset, and memory stays small.
    scikit-learn never densifies it (the forest converts it to CSC/CSR float32 itself), and
    on MLflow 2.x, where `log_datasets=False` already skips that call, it changes nothing.
    """
    import scipy.sparse as sp

    class SparseOnly(sp.csr_matrix):
        def toarray(self, order: Any = None, out: Any = None) -> Any:
            gigabytes = self.shape[0] * self.shape[1] * self.dtype.itemsize / 1e9
            raise TypeError(f"kept sparse on purpose: made dense it would take {gigabytes:.1f} GB")

    return SparseOnly(X)
