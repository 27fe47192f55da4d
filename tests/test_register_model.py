"""register_model.py: top-N hyperopt runs scored, best test RMSE registered with alias champion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
import sklearn
from click.testing import CliRunner
from conftest import MONTHS, assert_one_line_error, random_month, write_trips
from mlflow.tracking import MlflowClient

from answers import q5_best_rmse, q6_champion_test_rmse
from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CACHE_DIR_VARIABLE,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    HPO_EXPERIMENT,
    PYFUNC_ARTIFACT,
    SEARCH_TAG,
)
from homework.data.pickles import Prepared
from homework.data.trips import read_trips
from homework.forest import rmse
from homework.model.features import RAW_COLUMNS
from homework.publish.gate import (
    BASELINE_RMSE_TAG,
    BASELINE_VERSION_TAG,
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
from hpo import run_optimization
from preprocess_data import run_data_prep
from register_model import run_register_model

MODEL_NAME = "test-model"


def register(prepared_dir: Path, *extra: str, raw_dir: Path | None = None):
    raw_dir = raw_dir or prepared_dir.parent / "data"  # the raw_dir the pickles were made from
    args = ["--data_path", str(prepared_dir), "--raw_data_path", str(raw_dir)]
    args += ["--model_name", MODEL_NAME, *extra]
    return CliRunner().invoke(run_register_model, args)


def test_registers_lowest_test_rmse_as_champion(prepared_dir: Path, mlflow_server) -> None:
    assert (
        CliRunner()
        .invoke(run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "4"])
        .exit_code
        == 0
    )
    result = register(prepared_dir, "--top_n", "3")
    assert result.exit_code == 0, result.output

    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(BEST_MODELS_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["metrics.test_rmse ASC"])
    assert len(runs) == 3
    for run in runs:
        assert {"val_rmse", "test_rmse"} <= set(run.data.metrics)
        hpo_run = client.get_run(run.data.tags["hpo_run_id"])
        assert run.data.metrics["val_rmse"] == pytest.approx(
            hpo_run.data.metrics["rmse"], rel=1e-12
        )

    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert version.run_id == runs[0].info.run_id
    # The champion takes raw trips: the raw test month gives the logged test RMSE.
    model = load_pyfunc(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    trips = raw_test_trips(prepared_dir)
    champion_rmse = rmse(trips["duration"], model.predict(trips[RAW_COLUMNS]))
    assert champion_rmse == pytest.approx(runs[0].data.metrics["test_rmse"], rel=1e-12)
    assert f"test RMSE: {champion_rmse:.4f}" in result.stdout
    # The course's path still works: runs:/<id>/model is the forest on the vectorised matrix.
    X_test, y_test = Prepared.read(prepared_dir).dataset("test")
    for run in runs:
        forest = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
        forest_rmse = rmse(y_test, forest.predict(X_test))
        assert forest_rmse == pytest.approx(run.data.metrics["test_rmse"], rel=1e-12)
        info = mlflow.models.get_model_info(f"runs:/{run.info.run_id}/model")
        spec = info.signature.inputs.to_dict()[0]["tensor-spec"]
        assert list(spec["shape"]) == [-1, X_test.shape[1]]


def raw_test_trips(prepared_dir: Path):
    return read_trips(prepared_dir.parent / "data" / f"green_tripdata_{MONTHS[2]}.parquet")


def test_champion_version_is_documented(prepared_dir: Path, mlflow_server) -> None:
    hpo_args = ["--data_path", str(prepared_dir), "--num_trials", "3"]
    assert CliRunner().invoke(run_optimization, hpo_args).exit_code == 0
    result = register(prepared_dir, "--top_n", "2")
    assert result.exit_code == 0, result.output

    client = MlflowClient(mlflow_server.uri)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    run = client.get_run(version.run_id)
    tags = version.tags
    assert float(tags["val_rmse"]) == pytest.approx(run.data.metrics["val_rmse"], abs=1e-6)
    assert float(tags["test_rmse"]) == pytest.approx(run.data.metrics["test_rmse"], abs=1e-6)
    assert tags["hpo_run_id"] == run.data.tags["hpo_run_id"]
    assert (tags["data.dataset"], tags["data.train_month"], tags["data.test_month"]) == (
        "green",
        MONTHS[0],
        MONTHS[2],
    )
    assert tags["version.mlflow"] == mlflow.__version__
    assert tags["version.scikit-learn"] == sklearn.__version__
    assert "raw" in version.description and tags["hpo_run_id"] in version.description

    model = load_pyfunc(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    assert model.metadata.signature.inputs.input_names() == RAW_COLUMNS
    example = model.input_example
    assert list(example.columns) == RAW_COLUMNS and len(example) == 5
    assert model.predict(example).shape == (5,)

    artifacts = {artifact.path for artifact in client.list_artifacts(version.run_id)}
    assert {"model", PYFUNC_ARTIFACT, "predicted_vs_actual.png", "residuals.png"} <= artifacts
    png = client.download_artifacts(version.run_id, "residuals.png", str(prepared_dir.parent))
    assert Path(png).read_bytes().startswith(b"\x89PNG")


LOAD_ELSEWHERE = """
import importlib.util, json, os, sys
import mlflow, pandas as pd
assert importlib.util.find_spec("preprocess_data") is None, "repo on the path"
assert importlib.util.find_spec("homework") is None, "package installed"
trips = pd.read_parquet("../trips.parquet")
environment, modules = dict(os.environ), set(sys.modules)
path = {path!r}  # downloaded and checked against its signature by the test
model = mlflow.pyfunc.load_model(path)
predictions = model.predict(trips)
refused = ""
if int(mlflow.__version__.split(".")[0]) >= 3:  # the flag refuses pickles here: one of a forest
    from sklearn.dummy import DummyRegressor
    pickled = os.path.abspath("pickled")
    forest = DummyRegressor().fit([[0]], [0])
    mlflow.sklearn.save_model(forest, pickled, serialization_format="cloudpickle")
    try:
        mlflow.pyfunc.load_model(pickled)
    except mlflow.exceptions.MlflowException as exc:
        refused = str(exc)
