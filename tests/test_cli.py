"""cli.py and what every script shares: light imports, Ctrl-C, errors by their cause."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, assert_one_line_error

from cli import reporting

SCRIPTS = (
    "preprocess_data.py",
    "train.py",
    "hpo.py",
    "register_model.py",
    "pipeline.py",
    "answers.py",
    "predict.py",
    "verify_model.py",
)
HEAVY = ("mlflow", "sklearn", "pandas", "numpy", "scipy", "hyperopt", "pyarrow", "matplotlib")


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_import_no_heavy_library(script: str) -> None:
    """The scripts import MLflow, scikit-learn, pandas ... inside their functions.

    So `--help` and usage errors answer at once, and Ctrl-C always lands inside the Click
    command, which turns it into one line ("Aborted!") instead of a traceback.
    """
    module = script.removesuffix(".py")
    code = f"import sys, {module}; print(*[m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


@pytest.mark.parametrize("script", ["train.py", "hpo.py", "register_model.py"])
def test_ctrl_c_while_the_libraries_load_is_one_line(script: str, prepared_dir) -> None:
    """Ctrl-C right after the script starts its work: no traceback, a non-zero exit."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / script), "--data_path", str(prepared_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_line = process.stderr.readline()  # printed before MLflow & co. are imported
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    assert first_line and process.returncode != 0
    assert "Traceback" not in rest, rest
    assert rest.strip().splitlines()[-1] == "Aborted!"


def test_homework_debug_shows_the_traceback(tmp_path) -> None:
    args = [sys.executable, str(ROOT / "preprocess_data.py"), "--raw_data_path", str(tmp_path)]
    quiet = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert_one_line_error(quiet, "make data")
    env = {**os.environ, "HOMEWORK_DEBUG": "1"}
    loud = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr and "UserError" in loud.stderr


def test_passwords_are_masked_on_stdout_and_stderr(capsys, monkeypatch) -> None:
    """What MLflow prints (run links on stdout, its log lines on stderr) and what we print."""
    import mlflow  # noqa: F401 (sets up MLflow's own logger, which writes to sys.stderr)

    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "basic-auth-secret")
    uri = "http://alice:s3cr%40t@127.0.0.1:5000"
    with reporting(uri, verbose=True):
        print(f"View run at: {uri}/#/experiments/1")
        logging.getLogger("mlflow").warning("retrying %s", uri)
        sys.stderr.write("decoded: s3cr@t, basic auth: basic-auth-secret\n")
    out, err = capsys.readouterr()
    for secret in ("s3cr%40t", "s3cr@t", "basic-auth-secret"):
        assert secret not in out + err
    assert err.count("alice:***@127.0.0.1:5000") == 2


def test_no_password_in_any_output_of_a_whole_run(
    raw_dir: Path, tmp_path: Path, mlflow_server, run_script
) -> None:
    """pipeline.py, predict.py, verify_model.py and answers.py, all --verbose where they can."""
    password, basic_auth = secrets.token_hex(8), secrets.token_hex(8)
    uri = f"http://alice:{password}@127.0.0.1:{mlflow_server.port}"
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_PASSWORD": basic_auth}
    output = str(tmp_path / "output")
    paths = ("--raw_data_path", str(raw_dir))
    runs = [
        run_script(
            "pipeline.py",
            *(*paths, "--dest_path", output, "--num_trials", "2", "--top_n", "1", "--verbose"),
            *("--tracking_uri", uri),
            env=env,
        ),
        run_script(
            "predict.py", "--pu", "3", "--do", "5", "--distance", "2.5", "--verbose", env=env
        ),
        run_script("verify_model.py", "--verbose", env=env),
        run_script(
            "answers.py",
            *(*paths, "--data_path", output),
            *("--pid_file", str(mlflow_server.folder / "server.pid")),
            env=env,
        ),
    ]
    mlflow_server.stop()
    runs.append(run_script("hpo.py", "--data_path", output, "--verbose", env=env))  # server gone
    text = "".join(done.stdout + done.stderr for done in runs)
    assert [done.returncode for done in runs] == [0, 0, 0, 0, 1], text[-3000:]
    assert password not in text and basic_auth not in text
    assert "View run" in text and f"alice:***@127.0.0.1:{mlflow_server.port}" in text
