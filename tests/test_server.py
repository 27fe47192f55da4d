"""`make server`, `make server-stop` (python -m services mlflow ...): one server, ours only.

Most tests run the real command line with a stand-in for `mlflow server` (FAKE_MLFLOW: /health
from two forked workers, as gunicorn's), so every safety is checked on real processes in
seconds: reuse, refusals, a killed main process, Ctrl-C, two starts at once, a copied folder,
a foreign pid. The tests marked `server` start the real MLflow where the point is MLflow itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from conftest import ROOT, default_ctrl_c, project_copy

from services import free_port, processes, server_env
from services.processes import Record

FAKE_MLFLOW = '''#!{python}
"""A stand-in for `mlflow server`: /health on --host/--port, from two forked workers."""
import http.server, os, sys, time

if os.environ.get("FAKE_FAIL"):
    sys.exit("fake mlflow: " + os.environ["FAKE_FAIL"])
time.sleep(float(os.environ.get("FAKE_DELAY", "0")))
args = sys.argv[1:]
host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer((host, port), Health)
for _ in range(2):
    if os.fork() == 0:
        server.serve_forever()
while True:
    time.sleep(60)
'''


def fake_mlflow(folder: Path) -> Path:
    """FAKE_MLFLOW in `folder`, beside a stand-in for its environment's Python, unless the
    folder has a real one: the stand-in says every module the launcher asks about is there."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mlflow"
    path.write_text(FAKE_MLFLOW.format(python=sys.executable))
    path.chmod(0o755)
    python = folder / "python"
    if not python.exists():
        python.write_text("#!/bin/sh\nexit 0\n")
        python.chmod(0o755)
    return path


class Servers:
    """The command line of `make server` in a test's folder, and what it leaves running."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.env = {**server_env(folder, self.port), "MLFLOW": str(fake_mlflow(folder / "bin"))}
        self.pid_file = folder / "server.pid"

    def run(self, action: str, **settings: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "services", "mlflow", action],
            cwd=ROOT,
            env={**self.env, **settings},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def popen(self, action: str, **settings: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "services", "mlflow", action],
            cwd=ROOT,
            env={**self.env, **settings},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_ctrl_c,  # a test presses Ctrl-C in it
        )

    @property
    def record(self) -> Record:
        record = processes.read_record(self.pid_file)
        assert record is not None
        return record

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/health", timeout=5).ok
        except requests.ConnectionError:
            return False

    def ours(self) -> list[psutil.Process]:
        """Every live process whose command line names this test's folder."""
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            command = " ".join(process.info["cmdline"] or [])
            if str(self.folder) in command and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        return found


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    servers = Servers(tmp_path)
    yield servers
    for process in servers.ours():  # whatever a failed test left behind
        process.kill()


def members(group: int) -> set[int]:
    return {process.pid for process in processes.group_members(group)}