print(json.dumps({{
    "predictions": predictions.tolist(),
    "code": sorted(
        os.path.relpath(os.path.join(parent, name), os.path.join(path, "code"))
        for parent, _, names in os.walk(os.path.join(path, "code")) for name in names
        if "__pycache__" not in parent
    ),
    "requirements": open(os.path.join(path, "requirements.txt")).read().split(),
    "environment_changed": sorted(set(os.environ.items()) ^ set(environment.items())),
    "loaded": sorted(set(sys.modules) - modules),
    "refused": refused,
}}))
"""


def test_champion_loads_without_the_repo(prepared_dir: Path, mlflow_server, tmp_path) -> None:
    """Only the tracking server is needed: a fresh interpreter outside the repo loads it, with
    MLflow told to refuse every pickle (MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false, MLflow 3).

    The model ships only the code it runs (homework/model/: trip_model.py, predictor.py,
    features.py, files.py);
    loading it brings no command-line package along and changes no environment variable of
    the loading process.
    """
    hpo_args = ["--data_path", str(prepared_dir), "--num_trials", "2"]
    assert CliRunner().invoke(run_optimization, hpo_args).exit_code == 0
    assert register(prepared_dir).exit_code == 0
    trips = raw_test_trips(prepared_dir)
    trips[RAW_COLUMNS].to_parquet(tmp_path / "trips.parquet")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = download_verified(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}", str(elsewhere / "model"))
    code = LOAD_ELSEWHERE.format(path=path)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = mlflow_server.uri
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    shipped = ["__init__.py", "features.py", "files.py", "predictor.py", "trip_model.py"]
    assert loaded["code"] == [
        "homework/__init__.py",
        *(f"homework/model/{name}" for name in shipped),
    ]
    assert not any(line.startswith(("click", "cloudpickle")) for line in loaded["requirements"])
    assert loaded["environment_changed"] == []
    assert {"homework.model.trip_model", "homework.model.features", "homework.model.files"} <= set(
        loaded["loaded"]
    )
    homework_cli = {"click", "homework.cli", "homework.config", "homework.tracking", "pyarrow"}
    assert homework_cli.isdisjoint(loaded["loaded"])
    if MLFLOW_3:
        assert "MLFLOW_ALLOW_PICKLE_DESERIALIZATION" in loaded["refused"]
    model = load_pyfunc(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    expected = model.predict(trips[RAW_COLUMNS]).tolist()
    assert loaded["predictions"] == pytest.approx(expected, rel=1e-12)


def test_fewer_runs_than_top_n_uses_those(prepared_dir: Path, mlflow_server) -> None:
    assert (
        CliRunner()
        .invoke(run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "2"])
        .exit_code
        == 0
    )
    result = register(prepared_dir, "--top_n", "5")
    assert result.exit_code == 0, result.output
    assert "Only 2 finished hyperopt runs" in result.stderr


def test_second_registration_makes_version_2(prepared_dir: Path, mlflow_server) -> None:
    assert (
        CliRunner()
        .invoke(run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "2"])
        .exit_code
        == 0
    )
    for _ in range(2):
        assert register(prepared_dir).exit_code == 0
    client = MlflowClient(mlflow_server.uri)
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version == "2"


def test_the_gate_evaluates_a_champion_once_per_test_month(
    prepared_dir: Path, mlflow_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The evaluation of version 1, kept as it was registered, is what the next gate compares
    with: the champion is not loaded again. A machine without it (an empty cache) does."""
    from homework.publish import gate

    hpo = CliRunner().invoke(
        run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "2"]
    )
    assert hpo.exit_code == 0, hpo.output
    assert register(prepared_dir).exit_code == 0
    loaded = []
    load = gate.load_pyfunc
    monkeypatch.setattr(gate, "load_pyfunc", lambda uri, *args: loaded.append(uri) or load(uri))

    kept = register(prepared_dir)
    assert kept.exit_code == 0, kept.output
    assert f"Verified models:/{MODEL_NAME}/1: " in kept.stderr  # checked all the same
    assert f"models:/{MODEL_NAME}/1" not in loaded and len(loaded) == 1  # the candidate only
    client = MlflowClient(mlflow_server.uri)
    (baseline,) = client.search_runs(
        [client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id],
        "attributes.run_name = 'champion-v1-baseline'",
    )
    first = client.get_model_version(MODEL_NAME, "1")
    assert baseline.data.metrics["root_mean_squared_error"] == pytest.approx(
        float(first.tags["test_rmse"]),
        abs=1e-6,  # the tag has six decimals
    )

    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "another-machine"))
    loaded.clear()
    again = register(prepared_dir)
    assert again.exit_code == 0, again.output
    assert f"models:/{MODEL_NAME}/2" in loaded
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version == "3"


