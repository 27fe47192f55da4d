"""The whole homework on the real January-March 2023 files against a real `mlflow server`.

One real run, shared by the session (the `homework` fixture), typed the course's way as
docs/course.md shows it (train.py before any server, into ./mlflow.db; then the course's
`mlflow server ...` started by hand; then the rest), gives the course's answers; each test
below reads one part of what it produced. The PostgreSQL test runs a small homework of its
own on generated data: its point is the backend, not the numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import requests
import sqlalchemy
from conftest import ROOT, Homework, serving, start_server
from mlflow.tracking import MlflowClient
from packaging.version import Version
from pickle_scan import pickles_in_folder
from PIL import Image

from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    CHAMPION_PLOTS,
    HPO_EXPERIMENT,
    HPO_RUN_TAG,
    MODEL_NAME,
    SEARCH_TAG,
    SIGNED_MANIFEST,
    TRAIN_EXPERIMENT,
    TRIALS_PLOT,
)
from homework.data.lineage import logged_datasets
from homework.data.pickles import Prepared
from homework.data.trips import read_trips
from homework.forest import rmse
from homework.model.features import RAW_COLUMNS
from homework.publish.gate import (
    BASELINE_RMSE_TAG,
    CANDIDATE_RMSE_TAG,
    FIRST,
    FORCED,
    PROMOTED,
    REJECTED,
    RMSE_METRIC,
    STATUS_TAG,
)
from homework.search.runs import PARENT_TAG
from homework.tracking.connection import MLFLOW_3
from homework.trust.loading import download_verified, load_pyfunc
from services import processes
from ui.browser import VIEWPORT
from ui.profiles import PICTURE_NAMES, PROFILES

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
CHAMPION_URI = f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
WEAKER_SEARCH = ("--num_trials", "2", "--seed", "1")  # best validation RMSE 5.537, test 5.764
PICTURE_LIMIT = 150_000  # bytes: the docs' pictures stay small


def digests(raw: Path) -> dict[str, str]:
    """What each run must record of a real month: the first 16 hex digits of its SHA-256."""
    return {
        name: hashlib.sha256((raw / f"{name}.parquet").read_bytes()).hexdigest()[:16]
        for name in REAL_MONTHS
    }


def test_the_course_s_way_gives_the_course_answers(homework: Homework) -> None:
    """docs/course.md, typed as the course does: no make, train.py before any server, the
    server started by hand with the course's command, no option the course's scripts lack."""
    steps = homework.steps
    assert steps["preprocess_data.py"].stdout.startswith("Wrote 4 files to ")
    assert steps["hpo.py"].stdout.strip() == "best validation RMSE: 5.3354"
    assert steps["register_model.py"].stdout.strip() == "test RMSE: 5.5674"
    assert sorted(p.name for p in homework.output.iterdir()) == [
        "dv.pkl",
        "test.pkl",
        "train.pkl",
        "val.pkl",
    ]
    table = steps["answers.py"].stdout.splitlines()
    answers = [line.split()[-1] for line in table[1:7]]
    version = mlflow.__version__
    assert answers == [version, "4", "2", "default-artifact-root", "5.335", "5.567"]
    assert f"  random-forest-train         {homework.server.uri}/#/experiments/1" in table


def test_train_py_before_any_server_logs_to_mlflow_db(homework: Homework) -> None:
    """Q3 with no server anywhere: one line saying where the run went and how to see it, no
    MLflow or alembic line; the server started later on that database shows the run and its
    model."""
    train = homework.steps["train.py"]
    assert train.stderr.splitlines()[1] == (
        "No MLflow server at http://127.0.0.1:5000, and none named: logging to "
        f"sqlite:///mlflow.db in {homework.server.folder}/, as the course's train.py does. To "
        "see it in the UI: `mlflow server --backend-store-uri sqlite:///mlflow.db "
        "--default-artifact-root ./artifacts` there, then http://127.0.0.1:5000"
    )
    ours = ("Training RandomForestRegressor", "No MLflow server at ", "Signed the model with key")
    assert [line for line in train.stderr.splitlines() if not line.startswith(ours)] == []
    client = MlflowClient(homework.server.uri)
    (run,) = client.search_runs([client.get_experiment_by_name(TRAIN_EXPERIMENT).experiment_id])
    assert run.data.params["min_samples_split"] == "2"
    assert run.info.artifact_uri.startswith(str(homework.server.folder / "mlruns"))
    if MLFLOW_3:  # the model is a logged model of its own, not among the run's artifacts
        (model,) = client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
        )
        where, listed = f"logged-models/{model.model_id}/artifacts/directories", "MLmodel"
    else:
        where, listed = f"artifacts/list?run_uuid={run.info.run_id}&path=model", "model/MLmodel"
    shown = requests.get(f"{homework.server.uri}/ajax-api/2.0/mlflow/{where}", timeout=30)
    assert listed in {item["path"] for item in shown.json()["files"]}, shown.text


def test_each_script_prints_only_its_own_lines(homework: Homework) -> None:
    """Quiet: no MLflow INFO lines, run links or warnings between the steps' own lines."""
    for script, step in homework.steps.items():
        noisy = [line for line in step.stderr.splitlines() if any(n in line for n in NOISE)]
        assert noisy == [], f"{script}: {step.stderr}"