def kill_main_process(pid: int) -> set[int]:
    """kill -9 of the server's main pid only; its workers (the rest of its group) live on."""
    workers = members(pid) - {pid}
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid in members(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and members(pid) == workers
    return workers


def answer_q4(port: int) -> subprocess.CompletedProcess:
    """Q4 of the server on `port`: the command line of the process listening there."""
    return subprocess.run(
        [sys.executable, str(ROOT / "answers.py"), "-q", "4"],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"},
    )


def test_start_is_idempotent_refuses_other_settings_and_stop_ends_every_worker(
    servers: Servers,
) -> None:
    started = servers.run("start")
    assert started.returncode == 0, started.stderr
    assert f"MLflow server up at http://127.0.0.1:{servers.port}" in started.stderr
    record = servers.record
    mlflow_path = servers.env["MLFLOW"]
    assert record.cmdline[1:] == (
        *(mlflow_path, "server"),
        *("--backend-store-uri", f"sqlite:///{servers.folder}/mlflow.db"),
        *("--default-artifact-root", str(servers.folder / "artifacts")),
        *("--host", "127.0.0.1", "--port", str(servers.port)),
    )
    assert (record.folder, record.port) == (str(ROOT), servers.port)
    deadline = time.monotonic() + 10  # the main process and its two workers
    while len(members(record.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(members(record.pid)) == 3
    assert (
        servers.run("status").stdout
        == f"running at http://127.0.0.1:{servers.port} (pid {record.pid})\n"
    )
    assert answer_q4(servers.port).stdout.endswith(": default-artifact-root\n")

    again = servers.run("start")
    assert again.returncode == 0 and "already running" in again.stderr
    assert servers.record == record
    other = servers.run("start", ARTIFACT_ROOT=str(servers.folder / "elsewhere"))
    assert other.returncode == 1
    assert other.stderr.startswith(
        f"Error: the server in {servers.pid_file} (pid {record.pid}) runs with other settings"
    )
    other_env = servers.folder / "other-venv" / "mlflow"  # e.g. .venv-mlflow3 while .venv's is up
    other_env.parent.mkdir()
    other_env.symlink_to(mlflow_path)
    mixed = servers.run("start", MLFLOW=str(other_env))
    assert mixed.returncode == 1 and "another environment's MLflow" in mixed.stderr
    wrong_port = servers.run("stop", PORT=str(free_port()))
    assert wrong_port.returncode == 1
    assert (
        f"serves port {servers.port}" in wrong_port.stderr and "left running" in wrong_port.stderr
    )

    stopped = servers.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stderr == f"MLflow server (pid {record.pid}) stopped.\n"
    assert members(record.pid) == set() and not servers.pid_file.exists()
    assert servers.run("status").returncode == 1
    assert servers.run("stop").stderr == "No MLflow server started from here is running.\n"


def test_a_password_in_the_store_uri_is_on_no_command_line(servers: Servers) -> None:
    password = "pw-" + os.urandom(6).hex()
    uri = f"postgresql://mlflow:{password}@127.0.0.1:5432/mlflow"
    served = servers.folder / "served"
    started = servers.run("start", BACKEND_STORE_URI=uri, ARTIFACTS_DESTINATION=str(served))
    try:
        assert started.returncode == 0, started.stderr
        record = servers.record
        assert record.cmdline[3:7] == (
            "--artifacts-destination",
            str(served),
            "--serve-artifacts",
            "--host",
        )
        assert password not in " ".join(record.cmdline) + servers.pid_file.read_text()
        assert psutil.Process(record.pid).environ()["MLFLOW_BACKEND_STORE_URI"] == uri
        assert "mlflow:***@127.0.0.1" in started.stderr and password not in started.stderr
        assert answer_q4(servers.port).stdout.endswith(": artifacts-destination\n")
    finally:
        servers.run("stop", BACKEND_STORE_URI=uri, ARTIFACTS_DESTINATION=str(served))
    assert servers.ours() == []


def test_a_postgresql_store_without_its_driver_is_one_line(
    servers: Servers, tmp_path: Path
) -> None:
    """psycopg2 is an extra (make install-postgres): the server's environment lacks it here."""
    bare = tmp_path / "bare"
    venv.create(bare)  # a real Python, without the driver
    password = "pw-" + os.urandom(6).hex()
    uri = f"postgresql://mlflow:{password}@127.0.0.1:5432/mlflow"
    started = servers.run("start", MLFLOW=str(fake_mlflow(bare / "bin")), BACKEND_STORE_URI=uri)
    assert started.returncode == 1
    assert started.stderr == (
        "Error: BACKEND_STORE_URI=postgresql://mlflow:***@127.0.0.1:5432/mlflow needs the "
        f"PostgreSQL driver psycopg2 in {bare / 'bin'}: run `make install-postgres`.\n"
    )
    assert not servers.pid_file.exists() and servers.ours() == []


def test_workers_of_a_killed_server_are_replaced_then_stopped(servers: Servers) -> None:
    assert servers.run("start").returncode == 0
    pid = servers.record.pid
    # The workers still hold the port: a start stops them and starts afresh ...
    workers = kill_main_process(pid)
    assert servers.healthy() and servers.run("status").stdout == "not running\n"
    again = servers.run("start")
    assert again.returncode == 0, again.stderr
    assert f"main process (pid {pid}) is gone but its workers still run" in again.stderr
    assert all(str(worker) in again.stderr for worker in workers)
    assert members(pid) == set()
    new_pid = servers.record.pid
    assert new_pid != pid and servers.healthy()

    # ... and a stop stops them.
    kill_main_process(new_pid)
    stopped = servers.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"main process (pid {new_pid}) is gone; stopping its workers" in stopped.stderr
    assert members(new_pid) == set() and not servers.pid_file.exists()
    assert not servers.healthy()


def test_an_unrelated_process_in_the_pid_file_survives(servers: Servers) -> None:
    """A reused pid (a `tail -f "mlflow server notes.txt"`) is reported, never signalled."""
    notes = servers.folder / "mlflow server notes.txt"
    notes.write_text("notes\n")
    bystander = subprocess.Popen(["tail", "-f", str(notes)])
    try:
        # The bare pid an older version wrote, then a record of our server whose pid the
        # bystander now has: the start time and command differ.
        fake = Record(bystander.pid, 1704067200.0, ("mlflow", "server"), str(ROOT), servers.port)
        for text in (f"{bystander.pid}\n", fake.text()):
            servers.pid_file.write_text(text)
            stopped = servers.run("stop")
            assert stopped.returncode == 0, stopped.stderr
            assert bystander.poll() is None, "signalled a process we did not start"
            assert "left running" in stopped.stderr or "nothing signalled" in stopped.stderr
            assert "No MLflow server started from here is running." in stopped.stderr
            assert not servers.pid_file.exists()
        assert f"pid {bystander.pid} is not our server: " in stopped.stderr
    finally:
        bystander.kill()
        bystander.wait()


def test_another_program_in_a_dead_servers_group_is_left_alone(servers: Servers) -> None:
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess; os.setpgid(0, 0); "
            "subprocess.Popen(['sleep', '120']); os._exit(0)",
        ]
    )
    leader.wait()
    time.sleep(0.3)
    (child,) = members(leader.pid)
    try:
        command = (sys.executable, servers.env["MLFLOW"], "server")
        servers.pid_file.write_text(
            Record(leader.pid, time.time() - 5, command, str(ROOT), servers.port).text()
        )
        stopped = servers.run("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "holds processes that are not our server's" in stopped.stderr
        assert members(leader.pid) == {child}
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_copy_of_the_folder_cannot_stop_the_original_server(servers: Servers) -> None:
    """The record names the project folder: a copy's `make server-stop` leaves it alone."""
    assert servers.run("start").returncode == 0
    record = servers.record
    copy = project_copy(servers.folder / "copy")
    shutil.copy(servers.pid_file, copy / "mlflow-server.pid")
    env = {**os.environ, "MLFLOW": servers.env["MLFLOW"]}
    env.pop("SERVER_PID_FILE", None)  # the copy's own: copy/mlflow-server.pid
    done = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(copy),
            "-o",
            "install",
            "server-stop",
            f"VENV={sys.prefix}",
            f"PORT={servers.port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"pid {record.pid} is the server started from {ROOT}, not from {copy.resolve()}"
        in done.stderr
    )
    assert "left alone" in done.stderr and not (copy / "mlflow-server.pid").exists()
    assert members(record.pid) and servers.healthy()
    assert servers.run("stop").returncode == 0


def test_two_starts_at_once_leave_one_server(servers: Servers) -> None:
    starts = [servers.popen("start", FAKE_DELAY="3") for _ in range(2)]
    results = [(start.wait(timeout=120), start.stderr.read()) for start in starts]
    try:
        assert [code for code, _ in results] == [0, 0], results
        said = "".join(stderr for _, stderr in results)
        assert said.count("MLflow server up at") == 1 and said.count("already running") == 1
        assert f"Another start of a server is under way in {servers.folder}" in said
        leaders = [p for p in servers.ours() if p.pid == os.getpgid(p.pid)]
        assert [p.pid for p in leaders] == [servers.record.pid]
    finally:
        assert servers.run("stop").returncode == 0
    assert servers.ours() == []


def test_ctrl_c_during_start_stops_what_it_started(servers: Servers) -> None:
    start = servers.popen("start", FAKE_DELAY="60")
    deadline = time.monotonic() + 30
    while not servers.pid_file.exists():
        assert time.monotonic() < deadline and start.poll() is None
        time.sleep(0.05)
    pid = servers.record.pid
    time.sleep(0.3)  # waiting for /health
    start.send_signal(signal.SIGINT)
    assert start.wait(timeout=60) == 130
    stderr = start.stderr.read()
    assert f"Interrupted: stopped the MLflow server it was starting (pid {pid})." in stderr
    assert stderr.endswith("Aborted!\n") and "Traceback" not in stderr
    assert members(pid) == set() and not servers.pid_file.exists()


def test_a_server_that_exits_or_stays_silent_is_reported_and_gone(servers: Servers) -> None:
    failed = servers.run("start", FAKE_FAIL="no such table: experiments")
    assert failed.returncode == 1
    assert "Error: the MLflow server exited during start-up; last lines of" in failed.stderr
    assert "fake mlflow: no such table: experiments" in failed.stderr
    assert not servers.pid_file.exists()

    silent = servers.run("start", FAKE_DELAY="60", START_TIMEOUT="1")
    assert silent.returncode == 1
    assert f"Error: no answer from http://127.0.0.1:{servers.port}/health after 1s" in silent.stderr
    assert "stopped." in silent.stderr and not servers.pid_file.exists()
    assert servers.ours() == []


def test_a_stale_pid_file_does_not_block_start(servers: Servers) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    command = (sys.executable, servers.env["MLFLOW"], "server")
    servers.pid_file.write_text(
        Record(gone.pid, time.time(), command, str(ROOT), servers.port).text()
    )
    started = servers.run("start")
    try:
        assert started.returncode == 0, started.stderr
        assert (
            f"Removing stale pid file {servers.pid_file}: pid {gone.pid} is no longer running."
            in started.stderr
        )
        assert servers.record.pid != gone.pid and servers.healthy()
    finally:
        servers.run("stop")


def test_a_port_taken_by_another_program_is_refused(servers: Servers) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = servers.run("start", PORT=str(port))
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is taken by another program: pick another, "
        "e.g. `make server PORT=5001`.\n"
    )
    assert not servers.pid_file.exists()


