"""The MLflow tracking server of `make server`: its command line, settings and login.

Settings come from the environment (the Makefile passes them; the defaults are the homework's):
  MLFLOW              mlflow executable                 (default: .venv/bin/mlflow)
  HOST, PORT          where the server listens           (default: 127.0.0.1, 5000)
  BACKEND_STORE_URI   backend store                      (default: sqlite:///mlflow.db)
  ARTIFACT_ROOT       default artifact root              (default: ./artifacts)
  ARTIFACTS_DESTINATION  proxied-artifact mode (opt-in): the server stores artifacts there and
                      serves them over HTTP (--artifacts-destination + --serve-artifacts);
                      an s3://bucket/path needs MLFLOW_S3_ENDPOINT_URL (for a store other than
                      AWS), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment
  AUTH                1: MLflow's basic-auth app (basic_auth.py), admin `admin` with the
                      password in MLFLOW_AUTH_ADMIN_PASSWORD            (default: off)
  AUTH_DIR, AUTH_DATABASE_URI  the login's files (see basic_auth.py)
  SERVER_PID_FILE     the server's identity record       (default: mlflow-server.pid)
  SERVER_LOG          its log                            (default: mlflow-server.log)
  START_TIMEOUT       seconds to wait for /health        (default: 180)
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from homework.config import SERVER_PID_FILE, TRACKING_URI
from services import basic_auth, lifecycle, webhooks
from services.processes import Record
from services.service import (
    ROOT,
    ServerError,
    Service,
    answers,
    port_setting,
    seconds_setting,
    setting,
)

MLFLOW = ".venv/bin/mlflow"
HOST = urlsplit(TRACKING_URI).hostname or "127.0.0.1"
PORT = urlsplit(TRACKING_URI).port or 5000
BACKEND_STORE_URI = "sqlite:///mlflow.db"
ARTIFACT_ROOT = "./artifacts"  # the homework's flag: Q4 reads --default-artifact-root
SERVER_LOG = "mlflow-server.log"
START_TIMEOUT = 180  # seconds; MLflow 3's uvicorn workers start slowly on a busy machine
# What is never printed, MLflow's own log lines included.
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    webhooks.KEY_VARIABLE,
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_TRACKING_PASSWORD",
)
# A URI with a password (scheme://user:password@host): `ps` would show it to every user.
WITH_PASSWORD = re.compile(r"://[^/@:]*:[^/@]*@")


def has_module(python: Path, module: str) -> bool:
    """True if `python` (the server's environment, maybe not ours) can import `module`."""
    done = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True)
    return done.returncode == 0


