"""Who a process is: its pid and its start time together, which a reused pid cannot fake.

A pid alone names whatever process holds it now; with its start time (psutil's create_time)
beside it, it names one process. A search's parent run records who works on it
(search/runs.py) and the local services' pid files who they launched (services/processes.py):
both ask `is_alive` before they count a process as running, or signal it.
"""

from __future__ import annotations

from dataclasses import dataclass

# create_time is the boot time plus the process's age, and the boot time moves (in whole
# seconds) when the wall clock is set: a second of slack keeps a process itself.
CLOCK_SLACK = 1.0


@dataclass(frozen=True)
class Identity:
    """One process: its pid and when it started (seconds since the epoch)."""

    pid: int
    create_time: float


def identity(pid: int | None = None) -> Identity:
    """The identity of process `pid` (this process by default); psutil.NoSuchProcess if gone."""
    import os

    import psutil

    pid = os.getpid() if pid is None else pid
    return Identity(pid, psutil.Process(pid).create_time())


def same_start(recorded: float, started: float) -> bool:
    """True if two start times are one process's (see CLOCK_SLACK)."""
    return abs(started - recorded) <= CLOCK_SLACK


def is_alive(process: Identity) -> bool:
    """True if `process` still runs: its pid is alive, not a zombie, and started when recorded."""
    import psutil

    try:
        found = psutil.Process(process.pid)
        with found.oneshot():
            return found.status() != psutil.STATUS_ZOMBIE and same_start(
                process.create_time, found.create_time()
            )
    except psutil.Error:  # gone, or not ours to look at
        return False


def this_process() -> str:
    """`host pid start-time`: this process, named for a record another process reads."""
    import socket

    me = identity()
    return f"{socket.gethostname()} {me.pid} {me.create_time}"


def alive_here(named: str) -> int | None:
    """The pid of the process `this_process()` named, if it runs on this machine."""
    import contextlib
    import socket

    host, pid, started = (named + "  ").split(" ")[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return None
    with contextlib.suppress(ValueError):
        if is_alive(Identity(int(pid), float(started))):
            return int(pid)
    return None
