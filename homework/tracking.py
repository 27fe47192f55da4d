"""Talking to the tracking server: the connection, its errors told apart by cause, experiments.

Which MLflow is installed is decided here, once (`MLFLOW_3`), so no script checks a version.
MLflow itself is imported inside the functions: the scripts answer `--help` at once and
Ctrl-C never lands in an import. What a search is (a parent run and its trials) is in
search_runs.py, the registered champion in registry.py.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from urllib.parse import unquote, urlsplit

from homework.errors import UserError, first_line

# 2.22 by default, 3.x with `make ... MLFLOW=3`.
MLFLOW_3 = int(version("mlflow").split(".")[0]) >= 3
# MLflow 3 warns on every pickled model it saves: train.py's forest, pickled as autolog saves
# it, is signed when logged (trust/), the caution this asks for: shown only with --verbose.
PICKLE_CAUTIONS = {"mlflow.sklearn": "Saving scikit-learn models in the pickle"}
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
    try:
        password = urlsplit(uri).password or ""
    except ValueError:  # a malformed --tracking_uri: its password is what follows `user:`
        found = re.search(r"://[^:/@\s]*:([^@/\s]*)@", uri)
        password = found.group(1) if found else ""
    secrets = {password, unquote(password), os.environ.get("MLFLOW_TRACKING_PASSWORD", "")}
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def no_pickle_caution(record: logging.LogRecord) -> bool:
    """A logging filter: False for MLflow 3's pickle cautions (see PICKLE_CAUTIONS)."""
    return not any(caution in str(record.msg) for caution in PICKLE_CAUTIONS.values())


def quiet_mlflow(verbose: bool) -> None:
    """MLflow's INFO lines, pickle cautions and "Downloading artifacts" bars only when `verbose`.

    Its "View run" links go to stdout (see reporting.masked_output). MLflow sets its
    loggers up when it is imported: call this after.
    """
    if not verbose:  # one line per file off a terminal
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.INFO if verbose else logging.WARNING)
    for logger in PICKLE_CAUTIONS:
        if verbose:
            logging.getLogger(logger).removeFilter(no_pickle_caution)
        else:
            logging.getLogger(logger).addFilter(no_pickle_caution)


def connect(tracking_uri: str, verbose: bool = False) -> None:
    """Point MLflow at the tracking server, failing in seconds with one line if it is not up.

    The URI is checked first (tracking_uri.py: a valid URL, a local store's folder, a
    database that answers). MLflow's own lines are shown only when `verbose`.
    """
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    import mlflow
    import requests

    from homework.tracking_uri import check_tracking_uri

    quiet_mlflow(verbose)
    check_tracking_uri(tracking_uri)
    if not tracking_uri.startswith(("http://", "https://")):
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


@dataclass(frozen=True)
class Connection:
    """The tracking server a command logs to, and whether MLflow's own lines are shown."""

    uri: str
    verbose: bool = False

    def connect(self) -> None:
        connect(self.uri, self.verbose)


# ---------------------------------------------------------------- its errors, by cause


def causes(exc: BaseException) -> tuple[BaseException | None, ...]:
    """`exc` and what MLflow wrapped in it (it re-raises what requests raised)."""
    return (exc, exc.__cause__ or exc.__context__)


def connection_lost(exc: BaseException) -> bool:
    """True if `exc` (or what MLflow wrapped in it) is a connection error or a timeout."""
    import requests

    return any(
        isinstance(error, requests.ConnectionError | requests.Timeout) for error in causes(exc)
    )


def server_failed(exc: BaseException) -> bool:
    """True if the tracking server answered with 5xx (MLflow retries those, then gives up)."""
    import requests
    from mlflow.exceptions import RestException

    retried = any(isinstance(error, requests.exceptions.RetryError) for error in causes(exc))
    return retried or (isinstance(exc, RestException) and exc.get_http_status_code() >= 500)


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


# ---------------------------------------------------------------- experiments


def set_experiment(name: str) -> Any:
    """`mlflow.set_experiment(name)`, safe when two clients create the experiment at once,
    and only if its runs' artifacts go to the tracking server (trust/sources.py).

    When another client creates the experiment between MLflow's lookup and its create,
    `mlflow.set_experiment` (2.22) returns the experiment without making it the active
    one, and the runs land in "Default". Setting it again by id always makes it active.
    Whoever creates an experiment chooses where its artifacts go, and MLflow would send the
    client's login there with every upload: another host is refused before any run starts.
    """
    import mlflow

    from homework.trust.sources import check_source

    experiment = mlflow.set_experiment(name)
    where = f"to log to the experiment {name!r}"
    check_source(experiment.artifact_location, mlflow.get_tracking_uri(), where)
    return mlflow.set_experiment(experiment_id=experiment.experiment_id)


def experiment_id(name: str) -> str | None:
    """The id of the experiment `name`, or None if nobody has logged to it yet."""
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient().get_experiment_by_name(name)
    return experiment.experiment_id if experiment else None


def newest_run(experiment: str, script: str) -> Any:
    """The newest run of `experiment` (train.py's, for Q3), or a UserError saying what to run."""
    from mlflow.tracking import MlflowClient

    found = experiment_id(experiment)
    runs = found and MlflowClient().search_runs(
        [found], order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        raise UserError(f"no run in {experiment!r}: run {script}.")
    return runs[0]
