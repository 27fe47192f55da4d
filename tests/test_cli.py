"""cli.py and what every script shares: light imports, Ctrl-C, errors by their cause."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT, assert_one_line_error

SCRIPTS = (
    "preprocess_data.py",
    "train.py",
    "hpo.py",
    "register_model.py",
    "pipeline.py",
    "answers.py",
    "predict.py",
    "ui_check.py",
)
HEAVY = (
    "mlflow",
    "sklearn",
    "pandas",
    "numpy",
    "scipy",
    "hyperopt",
    "pyarrow",
    "matplotlib",
    "playwright",
    "PIL",
)


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