def test_every_run_records_the_months_it_used(homework: Homework) -> None:
    client = MlflowClient(homework.server.uri)
    real = digests(homework.raw)
    training = {
        ("training", "green_tripdata_2023-01", real["green_tripdata_2023-01"]),
        ("validation", "green_tripdata_2023-02", real["green_tripdata_2023-02"]),
    }
    train_experiment = client.get_experiment_by_name(TRAIN_EXPERIMENT)
    (train_run,) = client.search_runs([train_experiment.experiment_id])
    assert train_run.data.params["min_samples_split"] == "2"
    assert logged_datasets(train_run) == training
    hpo_experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    assert all(
        logged_datasets(run) == training
        for run in client.search_runs([hpo_experiment.experiment_id])
    )

    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert [version.tags[f"data.{name}_digest"] for name in ("train", "val", "test")] == list(
        real.values()
    )
    assert logged_datasets(client.get_run(version.run_id)) == {
        ("validation", "green_tripdata_2023-02", real["green_tripdata_2023-02"]),
        ("test", "green_tripdata_2023-03", real["green_tripdata_2023-03"]),
    }


def test_the_search_is_one_finished_parent_run_with_15_trials(homework: Homework) -> None:
    client = MlflowClient(homework.server.uri)
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["metrics.rmse ASC"])
    (parent,) = [run for run in runs if SEARCH_TAG in run.data.tags]
    trials = [run for run in runs if run is not parent]
    assert parent.info.status == "FINISHED"
    assert len(trials) == 15
    assert {run.data.tags[PARENT_TAG] for run in trials} == {parent.info.run_id}
    assert {run.info.status for run in trials} == {"FINISHED"}
    assert trials[0].data.metrics["rmse"] == pytest.approx(5.3354, abs=1e-4)
    assert parent.data.metrics["best_val_rmse"] == trials[0].data.metrics["rmse"]


def test_the_champion_is_evaluated_and_predicts_the_raw_month(homework: Homework) -> None:
    client = MlflowClient(homework.server.uri)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert (version.version, version.tags[STATUS_TAG]) == ("1", FIRST)
    # MLflow's regressor evaluation of the registered model on the raw March trips.
    metrics = client.get_run(version.run_id).data.metrics
    assert metrics[RMSE_METRIC] == pytest.approx(metrics["test_rmse"], abs=1e-9)
    assert metrics[RMSE_METRIC] == pytest.approx(5.5674, abs=1e-4)
    assert {"mean_absolute_error", "r2_score", "max_error"} <= set(metrics)
    best_models = client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id
    assert len(client.search_runs([best_models], "metrics.test_rmse >= 0")) == 5

    mlflow.set_tracking_uri(homework.server.uri)
    # The champion takes the raw March trips (1-60 minutes) and gives the Q6 answer ...
    model = load_pyfunc(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    trips = read_trips(homework.raw / "green_tripdata_2023-03.parquet")
    predicted = model.predict(trips[RAW_COLUMNS])
    assert rmse(trips["duration"], predicted) == pytest.approx(5.5674, abs=1e-4)
    # ... and the course's runs:/<id>/model is still the forest on the vectorised matrix.
    forest = mlflow.sklearn.load_model(f"runs:/{version.run_id}/model")
    X_test, y_test = Prepared.read(homework.output).dataset("test")
    assert rmse(y_test, forest.predict(X_test)) == pytest.approx(5.5674, abs=1e-4)


def test_the_champion_holds_no_pickle_and_every_file_is_signed(
    homework: Homework, tmp_path: Path
) -> None:
    """Models from code: the model file, the code it runs, the forest as skops, the
    vectorizer as JSON; no pickle stream anywhere (zip members included), no bytecode."""
    mlflow.set_tracking_uri(homework.server.uri)
    champion = Path(download_verified(CHAMPION_URI, str(tmp_path / "champion")))
    files = {path.relative_to(champion).as_posix() for path in champion.rglob("*")}
    assert {"model_code.py", "artifacts/forest.skops", "artifacts/vectorizer.json"} <= files
    assert pickles_in_folder(champion)[1] == []
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]
    signed = json.loads((champion / SIGNED_MANIFEST).read_text())["files"]
    assert set(signed) == {name for name in files if (champion / name).is_file()} - {
        SIGNED_MANIFEST
    }
    # The forests the project loads back are skops on MLflow 3; its 2.x flavor has only
    # pickles (signed). train.py's, the course's runs:/<id>/model, is what autolog writes.
    client = MlflowClient(homework.server.uri)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    (train_run,) = client.search_runs(
        [client.get_experiment_by_name(TRAIN_EXPERIMENT).experiment_id]
    )
    for run_id, safe in (
        (version.run_id, MLFLOW_3),
        (version.tags[HPO_RUN_TAG], MLFLOW_3),
        (train_run.info.run_id, False),
    ):
        forest = Path(download_verified(f"runs:/{run_id}/model", str(tmp_path / run_id)))
        assert (pickles_in_folder(forest)[1] == []) == safe, run_id


