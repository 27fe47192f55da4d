"""The whole homework on the real January-March 2023 files against a real `mlflow server`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import pytest
import sqlalchemy
from conftest import start_server
from mlflow.tracking import MlflowClient

from homework.config import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    HPO_EXPERIMENT,
    MODEL_NAME,
    TRAIN_EXPERIMENT,
)
from homework.features import RAW_COLUMNS
from homework.forest import rmse
from homework.lineage import logged_datasets
from homework.pickles import load_dataset
from homework.promotion import (
    BASELINE_RMSE_TAG,
    CANDIDATE_RMSE_TAG,
    FIRST,
    FORCED,
    PROMOTED,
    REJECTED,
    RMSE_METRIC,
    STATUS_TAG,
)
from homework.trips import read_trips
from homework.trust.loading import load_pyfunc

pytestmark = pytest.mark.server
NOISE = (
    "INFO",
    "View run",
    "View experiment",
    "WARNING",
    "Warning",
    "warn",
    "Downloading artifacts",
)
REAL_MONTHS = ("green_tripdata_2023-01", "green_tripdata_2023-02", "green_tripdata_2023-03")
WEAKER_SEARCH = ("--num_trials", "2", "--seed", "1")  # best validation RMSE 5.537, test 5.764


def test_homework_answers_from_real_runs(taxi_data_dir: Path, tmp_path: Path, run_script) -> None:
    server = start_server(tmp_path / "server")
    try:
        run_homework_and_check_answers(server.uri, taxi_data_dir, tmp_path, run_script)
    finally:
        server.stop()


def test_same_answers_from_one_process(taxi_data_dir: Path, tmp_path: Path, run_script) -> None:
    """`make all`'s way: pipeline.py runs the four scripts' commands in one interpreter."""
    server = start_server(tmp_path / "server")
    try:
        run_homework_and_check_answers(
            server.uri, taxi_data_dir, tmp_path, run_script, one_process=True
        )
    finally:
        server.stop()


def test_the_mlflow_ui_shows_the_answers(
    taxi_data_dir: Path, tmp_path: Path, run_script, chromium: str
) -> None:
    """`make all`, then `make ui-check`: headless Chromium finds Q3, Q5 and Q6 in the UI."""
    server = start_server(tmp_path / "server")
    try:
        env = {"MLFLOW_TRACKING_URI": server.uri}
        paths = ("--raw_data_path", str(taxi_data_dir), "--dest_path", str(tmp_path / "output"))
        homework = run_script("pipeline.py", *paths, env=env)
        assert homework.returncode == 0, homework.stderr[-3000:]
        ui = run_script("ui_check.py", env=env)
        assert ui.returncode == 0, ui.stderr[-3000:]
    finally:
        server.stop()
    q3, q5, q6, _ = ui.stdout.splitlines()
    assert q3.endswith("shows min_samples_split = 2")
    assert "15 trials, sorted by rmse" in q5 and "first with 5.335;" in q5
    assert q6.startswith(f"Q6  {MODEL_NAME}: version 1 @{CHAMPION_ALIAS}, its ")


def test_same_answers_on_postgresql_with_proxied_artifacts(
    taxi_data_dir: Path, tmp_path: Path, run_script, postgres_uri: str
) -> None:
    """The team setup: PostgreSQL backend store, artifacts only over HTTP through the server."""
    server = start_server(
        tmp_path / "server", backend_store_uri=postgres_uri, proxied_artifacts=True
    )
    try:
        run_homework_and_check_answers(server.uri, taxi_data_dir, tmp_path, run_script)
        client = MlflowClient(server.uri)
        experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
        assert experiment.artifact_location.startswith("mlflow-artifacts:")
        (best,) = client.search_runs(
            [experiment.experiment_id], order_by=["metrics.rmse ASC"], max_results=1
        )
        stored = tmp_path / "server/artifacts" / experiment.experiment_id / best.info.run_id
        assert (stored / "artifacts/model/model.pkl").is_file()
    finally:
        server.stop()
    # The runs are rows in PostgreSQL, not in some SQLite file.
    engine = sqlalchemy.create_engine(postgres_uri)
    with engine.connect() as connection:
        count = connection.execute(sqlalchemy.text("SELECT count(*) FROM runs")).scalar_one()
    engine.dispose()
    # train.py, the hyperopt trials and their summary run, register_model.py's candidates
    assert count == 1 + 15 + 1 + 5
    assert not list(tmp_path.glob("**/*.db"))


def test_a_weaker_search_does_not_replace_the_champion(
    taxi_data_dir: Path, tmp_path: Path, run_script
) -> None:
    """`make all`, then a short search from another seed: the gate keeps the champion."""
    server = start_server(tmp_path / "server")
    try:
        env = {"MLFLOW_TRACKING_URI": server.uri}
        output = tmp_path / "output"
        raw = ("--raw_data_path", str(taxi_data_dir))
        step = run_script("pipeline.py", *raw, "--dest_path", str(output), env=env)
        assert step.returncode == 0, step.stderr[-3000:]
        weaker = run_script("hpo.py", "--data_path", str(output), *WEAKER_SEARCH, env=env)
        assert weaker.returncode == 0, weaker.stderr[-3000:]
        assert float(weaker.stdout.split()[-1]) > 5.3354  # really a worse search

        client = MlflowClient(server.uri)
        register = ("register_model.py", "--data_path", str(output), *raw)
        rejected = run_script(*register, env=env)
        assert rejected.returncode == 0, rejected.stderr[-3000:]
        challenger = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER_ALIAS)
        assert (challenger.version, challenger.tags[STATUS_TAG]) == ("2", REJECTED)
        assert float(challenger.tags[CANDIDATE_RMSE_TAG]) > 5.5674
        assert float(challenger.tags[BASELINE_RMSE_TAG]) == pytest.approx(5.5674, abs=1e-4)
        assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version == "1"
        (line,) = [line for line in rejected.stderr.splitlines() if "as @challenger" in line]
        assert "5.5674" in line and f"{float(challenger.tags['test_rmse']):.4f}" in line
        q6 = ("answers.py", "--data_path", str(output), *raw, "-q", "6")
        assert run_script(*q6, env=env).stdout.strip().endswith(": 5.567")

        forced = run_script(*register, "--promote", "always", env=env)
        assert forced.returncode == 0, forced.stderr[-3000:]
        champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
        assert (champion.version, champion.tags[STATUS_TAG]) == ("3", FORCED)

        equal = run_script(*register, env=env)  # the same search again: equal RMSE passes
        assert equal.returncode == 0, equal.stderr[-3000:]
        champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
        assert (champion.version, champion.tags[STATUS_TAG]) == ("4", PROMOTED)
        assert champion.tags[CANDIDATE_RMSE_TAG] == champion.tags[BASELINE_RMSE_TAG]
    finally:
        server.stop()


def run_homework_and_check_answers(
    uri: str, taxi_data_dir: Path, tmp_path: Path, run_script, one_process: bool = False
) -> None:
    """All four scripts on the real data through the server at `uri`; the course's answers.

    One script after the other as the course runs them, or with `one_process` all four
    in one interpreter (pipeline.py).
    """
    env = {"MLFLOW_TRACKING_URI": uri}
    output = tmp_path / "output"
    paths = ("--raw_data_path", str(taxi_data_dir), "--dest_path", str(output))
    if one_process:
        step = run_script("pipeline.py", *paths, env=env)
        assert step.returncode == 0, step.stderr[-3000:]
        assert step.stdout.splitlines()[2:] == [
            "best validation RMSE: 5.3354",
            "test RMSE: 5.5674",
        ]
        # Quiet: no MLflow INFO lines, run links or warnings between the steps' own lines.
        noisy = [line for line in step.stderr.splitlines() if any(n in line for n in NOISE)]
        assert noisy == [], step.stderr
    else:
        step = run_script("preprocess_data.py", *paths)
        assert step.returncode == 0, step.stderr
        raw = ("--raw_data_path", str(taxi_data_dir))
        for script, extra in (("train.py", ()), ("hpo.py", ()), ("register_model.py", raw)):
            step = run_script(script, "--data_path", str(output), *extra, env=env)
            assert step.returncode == 0, f"{script}: {step.stderr[-3000:]}"
    assert sorted(p.name for p in output.iterdir()) == [
        "dv.pkl",
        "test.pkl",
        "train.pkl",
        "val.pkl",
    ]

    client = MlflowClient(uri)
    train_experiment = client.get_experiment_by_name(TRAIN_EXPERIMENT)
    (train_run,) = client.search_runs([train_experiment.experiment_id])
    assert train_run.data.params["min_samples_split"] == "2"
    # Each run names the raw months it used, with the SHA-256 of the real files.
    digests = {
        name: hashlib.sha256((taxi_data_dir / f"{name}.parquet").read_bytes()).hexdigest()[:16]
        for name in REAL_MONTHS
    }
    training = {
        ("training", "green_tripdata_2023-01", digests["green_tripdata_2023-01"]),
        ("validation", "green_tripdata_2023-02", digests["green_tripdata_2023-02"]),
    }
    assert logged_datasets(train_run) == training

    hpo_experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    trials = client.search_runs(
        [hpo_experiment.experiment_id], "metrics.rmse >= 0", order_by=["metrics.rmse ASC"]
    )
    assert len(trials) == 15
    assert {run.info.status for run in trials} == {"FINISHED"}
    assert trials[0].data.metrics["rmse"] == pytest.approx(5.3354, abs=1e-4)
    assert all(logged_datasets(run) == training for run in trials)

    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert version.version == "1"
    assert CHAMPION_ALIAS in version.aliases
    assert version.tags[STATUS_TAG] == FIRST
    assert [version.tags[f"data.{name}_digest"] for name in ("train", "val", "test")] == list(
        digests.values()
    )
    # MLflow's regressor evaluation of the registered model on the raw March trips.
    champion_run = client.get_run(version.run_id)
    metrics = champion_run.data.metrics
    assert metrics[RMSE_METRIC] == pytest.approx(metrics["test_rmse"], abs=1e-9)
    assert metrics[RMSE_METRIC] == pytest.approx(5.5674, abs=1e-4)
    assert {"mean_absolute_error", "r2_score", "max_error"} <= set(metrics)
    assert logged_datasets(champion_run) == {
        ("validation", "green_tripdata_2023-02", digests["green_tripdata_2023-02"]),
        ("test", "green_tripdata_2023-03", digests["green_tripdata_2023-03"]),
    }
    mlflow.set_tracking_uri(uri)
    # The champion takes the raw March trips (1-60 minutes) and gives the Q6 answer ...
    model = load_pyfunc(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    trips = read_trips(taxi_data_dir / "green_tripdata_2023-03.parquet")
    assert rmse(trips["duration"], model.predict(trips[RAW_COLUMNS])) == pytest.approx(
        5.5674, abs=1e-4
    )
    # ... and the course's runs:/<id>/model is still the forest on the vectorised matrix.
    forest = mlflow.sklearn.load_model(f"runs:/{version.run_id}/model")
    X_test, y_test = load_dataset(output, "test")
    assert rmse(y_test, forest.predict(X_test)) == pytest.approx(5.5674, abs=1e-4)

    table = run_script(
        "answers.py",
        *("--data_path", str(output), "--raw_data_path", str(taxi_data_dir)),
        *("-q", "5", "-q", "6"),
        env=env,
    )
    assert table.returncode == 0, table.stderr
    assert "5.335" in table.stdout and "5.567" in table.stdout
