"""Loading a model only once its signature checks out (signing.py signs one just logged).

A model is loaded only from a local copy whose signature checked out (manifest.py), fetched
only from where the tracking server keeps artifacts (sources.py): MLflow never loads a model
straight from the server or the artifact store. The differences between MLflow 2.x and 3.x in
where a model's files are kept are handled here.
"""

from __future__ import annotations

from homework.interrupts import scratch_folder

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from homework.config import CHAMPION_ALIAS, GATE_REJECTED, GATE_STATUS_TAG
from homework.errors import UserError, first_line
from homework.tracking.connection import MLFLOW_3, Connection
from homework.tracking.failures import connection_lost, refused_status, server_failed
from homework.tracking.sources import check_source
from homework.trust.direct import load_direct
from homework.trust.formats import load_forest, pickled_pyfunc
from homework.trust.manifest import Signed, Untrusted, check_folder

REGISTER_YOUR_OWN = "register your own with `make q6`"
RUN_THE_SEARCH_AGAIN = "run the search again with `make q5`"
LOGGED_MODEL = re.compile(r"models:/(m-[0-9a-f]+)")  # MLflow 3's own models
PICKLED_CHAMPION = (
    "is pickled: it was registered before champions were saved without pickle; "
    "register a new one with `make q6`."
)