def test_before_any_hpo_run_says_q5_comes_first(prepared_dir: Path, mlflow_server) -> None:
    result = register(prepared_dir)
    assert result.exit_code == 1
    assert "random-forest-hyperopt" in result.output
    assert "hpo.py first" in result.output


def test_missing_output_folder_says_preprocess_first(tmp_path: Path) -> None:
    result = register(tmp_path / "output")
    assert_one_line_error(result, str(tmp_path / "output"), "preprocess_data.py first")


def test_failed_deleted_and_running_runs_are_never_picked(
    prepared_dir: Path, mlflow_server
) -> None:
    hpo = CliRunner().invoke(
        run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "3"]
    )
    assert hpo.exit_code == 0, hpo.output
    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id
    good = {r.info.run_id: r for r in client.search_runs([experiment_id], "metrics.rmse >= 0")}
    (search_id,) = {run.data.tags[PARENT_TAG] for run in good.values()}

    def fake_trial(search: str, status: str | None, deleted: bool = False) -> None:
        run = client.create_run(experiment_id, tags={PARENT_TAG: search})
        client.log_metric(run.info.run_id, "rmse", 0.001)  # better than any real trial
        if status:
            client.set_terminated(run.info.run_id, status)
        if deleted:
            client.delete_run(run.info.run_id)

    fake_trial(search_id, "FAILED")
    fake_trial(search_id, None)  # a crashed trial left RUNNING
    fake_trial(search_id, "FINISHED", deleted=True)
    newer = client.create_run(experiment_id, tags={SEARCH_TAG: "hyperopt"})
    client.set_terminated(newer.info.run_id, "FINISHED")
    client.delete_run(newer.info.run_id)  # the newest complete search, but deleted
    fake_trial(newer.info.run_id, "FINISHED")

    result = register(prepared_dir, "--top_n", "5")
    assert result.exit_code == 0, result.output
    assert "Only 3 finished hyperopt runs: using those." in result.stderr
    best_models = client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id
    picked = {run.data.tags["hpo_run_id"] for run in client.search_runs([best_models])}
    assert picked == set(good)
    best_rmse = min(run.data.metrics["rmse"] for run in good.values())
    assert q5_best_rmse() == f"{best_rmse:.3f}"


