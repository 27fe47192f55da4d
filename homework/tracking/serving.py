"""The process serving a tracking URI on this machine, found by the port it listens on (Q4).

However the server was started (`make server`, or by hand as the course does), the process
listening on the URI's port is the server's own: a gunicorn or uvicorn worker of it, or the
server itself; `mlflow server ...` is that process or one of its parents. psutil reads the
process table and the open sockets, on Linux and macOS alike. A server on another machine
cannot be read from here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from homework.errors import UserError
from homework.tracking.failures import server_command
from homework.tracking.sources import is_loopback


def this_machine(host: str) -> bool:
    """True if `host` is this machine: a loopback address, its name, or one of its addresses."""
    if is_loopback(host) or host == socket.gethostname():
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    own = (item.address.split("%")[0] for items in psutil.net_if_addrs().values() for item in items)
    return str(address) in own


def listeners(port: int) -> list[int]:
    """The pids of the processes listening on TCP `port` that this user may see."""

    def listening(found: Any) -> bool:
        return found.status == psutil.CONN_LISTEN and found.laddr.port == port

    try:
        return sorted({s.pid for s in psutil.net_connections(kind="tcp") if listening(s) and s.pid})
    except psutil.AccessDenied:  # macOS without root: one's own processes, one by one
        pids = set()
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if any(listening(s) for s in process.net_connections(kind="tcp")):
                    pids.add(process.pid)
        return sorted(pids)


def is_mlflow_server(command: list[str]) -> bool:
    """True for `mlflow server ...` (run as a script, an executable or `python -m mlflow`)."""
    if "server" not in command:
        return False
    before = command[: command.index("server")]
    return any(Path(word).name == "mlflow" for word in before)


def mlflow_command(pid: int) -> list[str] | None:
    """The command line of `mlflow server` if `pid` is it or one of its workers, else None."""
    try:
        process = psutil.Process(pid)
        for candidate in (process, *process.parents()):
            command = candidate.cmdline()
            if is_mlflow_server(command):
                return command
    except psutil.Error:  # it exited meanwhile, or is another user's
        return None
    return None


def serving_command(tracking_uri: str) -> list[str]:
    """The command line of the `mlflow server` serving `tracking_uri` on this machine; one
    line saying why not, and what to do, if there is none to read."""
    parts = urlsplit(tracking_uri)
    start = f"start it as the course does, `{server_command(tracking_uri)}`, or with `make server`"
    if parts.scheme not in ("http", "https"):
        raise UserError(f"{tracking_uri} is a store of files, not a server: {start}.")
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if not this_machine(host):
        raise UserError(
            f"the tracking server {parts.scheme}://{host}:{port} runs on another machine: "
            "read its command line there (`ps -o args= -C mlflow`)."
        )
    pids = listeners(port)
    if not pids:
        raise UserError(f"nothing listens on port {port} of this machine: {start}.")
    for pid in pids:
        command = mlflow_command(pid)
        if command:
            return command
    raise UserError(
        f"the process listening on port {port} (pid {pids[0]}) is no `mlflow server`: {start} "
        "on a free port."
    )