class UntrustedModel(UserError):
    """A model refused before anything of it was loaded: unsigned, another key, changed."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


class MissingModel(UserError):
    """A model that is not there, or whose files cannot be read: one clear line."""


class BrokenModel(UserError):
    """A model whose files were let in but whose loading failed (its code raised): one line."""


@dataclass(frozen=True)
class Verified:
    """A model's local copy, let in by the signature check (or by --trust_unsigned): its
    folder, how messages name it, its registered version (None for a run's model) and who
    signed it ("SHA256:... (your key)", or "unsigned" and why)."""

    folder: str
    name: str
    version: str | None
    signer: str


@dataclass(frozen=True)
class LoadedModel:
    """A pyfunc loaded from a verified copy, and what the check found."""

    model: Any
    verified: Verified


@dataclass
class Source:
    """Where a model's files are fetched from, how messages name it, and its registered
    version (its tags say what the promotion gate decided), if it is one."""

    uri: str
    name: str
    version: Any = None


def model_source(model_uri: str) -> Source:
    """Where to download `model_uri` from, checked to be where the tracking server keeps
    artifacts before any request for the files (sources.check_source).

    A registered version (models:/<name>@<alias> or models:/<name>/<version>) and an MLflow 3
    logged model (models:/m-<id>) are read from their own files: the alias is resolved once,
    so what is checked is what is loaded even if someone moves the alias meanwhile, and
    MLflow adds no file of its own to the download (by a models:/ URI it writes a
    `registered_model_meta` beside the model's files). A runs:/ URI is read from its run's
    artifact location.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    source = Source(model_uri, model_uri)
    registered = re.fullmatch(r"models:/([^/@]+)(?:@([^/@]+)|/(\d+))", model_uri)
    if model_uri.startswith("models:/") and not (registered or LOGGED_MODEL.fullmatch(model_uri)):
        raise MissingModel(
            f"cannot load {model_uri}: name a registered version as models:/<name>@<alias> or "
            "models:/<name>/<number>."
        )
    if registered:
        model, alias, number = registered.groups()
        if alias:
            source.version = client.get_model_version_by_alias(model, alias)
            source.name = f"{model_uri} (version {source.version.version})"
        else:
            source.version = client.get_model_version(model, number)
        source.uri = client.get_model_version_download_uri(model, source.version.version)
    in_run = re.fullmatch(r"runs:/([0-9a-f]+)/(.+)", source.uri)
    if MLFLOW_3 and in_run:  # a model is not among its run's artifacts: find the logged model
        source.uri = logged_model_uri(client, *in_run.groups()) or source.uri
        in_run = re.fullmatch(r"runs:/([0-9a-f]+)/(.+)", source.uri)
    logged = LOGGED_MODEL.fullmatch(source.uri)
    if MLFLOW_3 and logged:
        source.uri = client.get_logged_model(logged.group(1)).artifact_location
    if in_run:
        run_id, path = in_run.groups()
        source.uri = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{path}"
    check_source(source.uri, mlflow.get_tracking_uri(), f"to load {source.name}")
    return source


def logged_model_uri(client: Any, run_id: str, name: str) -> str | None:
    """MLflow 3: `models:/m-<id>` of the model `name` logged in run `run_id`, if there is one."""
    experiment_id = client.get_run(run_id).info.experiment_id
    query = f"source_run_id = '{run_id}' AND name = '{name}'"
    found = client.search_logged_models(experiment_ids=[experiment_id], filter_string=query)
    return f"models:/{found[0].model_id}" if found else None


def download_verified(
    model_uri: str, folder: str, trust_unsigned: bool = False, remedy: str = REGISTER_YOUR_OWN
) -> str:
    """Download a model into `folder` and check its signature; its local folder (verify)."""
    return verify(model_uri, folder, trust_unsigned, remedy).folder


def verify(
    model_uri: str, folder: str, trust_unsigned: bool = False, remedy: str = REGISTER_YOUR_OWN
) -> Verified:
    """Download a model into `folder` and check its signature before anything in it is loaded.

    A model that is unsigned, signed by a key this machine does not trust, or whose files
    changed since signing is refused with one line naming the version and why
    (manifest.check_folder) and the `remedy`; `trust_unsigned` turns that into a loud
    warning. A registered version says which one was loaded and whose key signed it, and
    warns when the promotion gate rejected it.
    """
    import mlflow

    with loading(model_uri):
        source = model_source(model_uri)
        local = Path(mlflow.artifacts.download_artifacts(source.uri, dst_path=folder))
    version = None if source.version is None else str(source.version.version)
    try:
        signed = check_folder(local)
    except Untrusted as why:
        if not trust_unsigned:
            raise UntrustedModel(
                f"refusing to load {source.name}: {why}. Loading a model runs the code it "
                f"holds: {remedy}, or pass --trust_unsigned (make: TRUST_UNSIGNED=1) only if "
                "you trust whoever can write to the tracking server and its artifact store.",
                str(why),
            ) from None
        click.echo(
            f"WARNING: --trust_unsigned: loading {source.name} although {why}; "
            "it runs whatever code it holds.",
            err=True,
        )
        verified = Verified(str(local), source.name, version, f"none ({why})")
    else:
        if source.version is not None:
            say_verified(source.name, signed)
        verified = Verified(str(local), source.name, version, f"{signed.key_id} ({signed.owner})")
    if source.version is not None:
        warn_if_rejected(source.name, source.version.tags, source.version.aliases)
    return verified


def say_verified(name: str, signed: Signed) -> None:
    """The line every load of a registered version prints: which, and whose key signed it."""
    click.echo(
        f"Verified {name}: {signed.files} files signed by {signed.key_id} ({signed.owner})",
        err=True,
    )


def warn_if_rejected(name: str, tags: dict[str, str], aliases: list[str] | None) -> None:
    """A loud line when the promotion gate had rejected the version being loaded."""
    if tags.get(GATE_STATUS_TAG) == GATE_REJECTED:
        moved = CHAMPION_ALIAS in (aliases or [])
        click.echo(
            f"WARNING: the promotion gate rejected {name} when it was registered (see its "
            f"description){f'; @{CHAMPION_ALIAS} was moved to it by hand' if moved else ''}.",
            err=True,
        )


def load_pyfunc(model_uri: str, trust_unsigned: bool = False) -> Any:
    """Load a logged or registered pyfunc (the champion) once its signature checks out."""
    return load_verified(model_uri, trust_unsigned).model


def load_verified(model_uri: str, trust_unsigned: bool = False) -> LoadedModel:
    """Load a pyfunc once its signature checks out; the model and what the check found.

    A champion registered before champions were models from code is a pickle: it loads as
    before (signed), with a note saying so. A model whose loading fails (its code raises,
    e.g. skops refusing a type its forest names) is one line (BrokenModel), never a traceback.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    with scratch_folder("model-") as folder:
        verified = verify(model_uri, folder, trust_unsigned)
        with loading(model_uri):
            if pickled_pyfunc(verified.folder):
                click.echo(f"Note: {model_uri} {PICKLED_CHAMPION}", err=True)
            try:
                model = mlflow.pyfunc.load_model(verified.folder)
            except (MlflowException, OSError, ImportError):
                raise  # loading() says which
            except Exception as exc:
                raise BrokenModel(
                    f"cannot load {verified.name}: loading it failed ({type(exc).__name__}: "
                    f"{first_line(exc)[:300]}); {REGISTER_YOUR_OWN}."
                ) from None
    return LoadedModel(model, verified)


def load_sklearn(model_uri: str, trust_unsigned: bool = False) -> Any:
    """Load a forest logged by train.py, hpo.py or register_model.py once its signature checks out.

    As load_pyfunc, a skops file without MLflow's loader (formats.load_forest); a refusal
    tells the user to run the search again.
    """
    with scratch_folder("model-") as folder:
        local = download_verified(model_uri, folder, trust_unsigned, RUN_THE_SEARCH_AGAIN)
        with loading(model_uri):
            return load_forest(local)


def load_trip_model(model_uri: str, connection: Connection, trust_unsigned: bool = False) -> Any:
    """The registered trip model `model_uri`, to predict with: fetched, verified and read by
    this project's own code when it can be (direct.load_direct: no MLflow), else loaded as
    load_pyfunc loads it. Either way nothing of it is loaded before its signature checks out.
    """
    with scratch_folder("model-") as folder:
        direct = load_direct(model_uri, connection.uri, Path(folder))
    if direct is not None:
        model, fetched = direct
        number = fetched.version["version"]
        name = model_uri if model_uri.endswith(f"/{number}") else f"{model_uri} (version {number})"
        say_verified(name, fetched.signed)
        warn_if_rejected(name, fetched.version["tags"], fetched.version.get("aliases"))
        return model
    connection.connect()
    return load_pyfunc(model_uri, trust_unsigned)


@contextlib.contextmanager
def loading(model_uri: str) -> Iterator[None]:
    """A model that is missing or broken becomes one clear line; a failing server stays itself."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, OSError) as exc:
        if server_failed(exc) or connection_lost(exc) or refused_status(exc):
            raise  # reporting() tells the user the server is down or refused, not the model
        raise MissingModel(
            f"cannot load {model_uri}: {first_line(exc)[:300]} "
            "(register the champion with `make q6`, or pass --model_uri)."
        ) from None
    except ImportError as exc:  # its code names a module of an older layout of this package
        raise MissingModel(
            f"cannot load {model_uri} in this process: {first_line(exc)[:200]} (an older "
            "version of this project registered it): register a new one with `make q6`."
        ) from None
