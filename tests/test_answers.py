"""answers.py: each answer read back from files, processes and the server; errors by cause,
each in its row."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, assert_one_line_error, free_port

from answers import run_answers


def answers(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "answers.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_q2_counts_what_preprocess_data_wrote(prepared_dir: Path, tmp_path: Path) -> None:
    """The files dv.pkl records, each the one written: not a .DS_Store beside them, nor a set
    left mixed."""
    (prepared_dir / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (prepared_dir / "notes.txt").write_text("not ours")
    result = answers("-q", "2", "--data_path", str(prepared_dir))
    assert result.stdout == "Q2 files written by preprocess_data.py: 4\n", result.stderr
    (prepared_dir / "val.pkl").write_bytes((prepared_dir / "test.pkl").read_bytes())
    mixed = CliRunner().invoke(run_answers, ["-q", "2", "--data_path", str(prepared_dir)])
    assert_one_line_error(mixed, f"{prepared_dir / 'val.pkl'} is not the file", "make q2")
    missing = CliRunner().invoke(run_answers, ["-q", "2", "--data_path", str(tmp_path / "no")])
    assert_one_line_error(missing, "does not exist", "make q2")


# A stand-in for `mlflow server`: like gunicorn's, its worker (another program) listens.
FAKE_MLFLOW = """#!{python}
import subprocess, sys
port = sys.argv[sys.argv.index("--port") + 1]
subprocess.run([sys.executable, "-c", {worker!r}, port])
"""
WORKER = (
    "import http.server, sys; "
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), "
    "http.server.BaseHTTPRequestHandler).serve_forever()"
)


@contextlib.contextmanager
def listening(command: list[str], port: int) -> Iterator[None]:
    """`command` running (in a group of its own) until something listens on `port`."""
    process = subprocess.Popen(command, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        yield
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def q4(uri: str) -> subprocess.CompletedProcess:
    return answers("-q", "4", env={**os.environ, "MLFLOW_TRACKING_URI": uri})


def test_q4_reads_the_server_serving_the_uri_however_it_was_started(tmp_path: Path) -> None:
    """The process listening on the URI's port (a worker), then its parents up to `mlflow
    server ...`: no pid file needed, so a server started by hand counts."""
    program = tmp_path / "bin" / "mlflow"
    program.parent.mkdir()
    program.write_text(FAKE_MLFLOW.format(python=sys.executable, worker=WORKER))
    program.chmod(0o755)
    flags = {
        ("--artifacts-destination", "x"): "artifacts-destination",
        ("--default-artifact-root=./artifacts",): "default-artifact-root",
    }
    for given, flag in flags.items():
        port = free_port()
        server = [str(program), "server", "--backend-store-uri", "sqlite:///m.db", *given]
        with listening([*server, "--port", str(port)], port):
            result = q4(f"http://127.0.0.1:{port}")
        assert result.stdout == f"Q4 flag needed beside --backend-store-uri: {flag}\n", result
    port = free_port()
    with listening([str(program), "server", "--port", str(port)], port):
        assert_one_line_error(q4(f"http://localhost:{port}"), "without an artifact flag")
    port = free_port()
    with listening([sys.executable, "-c", WORKER, str(port)], port):
        assert_one_line_error(q4(f"http://127.0.0.1:{port}"), "is no `mlflow server`")
    port = free_port()
    nothing = q4(f"http://127.0.0.1:{port}")
    assert_one_line_error(nothing, f"nothing listens on port {port}", f"--port {port}`")
    remote = q4("http://192.0.2.7:5000")  # TEST-NET-1: never this machine
    assert_one_line_error(remote, "runs on another machine", "read its command line there")
    store = q4("sqlite:///mlflow.db")
    assert_one_line_error(store, "is a store of files, not a server", "--default-artifact-root")


def test_every_answer_it_can_and_a_row_for_each_it_cannot(tmp_path: Path) -> None:
    """Nothing run yet, no server: Q1 is read (without importing MLflow), each other row
    says why not and what to run; exit 1, with one line naming them."""
    uri = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        [sys.executable, str(ROOT / "answers.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    rows = done.stdout.splitlines()
    assert rows[1].split()[-1] == version("mlflow")
    assert "not read: output/ does not exist: run preprocess_data.py first (make q2)." in rows[2]
    for row in rows[3], rows[5], rows[6]:
        assert f"not read: cannot reach the MLflow tracking server at {uri}" in row
    assert f"not read: nothing listens on port {uri.split(':')[-1]} of this machine" in rows[4]
    assert done.stderr == "Error: Q2, Q3, Q4, Q5, Q6 not read: see the row for each.\n"
    code = "import sys, answers; answers.run_answers(['-q', '1'], standalone_mode=False); "
    code += "print('mlflow' in sys.modules)"
    q1 = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert q1.stdout.splitlines() == [f"Q1 MLflow version: {version('mlflow')}", "False"]


@pytest.mark.parametrize(
    ("question", "fragments"),
    [
        ("3", ("random-forest-train", "make q3")),
        ("5", ("random-forest-hyperopt", "make q5")),
        ("6", ("no version of the registered model", "@champion", "make q6")),
    ],
)
def test_a_missing_step_names_what_to_run(mlflow_server, question: str, fragments) -> None:
    """The server is fine: the message says what is missing, not that the server failed."""
    error = assert_one_line_error(answers("-q", question), *fragments)
    assert "still running" not in error and "failed" not in error


def test_a_failing_server_is_told_apart_from_a_missing_run(own_server) -> None:
    """A real 5xx: the server runs but its database is damaged (the same file, overwritten)."""
    (own_server.folder / "mlflow.db").write_bytes(b"not a database" * 1000)
    error = assert_one_line_error(answers("-q", "3"), own_server.uri, "failed", "log")
    assert "make q3" not in error