def test_usage_and_bad_settings_are_one_line(servers: Servers) -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "services", "mlflow"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (usage.returncode, usage.stderr) == (
        2,
        "usage: python -m services mlflow|s3|spark start|stop|status\n",
    )
    bad = servers.run("start", PORT="50OO")
    assert (bad.returncode, bad.stderr) == (1, "Error: PORT=50OO is not a port number (1-65535).\n")


# ------------------------------------------------------------------ the real MLflow server


def make(folder: Path, *targets: str, port: int) -> subprocess.CompletedProcess:
    """`make TARGET PORT=port` in a copy of the project, with nothing else set: its defaults."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SERVER_", "BACKEND_", "ARTIFACT"))
    }
    # -o install: this interpreter's environment is the venv, whatever its folder is called.
    command = ["make", "-s", "-C", str(folder), "-o", "install", *targets, f"VENV={sys.prefix}"]
    return subprocess.run(
        [*command, f"PORT={port}"], env=env, capture_output=True, text=True, timeout=400
    )


@pytest.mark.server
def test_make_server_runs_the_homework_command_line_and_recovers_from_a_kill(
    tmp_path: Path,
) -> None:
    """The real server: Q4's command line, reuse, and gunicorn's workers of a killed server."""
    project = project_copy(tmp_path / "project")
    port = free_port()
    pid_file = project / "mlflow-server.pid"
    try:
        first = make(project, "server", port=port)
        assert first.returncode == 0, first.stderr
        record = processes.read_record(pid_file)
        assert record.cmdline[1:] == (
            f"{sys.prefix}/bin/mlflow",
            *("server", "--backend-store-uri", "sqlite:///mlflow.db"),
            *("--default-artifact-root", "./artifacts", "--host", "127.0.0.1", "--port", str(port)),
        )
        q4 = make(project, "q4", port=port)
        assert q4.returncode == 0, q4.stderr
        assert "already running" in q4.stderr
        assert q4.stdout == "Q4 flag needed beside --backend-store-uri: default-artifact-root\n"

        workers = kill_main_process(record.pid)
        again = make(project, "server", port=port)
        assert again.returncode == 0, again.stderr
        assert all(str(worker) in again.stderr for worker in workers)
        assert members(record.pid) == set()
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
        new_pid = processes.read_record(pid_file).pid
    finally:
        stopped = make(project, "server-stop", port=port)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stderr == f"MLflow server (pid {new_pid}) stopped.\n"
    assert members(new_pid) == set() and not pid_file.exists()
