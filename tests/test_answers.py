"""answers.py: each answer read back from files, processes and the server; errors by cause."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, assert_one_line_error

from answers import run_answers
from services.processes import identify


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


def test_q4_reads_the_command_line_of_the_recorded_server(tmp_path: Path) -> None:
    """Q4 asks psutil for the command line of the process in the pid file's identity record,
    only while that pid is still the recorded process."""
    arguments = ["-c", "import time; time.sleep(60)", "--artifacts-destination", "x"]
    stand_in = subprocess.Popen([sys.executable, *arguments])
    pid_file = tmp_path / "server.pid"
    try:
        record = identify(stand_in.pid, ROOT, 5000, arguments)
        pid_file.write_text(record.text())
        result = answers("-q", "4", "--pid_file", str(pid_file))
        assert result.returncode == 0, result.stderr
        assert result.stdout == "Q4 flag needed beside --backend-store-uri: artifacts-destination\n"
        pid_file.write_text(f"{stand_in.pid}\n")  # a bare pid proves nothing
        assert_one_line_error(answers("-q", "4", "--pid_file", str(pid_file)), "no server recorded")
        reused = replace(record, create_time=record.create_time - 60)  # the pid, reused
        pid_file.write_text(reused.text())
        reused_error = answers("-q", "4", "--pid_file", str(pid_file))
        assert_one_line_error(reused_error, f"pid {stand_in.pid}", "is not running")
        pid_file.write_text(record.text())
    finally:
        stand_in.kill()
        stand_in.wait()
    gone = answers("-q", "4", "--pid_file", str(pid_file))
    assert_one_line_error(gone, f"pid {stand_in.pid}", "is not running", "make server")
    missing = answers("-q", "4", "--pid_file", str(tmp_path / "nothing.pid"))
    assert_one_line_error(missing, "nothing.pid", "make server")


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