def test_the_champion_serves_the_q6_answer_refusing_pickles(
    homework: Homework, tmp_path: Path
) -> None:
    """`make serve-model` with MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false, outside the repo:
    the served predictions of the raw March trips give the Q6 answer."""
    trips = read_trips(homework.raw / "green_tripdata_2023-03.parquet")
    with serving(CHAMPION_URI, homework.server.uri, tmp_path / "serve.log") as url:
        records = trips[RAW_COLUMNS].to_dict(orient="split", index=False)
        response = requests.post(url, json={"dataframe_split": records}, timeout=300)
    assert response.status_code == 200, response.text[:3000]
    predicted = response.json()["predictions"]
    assert f"{rmse(trips['duration'], predicted):.4f}" == "5.5674"


def test_the_mlflow_ui_shows_the_answers(
    homework: Homework, run_script, chromium: str, tmp_path: Path
) -> None:
    """`make all`, then `make screenshots`: headless Chromium finds Q3, Q5 and Q6 in the UI,
    and writes the docs' pictures on the way."""
    pictures = tmp_path / "pictures"
    ui = run_script("ui_check.py", "--screenshots_dir", str(pictures), env=homework.env)
    assert ui.returncode == 0, ui.stderr[-3000:]
    q3, q5, q6, plot = ui.stdout.splitlines()
    assert q3.endswith("shows min_samples_split = 2")
    assert "15 trials, sorted by rmse" in q5 and "first with 5.335;" in q5
    assert q6.startswith(f"Q6  {MODEL_NAME}: version 1 @{CHAMPION_ALIAS}, its ")
    assert all(name in q6 for name in CHAMPION_PLOTS) and TRIALS_PLOT in plot
    profile = PROFILES[3 if MLFLOW_3 else 2]  # the UI of the server the tests start
    expected = sorted(profile.picture(key) for key in PICTURE_NAMES)
    assert sorted(path.name for path in pictures.iterdir()) == expected
    for picture in pictures.iterdir():
        with Image.open(picture) as image:
            assert (image.format, image.size) == ("PNG", (VIEWPORT["width"], VIEWPORT["height"]))
        assert picture.stat().st_size < PICTURE_LIMIT, picture


