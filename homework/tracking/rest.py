"""Reading the tracking server with plain REST calls: what the readers need, without MLflow.

answers.py reads six facts; importing MLflow's client for them costs seconds. These few
calls of MLflow's REST API (the same on 2.x and 3.x) read experiments, runs and registered
versions with `requests`, logged in as MLflow's client would be (the URI's user and
password, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN;
MLflow's TLS settings), and say each failure in one line. A run comes back as a `Run`: the
few fields the readers use, named as on MLflow's own `Run` (`run.info.run_id`, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from homework.config import COURSE_SERVER
from homework.errors import UserError, first_line
from homework.tracking.failures import redact, refusal, unreachable

API = "/api/2.0/mlflow"
TIMEOUT = 30  # seconds for one answer, unless MLflow's own setting says otherwise
TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"
PAGE = 10_000  # runs per request (the server's own limit is 50,000)
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # 2.22 says an alias so


class NotFound(UserError):
    """The server answered that what was asked for does not exist."""


@dataclass(frozen=True)
class Run:
    """A run as runs/search returns it, with MLflow's `Run` attribute names."""

    info: Any  # run_id, run_name, status, start_time, end_time, experiment_id
    data: Any  # params, metrics, tags: dicts
    datasets: frozenset = field(default=frozenset())  # (context, name, digest) of its inputs

    @classmethod
    def parse(cls, run: dict) -> Run:
        info = dict(run["info"])
        info.setdefault("run_name", "")
        info.setdefault("end_time", None)
        data = run.get("data", {})
        values = {
            kind: {p["key"]: p["value"] for p in data.get(kind, [])} for kind in ("params", "tags")
        }
        metrics = {metric["key"]: float(metric["value"]) for metric in data.get("metrics", [])}
        inputs = run.get("inputs", {}).get("dataset_inputs", [])
        datasets = frozenset(
            (
                next((tag["value"] for tag in item.get("tags", []) if tag["key"] == CONTEXT), ""),
                item["dataset"]["name"],
                item["dataset"]["digest"],
            )
            for item in inputs
        )
        return cls(SimpleNamespace(**info), SimpleNamespace(metrics=metrics, **values), datasets)


CONTEXT = "mlflow.data.context"  # the tag naming a dataset input's role (training, ...)


def tls_settings() -> dict[str, Any]:
    """requests' TLS arguments from MLflow's own variables."""
    settings: dict[str, Any] = {}
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        settings["verify"] = False
    elif os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        settings["verify"] = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    if os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        settings["cert"] = os.environ["MLFLOW_TRACKING_CLIENT_CERT_PATH"]
    return settings


