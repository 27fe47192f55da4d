"""scripts/server.sh signals only the server it started, and recovers from a killed one.

The pid file is an identity record (scripts/processes.sh): pid, start time, command, project
folder and port, all checked before any signal.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import ROOT, project_copy

from homework.servers import free_port, pid_in, server_env

MLFLOW = Path(sys.executable).parent / "mlflow"


def server_sh(
    folder: Path, command: str, port: int, **settings: str
) -> subprocess.CompletedProcess:
    env = {**server_env(folder, port), **settings}
    return subprocess.run(
        [str(ROOT / "scripts/server.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def group_members(group: int) -> list[int]:
    """The live (not zombie) processes of process group `group`, from `ps` as the script asks."""
    done = subprocess.run(
        ["ps", "-A", "-o", "pid=", "-o", "pgid=", "-o", "stat="], capture_output=True, text=True
    )
    rows = [line.split() for line in done.stdout.splitlines()]
    return [int(pid) for pid, pgid, stat in rows if int(pgid) == group and "Z" not in stat]


def record(pid_file: Path) -> dict[str, str]:
    lines = pid_file.read_text().splitlines()
    return {"pid": lines[0], **dict(line.split("=", 1) for line in lines[1:])}


def test_an_unrelated_process_in_the_pid_file_survives(tmp_path: Path) -> None:
    """A reused pid (a `tail -f "mlflow server notes.txt"`) is reported, never signalled."""
    notes = tmp_path / "mlflow server notes.txt"
    notes.write_text("notes\n")
    bystander = subprocess.Popen(["tail", "-f", str(notes)])
    pid_file = tmp_path / "server.pid"
    port = free_port()
    try:
        # The bare pid an older version wrote, then a record of our server whose pid the
        # bystander now has: the start time and command differ.
        for text in (
            f"{bystander.pid}\n",
            f"{bystander.pid}\nstarted=Mon Jan  1 00:00:00 2024\nsince=1704067200\n"
            f"folder={ROOT}\nport={port}\ncommand={MLFLOW} server --port {port}\n",
        ):
            pid_file.write_text(text)
            stopped = server_sh(tmp_path, "stop", port)
            assert stopped.returncode == 0, stopped.stderr
            assert bystander.poll() is None, "signalled a process we did not start"
            assert "left running" in stopped.stderr or "nothing signalled" in stopped.stderr
            assert "No MLflow server started from here is running." in stopped.stderr
            assert not pid_file.exists()
        assert f"pid {bystander.pid} is not our server: " in stopped.stderr
    finally:
        bystander.kill()
        bystander.wait()


def make(folder: Path, target: str, port: int, **settings: str) -> subprocess.CompletedProcess:
    """`make TARGET PORT=port` in a copy of the project, with its files in `folder`."""
    env = {
        **os.environ,
        "BACKEND_STORE_URI": f"sqlite:///{folder}/mlflow.db",
        "ARTIFACT_ROOT": str(folder / "artifacts"),
        "SERVER_LOG": str(folder / "server.log"),
        **settings,
    }
    env.pop("SERVER_PID_FILE", None)  # the project's own: <folder>/mlflow-server.pid
    command = ["make", "-C", str(folder), "-o", "install", target, f"VENV={sys.prefix}"]
    return subprocess.run(
        [*command, f"PORT={port}"], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.server
def test_a_copy_of_the_folder_cannot_stop_the_original_server(tmp_path: Path) -> None:
    original = project_copy(tmp_path / "original")
    port = free_port()
    started = make(original, "server", port)
    assert started.returncode == 0, started.stderr
    pid = pid_in(original / "mlflow-server.pid")
    try:
        assert record(original / "mlflow-server.pid")["folder"] == str(original.resolve())
        # The same folder, the wrong port: refused, and the server keeps its pid file.
        wrong_port = make(original, "server-stop", free_port())
        assert wrong_port.returncode != 0
        assert f"serves port {port}" in wrong_port.stderr and "left running" in wrong_port.stderr
        assert (original / "mlflow-server.pid").exists()

        for other_port in (free_port(), port):
            shutil.copytree(original, tmp_path / "copy", symlinks=True)
            stopped = make(tmp_path / "copy", "server-stop", other_port)
            assert stopped.returncode == 0, stopped.stderr
            assert f"started from {original.resolve()}" in stopped.stderr
            assert "left alone" in stopped.stderr
            assert group_members(pid), "the copy stopped the original's server"
            assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
            shutil.rmtree(tmp_path / "copy")
    finally:
        stopped = make(original, "server-stop", port)
    assert stopped.returncode == 0, stopped.stderr
    assert f"MLflow server (pid {pid}) stopped." in stopped.stderr
    assert group_members(pid) == []


def kill_main_process(pid: int) -> list[int]:
    """kill -9 of the server's main pid only; its workers (the rest of its group) live on."""
    workers = [member for member in group_members(pid) if member != pid]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid in group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers and set(group_members(pid)) == set(workers)
    return workers