def test_rerun_with_new_data_answers_from_the_newest_search(
    prepared_dir: Path, raw_dir: Path, mlflow_server
) -> None:
    # First invocation on easy data (duration = 3 min per mile): trials with a tiny RMSE.
    easy = raw_dir.parent / "easy"
    easy.mkdir()
    distances = np.linspace(0.5, 15, 400)
    for month in MONTHS:
        write_trips(easy / f"green_tripdata_{month}.parquet", distances * 3, [1] * 400, [2] * 400)
    prep = CliRunner().invoke(
        run_data_prep, ["--raw_data_path", str(easy), "--dest_path", str(prepared_dir)]
    )
    assert prep.exit_code == 0, prep.output
    for step, source in enumerate((easy, raw_dir)):
        if step == 1:  # second invocation: the usual, noisier data into the same output/
            prep = CliRunner().invoke(
                run_data_prep, ["--raw_data_path", str(raw_dir), "--dest_path", str(prepared_dir)]
            )
            assert prep.exit_code == 0, prep.output
        hpo = CliRunner().invoke(
            run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "3"]
        )
        assert hpo.exit_code == 0, hpo.output
        result = register(prepared_dir, "--top_n", "2", raw_dir=source)
        assert result.exit_code == 0, result.output

    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id
    trials = client.search_runs(
        [experiment_id], "metrics.rmse >= 0", order_by=["attributes.start_time ASC"]
    )
    first, second = trials[:3], trials[3:]
    assert len(second) == 3
    assert {run.data.tags[PARENT_TAG] for run in second}.isdisjoint(
        {run.data.tags[PARENT_TAG] for run in first}
    )
    newest_best = min(run.data.metrics["rmse"] for run in second)
    assert min(run.data.metrics["rmse"] for run in first) < newest_best  # older runs look better
    assert q5_best_rmse() == f"{newest_best:.3f}"

    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert champion.version == "2"
    assert CHAMPION_ALIAS not in client.get_model_version(MODEL_NAME, "1").aliases
    hpo_run_id = client.get_run(champion.run_id).data.tags["hpo_run_id"]
    assert hpo_run_id in {run.info.run_id for run in second}
    X_test, y_test = Prepared.read(prepared_dir).dataset("test")
    forest = mlflow.sklearn.load_model(f"runs:/{champion.run_id}/model")
    assert q6_champion_test_rmse(str(raw_dir), MODEL_NAME) == (
        f"{rmse(y_test, forest.predict(X_test)):.3f}"
    )


# ---------------------------------------------------------------- the promotion gate


def hpo(prepared_dir: Path, num_trials: int, seed: int = 42) -> None:
    args = ["--data_path", str(prepared_dir), "--num_trials", str(num_trials)]
    result = CliRunner().invoke(run_optimization, [*args, "--seed", str(seed)])
    assert result.exit_code == 0, result.output


def decision_line(result) -> str:
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Registered ")]
    return line


