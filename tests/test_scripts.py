"""scripts/download_data.sh and scripts/server.sh, run as `make` runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import requests
from conftest import ROOT, free_port, write_trips
from mlflow.tracking import MlflowClient

from homework.servers import pid_in, server_env


def download(dest: Path, url: str, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts/download_data.sh"), str(dest), *names],
        env={**os.environ, "TAXI_DATA_URL": url},
        capture_output=True,
        text=True,
    )


def test_download_from_file_url_and_skip_present(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    write_trips(source / "a.parquet", [5, 6], [1, 2], [3, 4])
    dest = tmp_path / "data"
    first = download(dest, f"file://{source}", "a.parquet")
    assert first.returncode == 0, first.stderr
    assert (dest / "a.parquet").read_bytes() == (source / "a.parquet").read_bytes()
    second = download(dest, f"file://{source}", "a.parquet")
    assert (second.returncode, second.stderr) == (0, "")  # quiet: `make data` runs it every time


def test_download_rejects_non_parquet(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.parquet").write_text("<html>Access denied</html>")
    dest = tmp_path / "data"
    result = download(dest, f"file://{source}", "a.parquet")
    assert result.returncode == 1
    assert "not a parquet file" in result.stderr
    assert list(dest.iterdir()) == []


def test_download_missing_file_fails_clearly(tmp_path: Path) -> None:
    result = download(tmp_path / "data", f"file://{tmp_path}/nowhere", "a.parquet")
    assert result.returncode == 1
    assert "could not download" in result.stderr


def test_download_refuses_a_folder_named_like_the_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    write_trips(source / "a.parquet", [5, 6], [1, 2], [3, 4])
    (tmp_path / "data" / "a.parquet").mkdir(parents=True)
    (tmp_path / "data" / "a.parquet" / "notes.txt").write_text("mine")
    result = download(tmp_path / "data", f"file://{source}", "a.parquet")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {tmp_path}/data/a.parquet is a folder")
    assert (tmp_path / "data" / "a.parquet" / "notes.txt").read_text() == "mine"  # never removed


def make_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the repo's Makefile with `folder` as the current directory (for its relative paths)."""
    return subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "-o", "install", *args],
        cwd=folder,
        capture_output=True,
        text=True,
    )


