"""Everything that talks to MLflow: the connection, its errors, run queries and model logging.

Everything that differs between MLflow versions is decided here, once (`MLFLOW_3`), so
the scripts never check a version. MLflow itself is imported inside the functions: the
scripts answer `--help` at once and Ctrl-C never lands in an import.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import click

from config import (
    CHAMPION_ALIAS,
    HPO_EXPERIMENT,
    MODEL_ARTIFACT,
    SEARCH_TAG,
    SIGNED_MANIFEST,
    SUMMARY_TAG,
    TRAIN_EXPERIMENT,
)
from errors import UserError, first_line

# 2.22 by default, 3.x with `make ... MLFLOW=3`.
MLFLOW_3 = int(version("mlflow").split(".")[0]) >= 3
# Fail fast when the tracking server is down: a couple of quick retries, not minutes of back-off.
HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


# ---------------------------------------------------------------- the connection


def redact(text: str, uri: str) -> str:
    """`text` with every password it might hold replaced by ***.

    The passwords: the one in `uri` (http://user:password@host), as written and decoded,
    and $MLFLOW_TRACKING_PASSWORD (MLflow's basic-auth password), wherever they appear.
    """
    password = urlsplit(uri).password or ""
    secrets = {password, unquote(password), os.environ.get("MLFLOW_TRACKING_PASSWORD", "")}
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def local_store_folder(tracking_uri: str) -> Path | None:
    """The folder a local tracking URI keeps its runs in (file://, a plain path, sqlite:///)."""
    parts = urlsplit(tracking_uri)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    if parts.scheme == "sqlite":
        return Path(parts.path.removeprefix("/")).parent  # sqlite:///x.db is x.db, :////x.db /x.db
    if not parts.scheme and not tracking_uri.startswith("databricks"):
        return Path(tracking_uri)
    return None


def check_local_store(tracking_uri: str) -> None:
    """Refuse a local tracking URI whose folder does not exist.

    MLflow would create it without a word: a typo would start an empty store elsewhere,
    and the runs of the next steps would not find those of the previous ones.
    """
    if not tracking_uri.strip():
        raise UserError("--tracking_uri is empty: leave it out to use the tracking server.")
    folder = local_store_folder(tracking_uri)
    if folder is not None and not folder.is_dir():
        raise UserError(
            f"--tracking_uri {tracking_uri}: the folder {folder}/ does not exist; create it "
            "first to keep the runs there, or use the tracking server (`make server`, the default)."
        )


def connect(tracking_uri: str, verbose: bool = False) -> None:
    """Point MLflow at the tracking server, failing in seconds with one line if it is not up.

    A local store (file://, a path, sqlite:///) must be in a folder that exists (see
    check_local_store). MLflow's own INFO lines are shown only when `verbose`.
    """
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    if not verbose:  # MLflow's "Downloading artifacts" bars, one line per file off a terminal
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    import requests

    logging.getLogger("mlflow").setLevel(logging.INFO if verbose else logging.WARNING)
    if not tracking_uri.startswith(("http://", "https://")):
        check_local_store(tracking_uri)
        mlflow.set_tracking_uri(tracking_uri)
        return
    mlflow.set_tracking_uri(tracking_uri)
    try:
        requests.get(tracking_uri.rstrip("/") + "/health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        raise UserError(
            redact(
                f"cannot reach the MLflow tracking server at {tracking_uri} ({first_line(exc)}): "
                "start it with `make server` (or pass --tracking_uri).",
                tracking_uri,
            )
        ) from None
    # /health answers without a login: a server with one (`make server AUTH=1`) refuses missing
    # or wrong credentials here, before any work, in one line (describe_failure).
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri).search_experiments(max_results=1)


def connection_lost(exc: BaseException) -> bool:
    """True if `exc` (or what MLflow wrapped in it) is a connection error or a timeout."""
    import requests

    causes = (exc, exc.__cause__ or exc.__context__)  # MLflow wraps what requests raised
    return any(isinstance(error, requests.ConnectionError | requests.Timeout) for error in causes)


def server_failed(exc: BaseException) -> bool:
    """True if the tracking server answered with 5xx (MLflow retries those, then gives up)."""
    import requests
    from mlflow.exceptions import RestException

    causes = (exc, exc.__cause__ or exc.__context__)
    return any(isinstance(error, requests.exceptions.RetryError) for error in causes) or (
        isinstance(exc, RestException) and exc.get_http_status_code() >= 500
    )


def refused_status(exc: BaseException) -> int | None:
    """401 or 403 if the tracking server refused the request (MLflow's error or an artifact
    transfer's), else None."""
    import requests
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        status = exc.get_http_status_code()
    elif isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
    else:
        return None
    return status if status in (401, 403) else None


def refusal(status: int, exc: BaseException, tracking_uri: str) -> str:
    """One line for a 401 (who is asking, and how to log in) or a 403 (what was refused)."""
    server = f"the MLflow tracking server at {tracking_uri}"
    user = os.environ.get("MLFLOW_TRACKING_USERNAME") or urlsplit(tracking_uri).username
    if status == 401 and not user:
        return (
            f"{server} refused a request without a login: set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD."
        )
    if status == 401:
        return (
            f"{server} refused user {user}: wrong user name or password "
            "(MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD)."
        )
    found = re.search(r"/api/2\.0/[a-z-]+/[a-z-]+(/[a-z-]+)?", str(exc))
    action = found.group(0) if found else first_line(exc)[:200]
    return (
        f"{server} refused user {user}: permission denied for {action}; "
        "ask its admin for EDIT permission on the experiment or registered model."
    )


def describe_failure(exc: BaseException, tracking_uri: str) -> str | None:
    """One line for an error of MLflow or of the server, by its cause; None if it is neither.

    Only a connection error or a 5xx answer says the server failed; any other answer is
    passed on as what the server said.
    """
    from mlflow.exceptions import MlflowException, RestException

    server = f"the MLflow tracking server at {tracking_uri}"
    detail = first_line(exc)[:300]
    if server_failed(exc) and "/mlflow-artifacts/" in str(exc):
        # Proxied artifacts (ARTIFACTS_DESTINATION): the server relays them to its store.
        return (
            f"{server} failed to store or read artifacts in its artifact store: is that store "
            "(an S3 server, a folder) up and writable? Its error is in the server's log "
            "(mlflow-server.log)."
        )
    if server_failed(exc):
        return f"{server} failed ({detail}): see its log (mlflow-server.log)."
    if connection_lost(exc):
        return (
            f"lost {server} ({detail}): is it still running? "
            "(`make server`, then run this step again)"
        )
    status = refused_status(exc)
    if status:
        return refusal(status, exc, tracking_uri)
    if isinstance(exc, RestException):
        return f"{server} answered: {detail}"
    if isinstance(exc, MlflowException):
        return f"MLflow: {detail}"
    return None


# ---------------------------------------------------------------- experiments and runs


def set_experiment(name: str) -> Any:
    """`mlflow.set_experiment(name)`, safe when two clients create the experiment at once.

    When another client creates the experiment between MLflow's lookup and its create,
    `mlflow.set_experiment` (2.22) returns the experiment without making it the active
    one, and the runs land in "Default". Setting it again by id always makes it active.
    """
    import mlflow

    experiment = mlflow.set_experiment(name)
    return mlflow.set_experiment(experiment_id=experiment.experiment_id)


def experiment_id(name: str) -> str | None:
    """The id of the experiment `name`, or None if nobody has logged to it yet."""
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient().get_experiment_by_name(name)
    return experiment.experiment_id if experiment else None


def train_run() -> Any:
    """The newest run of train.py (Q3), or a UserError saying how to make one."""
    from mlflow.tracking import MlflowClient

    train_experiment_id = experiment_id(TRAIN_EXPERIMENT)
    runs = train_experiment_id and MlflowClient().search_runs(
        [train_experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        raise UserError(f"no run in {TRAIN_EXPERIMENT!r}: run train.py (make q3).")
    return runs[0]


FINISHED_TRIALS = "attributes.status = 'FINISHED' and metrics.rmse >= 0"


@dataclass
class Search:
    """A complete hyperopt search: its id and the filter that finds its finished trials."""

    experiment_id: str
    search_id: str
    trials_filter: str
    note: str = ""  # one line for the user when a newer search did not finish


def newest_search() -> Search:
    """The newest complete hyperopt search, whose trials Q5 and register_model.py use.

    hpo.py logs a search's summary run after its last trial: the search is complete once
    that run has FINISHED. Only finished, undeleted trials with an `rmse` count, and only
    those of that search: older searches may be on other data, and a newer one that was
    stopped (Ctrl-C, a lost server) or is still running is no result; `note` then says so.
    """
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    hpo_experiment_id = experiment_id(HPO_EXPERIMENT)

    def newest(filter_string: str) -> Any:
        runs = hpo_experiment_id and MlflowClient().search_runs(
            [hpo_experiment_id],
            filter_string=filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    trial = newest(FINISHED_TRIALS)
    if trial is None:
        raise UserError(
            f"experiment {HPO_EXPERIMENT!r} has no finished runs with an `rmse` metric: "
            "run hpo.py first (make q5)."
        )
    newest_id = trial.data.tags.get(SEARCH_TAG, "")[:8] or "untagged"
    summary = newest(f"attributes.status = 'FINISHED' and tags.`{SUMMARY_TAG}` = 'true'")
    if summary is None:
        raise UserError(
            f"no hyperopt search in {HPO_EXPERIMENT!r} has finished (the newest, {newest_id}, "
            "was stopped or is still running): run hpo.py again (make q5)."
        )
    search_id = summary.data.tags[SEARCH_TAG]
    note = ""
    if trial.data.tags.get(SEARCH_TAG) != search_id and (
        trial.info.start_time > summary.info.start_time
    ):
        note = (
            f"The newest hyperopt search ({newest_id}) did not finish (stopped, or still "
            f"running): using the newest complete one ({search_id[:8]})."
        )
    trials_filter = f"{FINISHED_TRIALS} and tags.`{SEARCH_TAG}` = '{search_id}'"
    return Search(hpo_experiment_id, search_id, trials_filter, note)


def best_trials(search: Search, n: int) -> list[Any]:
    """The `n` trials of `search` with the lowest validation `rmse`, best first."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    trials = MlflowClient().search_runs(
        [search.experiment_id],
        filter_string=search.trials_filter,
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["metrics.rmse ASC"],
        max_results=n,
    )
    if not trials:  # possible only if someone deleted them
        raise UserError(
            f"hyperopt search {search.search_id[:8]} has no finished trials left: "
            "run hpo.py again (make q5)."
        )
    return trials


def find_champion(model_name: str) -> Any:
    """The registered version behind `@champion`, or None if there is none yet."""
    from mlflow.exceptions import RestException
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient().get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    except RestException as exc:
        # No such model is a 404, no such alias a 400 (INVALID_PARAMETER_VALUE) on 2.22.
        if exc.get_http_status_code() not in (400, 404):
            raise
        return None


def champion_version(model_name: str) -> Any:
    """The registered version behind `@champion`, or a UserError saying how to make one."""
    champion = find_champion(model_name)
    if champion is None:
        raise UserError(
            f"no version of the registered model {model_name!r} has the alias "
            f"@{CHAMPION_ALIAS}: run register_model.py (make q6)."
        )
    return champion


# ---------------------------------------------------------------- signed models


def model_source(model_uri: str) -> tuple[str, str]:
    """Where to download `model_uri` from, and how messages name it.

    A registered version (models:/<name>@<alias> or models:/<name>/<version>) is read from
    its own files: the alias is resolved once, so what is checked is what is loaded even if
    someone moves the alias meanwhile, and MLflow adds no file of its own to the download
    (by a models:/ URI it writes a `registered_model_meta` beside the model's files).
    """
    from mlflow.tracking import MlflowClient

    registered = re.fullmatch(r"models:/([^/@]+)(?:@([^/@]+)|/(\d+))", model_uri)
    if not registered:
        return model_uri, model_uri
    name, alias, number = registered.groups()
    client = MlflowClient()
    if alias:
        number = client.get_model_version_by_alias(name, alias).version
        model_uri = f"{model_uri} (version {number})"
    return client.get_model_version_download_uri(name, number), model_uri


def download_verified(model_uri: str, folder: str, trust_unsigned: bool = False) -> str:
    """Download a model into `folder` and check its signature before anything in it is loaded.

    Returns the model's local folder. A model that is unsigned, signed by a key this
    machine does not trust, or whose files changed since signing is refused with one line
    naming the version and why (signing.check_folder); `trust_unsigned` turns that into
    a loud warning.
    """
    import mlflow

    import signing

    with loading(model_uri):
        uri, name = model_source(model_uri)
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=folder))
    try:
        key_id, count = signing.check_folder(local)
    except signing.Untrusted as why:
        if not trust_unsigned:
            raise UserError(
                f"refusing to load {name}: {why}. Loading a model runs the code it holds: "
                "register your own with `make q6`, or pass --trust_unsigned "
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


def verbose() -> bool:
    """True if the command runs with --verbose (connect() turned MLflow's INFO lines on)."""
    return logging.getLogger("mlflow").isEnabledFor(logging.INFO)


def sign_logged_model(model_info: Any) -> None:
    """Sign a model just logged: every file as the store holds it (signing.sign_folder).

    The signed manifest is uploaded into the model's own folder, so every copy of the
    model carries it. Says which key signed it with --verbose, and always when the key
    was made just now (the user should know where it lies).
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    import signing

    source = model_info.model_uri  # runs:/<id>/<path> on 2.x
    if MLFLOW_3:  # its files, not models:/<id>, whose download gets a file of MLflow's own
        source = MlflowClient().get_logged_model(model_info.model_id).artifact_location
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
    """Log a scikit-learn model as `model` in the active run, without pip-requirement inference.

    Returns MLflow's ModelInfo. Load the model back by `runs:/<run_id>/model` or
    `model_info.model_uri`, never by artifact path: on MLflow 3 a model is not among
    its run's artifacts.
    """
    import mlflow.sklearn

    kwargs.setdefault("pip_requirements", pinned_requirements())
    # MLflow 3's default format, skops, refuses a forest's tree types: cloudpickle, as 2.x
    # and autolog use.
    kwargs.setdefault("serialization_format", mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    return mlflow.sklearn.log_model(model, **model_name(MODEL_ARTIFACT), **kwargs)


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
