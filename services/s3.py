"""The local S3 server of `make s3`: SeaweedFS's all-in-one `weed mini`, a development store.

S3 on 127.0.0.1:S3_PORT; its other ports (master, volume, filer, admin and their gRPC ports) on
free ones, all on 127.0.0.1; WebDAV, Iceberg, Lance and telemetry off. Its data, logs, sockets
and temporary files stay in S3_DIR (it runs there, with TMPDIR inside it), except the gRPC
sockets SeaweedFS always makes in /tmp, which its stop removes. It creates the bucket, and
`start` prints the variables an MLflow server needs to keep its artifacts there.

Settings come from the environment (the Makefile passes them):
  WEED                  weed executable             (default: .venv/bin/weed)
  S3_PORT               S3 port on 127.0.0.1        (default: 8333)
  S3_DIR                data folder                 (default: s3-data)
  S3_BUCKET             bucket made at start        (default: mlflow)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the one key pair it accepts; weed reads them
                        from its environment (default: the public development pair below)
  S3_PID_FILE           its identity record         (default: s3-server.pid)
  S3_LOG                its log                     (default: s3-server.log)
  START_TIMEOUT         seconds to wait for the bucket (default: 60)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shlex
import socket
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from homework.config import S3_BUCKET, S3_PORT
from services import lifecycle
from services.processes import Record
from services.service import ServerError, Service, port_setting, seconds_setting, setting

WEED = ".venv/bin/weed"
HOST = "127.0.0.1"
S3_DIR = "s3-data"
S3_PID_FILE = "s3-server.pid"
S3_LOG = "s3-server.log"
START_TIMEOUT = 60  # seconds
# The development key pair of the local server (docs/team.md), when none is in the environment.
DEV_ACCESS_KEY_ID = "mlflow-dev"
DEV_SECRET_ACCESS_KEY = "mlflow-dev-secret"
# weed mini's ports besides S3's, each given a free one (its defaults may be taken).
OTHER_PORTS = (
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)
OFF = ("-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0")
# SeaweedFS makes these in /tmp whatever it is told (/tmp/seaweedfs-<name>-grpc-<port>.sock).
GRPC_PORT = re.compile(r"-(s3|master|volume|filer|admin)\.port\.grpc=(\d+)")
GRPC_SOCKET = "/tmp/seaweedfs-{}-grpc-{}.sock"


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports on 127.0.0.1 (all bound together, so no two are the same)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def remove_grpc_sockets(command: tuple[str, ...]) -> None:
    """Remove the gRPC sockets the stopped `weed` of `command` left in /tmp: only sockets of
    its own ports, and only ours."""
    for word in command:
        found = GRPC_PORT.fullmatch(word)
        if not found:
            continue
        path = Path(GRPC_SOCKET.format(*found.groups()))
        with contextlib.suppress(OSError):
            info = path.lstat()
            if stat.S_ISSOCK(info.st_mode) and info.st_uid == os.getuid():
                path.unlink()


class LocalS3(Service):
    """`weed mini` in the background, as `make s3` starts it."""

    name = "S3 server"
    start_target = "make s3"
    stop_target = "make s3-stop"
    port_variable = "S3_PORT"
    other_port = 8334

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.weed = os.path.abspath(setting(env, "WEED", WEED))
        self.data = Path(setting(env, "S3_DIR", S3_DIR))
        self.bucket = setting(env, "S3_BUCKET", S3_BUCKET)
        self.access_key = setting(env, "AWS_ACCESS_KEY_ID", DEV_ACCESS_KEY_ID)
        self.secret_key = setting(env, "AWS_SECRET_ACCESS_KEY", DEV_SECRET_ACCESS_KEY)
        super().__init__(
            HOST,
            port_setting(env, "S3_PORT", S3_PORT),
            Path(setting(env, "S3_PID_FILE", S3_PID_FILE)),
            Path(setting(env, "S3_LOG", S3_LOG)),
            seconds_setting(env, START_TIMEOUT),
        )

    def command(self) -> list[str]:
        ports = [f"-{name}={port}" for name, port in zip(OTHER_PORTS, free_ports(9), strict=True)]
        return [
            self.weed,
            "-logtostderr=true",  # its log is S3_LOG, not files in the temporary folder
            "mini",
            f"-dir={self.data.resolve()}",
            # Relative to S3_DIR, where it runs: short enough for a socket's path on any folder.
            "-filer.localSocket=filer.sock",
            "-s3.localSocket=s3.sock",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-bucket={self.bucket}",
            f"-s3.port={self.port}",
            *ports,
            *OFF,
            "-master.telemetry=false",
        ]

    def environment(self) -> dict[str, str]:
        return {
            **self.env,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "TMPDIR": str((self.data / "tmp").resolve()),
        }

    def cwd(self) -> Path:
        return self.data.resolve()

    def secrets(self) -> list[str]:
        return [self.secret_key]

    def client(self) -> Any:
        """A boto3 S3 client with the key pair, quick to give up (for the readiness check)."""
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1})
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=config,
        )

    def ready(self) -> bool:
        """True once the bucket answers to the key pair."""
        try:
            self.client().head_bucket(Bucket=self.bucket)
        except Exception:  # not up yet, wrong keys, no bucket: all "not ready"
            return False
        return True

    def reuse(self, record: Record) -> None:
        lifecycle.wait_for_starting(self, record)
        if not self.ready():
            raise ServerError(
                f"the S3 server in {self.pid_file} (pid {record.pid}) does not serve bucket "
                f"{self.bucket} at {self.url} with these keys: run `make s3-stop` first."
            )
        self.say(
            f"S3 server already running at {self.url} (pid {record.pid}), bucket {self.bucket}."
        )
        self.print_settings()

    def prepare(self) -> None:
        if not os.access(self.weed, os.X_OK) or importlib.util.find_spec("boto3") is None:
            raise ServerError(f"{self.weed} or boto3 not found: run `make install-team` first.")
        (self.data / "tmp").mkdir(parents=True, exist_ok=True)

    def announce(self, pid: int) -> None:
        self.say(
            f"Starting the S3 server (SeaweedFS) at {self.url} (pid {pid}, data in "
            f"{self.data}/, log {self.log}) ..."
        )

    def started(self) -> None:
        self.say(f"S3 server up at {self.url}, bucket {self.bucket}. For the MLflow server:")
        self.print_settings()

    def stopped(self, record: Record) -> None:
        remove_grpc_sockets(record.cmdline)

    def timeout_message(self) -> str:
        return f"bucket {self.bucket} did not answer at {self.url} after {self.timeout:g}s"

    def running_line(self, pid: int) -> str:
        return f"running at {self.url} (pid {pid}), bucket {self.bucket}"

    def print_settings(self) -> None:
        """On stdout, as shell lines (`eval "$(make -s s3)"` sets them): what `make server`
        needs to keep artifacts in the bucket. A secret key of the user's is not printed."""
        print(f"export MLFLOW_S3_ENDPOINT_URL={shlex.quote(self.url)}")
        print(f"export AWS_ACCESS_KEY_ID={shlex.quote(self.access_key)}")
        if self.secret_key == DEV_SECRET_ACCESS_KEY:
            note = "# the local server's development key"
            print(f"export AWS_SECRET_ACCESS_KEY={DEV_SECRET_ACCESS_KEY} {note}")
        else:
            print("# AWS_SECRET_ACCESS_KEY: yours, from this environment (not shown)")
        print(f"# then: make server ARTIFACTS_DESTINATION=s3://{self.bucket}/artifacts", flush=True)
