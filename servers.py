"""Real MLflow tracking servers on free loopback ports, for the tests and the benchmark.

They start and stop through scripts/server.sh, as `make server` does, so the tests run
the very code users run. The server's store lives in a folder of the caller's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SERVER_SH = ROOT / "scripts" / "server.sh"


def free_port() -> int:
    """A TCP port nothing listens on right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    uri: str
    port: int
    folder: Path
    env: dict[str, str]

    @property
    def pid(self) -> int:
        """The server's pid, which is also its process group (server.sh starts it with setsid)."""
        return int((self.folder / "server.pid").read_text().split()[0])

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def stop(self) -> None:
        """Stop the server and its workers (scripts/server.sh stop)."""
        subprocess.run([str(SERVER_SH), "stop"], env=self.env, capture_output=True, timeout=120)

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
        "MLFLOW": str(Path(sys.executable).parent / "mlflow"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BACKEND_STORE_URI": backend_store_uri or f"sqlite:///{folder / 'mlflow.db'}",
        "ARTIFACT_ROOT": str(folder / "artifacts"),
        "ARTIFACTS_DESTINATION": artifacts_destination or "",
        "SERVER_PID_FILE": str(folder / "server.pid"),
        "SERVER_LOG": str(folder / "server.log"),
    }


def start_server(
    folder: Path,
    port: int | None = None,
    backend_store_uri: str | None = None,
    proxied_artifacts: bool = False,
) -> Server:
    """Start a real `mlflow server` with scripts/server.sh and wait until /health answers.

    Backend store: `backend_store_uri`, default a SQLite file in `folder`. Artifacts go to
    `folder/artifacts`: a default artifact root the clients write to directly or, with
    `proxied_artifacts`, a destination the server alone touches and serves over HTTP.
    """
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    destination = str(folder / "artifacts") if proxied_artifacts else None
    env = server_env(folder, port, backend_store_uri, destination)
    done = subprocess.run(
        [str(SERVER_SH), "start"], env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/server.sh start failed:\n{done.stderr[-3000:]}")
    return Server(f"http://127.0.0.1:{port}", port, folder, env)