@dataclass
class Rest:
    """The tracking server at `uri`, read over its REST API."""

    uri: str

    def __post_init__(self) -> None:
        if not self.uri.startswith(("http://", "https://")):
            raise UserError(
                f"{self.uri} is a store of files, not a tracking server: this step reads "
                f"through one. Start it on that store, as the course does (`{COURSE_SERVER}` "
                "in the folder of mlflow.db), and point $MLFLOW_TRACKING_URI or --tracking_uri "
                "at it."
            )

    def call(self, method: str, endpoint: str, **arguments: Any) -> dict:
        """One request to `endpoint` of the API; its JSON answer, or one line why not."""
        return self.request(method, f"{API}/{endpoint}", **arguments).json()

    def content(self, path: str, params: dict[str, str]) -> bytes:
        """The bytes the server sends for a GET of `path` (e.g. a model version's file from
        /model-versions/get-artifact), or one line why not."""
        return self.request("GET", path, params=params).content

    def request(self, method: str, path: str, **arguments: Any) -> Any:
        """One request to `path` of the server, logged in as MLflow's client would be; the
        answer if it is a success, else one line why not (NotFound if nothing is there)."""
        import requests

        user, password = (os.environ.get(f"MLFLOW_TRACKING_{n}") for n in ("USERNAME", "PASSWORD"))
        headers = {}
        if os.environ.get("MLFLOW_TRACKING_TOKEN"):
            headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
        url = f"{self.uri.rstrip('/')}{path}"
        try:
            answer = requests.request(
                method,
                url,
                auth=(user, password) if user and password else None,
                headers=headers,
                timeout=float(os.environ.get(TIMEOUT_VARIABLE) or TIMEOUT),
                **tls_settings(),
                **arguments,
            )
        except requests.ConnectionError as exc:
            raise unreachable(self.uri, exc) from None
        except requests.RequestException as exc:  # a timeout, a TLS failure, ...
            raise UserError(
                redact(f"the MLflow tracking server at {self.uri}: {first_line(exc)}", self.uri)
            ) from None
        if answer.ok:
            return answer
        server = f"the MLflow tracking server at {self.uri}"
        if answer.status_code in (401, 403):
            error = requests.HTTPError(f"{answer.status_code} for {method} {path}")
            raise UserError(redact(refusal(answer.status_code, error, self.uri), self.uri))
        try:
            said = answer.json()
        except ValueError:
            said = {"message": answer.text}
        detail = first_line(said.get("message", "")) or answer.reason
        if answer.status_code >= 500:
            raise UserError(redact(f"{server} failed ({detail[:300]}): see its log.", self.uri))
        if said.get("error_code") in NOT_FOUND or answer.status_code == 404:
            raise NotFound(redact(f"{server} answered: {detail[:300]}", self.uri))
        raise UserError(redact(f"{server} answered: {detail[:300]}", self.uri))

    def experiment_id(self, name: str) -> str | None:
        """The id of the experiment `name`, or None if nobody has logged to it yet."""
        try:
            found = self.call("GET", "experiments/get-by-name", params={"experiment_name": name})
        except NotFound:
            return None
        experiment = found["experiment"]
        return experiment["experiment_id"] if experiment["lifecycle_stage"] == "active" else None

    def search_runs(
        self, experiment_id: str, filter_string: str = "", order_by: tuple[str, ...] = (), limit=0
    ) -> list[Run]:
        """The undeleted runs of the experiment that pass the filter, in `order_by`'s order
        (MLflow's syntax); all of them, or the first `limit`."""
        runs: list[Run] = []
        body = {
            "experiment_ids": [experiment_id],
            "filter": filter_string,
            "run_view_type": "ACTIVE_ONLY",
            "order_by": list(order_by),
            "max_results": min(limit or PAGE, PAGE),
        }
        while True:
            page = self.call("POST", "runs/search", json=body)
            runs += [Run.parse(run) for run in page.get("runs", [])]
            if not page.get("next_page_token") or (limit and len(runs) >= limit):
                return runs[: limit or None]
            body["page_token"] = page["next_page_token"]

    def get_run(self, run_id: str) -> Run:
        return Run.parse(self.call("GET", "runs/get", params={"run_id": run_id})["run"])

    def version_by_alias(self, model_name: str, alias: str) -> dict | None:
        """The registered version of `model_name` behind `@alias` (its JSON, tags as a
        dict), or None."""
        try:
            found = self.call(
                "GET", "registered-models/alias", params={"name": model_name, "alias": alias}
            )
        except NotFound:
            return None
        return with_tag_dict(found["model_version"])

    def version(self, model_name: str, number: str) -> dict:
        """Version `number` of `model_name` (its JSON, tags as a dict); NotFound if none."""
        found = self.call(
            "GET", "model-versions/get", params={"name": model_name, "version": number}
        )
        return with_tag_dict(found["model_version"])

    def registered_models(self) -> list[str]:
        """The names of the registered models (the first hundred)."""
        found = self.call("GET", "registered-models/search", params={"max_results": 100})
        return [model["name"] for model in found.get("registered_models", [])]


def with_tag_dict(version: dict) -> dict:
    """A model version's JSON with its tags as a dict, as MLflow's own ModelVersion has them."""
    return {**version, "tags": {tag["key"]: tag["value"] for tag in version.get("tags", [])}}