class TrackingServer(Service):
    """`mlflow server` in the background, as `make server` starts it."""

    name = "MLflow server"
    start_target = "make server"
    stop_target = "make server-stop"
    port_variable = "PORT"
    other_port = 5001

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.mlflow = os.path.abspath(setting(env, "MLFLOW", MLFLOW))
        self.python = Path(self.mlflow).parent / "python"  # the server's own environment
        self.backend_store_uri = setting(env, "BACKEND_STORE_URI", BACKEND_STORE_URI)
        self.artifact_root = setting(env, "ARTIFACT_ROOT", ARTIFACT_ROOT)
        self.artifacts_destination = env.get("ARTIFACTS_DESTINATION", "")
        self.auth = env.get("AUTH", "") in ("1", "yes", "true")
        self.login = basic_auth.Login.from_env(env, self.python)
        self.auth_env: dict[str, str] = {}  # the login's settings, once prepared
        self.webhook_env: dict[str, str] = {}  # MLflow 3's webhook settings, once prepared
        super().__init__(
            setting(env, "HOST", HOST),
            port_setting(env, "PORT", PORT),
            Path(setting(env, "SERVER_PID_FILE", SERVER_PID_FILE)),
            Path(setting(env, "SERVER_LOG", SERVER_LOG)),
            seconds_setting(env, START_TIMEOUT),
        )

    @property
    def destination(self) -> str:
        return self.artifacts_destination or self.artifact_root

    def arguments(self) -> list[str]:
        """What follows `mlflow server`: the backend store, artifacts, login, address."""
        arguments = []
        # A password stays off the command line: mlflow reads the store from its environment
        # too (MLFLOW_BACKEND_STORE_URI), which only its owner can see.
        if not WITH_PASSWORD.search(self.backend_store_uri):
            arguments += ["--backend-store-uri", self.backend_store_uri]
        # Proxied mode: clients get mlflow-artifacts:/ URIs and upload through the server.
        if self.artifacts_destination:
            arguments += [
                "--artifacts-destination",
                self.artifacts_destination,
                "--serve-artifacts",
            ]
        else:
            arguments += ["--default-artifact-root", self.artifact_root]
        if self.auth:
            arguments += ["--app-name", "basic-auth"]
        return [*arguments, "--host", self.host, "--port", str(self.port)]

    def command(self) -> list[str]:
        return [self.mlflow, "server", *self.arguments()]

    def environment(self) -> dict[str, str]:
        env = {**self.env, **self.auth_env, **self.webhook_env}
        if self.auth:  # basic_auth.ini names services.authorization
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        if WITH_PASSWORD.search(self.backend_store_uri):
            env["MLFLOW_BACKEND_STORE_URI"] = self.backend_store_uri
        return env

    def secrets(self) -> list[str]:
        return [self.env[name] for name in SECRET_VARIABLES if self.env.get(name)]

    def ready(self) -> bool:
        return answers(f"{self.url}/health")

    def reuse(self, record: Record) -> None:
        live = list(record.cmdline)
        at = live.index("server") if "server" in live else len(live)
        recorded = f"the server in {self.pid_file} (pid {record.pid})"
        if self.mlflow not in live[:at]:
            raise ServerError(
                f"{recorded} is another environment's MLflow, not {self.mlflow}: run "
                "`make server-stop` first (server and scripts must use the same MLflow)."
            )
        if live[at + 1 :] != self.arguments():
            raise ServerError(
                f"{recorded} runs with other settings ({' '.join(live[at + 1 :])}): "
                "run `make server-stop` first."
            )
        lifecycle.wait_for_starting(self, record)
        if not self.ready():
            raise ServerError(
                f"{recorded} does not answer at {self.url}: run `make server-stop` first."
            )
        self.say(f"MLflow server already running at {self.url} (pid {record.pid}).")

    def prepare(self) -> None:
        if not os.access(self.mlflow, os.X_OK):
            raise ServerError(f"{self.mlflow} not found: run `make install` first.")
        store = self.backend_store_uri
        if re.match(r"postgresql(\+psycopg2)?://", store) and not has_module(
            self.python, "psycopg2"
        ):
            raise ServerError(
                f"BACKEND_STORE_URI={store} needs the PostgreSQL driver psycopg2 in "
                f"{self.python.parent}: run `make install-postgres`."
            )
        destination = self.artifacts_destination
        if destination.startswith("s3://") and not has_module(self.python, "boto3"):
            raise ServerError(
                f"ARTIFACTS_DESTINATION={destination} needs boto3 in {self.python.parent}: "
                "run `make install-team`."
            )
        if self.auth:
            self.auth_env = self.login.prepare(self.env)
        self.webhook_env = webhooks.webhook_settings(self.env, self.host, self.pid_file)
        if "://" not in self.destination:
            Path(self.destination).mkdir(parents=True, exist_ok=True)

    def announce(self, pid: int) -> None:
        self.say(f"Starting MLflow server at {self.url} (pid {pid}, log {self.log}) ...")
        login = "no login"
        if self.auth:
            login = (
                f"basic-auth login, admin user {basic_auth.ADMIN}, users in {self.login.folder}/"
            )
        self.say(
            f"  backend store {self.backend_store_uri}, artifacts in {self.destination}, {login}"
        )

    def started(self) -> None:
        self.say(f"MLflow server up at {self.url}")

    def timeout_message(self) -> str:
        return f"no answer from {self.url}/health after {self.timeout:g}s"