def test_a_weaker_model_becomes_challenger_and_the_champion_stays(
    prepared_dir: Path, mlflow_server
) -> None:
    hpo(prepared_dir, 3)
    assert register(prepared_dir).exit_code == 0
    client = MlflowClient(mlflow_server.uri)
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert champion.tags[STATUS_TAG] == FIRST
    answer = q6_champion_test_rmse(str(prepared_dir.parent / "data"), MODEL_NAME)

    hpo(prepared_dir, 2, seed=0)  # a shorter search from another seed: a worse best model
    result = register(prepared_dir)
    assert result.exit_code == 0, result.output  # a rejected challenger is a result
    challenger = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER_ALIAS)
    assert challenger.version == "2"
    candidate_rmse = client.get_run(challenger.run_id).data.metrics["test_rmse"]
    champion_rmse = client.get_run(champion.run_id).data.metrics["test_rmse"]
    assert candidate_rmse > champion_rmse  # really worse, as the seed was chosen for
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version == "1"
    assert challenger.tags[STATUS_TAG] == REJECTED
    assert challenger.tags[BASELINE_VERSION_TAG] == "1"
    assert float(challenger.tags[BASELINE_RMSE_TAG]) == pytest.approx(champion_rmse, abs=1e-6)
    assert float(challenger.tags[CANDIDATE_RMSE_TAG]) == pytest.approx(candidate_rmse, abs=1e-6)
    assert "Promotion gate: rejected" in challenger.description
    line = decision_line(result)
    assert line.startswith(f"Registered {MODEL_NAME} version 2 as @{CHALLENGER_ALIAS}: ")
    assert f"{candidate_rmse:.4f}" in line and f"{champion_rmse:.4f}" in line
    assert "@champion stays version 1" in line
    assert q6_champion_test_rmse(str(prepared_dir.parent / "data"), MODEL_NAME) == answer

    # The champion was scored again on the same trips, in a run nested under the candidate's.
    best_models = client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id
    (baseline,) = client.search_runs([best_models], "tags.`mlflow.parentRunId` != ''")
    assert baseline.data.tags["mlflow.parentRunId"] == challenger.run_id
    assert baseline.data.metrics[RMSE_METRIC] == pytest.approx(champion_rmse, abs=1e-9)

    # --promote always: the same weaker model replaces the champion, and says so.
    forced = register(prepared_dir, "--promote", "always")
    assert forced.exit_code == 0, forced.output
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert champion.version == "3"
    assert champion.tags[STATUS_TAG] == FORCED
    assert champion.tags[BASELINE_VERSION_TAG] == "1"
    assert "--promote always" in decision_line(forced)

    # The same model again: equal RMSE passes the gate.
    again = register(prepared_dir)
    assert again.exit_code == 0, again.output
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert (champion.version, champion.tags[STATUS_TAG]) == ("4", PROMOTED)
    assert champion.tags[BASELINE_RMSE_TAG] == champion.tags[CANDIDATE_RMSE_TAG]
    assert client.get_model_version_by_alias(MODEL_NAME, CHALLENGER_ALIAS).version == "2"


def test_max_regression_lets_a_slightly_worse_model_through(
    prepared_dir: Path, mlflow_server
) -> None:
    hpo(prepared_dir, 3)
    assert register(prepared_dir).exit_code == 0
    hpo(prepared_dir, 2, seed=0)
    result = register(prepared_dir, "--max_regression", "1")
    assert result.exit_code == 0, result.output
    client = MlflowClient(mlflow_server.uri)
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert (champion.version, champion.tags[STATUS_TAG]) == ("2", PROMOTED)
    assert float(champion.tags[CANDIDATE_RMSE_TAG]) > float(champion.tags[BASELINE_RMSE_TAG])
    assert "--max_regression 1" in decision_line(result)


def test_the_registered_run_carries_mlflows_regressor_metrics(
    prepared_dir: Path, mlflow_server
) -> None:
    hpo(prepared_dir, 2)
    assert register(prepared_dir).exit_code == 0
    client = MlflowClient(mlflow_server.uri)
    run = client.get_run(client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).run_id)
    metrics = run.data.metrics
    assert {"mean_absolute_error", "r2_score", "max_error", "mean_squared_error"} <= set(metrics)
    assert metrics[RMSE_METRIC] == pytest.approx(metrics["test_rmse"], abs=1e-9)
    assert metrics["example_count"] == len(raw_test_trips(prepared_dir))


