"""The whole homework on the real January-March 2023 files against a real `mlflow server`."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import sqlalchemy
from conftest import start_server
from mlflow.tracking import MlflowClient

from config import CHAMPION_ALIAS, HPO_EXPERIMENT, MODEL_NAME, TRAIN_EXPERIMENT
from features import RAW_COLUMNS
from forest import rmse
from pickles import load_dataset
from tracking import load_pyfunc
from trips import read_trips

pytestmark = pytest.mark.server
NOISE = ("INFO", "View run", "View experiment", "Warning", "warn", "Downloading artifacts")


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

    hpo_experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    trials = client.search_runs(
        [hpo_experiment.experiment_id], "metrics.rmse >= 0", order_by=["metrics.rmse ASC"]
    )
    assert len(trials) == 15
    assert {run.info.status for run in trials} == {"FINISHED"}
    assert trials[0].data.metrics["rmse"] == pytest.approx(5.3354, abs=1e-4)

    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert version.version == "1"
    assert CHAMPION_ALIAS in version.aliases
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
