"""The tracking server's errors told apart by cause, each said in one line.

MLflow re-raises what requests raised, so a cause is looked for in the exception and in what
it wraps: a lost connection, a server that failed (5xx), a refused login (401/403), or a
plain answer of the server.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from homework.errors import first_line


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
