"""The homework's servers, one implementation for make, the tests and the benchmark.

    python -m services mlflow|s3|spark start|stop|status

is what `make server`, `make server-stop`, `make s3`, `make s3-stop`, `make spark-cluster`
and `make spark-cluster-stop` run (__main__.py), with the settings the Makefile passes in the
environment (listed in mlflow_server.py, s3.py and spark_cluster.py; `spark` is a master and
its workers). Exit
code 0, 1 with one `Error:` line (and the server's last log lines), 130 after Ctrl-C; status
prints `running at ...` or `not running` (exit 1). The tests and the benchmark call
start_server and start_s3 for servers on free loopback ports whose files all live in a folder
of theirs: the same code, in their own process.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homework.config import AUTH_ADMIN, S3_BUCKET
from services import lifecycle, processes, service
from services.mlflow_server import TrackingServer
from services.s3 import LocalS3
from services.service import Service

ROOT = service.ROOT  # the project folder
BIN = Path(sys.executable).parent  # this environment's mlflow and weed
SERVICES: dict[str, type[Service]] = {"mlflow": TrackingServer, "s3": LocalS3}
ACTIONS = ("start", "stop", "status")
USAGE = "usage: python -m services mlflow|s3|spark start|stop|status"


def free_port() -> int:
    """A TCP port nothing listens on right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recorded_pid(pid_file: Path) -> int:
    """The pid in a server's identity record."""
    record = processes.read_record(pid_file)
    if record is None:
        raise FileNotFoundError(pid_file)
    return record.pid


@dataclass
class S3Server:
    """A local S3 server (SeaweedFS's `weed mini`) with the bucket `mlflow`."""

    endpoint: str
    port: int
    folder: Path
    env: dict[str, str]

    @property
    def service(self) -> LocalS3:
        return LocalS3(self.env)

    @property
    def settings(self) -> dict[str, str]:
        """The environment an MLflow server needs to keep its artifacts in the bucket."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.env["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": self.env["AWS_SECRET_ACCESS_KEY"],
        }

    @property
    def pid(self) -> int:
        return recorded_pid(self.folder / "s3.pid")

    def start(self) -> None:
        """(Re)start it on the same port and data."""
        lifecycle.start(self.service)

    def stop(self) -> None:
        lifecycle.stop(self.service)

    def client(self) -> Any:
        """A boto3 S3 client with the server's keys."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def keys(self, prefix: str = "") -> list[str]:
        """The keys of the objects in the bucket under `prefix`."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix)
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


def s3_env(folder: Path, port: int) -> dict[str, str]:
    """The settings (as `make s3` passes them) of an S3 server whose files all live in `folder`."""
    return {
        **os.environ,
        "WEED": str(BIN / "weed"),
        "S3_PORT": str(port),
        "S3_DIR": str(folder / "data"),
        "S3_PID_FILE": str(folder / "s3.pid"),
        "S3_LOG": str(folder / "s3.log"),
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret-" + os.urandom(8).hex(),
    }


def start_s3(folder: Path, port: int | None = None) -> S3Server:
    """Start a local S3 server and wait until its bucket answers."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    server = S3Server(f"http://127.0.0.1:{port}", port, folder, s3_env(folder, port))
    server.start()
    return server


@dataclass
class Server:
    """A real MLflow tracking server whose files live in `folder`."""

    uri: str
    port: int
    folder: Path
    env: dict[str, str]

    @property
    def service(self) -> TrackingServer:
        return TrackingServer(self.env)

    @property
    def pid(self) -> int:
        """The server's pid, which is also its process group (its workers are in it)."""
        return recorded_pid(self.folder / "server.pid")

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def login(self, user: str = AUTH_ADMIN, password: str | None = None) -> dict[str, str]:
        """A client's environment to log in as `user` (by default the admin)."""
        password = password or self.env["MLFLOW_AUTH_ADMIN_PASSWORD"]
        return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}

    def stop(self) -> None:
        """Stop the server and its workers (as `make server-stop`)."""
        lifecycle.stop(self.service)

    def kill(self) -> None:
        """A crash, not a clean stop: SIGKILL to the server's whole process group."""
        processes.kill_group(self.pid)


def server_env(
    folder: Path,
    port: int,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
) -> dict[str, str]:
    """The settings (as `make server` passes them) of a server whose files all live in `folder`."""
    return {
        **os.environ,
        "MLFLOW": str(BIN / "mlflow"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BACKEND_STORE_URI": backend_store_uri or f"sqlite:///{folder / 'mlflow.db'}",
        "ARTIFACT_ROOT": str(folder / "artifacts"),
        "ARTIFACTS_DESTINATION": artifacts_destination or "",
        "AUTH": "",
        "AUTH_DIR": str(folder / "auth"),
        "SERVER_PID_FILE": str(folder / "server.pid"),
        "SERVER_LOG": str(folder / "server.log"),
    }


def start_server(
    folder: Path,
    port: int | None = None,
    backend_store_uri: str | None = None,
    proxied_artifacts: bool = False,
    s3: S3Server | None = None,
    admin_password: str | None = None,
) -> Server:
    """Start a real `mlflow server` and wait until /health answers.

    Backend store: `backend_store_uri`, default a SQLite file in `folder`. Artifacts go to
    `folder/artifacts`: a default artifact root the clients write to directly or, with
    `proxied_artifacts`, a destination the server alone touches and serves over HTTP. With
    `s3`, that destination is the S3 server's bucket. With `admin_password`, the server runs
    MLflow's basic-auth app (AUTH=1) and every client must log in (Server.login).
    """
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    destination = str(folder / "artifacts") if proxied_artifacts else None
    if s3:
        destination = f"s3://{S3_BUCKET}/artifacts"
    env = server_env(folder, port, backend_store_uri, destination)
    if s3:
        env.update(s3.settings)
    if admin_password:
        env.update(AUTH="1", MLFLOW_AUTH_ADMIN_PASSWORD=admin_password)
    server = Server(f"http://127.0.0.1:{port}", port, folder, env)
    lifecycle.start(server.service)
    return server
