"""The connection to the tracking server: checked, quiet, passwords masked.

Which MLflow is installed is decided here, once (`MLFLOW_3`), so no script checks a version.
MLflow itself is imported inside the functions: the scripts answer `--help` at once and
Ctrl-C never lands in an import.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from importlib.metadata import version
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

    The server is reached first (`reach`). MLflow's own lines are shown only when `verbose`.
    """
    import mlflow

    reach(tracking_uri)
    quiet_mlflow(verbose)
    mlflow.set_tracking_uri(tracking_uri)


def reach(tracking_uri: str) -> None:
    """Check the tracking URI and that its server answers, without MLflow (readers that need
    no MLflow client call this alone): one line if not.

    The URI is checked first (uri.py: a valid URL, a local store's folder, a database that
    answers); a server must answer /health, and then a request that needs the login.
    """
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    import requests

    from homework.tracking import rest
    from homework.tracking.uri import check_tracking_uri

    check_tracking_uri(tracking_uri)
    if not tracking_uri.startswith(("http://", "https://")):
        return
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
    rest.get(tracking_uri, "api/2.0/mlflow/experiments/search", max_results="1")


@dataclass(frozen=True)
class Connection:
    """The tracking server a command logs to, and whether MLflow's own lines are shown."""

    uri: str
    verbose: bool = False

    def connect(self) -> None:
        connect(self.uri, self.verbose)

    def reach(self) -> None:
        reach(self.uri)
