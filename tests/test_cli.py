"""cli.py and what every script shares: light imports, Ctrl-C, errors by their cause."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    ROOT,
    TEST_MODEL_URI,
    assert_one_line_error,
    default_ctrl_c,
    register_champion,
)

from homework.config import CACHE_DIR_VARIABLE, SCRIPTS
from homework.reporting import reporting
from homework.tracking.connection import Connection

HEAVY = ("mlflow", "sklearn", "pandas", "numpy", "scipy", "hyperopt", "pyarrow", "matplotlib")
HEAVY += ("playwright", "PIL")  # ui_check.py


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


# Runs a script as `python SCRIPT ARGS` would, and presses Ctrl-C (SIGINT to itself) at the
# moment the script first imports MODULE: deterministic, unlike a timed kill.
CTRL_C_AT_IMPORT = """
import os, runpy, signal, sys

module, script = sys.argv[1:3]


class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            os.kill(os.getpid(), signal.SIGINT)


sys.meta_path.insert(0, CtrlC())
sys.argv = sys.argv[2:]
sys.path.insert(0, os.path.dirname(script))
runpy.run_path(script, run_name="__main__")
"""


def ctrl_c_at_import(module: str, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CTRL_C_AT_IMPORT, module, str(ROOT / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=default_ctrl_c,
    )


def script_args(script: str, prepared_dir, tmp_path) -> tuple[str, list[str]]:
    """What each script is given, and a library its command imports first (in `reporting`)."""
    data = ["--data_path", str(prepared_dir)]
    trip = ["--pu", "1", "--do", "2", "--distance", "1.5"]
    raw = ["--raw_data_path", str(prepared_dir.parent / "data")]
    return {
        "preprocess_data.py": ("pandas", [*raw, "--dest_path", str(tmp_path / "new")]),
        "train.py": ("mlflow", data),
        "hpo.py": ("mlflow", data),
        "register_model.py": ("mlflow", data),
        "pipeline.py": ("mlflow", [*raw, "--dest_path", str(tmp_path / "new")]),
        "answers.py": ("requests", ["--question", "5"]),  # REST: no MLflow for Q5
        "predict.py": ("requests", trip),  # the champion over REST first: no MLflow
        "verify_model.py": ("mlflow", []),
        "serve_model.py": ("mlflow", []),
        "rollback.py": ("mlflow", ["--reason", "x"]),
        "ui_check.py": ("mlflow", []),
    }[script]


@pytest.mark.parametrize("script", SCRIPTS)
def test_ctrl_c_while_the_libraries_load_is_one_line(
    script: str, prepared_dir, tmp_path, monkeypatch, request
) -> None:
    """Ctrl-C while the command imports MLflow, pandas & co.: `Aborted!`, exit 1, nothing else."""
    if script == "ui_check.py":
        request.getfixturevalue("playwright")  # without it, ui_check.py stops before the imports
    library, args = script_args(script, prepared_dir, tmp_path)
    # ui_check.py looks for a browser before it imports MLflow; any executable passes that look.
    monkeypatch.setenv("CHROMIUM", sys.executable)
    done = ctrl_c_at_import(library, script, *args)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "Aborted!"
    assert done.stdout == "" and not (tmp_path / "new").exists()


@pytest.mark.parametrize("script", [*SCRIPTS, "scripts/add_user.py"])
def test_ctrl_c_at_the_first_import_is_one_line(script: str) -> None:
    """Ctrl-C in the first tenth of a second (Click is the first library a script imports):
    `Aborted!`, exit 1, no traceback. (Ctrl-C before the script's first line, while Python
    itself starts, is Python's own.)"""
    done = ctrl_c_at_import("click", script, "--help")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "Aborted!\n")


def test_an_interrupted_model_load_leaves_no_scratch_folder(
    prepared_dir, mlflow_server, tmp_path
) -> None:
    """Ctrl-C while the champion's forest is read (an immediate exit): its checked copy goes too.

    predict.py imports skops only to read the forest of a copy whose signature checked out,
    and keeps that forest as its own pickle afterwards: with an empty cache, the Ctrl-C at
    skops' import lands between the copy's check and the prediction."""
    register_champion(prepared_dir)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(scratch),
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        CACHE_DIR_VARIABLE: str(tmp_path / "empty-cache"),
    }
    args = ["--model_uri", TEST_MODEL_URI, "--pu", "1", "--do", "2", "--distance", "1.5"]
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_AT_IMPORT, "skops.io", str(ROOT / "predict.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=default_ctrl_c,
    )
    assert (done.returncode, done.stderr.splitlines()[-1]) == (1, "Aborted!"), done.stderr
    assert f"Loading {TEST_MODEL_URI}" in done.stderr and done.stdout == ""
    assert list(scratch.iterdir()) == []


def test_ctrl_c_inside_an_import_ends_the_command(tmp_path) -> None:
    """A library that swallows the KeyboardInterrupt of its import cannot make the command go on.

    (A C extension does: pandas' turns it into an ImportError, or ignores it and goes on.)
    """
    (tmp_path / "swallowing.py").write_text(
        "import os, signal\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    sum(range(10**6))  # the handler runs here\n"
        "except BaseException:\n"
        "    pass\n"
    )
    code = (
        "from homework.reporting import reporting\n"
        "with reporting():\n    import swallowing\nprint('went on')"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        preexec_fn=default_ctrl_c,
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "Aborted!\n")


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
    with reporting(Connection(uri, verbose=True)):
        print(f"View run at: {uri}/#/experiments/1")
        logging.getLogger("mlflow").warning("retrying %s", uri)
        sys.stderr.write("decoded: s3cr@t, basic auth: basic-auth-secret\n")
    out, err = capsys.readouterr()
    for secret in ("s3cr%40t", "s3cr@t", "basic-auth-secret"):
        assert secret not in out + err
    assert err.count("alice:***@127.0.0.1:5000") == 2


def test_no_password_in_any_output_of_a_whole_run(
    raw_dir: Path, tmp_path: Path, own_server, run_script
) -> None:
    """pipeline.py, predict.py, verify_model.py and answers.py, all --verbose where they can."""
    password, basic_auth = secrets.token_hex(8), secrets.token_hex(8)
    uri = f"http://alice:{password}@127.0.0.1:{own_server.port}"
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
            env=env,
        ),
    ]
    own_server.stop()
    runs.append(run_script("hpo.py", "--data_path", output, "--verbose", env=env))  # server gone
    text = "".join(done.stdout + done.stderr for done in runs)
    assert [done.returncode for done in runs] == [0, 0, 0, 0, 1], text[-3000:]
    assert password not in text and basic_auth not in text
    assert "View run" in text and f"alice:***@127.0.0.1:{own_server.port}" in text