@pytest.mark.server
def test_workers_of_a_killed_server_are_stopped_or_replaced(tmp_path: Path) -> None:
    port = free_port()
    started = server_sh(tmp_path, "start", port)
    assert started.returncode == 0, started.stderr
    pid = pid_in(tmp_path / "server.pid")
    try:
        # The workers still hold the port: `make server` stops them and starts afresh ...
        workers = kill_main_process(pid)
        again = server_sh(tmp_path, "start", port)
        assert again.returncode == 0, again.stderr
        assert f"main process (pid {pid}) is gone" in again.stderr
        assert all(str(worker) in again.stderr for worker in workers)
        assert group_members(pid) == []
        new_pid = pid_in(tmp_path / "server.pid")
        assert new_pid != pid
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok

        # ... and `make server-stop` stops them.
        kill_main_process(new_pid)
        stopped = server_sh(tmp_path, "stop", port)
        assert stopped.returncode == 0, stopped.stderr
        assert f"main process (pid {new_pid}) is gone; stopping its workers" in stopped.stderr
        assert group_members(new_pid) == []
        assert not (tmp_path / "server.pid").exists()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        server_sh(tmp_path, "stop", port)
        for group in {pid, pid_in_or_zero(tmp_path / "server.pid")} - {0}:
            if group_members(group):
                os.killpg(group, signal.SIGKILL)


def pid_in_or_zero(pid_file: Path) -> int:
    return pid_in(pid_file) if pid_file.exists() else 0


def test_workers_of_another_program_in_the_group_are_left_alone(tmp_path: Path) -> None:
    """A killed leader's group whose members run another program: nothing is signalled."""
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess; os.setpgid(0, 0); "
            "subprocess.Popen(['sleep', '120']); os._exit(0)",
        ]
    )
    leader.wait()
    time.sleep(0.5)
    (child,) = group_members(leader.pid)
    port = free_port()
    try:
        (tmp_path / "server.pid").write_text(
            f"{leader.pid}\nstarted=Mon Jan  1 00:00:00 2024\nsince={int(time.time()) - 5}\n"
            f"folder={ROOT}\nport={port}\ncommand={sys.executable} {MLFLOW} server\n"
        )
        stopped = server_sh(tmp_path, "stop", port)
        assert stopped.returncode == 0, stopped.stderr
        assert "holds processes that are not our server's" in stopped.stderr
        assert group_members(leader.pid) == [child]
    finally:
        os.kill(child, signal.SIGKILL)


@pytest.mark.server
def test_two_starts_at_once_leave_one_server(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(tmp_path, port)
    starts = [
        subprocess.Popen(
            [str(ROOT / "scripts/server.sh"), "start"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(start.wait(timeout=300), start.stderr.read()) for start in starts]
    try:
        assert 0 in [code for code, _ in results], results
        for code, stderr in results:
            assert code == 0 or "started at the same time" in stderr, stderr
        pid = pid_in(tmp_path / "server.pid")
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
        assert str(pid) in server_sh(tmp_path, "status", port).stdout
    finally:
        stopped = server_sh(tmp_path, "stop", port)
    assert stopped.returncode == 0, stopped.stderr
    processes = subprocess.run(
        ["ps", "-A", "-ww", "-o", "command="], capture_output=True, text=True
    )
    assert str(tmp_path) not in processes.stdout  # neither start left a server behind
