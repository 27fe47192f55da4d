"""Process identity: start a program in a process group of its own, record who it is, and prove
it is still that process before any signal.

A pid file is an identity record, one JSON object: the pid, the process's start time (psutil's
create_time), its exact command line, the project folder it was started from and the port it
serves. A reused pid, a copied folder or another port cannot fake them all, so `check` tells
our server from anything else, and only a group proven ours is ever signalled (`stop_group`).
Linux and macOS alike: psutil reads the process table, nothing parses `ps`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from homework.processes import CLOCK_SLACK, Identity, is_alive

GRACE = 10.0  # seconds between SIGTERM and SIGKILL
POLL = 0.1  # seconds between two looks at the process table
EXEC_WAIT = 2.0  # seconds for a just-launched process to show its command line

# The verdicts of `check`.
NONE = "none"  # no pid file
OURS = "ours"  # the recorded process runs: same start time, command, folder and port
ORPHANS = "orphans"  # its main process is gone, but its workers (proven ours) still run
OTHER_PORT = "other-port"  # ours (or its orphans), but serving another port
STALE = "stale"  # the recorded process is gone, and nothing of its group is left
NOT_OURS = "not-ours"  # the pid (or its group) now belongs to another program
ELSEWHERE = "elsewhere"  # the record of a server started from another folder (a copy's)
UNREADABLE = "unreadable"  # not a complete record (e.g. a bare pid)

_children: dict[int, subprocess.Popen] = {}  # what this process launched, reaped when stopped


@dataclass(frozen=True)
class Record:
    """Who a server is: what a pid file holds."""

    pid: int
    create_time: float
    cmdline: tuple[str, ...]
    folder: str
    port: int

    def text(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def parse(cls, text: str) -> Record:
        """The record in `text`; ValueError if it is not a complete one."""
        try:
            data = json.loads(text)
            pid, started, command = data["pid"], data["create_time"], tuple(data["cmdline"])
            record = cls(pid, started, command, data["folder"], data["port"])
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not an identity record: {exc}") from None
        numbers = type(pid) is int and pid > 1 and type(record.port) is int
        words = command and all(isinstance(word, str) for word in (*command, record.folder))
        if not (numbers and words and isinstance(started, float | int)):
            raise ValueError("not an identity record")
        return record


@dataclass(frozen=True)
class Check:
    """What a pid file says about a server of this folder on a port (see the verdicts)."""

    verdict: str
    record: Record | None = None
    reason: str = ""  # why, for stale, not-ours, elsewhere and unreadable
    orphans: tuple[int, ...] = ()


def launch(
    command: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path | None = None
) -> int:
    """Start `command` in a new session (and process group, whose id is its pid), its output
    in `log`; return its pid. The group holds its workers too, so stopping it stops them all."""
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    _children[process.pid] = process
    return process.pid


def identify(pid: int, folder: Path, port: int, arguments: Sequence[str] = ()) -> Record:
    """The record of the running process `pid`; psutil.NoSuchProcess if it has exited.

    Just after an exec the kernel may not show the new command line yet: wait (briefly) until
    it ends with `arguments`, what the process was launched with after its program.
    """
    process = psutil.Process(pid)
    deadline = time.monotonic() + EXEC_WAIT
    while True:
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                raise psutil.NoSuchProcess(pid)
            command = tuple(process.cmdline())
            started = process.create_time()
        shown = command and command[len(command) - len(arguments) :] == tuple(arguments)
        if shown or (command and time.monotonic() > deadline):
            return Record(pid, started, command, str(folder), port)
        if time.monotonic() > deadline + EXEC_WAIT:
            raise psutil.NoSuchProcess(pid)
        time.sleep(0.01)


def write_record(path: Path, record: Record) -> bool:
    """Write `record` to `path` unless a record is there already (False: another start's).

    Written beside it first, then hard-linked into place: the pid file appears whole, and a
    link never replaces a file that exists.
    """
    draft = path.with_name(f"{path.name}.{record.pid}")
    draft.unlink(missing_ok=True)  # a leftover, or a planted link: never written through
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "w") as file:
        file.write(record.text())
    try:
        os.link(draft, path)
    except FileExistsError:
        return False
    finally:
        draft.unlink(missing_ok=True)
    return True


def read_record(path: Path) -> Record | None:
    """The record in `path`; None if there is no such file; ValueError if it is not one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
    return Record.parse(text)


def remove_record(path: Path, record: Record) -> None:
    """Remove `path` if it still holds `record` (never another start's record)."""
    with contextlib.suppress(OSError, ValueError):
        if read_record(path) == record:
            path.unlink()


def running(pid: int) -> bool:
    """True if process `pid` runs (a zombie, dead but not yet reaped, does not)."""
    _reap(pid)
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_recorded_process(record: Record) -> bool:
    """True if the process `record.pid` runs and is the one recorded: start time and command."""
    if not is_alive(Identity(record.pid, record.create_time)):
        return False
    try:
        return tuple(psutil.Process(record.pid).cmdline()) == record.cmdline
    except psutil.Error:  # exited meanwhile
        return False


def command_line(record: Record) -> list[str]:
    """The live command line of the recorded process; psutil.NoSuchProcess if it is not it."""
    if not is_recorded_process(record):
        raise psutil.NoSuchProcess(record.pid)
    return psutil.Process(record.pid).cmdline()


def group_members(group: int) -> list[psutil.Process]:
    """The live (not zombie) processes of process group `group`."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (OSError, psutil.Error):  # it exited meanwhile
            continue
    return members


def is_orphan(process: psutil.Process, record: Record) -> bool:
    """True if `process`, left in the group of the dead server of `record`, is provably its
    worker: it runs the recorded program and started no earlier than the server."""
    try:
        with process.oneshot():
            program = process.cmdline()[:1]
            started = process.create_time()
    except psutil.Error:
        return False
    return program == list(record.cmdline[:1]) and started >= record.create_time - CLOCK_SLACK


def check(path: Path, folder: Path, port: int) -> Check:
    """What the pid file `path` says about a server started from `folder`, serving `port`."""
    try:
        record = read_record(path)
    except ValueError:
        reason = f"{path} is not a complete record of a server started from here"
        return Check(UNREADABLE, reason=reason)
    if record is None:
        return Check(NONE)
    if record.folder != str(folder):
        reason = f"pid {record.pid} is the server started from {record.folder}, not from {folder}"
        return Check(ELSEWHERE, record, reason)
    orphans: tuple[int, ...] = ()
    if running(record.pid):
        if not is_recorded_process(record):
            reason = (
                f"pid {record.pid} is not our server: its start time or command differ from {path}"
            )
            return Check(NOT_OURS, record, reason)
        verdict = OURS
    else:
        members = group_members(record.pid)
        if not members:
            return Check(STALE, record, f"pid {record.pid} is no longer running")
        if not all(is_orphan(member, record) for member in members):
            reason = f"process group {record.pid} holds processes that are not our server's"
            return Check(NOT_OURS, record, reason)
        verdict, orphans = ORPHANS, tuple(sorted(member.pid for member in members))
    return Check(OTHER_PORT if record.port != port else verdict, record, "", orphans)


def _signal_group(group: int, signum: int) -> None:
    if group <= 1 or group == os.getpgrp():  # never init's group, nor our own
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _reap(group: int) -> None:
    """Collect the exit of the group's leader if this process launched it (no zombie left)."""
    child = _children.get(group)
    if child is not None and child.poll() is not None:
        del _children[group]


def _wait_until_gone(group: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        _reap(group)
        if not group_members(group):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def stop_group(group: int, grace: float = GRACE) -> None:
    """SIGTERM to process group `group`, SIGKILL to what still runs after `grace` seconds;
    return once none of it runs. Only for a group `check` proved ours."""
    _signal_group(group, signal.SIGTERM)
    if not _wait_until_gone(group, grace):
        _signal_group(group, signal.SIGKILL)
        _wait_until_gone(group, grace)


def kill_group(group: int) -> None:
    """SIGKILL to the whole group at once: a crash, not a clean stop (for the tests)."""
    _signal_group(group, signal.SIGKILL)
    _wait_until_gone(group, GRACE)


@contextlib.contextmanager
def one_at_a_time(folder: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the lock of `folder` (flock on the folder itself, freed when we exit or die): one
    start at a time per folder of pid files. `on_wait` runs first if another start holds it."""
    handle = os.open(folder, os.O_RDONLY)  # not inherited by what we launch (O_CLOEXEC)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)
