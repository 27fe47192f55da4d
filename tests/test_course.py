"""The course's own scripts beside ours, on one real server and our pickles (generated data).

tests/course/ holds stand-ins for the course's train.py, hpo.py and register_model.py,
written for these tests from what the course's do: flat hyperopt runs with params and
`rmse`, autolog, `rf-best-model` registered. The homework typed the course's way on the real
data (docs/course.md) is tests/test_end_to_end.py's `homework` run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version as version_of
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, assert_one_line_error
from mlflow.tracking import MlflowClient

from answers import run_answers
from homework.config import BEST_MODELS_EXPERIMENT, HPO_EXPERIMENT, HPO_RUN_TAG, SEARCH_TAG
from homework.search.results import newest_trials
from homework.tracking.rest import Rest
from hpo import run_optimization
from register_model import run_register_model

COURSE = ROOT / "tests" / "course"
MODEL_NAME = "course-test-model"
EXPERIMENT_VARIABLES = ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


def course_script(script: str, prepared_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """One of the course's stand-ins, as the learner runs it, on our pickles (not in the
    experiment this test process set last: MLflow passes it on in MLFLOW_EXPERIMENT_ID)."""
    env = {k: v for k, v in os.environ.items() if k not in EXPERIMENT_VARIABLES}
    done = subprocess.run(
        [sys.executable, str(COURSE / script), "--data_path", str(prepared_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def answer(question: int, *args: str):
    return CliRunner().invoke(run_answers, ["-q", str(question), *args])


def register(prepared_dir: Path, *args: str):
    """Our register_model.py, with no --raw_data_path: the folder dv.pkl records."""
    args = ("--data_path", str(prepared_dir), "--model_name", MODEL_NAME, *args)
    return CliRunner().invoke(run_register_model, args)


def hpo_runs(uri: str) -> list:
    client = MlflowClient(uri)
    return client.search_runs([client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id])


def test_the_course_s_runs_beside_ours(prepared_dir: Path, mlflow_server) -> None:
    """The course's hpo.py, register_model.py and train.py on our pickles and server: its flat
    runs are a search of their kind (Q5 is their best rmse; our register_model.py refits the
    top ones from their params, then signs, gates, registers); its `rf-best-model`, its
    best-models runs and its autologged run in another experiment change no answer of ours."""
    course_script("hpo.py", prepared_dir, "--num_trials", "4")
    course = hpo_runs(mlflow_server.uri)
    best = min(run.data.metrics["rmse"] for run in course)
    q5 = answer(5)
    assert q5.exit_code == 0, q5.output
    assert q5.stdout == f"Q5 best validation RMSE of the hyperopt runs: {best:.3f}\n"
    assert "Using the course's hpo.py runs: 4 flat runs with params and rmse" in q5.stderr
    course_script("register_model.py", prepared_dir, "--top_n", "2")  # the course's model
    q6 = answer(6, "--model_name", MODEL_NAME)
    assert_one_line_error(q6, "(the registry holds rf-best-model: not this one)", "make q6")

    registered = register(prepared_dir, "--top_n", "3")  # amid the course's best-models runs
    assert registered.exit_code == 0, registered.output
    assert "Using the course's hpo.py runs" in registered.stderr
    client = MlflowClient(mlflow_server.uri)
    candidates = client.search_runs(
        [client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id],
        f"tags.{HPO_RUN_TAG} != ''",
    )
    assert len(candidates) == 3
    logged = {run.info.run_id: run.data.metrics["rmse"] for run in course}
    for candidate in candidates:  # refitted from the params: the very forest of the trial
        trial = candidate.data.tags[HPO_RUN_TAG]
        assert candidate.data.metrics["val_rmse"] == pytest.approx(logged[trial], rel=1e-12)
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert version.tags["validation.status"] == "first"

    course_script("train.py", prepared_dir)  # autologged, in MLflow's Default experiment
    args = ["--data_path", str(prepared_dir), "--model_name", MODEL_NAME]
    table = CliRunner().invoke(run_answers, args)  # Q6 loads ours: signed by our key, checked
    assert table.exit_code == 1, table.output  # Q3: no run of our train.py yet
    rows = table.stdout.splitlines()
    assert rows[3].startswith("Q3 ") and "not read: no run in 'random-forest-train'" in rows[3]
    assert [row.split()[-1] for row in rows[1:7] if not row.startswith("Q3 ")] == [
        version_of("mlflow"),
        "4",
        "default-artifact-root",
        f"{best:.3f}",
        f"{float(version.tags['test_rmse']):.3f}",
    ]
    assert table.stderr.splitlines()[-1] == "Error: Q3 not read: see the row for each."


def test_the_newest_finished_search_of_either_kind_is_used(prepared_dir: Path, mlflow_server):
    """Course, then ours, then the course's again: each time the newest that finished;
    ours unfinished never; what is not used is said."""
    course_script("hpo.py", prepared_dir, "--num_trials", "2")
    args = ["--data_path", str(prepared_dir), "--num_trials", "2", "--seed", "3"]
    assert CliRunner().invoke(run_optimization, args).exit_code == 0
    rest = Rest(mlflow_server.uri)
    ours = newest_trials(rest)
    assert ours.parent is not None and len(ours.runs) == 2
    assert ours.notes == [f"The 2 runs of the course's hpo.py ended before {ours.name}: not used."]

    course_script("hpo.py", prepared_dir, "--num_trials", "2")  # the same two trials again
    course = newest_trials(rest)
    assert course.of_the_course and len(course.runs) == 4  # all of them, as the course takes
    q5 = answer(5)
    assert q5.stdout.endswith(f": {course.runs[0].data.metrics['rmse']:.3f}\n")

    # A search of ours stopped halfway after them: never used, and said.
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id
    stopped = client.create_run(experiment, tags={SEARCH_TAG: "hyperopt"})
    client.set_terminated(stopped.info.run_id, "KILLED")
    still_course = newest_trials(rest)
    assert still_course.of_the_course
    assert still_course.notes[-1] == (
        f"The newest hyperopt search ({stopped.info.run_id[:8]}) did not finish (stopped, or "
        "still running): using the course's hpo.py runs."
    )
