"""What a server of ours is: its settings, its hooks, and how it talks.

A Service (mlflow_server.TrackingServer, s3.LocalS3) holds a server's settings, read
from the environment as the Makefile passes them, and the hooks lifecycle.py calls: its
command and environment, how to tell it answers, what to check before a launch, what to say.
Everything it prints has the password of any URI and every secret value masked; a failure is
a ServerError, which the command line prints as one `Error:` line.
"""

from __future__ import annotations

import http.client
import re
import socket
import sys
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

from services.processes import Record

ROOT = Path(__file__).resolve().parents[1]  # the project folder: part of every record
LOG_LINES = 5  # lines of the server's log shown when it fails to start
URI_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")
# Our servers are on this machine: never ask them through a proxy of the environment.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerError(Exception):
    """A server could not be started, stopped or reused: a message for one `Error:` line,
    then `details` (the last lines of its log), each on a line of its own."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def __str__(self) -> str:
        return "\n".join([self.message, *self.details])


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with the password of any URI and every secret value replaced by ***."""
    text = URI_PASSWORD.sub(r"\1:***@", text)
    for secret in secrets:
        if len(secret) >= 4:  # a shorter one would mask half the text
            text = text.replace(secret, "***")
    return text


def answers(url: str, timeout: float = 2) -> bool:
    """True if a GET of `url` answers 200."""
    try:
        with DIRECT.open(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError, http.client.HTTPException):
        return False


def setting(env: Mapping[str, str], name: str, default: str) -> str:
    """The variable `name`, or `default` when it is unset or empty (as ${NAME:-default})."""
    return env.get(name) or default


def port_setting(env: Mapping[str, str], name: str, default: int) -> int:
    value = setting(env, name, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ServerError(f"{name}={value} is not a port number (1-65535).")
    return int(value)


def seconds_setting(env: Mapping[str, str], default: float) -> float:
    value = setting(env, "START_TIMEOUT", str(default))
    try:
        return float(value)
    except ValueError:
        raise ServerError(f"START_TIMEOUT={value} is not a number of seconds.") from None


class Service:
    """One server: its settings and what sets it apart. Subclasses fill in the hooks."""

    name = "server"  # e.g. "MLflow server"
    start_target = "make"  # the make target that starts it, e.g. "make server"
    stop_target = "make"
    port_variable = "PORT"
    other_port = 5001  # the example in "pick another"

    def __init__(self, host: str, port: int, pid_file: Path, log: Path, timeout: float) -> None:
        self.host, self.port, self.pid_file, self.log = host, port, pid_file, log
        self.timeout = timeout
        self.folder = ROOT

    # ------------------------------------------------------------------ hooks
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        raise NotImplementedError

    def cwd(self) -> Path | None:
        return None

    def secrets(self) -> list[str]:
        """Values never to print (passwords, secret keys)."""
        return []

    def ready(self) -> bool:
        raise NotImplementedError

    def reuse(self, record: Record) -> None:
        """Ours runs already: say so, or raise ServerError if it may not be reused as it is."""
        raise NotImplementedError

    def prepare(self) -> None:
        """What must hold (or be written) before a launch; ServerError if it does not."""

    def announce(self, pid: int) -> None:
        self.say(f"Starting the {self.name} at {self.url} (pid {pid}, log {self.log}) ...")

    def started(self) -> None:
        self.say(f"{self.name} up at {self.url}")

    def stopped(self, record: Record) -> None:
        """After its group is gone (e.g. files it leaves behind)."""

    def timeout_message(self) -> str:
        return f"no answer from {self.url} after {self.timeout:g}s"

    def running_line(self, pid: int) -> str:
        return f"running at {self.url} (pid {pid})"

    # ------------------------------------------------------------------ output
    def mask(self, text: str) -> str:
        return mask(text, self.secrets())

    def say(self, text: str) -> None:
        print(self.mask(text), file=sys.stderr, flush=True)

    def log_tail(self, lines: int = LOG_LINES) -> list[str]:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [self.mask(line) for line in text.splitlines()[-lines:]]


def port_in_use(host: str, port: int) -> bool:
    """True if something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
