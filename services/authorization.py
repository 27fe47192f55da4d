"""The login of `make server AUTH=1`, with the checks MLflow 2.22's basic-auth app lacks.

basic_auth.ini names `authenticate` as the app's `authorization_function`: basic-auth calls
it for every request but /health and the static files, and answers with it when it refuses.
It logs the user in as basic-auth does, then:

- for everyone, admins too: a model version must name its run and lie among its artifacts,
  the run's among the server's own root, and must not carry `mlflow.prompt.is_prompt` (2.22
  skips every source check for it: any user could read any file the server can, the admin
  password in basic_auth.ini too); an experiment's artifact location must lie in the root;
- for other users, a permission on every route basic-auth 2.22 leaves open (SearchRuns, the
  bulk metric histories, SearchModelVersions, SearchDatasets, the artifact list, the
  /ajax-api artifact proxy, the UI's get-artifact and upload routes, LogInputs, multipart
  uploads); creating an experiment or registered model only for admins (asking for one that
  exists stays allowed); every other route that neither basic-auth nor this table decides
  is refused (traces, GraphQL, the gateway, the prompt lab, whatever comes later), but the
  UI's own files and the two searches basic-auth filters.

It uses basic-auth's own helpers, some private: it is written for MLflow 2.22 only, and
basic_auth.py names it only there.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from flask import Response, g, request
from mlflow.exceptions import MlflowException
from mlflow.server import ARTIFACT_ROOT_ENV_VAR
from mlflow.server import auth as basic
from mlflow.server.handlers import _get_model_registry_store, _get_tracking_store

API, AJAX = "/api/2.0", "/ajax-api/2.0"
PROMPT_TAG = "mlflow.prompt.is_prompt"
OPEN_RULES = {  # the UI's own files and pages: a login is enough
    "/",
    "/version",
    "/favicon.ico",
    "/static-files/<path:path>",
    "/build/<path:filename>",
    "/static/<path:filename>",
}


def authenticate() -> Any:
    """basic-auth's login, then the checks above: its Authorization, or a refusal (401/403).

    Kept for the request: basic-auth asks again in every one of its own checks.
    """
    if "homework_login" not in g:
        g.homework_login = login = basic.authenticate_request_basic_auth()
        if not isinstance(login, Response) and (why := refusal()):
            g.homework_login = basic.make_forbidden_response()
            g.homework_login.set_data(f"Permission denied: {why}")
    return g.homework_login


def refusal() -> str | None:
    """Why this request is refused, or None (basic-auth's own checks still follow)."""
    if request.url_rule is None:
        return None  # no such route: 404
    route = (request.url_rule.rule, request.method)
    if route in FOR_EVERYONE and (why := FOR_EVERYONE[route]()):
        return why
    if basic.sender_is_admin():
        return None
    if route in CHECKS:
        return None if CHECKS[route]() else "no permission for this on that resource"
    if basic.BEFORE_REQUEST_VALIDATORS.get((request.path, request.method)):
        return None  # basic-auth checks it
    if basic._is_proxy_artifact_path(request.path):
        return None  # basic-auth checks the experiment id at the head of the path
    if route[0] in OPEN_RULES or route in FILTERED:
        return None
    return "this server gives that endpoint to admins only"


# ---------------------------------------------------------------- permissions


def experiment(experiment_id: Any) -> Any:
    """The user's permission on an experiment (its store row, or the default)."""
    user = g.homework_login.username
    return basic._get_permission_from_store_or_default(
        lambda: basic.store.get_experiment_permission(str(experiment_id), user).permission
    )


def model(name: str) -> Any:
    """The user's permission on a registered model (its store row, or the default)."""
    user = g.homework_login.username
    return basic._get_permission_from_store_or_default(
        lambda: basic.store.get_registered_model_permission(name, user).permission
    )


def values(name: str) -> list[str]:
    """The values of `name` in the query string (GET, DELETE) or the JSON body (others)."""
    if request.method in ("GET", "DELETE"):
        return request.args.getlist(name)
    value = body().get(name)
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def experiments_readable(field: str) -> Callable[[], bool]:
    """Every experiment id in `field` readable (none named: nothing to read, allowed)."""
    return lambda: all(experiment(e).can_read for e in values(field))


def runs_allowed(fields: tuple[str, ...], action: str) -> Callable[[], bool]:
    """The runs all of `fields` name (a route may read either), each in an experiment the
    user may `action`."""

    def check() -> bool:
        ids = [run_id for field in fields for run_id in values(field) if run_id]
        store = _get_tracking_store()
        return bool(ids) and all(
            getattr(experiment(store.get_run(run_id).info.experiment_id), action) for run_id in ids
        )

    return check


def model_readable() -> bool:
    names = values("name")
    return len(names) == 1 and model(names[0]).can_read


def one_readable_model() -> bool:
    """SearchModelVersions only as `name='X'` (what the UI's model page and
    search_model_versions(f"name='{name}'") send), X readable: a filter cannot leak others."""
    found = re.fullmatch(r"\s*name\s*=\s*(['\"])([^'\"\\]+)\1\s*", request.args.get("filter", ""))
    return bool(found) and model(found.group(2)).can_read


def artifact_list() -> bool:
    """GET mlflow-artifacts/artifacts?path=<experiment id>/...: READ on that experiment."""
    found = re.match(r"(\d+)(/|$)", (request.args.get("path") or "").lstrip("/"))
    return bool(found) and experiment(found.group(1)).can_read


def proxied_artifact() -> bool:
    """The /ajax-api twin of basic-auth's check of /api/2.0/mlflow-artifacts/artifacts/<path>."""
    validator = basic._get_proxy_artifact_validator(request.method, request.view_args)
    return bool(basic._get_experiment_id_from_view_args()) and bool(validator and validator())


def multipart_upload() -> bool:
    experiment_id = basic._get_experiment_id_from_view_args()
    return bool(experiment_id) and experiment(experiment_id).can_update


def existing(kind: str) -> Callable[[], bool]:
    """Creating an experiment or registered model: for admins only, but asking for one that
    exists stays allowed (MLflow answers that it exists: mlflow.register_model asks so)."""

    def check() -> bool:
        name = values("name")[:1]
        if not name:
            return False
        if kind == "experiment":
            return _get_tracking_store().get_experiment_by_name(name[0]) is not None
        try:
            _get_model_registry_store().get_registered_model(name[0])
        except MlflowException:  # RESOURCE_DOES_NOT_EXIST
            return False
        return True

    return check


READ_EXPERIMENTS = experiments_readable("experiment_ids")
CHECKS: dict[tuple[str, str], Callable[[], bool]] = {}
for prefix in (API, AJAX):
    for rule, method, check in (
        ("/mlflow/runs/search", "POST", READ_EXPERIMENTS),
        ("/mlflow/experiments/search-datasets", "POST", READ_EXPERIMENTS),
        ("mlflow/experiments/search-datasets", "POST", READ_EXPERIMENTS),  # 2.22 has this too
        (
            "/mlflow/metrics/get-history-bulk-interval",
            "GET",
            runs_allowed(("run_ids",), "can_read"),
        ),
        ("/mlflow/runs/log-inputs", "POST", runs_allowed(("run_id",), "can_update")),
        ("/mlflow/model-versions/search", "GET", one_readable_model),
        ("/mlflow-artifacts/artifacts", "GET", artifact_list),
        ("/mlflow/experiments/create", "POST", existing("experiment")),
        ("/mlflow/registered-models/create", "POST", existing("model")),
        *(
            (f"/mlflow-artifacts/mpu/{step}/<path:artifact_path>", "POST", multipart_upload)
            for step in ("create", "complete", "abort")
        ),
    ):
        CHECKS[(prefix + rule, method)] = check
for method in ("GET", "PUT", "DELETE"):
    CHECKS[(f"{AJAX}/mlflow-artifacts/artifacts/<path:artifact_path>", method)] = proxied_artifact
CHECKS[(f"{AJAX}/mlflow/metrics/get-history-bulk", "GET")] = runs_allowed(("run_id",), "can_read")
CHECKS[("/get-artifact", "GET")] = runs_allowed(("run_id", "run_uuid"), "can_read")
CHECKS[("/model-versions/get-artifact", "GET")] = model_readable
CHECKS[(f"{AJAX}/mlflow/upload-artifact", "POST")] = runs_allowed(("run_uuid",), "can_update")

# basic-auth 2.22 files GraphQL's own view as its "validator" and "after-request handler": the
# query runs twice, always passes, and the after-request call fails (500, admins too). Without
# them, GraphQL works for admins and, as a route nobody decides, is refused to the others.
for method in ("GET", "POST"):
    basic.BEFORE_REQUEST_VALIDATORS.pop(("/graphql", method), None)
    basic.AFTER_REQUEST_HANDLERS.pop(("/graphql", method), None)

# The searches whose results basic-auth filters after the request.
FILTERED = {
    (prefix + rule, method)
    for prefix in (API, AJAX)
    for rule, method in (
        ("/mlflow/experiments/search", "GET"),
        ("/mlflow/experiments/search", "POST"),
        ("/mlflow/registered-models/search", "GET"),
    )
}


# ---------------------------------------------------------------- where artifacts may go


def artifact_root() -> str:
    """The server's own artifact root, as `mlflow server` hands it to its workers."""
    root = os.environ.get(ARTIFACT_ROOT_ENV_VAR, "")
    return os.path.abspath(root) if root and "://" not in root and ":/" not in root else root


def location(uri: str) -> tuple[str, str, str] | None:
    """(scheme, host, normalised path) of an artifact URI, a plain path being `file`; None if
    it has '.' or '..' or a character a path must not hold, even percent-encoded."""
    decoded = uri
    while (once := urllib.parse.unquote(decoded)) != decoded:
        decoded = once
    if any(char in decoded for char in "\x00\\#?"):
        return None
    try:
        parts = urllib.parse.urlsplit(decoded)
    except ValueError:
        return None
    scheme, host = parts.scheme or "file", parts.netloc
    if scheme == "file" and host not in ("", "localhost"):
        return None
    host = "" if scheme == "file" else host
    if any(part in (".", "..") for part in parts.path.split("/")):
        return None
    return scheme, host, posixpath.normpath("/" + parts.path.lstrip("/"))


def inside(uri: str, root: str) -> bool:
    """Whether `uri` is `root` or lies under it: same scheme and host, a path beneath."""
    found, top = location(uri), location(root)
    if not (found and top) or found[:2] != top[:2]:
        return False
    return found[2] == top[2] or found[2].startswith(top[2].rstrip("/") + "/")


def body() -> dict:
    found = request.get_json(force=True, silent=True)
    return found if isinstance(found, dict) else {}


def model_version_source() -> str | None:
    """Why a CreateModelVersion request is refused, or None."""
    request_body = body()
    tags = request_body.get("tags") or []
    if not isinstance(tags, list) or any(
        not isinstance(tag, dict) or tag.get("key") == PROMPT_TAG for tag in tags
    ):
        return f"the tag {PROMPT_TAG} is not accepted on this server"
    if not isinstance(request_body.get("run_id"), str) or not request_body["run_id"]:
        return "a model version must name its run (run_id)"
    run = _get_tracking_store().get_run(request_body["run_id"])
    if not (basic.sender_is_admin() or experiment(run.info.experiment_id).can_read):
        return "no READ permission on the run of this model version"
    if not inside(run.info.artifact_uri, artifact_root()):
        return "the run's artifacts are not in this server's artifact store"
    if not inside(str(request_body.get("source") or ""), run.info.artifact_uri):
        return "the source is not among the artifacts of its run"
    return None


def experiment_location() -> str | None:
    """Why a CreateExperiment request is refused, or None."""
    wanted = body().get("artifact_location")
    if wanted and not inside(str(wanted), artifact_root()):
        return "artifact_location must lie in this server's artifact store"
    return None


FOR_EVERYONE: dict[tuple[str, str], Callable[[], str | None]] = {}
for prefix in (API, AJAX):
    FOR_EVERYONE[(f"{prefix}/mlflow/model-versions/create", "POST")] = model_version_source
    FOR_EVERYONE[(f"{prefix}/mlflow/experiments/create", "POST")] = experiment_location