def plain_mlflow_load(homework: Homework) -> Path:
    """Load the champion as MLflow's tutorials do, from the project folder, with byte code on:
    MLflow and Python write their files into the store's own folder of the model. Its path."""
    env = {**os.environ, **homework.env}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a learner's machine
    code = "import mlflow, sys; mlflow.pyfunc.load_model(sys.argv[1])"
    uri = f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
    done = subprocess.run(
        [sys.executable, "-c", code, uri], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(MlflowClient(homework.server.uri).get_model_version_download_uri(MODEL_NAME, "1"))
    # MLflow's own file beside the model's: written by 2.22 and 3.17, no longer by 3.18
    assert (folder / "registered_model_meta").is_file() != (
        Version(mlflow.__version__) >= Version("3.18")
    )
    assert list(folder.glob("code/homework/__pycache__/*.pyc"))
    return folder


def test_a_weaker_search_does_not_replace_the_champion(homework_copy: Homework, run_script) -> None:
    """After the homework and a plain MLflow load of the champion (which adds MLflow's and
    Python's files to its folder), a short search from another seed: the gate keeps the
    champion, and the champion still loads everywhere."""
    added = plain_mlflow_load(homework_copy)
    try:
        check_a_weaker_search(homework_copy, run_script)
    finally:  # the shared run's store as it was
        (added / "registered_model_meta").unlink(missing_ok=True)
        shutil.rmtree(added / "code/homework/__pycache__")


def check_a_weaker_search(homework_copy: Homework, run_script) -> None:
    env, data = homework_copy.env, ("--data_path", str(homework_copy.output))
    trip = run_script("predict.py", "--pu", "74", "--do", "75", "--distance", "1.2", env=env)
    assert trip.returncode == 0, trip.stderr
    assert "Verified models:/nyc-green-taxi-duration-rf@champion (version 1): " in trip.stderr
    weaker = run_script("hpo.py", *data, *WEAKER_SEARCH, env=env)
    assert weaker.returncode == 0, weaker.stderr[-3000:]
    assert float(weaker.stdout.split()[-1]) > 5.3354  # really a worse search

    client = MlflowClient(homework_copy.server.uri)
    register = ("register_model.py", *homework_copy.paths)
    rejected = run_script(*register, env=env)
    assert rejected.returncode == 0, rejected.stderr[-3000:]
    challenger = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER_ALIAS)
    assert (challenger.version, challenger.tags[STATUS_TAG]) == ("2", REJECTED)
    assert float(challenger.tags[CANDIDATE_RMSE_TAG]) > 5.5674
    assert float(challenger.tags[BASELINE_RMSE_TAG]) == pytest.approx(5.5674, abs=1e-4)
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version == "1"
    (line,) = [line for line in rejected.stderr.splitlines() if "as @challenger" in line]
    assert "5.5674" in line and f"{float(challenger.tags['test_rmse']):.4f}" in line
    q6 = run_script("answers.py", *homework_copy.paths, "-q", "6", env=env)
    assert q6.stdout.strip().endswith(": 5.567")

    forced = run_script(*register, "--promote", "always", env=env)
    assert forced.returncode == 0, forced.stderr[-3000:]
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert (champion.version, champion.tags[STATUS_TAG]) == ("3", FORCED)

    equal = run_script(*register, env=env)  # the same search again: equal RMSE passes
    assert equal.returncode == 0, equal.stderr[-3000:]
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert (champion.version, champion.tags[STATUS_TAG]) == ("4", PROMOTED)
    assert champion.tags[CANDIDATE_RMSE_TAG] == champion.tags[BASELINE_RMSE_TAG]


def test_the_homework_on_postgresql_with_proxied_artifacts(
    raw_dir: Path, tmp_path: Path, postgres_uri: str, run_script
) -> None:
    """The team setup: PostgreSQL backend store, artifacts only over HTTP through the server.

    The homework in one process (`make all`'s way) on generated months: the point is the
    backend, not the numbers.
    """
    server = start_server(
        tmp_path / "server", backend_store_uri=postgres_uri, proxied_artifacts=True
    )
    try:
        # MLflow reads the store (and its password) from its environment, never its command line.
        command = " ".join(processes.read_record(server.folder / "server.pid").cmdline)
        destination = f"--artifacts-destination {server.folder / 'artifacts'} --serve-artifacts"
        assert destination in command and "--default-artifact-root" not in command
        assert postgres_uri.split(":")[2].split("@")[0] not in command
        env = {"MLFLOW_TRACKING_URI": server.uri}
        output = tmp_path / "output"
        homework = ("--raw_data_path", str(raw_dir), "--dest_path", str(output))
        done = run_script("pipeline.py", *homework, "--num_trials", "3", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        paths = ("--data_path", str(output), "--raw_data_path", str(raw_dir))
        answers = run_script("answers.py", *paths, "-q", "5", "-q", "6", env=env)
        assert answers.returncode == 0, answers.stderr
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
    # The answers are the scripts' own results, read back from PostgreSQL.
    best_rmse, test_rmse = (float(line.split()[-1]) for line in done.stdout.splitlines()[-2:])
    assert [line.split()[-1] for line in answers.stdout.splitlines()[1:]] == [
        f"{best_rmse:.3f}",
        f"{test_rmse:.3f}",
    ]
    # The runs are rows in PostgreSQL, not in some SQLite file.
    engine = sqlalchemy.create_engine(postgres_uri)
    with engine.connect() as connection:
        count = connection.execute(sqlalchemy.text("SELECT count(*) FROM runs")).scalar_one()
    engine.dispose()
    # train.py, the search's parent run and its 3 trials, register_model.py's 3 candidates
    assert count == 1 + 1 + 3 + 3
    assert not list(tmp_path.glob("**/*.db"))