def test_make_data_downloads_the_missing_months_and_explains_a_folder(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    months = ("2023-01", "2023-02")
    for month in months:
        write_trips(source / f"green_tripdata_{month}.parquet", [5, 6], [1, 2], [3, 4])
    data = tmp_path / "data"
    settings = [f"TAXI_DATA_URL=file://{source}", f"MONTHS={' '.join(months)}", f"DATA_DIR={data}"]
    (data / "green_tripdata_2023-01.parquet").mkdir(parents=True)
    blocked = make_in(ROOT, "data", *settings)
    assert blocked.returncode != 0
    assert f"{data}/green_tripdata_2023-01.parquet is a folder, not a parquet" in blocked.stderr

    (data / "green_tripdata_2023-01.parquet").rmdir()
    first = make_in(ROOT, "data", *settings)
    assert first.returncode == 0, first.stderr
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == [
        f"green_tripdata_{month}.parquet" for month in months
    ]
    again = make_in(ROOT, "data", *settings)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_make_clean_removes_scratch_folders(tmp_path: Path) -> None:
    output = tmp_path / "output"
    (output / ".tmp-123-abc").mkdir(parents=True)
    (output / ".tmp-123-abc" / "train.pkl").write_bytes(b"half")
    (output / "dv.pkl").write_bytes(b"x")
    (output / "notes.txt").write_text("mine")
    done = make_in(tmp_path, "-o", "server-stop", "clean")
    assert done.returncode == 0, done.stderr
    assert [path.name for path in output.iterdir()] == ["notes.txt"]


MLFLOW = Path(sys.executable).parent / "mlflow"


def server_sh(
    tmp_path: Path, command: str, port: int, mlflow: Path = MLFLOW, **settings: str
) -> subprocess.CompletedProcess:
    env = {**server_env(tmp_path, port), "MLFLOW": str(mlflow), **settings}
    return subprocess.run(
        [str(ROOT / "scripts/server.sh"), command], env=env, capture_output=True, text=True
    )


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.server
def test_server_start_is_idempotent_and_stop_ends_all_workers(tmp_path: Path) -> None:
    port = free_port()
    started = server_sh(tmp_path, "start", port)
    try:
        assert started.returncode == 0, started.stderr
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
        pid = pid_in(tmp_path / "server.pid")
        assert server_arguments(pid)[:4] == [
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/mlflow.db",
            "--default-artifact-root",
            str(tmp_path / "artifacts"),
        ]
        again = server_sh(tmp_path, "start", port)
        assert again.returncode == 0 and "already running" in again.stderr
        assert pid_in(tmp_path / "server.pid") == pid
        other_env = tmp_path / "other-venv" / "mlflow"  # e.g. .venv-mlflow3 while .venv's is up
        other_env.parent.mkdir()
        other_env.symlink_to(MLFLOW)
        mixed = server_sh(tmp_path, "start", port, mlflow=other_env)
        assert mixed.returncode == 1 and "another environment's MLflow" in mixed.stderr
    finally:
        stopped = server_sh(tmp_path, "stop", port)
    assert stopped.returncode == 0, stopped.stderr
    assert not process_group_alive(pid)
    assert not (tmp_path / "server.pid").exists()


def server_arguments(pid: int) -> list[str]:
    """What follows `server` on the command line of the process `pid`."""
    command = command_line(pid).split()
    return command[command.index("server") + 1 :]


def command_line(pid: int) -> str:
    done = subprocess.run(
        ["ps", "-ww", "-p", str(pid), "-o", "command="], capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.mark.server
def test_server_on_postgresql_with_proxied_artifacts_keeps_the_password_hidden(
    tmp_path: Path, postgres_uri: str
) -> None:
    port = free_port()
    password = postgres_uri.split(":")[2].split("@")[0]
    destination = tmp_path / "served"
    started = server_sh(
        tmp_path,
        "start",
        port,
        BACKEND_STORE_URI=postgres_uri,
        ARTIFACTS_DESTINATION=str(destination),
    )
    try:
        assert started.returncode == 0, started.stderr
        pid = pid_in(tmp_path / "server.pid")
        arguments = server_arguments(pid)
        assert arguments[:3] == ["--artifacts-destination", str(destination), "--serve-artifacts"]
        assert "--default-artifact-root" not in arguments
        assert password not in " ".join(arguments)
        assert password not in started.stderr and "mlflow:***@127.0.0.1" in started.stderr
        assert "artifacts-destination" in answer_q4(tmp_path)

        # A client with HTTP alone stores an artifact; it lands in the server's destination.
        mlflow.set_tracking_uri(f"http://127.0.0.1:{port}")
        client = MlflowClient()
        run = client.create_run(client.create_experiment("proxied"))
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        (tmp_path / "note.txt").write_text("hello")
        client.log_artifact(run.info.run_id, str(tmp_path / "note.txt"))
        assert [path.read_text() for path in destination.glob("**/note.txt")] == ["hello"]
    finally:
        stopped = server_sh(tmp_path, "stop", port)
    assert stopped.returncode == 0, stopped.stderr
    assert not process_group_alive(pid)


def answer_q4(tmp_path: Path) -> str:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "answers.py"),
            "-q",
            "4",
            "--pid_file",
            str(tmp_path / "server.pid"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_server_refuses_a_port_taken_by_another_program(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = server_sh(tmp_path, "start", port)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "PORT=" in result.stderr
    assert not (tmp_path / "server.pid").exists()


def test_stale_pid_file_is_removed_and_nothing_else_stopped(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "server.pid").write_text(str(bystander.pid))
        result = server_sh(tmp_path, "stop", free_port())
        assert result.returncode == 0
        assert "stale pid file" in result.stderr
        assert bystander.poll() is None  # never stop a process we did not start
        assert not (tmp_path / "server.pid").exists()
    finally:
        bystander.kill()


def make_server(tmp_path: Path, target: str, port: int) -> subprocess.CompletedProcess:
    """`make server` / `make server-stop` on a private port, database and pid file."""
    env = {
        **os.environ,
        "BACKEND_STORE_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "SERVER_PID_FILE": str(tmp_path / "server.pid"),
        "SERVER_LOG": str(tmp_path / "server.log"),
    }
    # -o install: this interpreter's environment is the venv, whatever its folder is called.
    command = ["make", "-C", str(ROOT), "-o", "install", target, f"VENV={sys.prefix}"]
    return subprocess.run(
        [*command, f"PORT={port}"], env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.server
def test_make_server_twice_reuses_the_server_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    try:
        first = make_server(tmp_path, "server", port)
        assert first.returncode == 0, first.stderr
        pid = pid_in(tmp_path / "server.pid")
        second = make_server(tmp_path, "server", port)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr
        assert pid_in(tmp_path / "server.pid") == pid
        command = command_line(pid).split()
        assert command[command.index("--host") + 1] == "127.0.0.1"  # not the whole network
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
    finally:
        stopped = make_server(tmp_path, "server-stop", port)
    assert stopped.returncode == 0, stopped.stderr
    assert not process_group_alive(pid)


@pytest.mark.server
def test_stale_pid_file_does_not_block_start(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    (tmp_path / "server.pid").write_text(str(gone.pid))
    port = free_port()
    try:
        started = server_sh(tmp_path, "start", port)
        assert started.returncode == 0, started.stderr
        assert "stale pid file" in started.stderr
        assert pid_in(tmp_path / "server.pid") != gone.pid
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok
    finally:
        server_sh(tmp_path, "stop", port)
