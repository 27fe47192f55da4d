"""Signing a model as it is logged, and loading a model only once its signature checks out.

A model is loaded only from a local copy whose signature checked out (manifest.py): MLflow
never loads a model straight from the server or the artifact store. The differences between
MLflow 2.x and 3.x in where a model's files are kept are handled here.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from homework.errors import UserError, first_line
from homework.tracking import MLFLOW_3, connection_lost, refused_status, server_failed
from homework.trust.keys import key_dir
from homework.trust.manifest import SIGNED_MANIFEST, Untrusted, check_folder, sign_folder

REGISTER_YOUR_OWN = "register your own with `make q6`"
RUN_THE_SEARCH_AGAIN = "run the search again with `make q5`"


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
    naming the version and why (manifest.check_folder) and the `remedy`; `trust_unsigned`
    turns that into a loud warning. A registered version says which one was loaded and who
    signed it.
    """
    import mlflow

    with loading(model_uri):
        uri, name = model_source(model_uri)
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=folder))
    try:
        key_id, count = check_folder(local)
    except Untrusted as why:
        if not trust_unsigned:
            raise UserError(
                f"refusing to load {name}: {why}. Loading a model runs the code it holds: "
                f"{remedy}, or pass --trust_unsigned (make: TRUST_UNSIGNED=1) only if you "
                "trust whoever can write to the tracking server and its artifact store."
            ) from None
        click.echo(
            f"WARNING: --trust_unsigned: loading {name} although {why}; "
            "it runs whatever code it holds.",
            err=True,
        )
    else:
        if model_uri.startswith("models:/"):
            click.echo(f"Verified {name}: {count} files signed by {key_id}", err=True)
    return str(local)


def load_pyfunc(model_uri: str, trust_unsigned: bool = False) -> Any:
    """Load a logged or registered pyfunc (the champion) once its signature checks out."""
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


def sign_model_folder(folder: Path) -> None:
    """Sign every file of a model folder (manifest.sign_folder); say so if the key is new."""
    key_id, created = sign_folder(folder)
    if created:
        click.echo(f"Signed the model with key {key_id} (made just now in {key_dir()})", err=True)


class SigningFlavor:
    """A flavor for MLflow's `Model.log` that signs the model folder it saves, before upload.

    `Model.log(flavor=SigningFlavor(mlflow.sklearn), ...)` is what `mlflow.sklearn.log_model`
    does, but the folder MLflow uploads is signed already: nothing is downloaded back to be
    signed, nor uploaded twice. Only for models logged without an input example: MLflow
    loads a model with one after saving it, which could add files the signature misses.
    """

    def __init__(self, flavor: Any) -> None:
        self.flavor = flavor
        self.__name__ = flavor.__name__  # MLflow 3 records the flavor's name

    def save_model(self, path: str, **kwargs: Any) -> None:
        self.flavor.save_model(path=path, **kwargs)
        sign_model_folder(Path(path))


def sign_logged_model(model_info: Any) -> None:
    """Sign a model just logged: every file as the store holds it (manifest.sign_folder).

    The signed manifest is uploaded into the model's own folder, so every copy of the
    model carries it. For a model logged with an input example (see SigningFlavor).
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    source, _ = model_source(model_info.model_uri)  # runs:/<id>/<path> on 2.x
    with tempfile.TemporaryDirectory(prefix="sign-") as scratch:
        folder = Path(mlflow.artifacts.download_artifacts(source, dst_path=scratch))
        sign_model_folder(folder)
        manifest = str(folder / SIGNED_MANIFEST)
        if MLFLOW_3:  # a logged model's files are its own, not among its run's artifacts
            MlflowClient().log_model_artifact(model_info.model_id, manifest)
        else:
            MlflowClient().log_artifact(model_info.run_id, manifest, model_info.artifact_path)
