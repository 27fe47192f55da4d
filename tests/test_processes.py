"""processes.py: identity records, the verdicts and stopping a group, on real (cheap) processes.

Each "server" here is a Python process in a session of its own whose children stand in for
workers: real process groups, real pids, real start times, in milliseconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from services import processes
from services.processes import Record

ROOT = Path(__file__).resolve().parent.parent
PORT = 5077
WORKER = "import time; time.sleep(120)"


def spawn(tmp_path: Path, workers: int = 2, worker: list[str] | None = None) -> int:
    """A leader in a session of its own with `workers` children in its group; its pid."""
    worker = worker or [sys.executable, "-c", WORKER]
    code = (
        "import subprocess, sys, time\n"
        f"[subprocess.Popen({worker!r}) for _ in range({workers})]\n"
        "time.sleep(120)\n"
    )
    pid = processes.launch([sys.executable, "-c", code], tmp_path / "leader.log", os.environ)
    wait_for(lambda: len(processes.group_members(pid)) == workers + 1)
    return pid


def wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def members(group: int) -> set[int]:
    return {process.pid for process in processes.group_members(group)}


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups to kill whatever a test left of them."""
    started: list[int] = []
    yield started
    for group in started:
        for process in processes.group_members(group):
            process.kill()


def test_a_record_appears_whole_once_and_is_never_replaced(tmp_path: Path, groups) -> None:
    pid = spawn(tmp_path, workers=0)
    groups.append(pid)
    record = processes.identify(pid, ROOT, PORT)
    assert record.cmdline == tuple(psutil.Process(pid).cmdline())
    pid_file = tmp_path / "server.pid"
    victim = tmp_path / "victim"
    victim.write_text("mine")
    (tmp_path / f"server.pid.{pid}").symlink_to(victim)  # a planted draft: not written through
    assert processes.write_record(pid_file, record)
    assert processes.read_record(pid_file) == record
    assert victim.read_text() == "mine"
    victim.unlink()
    other = Record(pid + 1, record.create_time, record.cmdline, str(ROOT), PORT)
    assert not processes.write_record(pid_file, other)  # another start's record stays
    assert processes.read_record(pid_file) == record
    assert sorted(path.name for path in tmp_path.iterdir()) == ["leader.log", "server.pid"]

    processes.remove_record(pid_file, other)  # not the record there: kept
    assert pid_file.exists()
    processes.remove_record(pid_file, record)
    assert not pid_file.exists()
    assert processes.read_record(pid_file) is None
    for text in (f"{pid}\n", "", "{}", '{"pid": "1"}', "\x00\x01"):
        pid_file.write_text(text)
        with pytest.raises(ValueError):
            processes.read_record(pid_file)


def test_the_verdicts(tmp_path: Path, groups) -> None:
    pid = spawn(tmp_path, workers=0)
    groups.append(pid)
    record = processes.identify(pid, ROOT, PORT)
    pid_file = tmp_path / "server.pid"

    def verdict(written: Record | str | None, port: int = PORT) -> processes.Check:
        pid_file.unlink(missing_ok=True)
        if written is not None:
            pid_file.write_text(written if isinstance(written, str) else written.text())
        return processes.check(pid_file, ROOT, port)

    assert verdict(None).verdict == processes.NONE
    assert verdict(record).verdict == processes.OURS
    assert verdict(record, port=PORT + 1).verdict == processes.OTHER_PORT
    found = verdict(f"{pid}\n")
    assert (found.verdict, found.reason) == (
        processes.UNREADABLE,
        f"{pid_file} is not a complete record of a server started from here",
    )
    copied = Record(pid, record.create_time, record.cmdline, "/elsewhere", PORT)
    found = verdict(copied)
    assert found.verdict == processes.ELSEWHERE
    assert found.reason == f"pid {pid} is the server started from /elsewhere, not from {ROOT}"
    # The pid now runs something else: another start time, or another command.
    for reused in (
        Record(pid, record.create_time - 3600, record.cmdline, str(ROOT), PORT),
        Record(pid, record.create_time, ("mlflow", "server"), str(ROOT), PORT),
    ):
        found = verdict(reused)
        assert found.verdict == processes.NOT_OURS
        assert found.reason.startswith(f"pid {pid} is not our server: ")
    processes.stop_group(pid)
    found = verdict(record)
    assert (found.verdict, found.reason) == (processes.STALE, f"pid {pid} is no longer running")
    with pytest.raises(psutil.NoSuchProcess):
        processes.command_line(record)


def test_workers_of_a_killed_leader_are_ours_and_stopped(tmp_path: Path, groups) -> None:
    pid = spawn(tmp_path)
    groups.append(pid)
    record = processes.identify(pid, ROOT, PORT)
    (tmp_path / "server.pid").write_text(record.text())
    workers = members(pid) - {pid}
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: members(pid) == workers)
    found = processes.check(tmp_path / "server.pid", ROOT, PORT)
    assert (found.verdict, set(found.orphans)) == (processes.ORPHANS, workers)
    assert processes.check(tmp_path / "server.pid", ROOT, PORT + 1).verdict == processes.OTHER_PORT
    processes.stop_group(pid)
    assert members(pid) == set()


def test_another_program_in_the_group_is_never_ours(tmp_path: Path, groups) -> None:
    """A member running another program, or one older than the server: nothing is ours."""
    pid = spawn(tmp_path, workers=1, worker=["sleep", "120"])
    groups.append(pid)
    record = processes.identify(pid, ROOT, PORT)
    (tmp_path / "server.pid").write_text(record.text())
    (sleeper,) = members(pid) - {pid}
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: members(pid) == {sleeper})
    found = processes.check(tmp_path / "server.pid", ROOT, PORT)
    assert found.verdict == processes.NOT_OURS
    assert found.reason == f"process group {pid} holds processes that are not our server's"

    python_pid = spawn(tmp_path, workers=1)
    groups.append(python_pid)
    later = processes.identify(python_pid, ROOT, PORT)
    # Recorded as started after its worker: the worker cannot be one of its own.
    (tmp_path / "server.pid").write_text(
        Record(python_pid, later.create_time + 60, later.cmdline, str(ROOT), PORT).text()
    )
    os.kill(python_pid, signal.SIGKILL)
    wait_for(lambda: python_pid not in members(python_pid))
    assert processes.check(tmp_path / "server.pid", ROOT, PORT).verdict == processes.NOT_OURS
    assert len(members(python_pid)) == 1  # left running


def test_stop_group_kills_what_ignores_sigterm(tmp_path: Path, groups) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
    pid = processes.launch([sys.executable, "-c", code], tmp_path / "log", os.environ)
    groups.append(pid)
    wait_for(lambda: "SIG_IGN" in " ".join(psutil.Process(pid).cmdline()))
    time.sleep(0.3)  # its handler is set
    started = time.monotonic()
    processes.stop_group(pid, grace=0.5)
    assert members(pid) == set()
    assert time.monotonic() - started < 5
    assert not processes.running(pid)


def test_one_start_at_a_time_per_folder(tmp_path: Path) -> None:
    """A second holder waits for the first (a real process holds the lock meanwhile)."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from services import processes\n"
        "with processes.one_at_a_time(Path(sys.argv[1]), lambda: None):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(1)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "locked\n"
    waited: list[bool] = []
    started = time.monotonic()
    with processes.one_at_a_time(tmp_path, lambda: waited.append(True)):
        waited_for = time.monotonic() - started
    assert waited == [True] and waited_for > 0.5  # until the holder let go
    assert holder.wait(timeout=30) == 0
