"""The connection to the tracking server: checked, quiet, passwords masked; and train.py's
local store (./mlflow.db, the course's) when no server is named and none answers.

Which MLflow is installed is decided here, once (`MLFLOW_3`), so no script checks a version.
MLflow itself is imported inside the functions: the scripts answer `--help` at once and
Ctrl-C never lands in an import.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

from homework.config import COURSE_SERVER, LOCAL_STORE_URI, TRACKING_URI
from homework.tracking.failures import unreachable

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


def server_answers(tracking_uri: str) -> bool:
    """False if nothing listens at the tracking server's address (connection refused)."""
    import requests

    try:
        requests.get(tracking_uri.rstrip("/") + "/health", timeout=5)
    except requests.ConnectionError:
        return False
    return True


@contextlib.contextmanager
def migrations_quiet(verbose: bool) -> Iterator[None]:
    """Alembic's INFO lines off while MLflow creates or upgrades a database store.

    MLflow's migrations configure alembic's logging from its own alembic.ini (INFO, to
    stderr: thirty lines for a new mlflow.db), whatever levels were set before, so only
    logging.disable holds them back; alembic's "Context impl" lines on each later store stay
    off too.
    """
    if verbose:
        yield
        return
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        logging.getLogger("alembic").setLevel(logging.WARNING)


def connect(tracking_uri: str, verbose: bool = False) -> None:
    """Point MLflow at the tracking server, failing in seconds with one line if it is not up.

    The server is reached first (`reach`). MLflow's own lines are shown only when `verbose`.
    """
    import mlflow

    reach(tracking_uri, verbose)
    quiet_mlflow(verbose)
    mlflow.set_tracking_uri(tracking_uri)


def reach(tracking_uri: str, verbose: bool = False) -> None:
    """Check the tracking URI and that its server answers, one line if not; a server is
    checked without MLflow (readers that need no MLflow client call this alone).

    The URI is checked first (uri.py: a valid URL, a local store's folder, a database that
    answers); a server must answer /health, and then a request that needs the login. A local
    store is made here if new (MLflow's migrations, quiet unless `verbose`).
    """
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    import requests

    from homework.tracking.rest import Rest
    from homework.tracking.uri import check_tracking_uri

    check_tracking_uri(tracking_uri)
    if not tracking_uri.startswith(("http://", "https://")):
        from mlflow.tracking import MlflowClient

        with migrations_quiet(verbose):  # a new database store is made here, quietly
            MlflowClient(tracking_uri).search_experiments(max_results=1)
        return
    try:
        requests.get(tracking_uri.rstrip("/") + "/health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        raise unreachable(tracking_uri, exc) from None
    # /health answers without a login: a server with one (`make server AUTH=1`) refuses missing
    # or wrong credentials here, before any work, in one line (Rest.request).
    Rest(tracking_uri).call("GET", "experiments/search", params={"max_results": 1})


@dataclass(frozen=True)
class Connection:
    """The tracking server a command logs to, and whether MLflow's own lines are shown.

    `given`: the URI was named (--tracking_uri or $MLFLOW_TRACKING_URI), not the default's.
    `instead_of`: the default server that did not answer, when train.py logs to the local
    store in its place (`or_local_store`).
    """

    uri: str
    verbose: bool = False
    given: bool = True
    instead_of: str = ""

    @classmethod
    def chosen(cls, tracking_uri: str | None, verbose: bool = False) -> Connection:
        """--tracking_uri if given, else $MLFLOW_TRACKING_URI, else the default server."""
        if tracking_uri is not None:
            return cls(tracking_uri, verbose)
        named = os.environ.get("MLFLOW_TRACKING_URI")
        return cls(named or TRACKING_URI, verbose, given=bool(named))

    def or_local_store(self) -> Connection:
        """This connection, or the course's local store (./mlflow.db) in its place when no URI
        was named and nothing answers at the default server: Q3 comes before the course
        starts a server. A server that was named stays what it is, answering or not."""
        if self.given or server_answers(self.uri):
            return self
        return replace(self, uri=LOCAL_STORE_URI, given=False, instead_of=self.uri)

    def connect(self) -> None:
        if self.instead_of:
            import click

            click.echo(
                f"No MLflow server at {self.instead_of}, and none named: logging to "
                f"{self.uri} in {Path.cwd()}/, as the course's train.py does. To see it in the "
                f"UI: `{COURSE_SERVER}` there, then {TRACKING_URI}",
                err=True,
            )
        connect(self.uri, self.verbose)

    def reach(self) -> None:
        reach(self.uri, self.verbose)
