"""Real servers on free loopback ports, for the tests and the benchmark.

MLflow tracking servers start and stop through scripts/server.sh, as `make server` does, and
the local S3 server (SeaweedFS) through scripts/s3.sh, as `make s3` does, so the tests run the
very code users run. Each server's files live in a folder of the caller's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homework.config import AUTH_ADMIN, S3_BUCKET

ROOT = Path(__file__).resolve().parent.parent  # the project folder
SERVER_SH = ROOT / "scripts" / "server.sh"
S3_SH = ROOT / "scripts" / "s3.sh"
BIN = Path(sys.executable).parent  # this environment's mlflow and weed


def free_port() -> int:
    """A TCP port nothing listens on right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_in(pid_file: Path) -> int:
    """The pid a pid file records (its first line; the rest is the identity record)."""
    return int(pid_file.read_text().split()[0])


def run_script(script: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(script), command], env=env, capture_output=True, text=True, timeout=300
    )


@dataclass
class S3Server:
    """A local S3 server (SeaweedFS's `weed mini`) with the bucket `mlflow`."""

    endpoint: str
    port: int
    folder: Path
    env: dict[str, str]

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
        return pid_in(self.folder / "s3.pid")

    def start(self) -> subprocess.CompletedProcess:
        """(Re)start it on the same port and data (scripts/s3.sh start)."""
        done = run_script(S3_SH, "start", self.env)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/s3.sh start failed:\n{done.stderr[-3000:]}")
        return done

    def stop(self) -> subprocess.CompletedProcess:
        return run_script(S3_SH, "stop", self.env)

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
    """scripts/s3.sh's settings for a server whose files all live in `folder`."""
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
    """Start a local S3 server with scripts/s3.sh and wait until its bucket answers."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    server = S3Server(f"http://127.0.0.1:{port}", port, folder, s3_env(folder, port))
    server.start()
    return server


@dataclass
class Server:
    uri: str
    port: int
    folder: Path
    env: dict[str, str]

    @property
    def pid(self) -> int:
        """The server's pid, which is also its process group (server.sh starts it with setsid)."""
        return pid_in(self.folder / "server.pid")

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def login(self, user: str = AUTH_ADMIN, password: str | None = None) -> dict[str, str]:
        """A client's environment to log in as `user` (by default the admin)."""
        password = password or self.env["MLFLOW_AUTH_ADMIN_PASSWORD"]
        return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}

    def stop(self) -> None:
        """Stop the server and its workers (scripts/server.sh stop)."""
        run_script(SERVER_SH, "stop", self.env)

    def kill(self) -> None:
        """A crash, not a clean stop: SIGKILL to the server's whole process group."""
        os.killpg(self.pid, signal.SIGKILL)


def server_env(
    folder: Path,
    port: int,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
) -> dict[str, str]:
    """scripts/server.sh's settings for a server whose files all live in `folder`."""
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
    """Start a real `mlflow server` with scripts/server.sh and wait until /health answers.

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
    done = run_script(SERVER_SH, "start", env)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/server.sh start failed:\n{done.stderr[-3000:]}")
    return Server(f"http://127.0.0.1:{port}", port, folder, env)