def test_the_gate_never_compares_on_a_month_a_model_trained_on(
    prepared_dir: Path, raw_dir: Path, tmp_path: Path, mlflow_server
) -> None:
    """A test month that the champion trained on (reached with --allow_unordered_months):
    refused before any run, unless --promote always, which registers with a note."""
    hpo(prepared_dir, 2)
    assert register(prepared_dir).exit_code == 0  # trained on 2023-01
    other = tmp_path / "other"
    months = ("--train_month", MONTHS[1], "--val_month", MONTHS[2], "--test_month", MONTHS[0])
    prep = ["--raw_data_path", str(raw_dir), "--dest_path", str(other), *months]
    assert CliRunner().invoke(run_data_prep, [*prep, "--allow_unordered_months"]).exit_code == 0
    hpo(other, 1)
    client = MlflowClient(mlflow_server.uri)
    best_models = client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id
    runs = len(client.search_runs([best_models]))
    refused = register(other, raw_dir=raw_dir)
    assert_one_line_error(
        refused,
        f"cannot compare with @{CHAMPION_ALIAS} (version 1): @{CHAMPION_ALIAS} trained on green "
        f"trips of {MONTHS[0]}, the test month,",
        "--promote always",
    )
    assert len(client.search_runs([best_models])) == runs  # nothing scored, nothing logged
    forced = register(other, "--promote", "always", raw_dir=raw_dir)
    assert forced.exit_code == 0, forced.output
    assert f"Note: @{CHAMPION_ALIAS} trained on green trips of {MONTHS[0]}" in forced.output
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version == "2"


@pytest.mark.parametrize("bad", ["-0.1", "nan", "lots"])
def test_max_regression_must_be_a_number_of_minutes(bad: str) -> None:
    result = CliRunner().invoke(run_register_model, ["--max_regression", bad])
    assert result.exit_code == 2
    assert "--max_regression" in result.output


# ---------------------------------------------------------------- same data as the search


def test_pickles_of_other_data_than_the_search_are_refused(
    prepared_dir: Path, raw_dir: Path, tmp_path: Path, mlflow_server
) -> None:
    hpo(prepared_dir, 2)
    other_raw = tmp_path / "other"
    other_raw.mkdir()
    for seed, month in enumerate(MONTHS):  # other trips under the same names
        random_month(other_raw / f"green_tripdata_{month}.parquet", 300, seed + 10)
    # The same trips under another month's name: the months differ, the digests do not.
    (raw_dir / "green_tripdata_2022-12.parquet").hardlink_to(
        raw_dir / f"green_tripdata_{MONTHS[0]}.parquet"
    )
    other = tmp_path / "other-output"
    for raw, months in ((other_raw, ()), (raw_dir, ("--train_month", "2022-12"))):
        prep = ["--raw_data_path", str(raw), "--dest_path", str(other), *months]
        assert CliRunner().invoke(run_data_prep, prep).exit_code == 0, prep
        result = register(other, raw_dir=raw)
        error = assert_one_line_error(result, str(other), "--data_path", "hpo.py")
        assert "green_tripdata_" in error and "digest" in error
    client = MlflowClient(mlflow_server.uri)
    assert client.get_experiment_by_name(BEST_MODELS_EXPERIMENT) is None  # nothing scored
    assert client.search_registered_models() == []


def test_a_raw_test_month_other_than_the_preprocessed_one_is_refused(
    prepared_dir: Path, tmp_path: Path, mlflow_server
) -> None:
    hpo(prepared_dir, 1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    random_month(elsewhere / f"green_tripdata_{MONTHS[2]}.parquet", 400, seed=7)
    result = register(prepared_dir, raw_dir=elsewhere)
    assert_one_line_error(result, str(elsewhere), "dv.pkl", "--raw_data_path")
