"""register_model.py: top-N hyperopt runs scored, best test RMSE registered with alias champion."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MONTHS, assert_one_line_error, write_trips
from mlflow.tracking import MlflowClient

from answers import q5_best_rmse, q6_champion_test_rmse
from common import HPO_EXPERIMENT_NAME, SEARCH_TAG, load_dataset, rmse
from hpo import run_hpo
from preprocess_data import run_data_prep
from register_model import CHAMPION_ALIAS, EXPERIMENT_NAME, run_register_model

MODEL_NAME = "test-model"


def register(prepared_dir: Path, *extra: str):
    args = ["--data_path", str(prepared_dir), "--model_name", MODEL_NAME, *extra]
    return CliRunner().invoke(run_register_model, args)


def test_registers_lowest_test_rmse_as_champion(prepared_dir: Path, mlflow_server) -> None:
    assert (
        CliRunner()
        .invoke(run_hpo, ["--data_path", str(prepared_dir), "--num_trials", "4"])
        .exit_code
        == 0
    )
    result = register(prepared_dir, "--top_n", "3")
    assert result.exit_code == 0, result.output

    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
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
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    X_test, y_test = load_dataset(prepared_dir, "test")
    champion_rmse = rmse(y_test, model.predict(X_test))
    assert champion_rmse == pytest.approx(runs[0].data.metrics["test_rmse"], rel=1e-12)
    assert f"test RMSE: {champion_rmse:.4f}" in result.stdout


def test_fewer_runs_than_top_n_uses_those(prepared_dir: Path, mlflow_server) -> None:
    assert (
        CliRunner()
        .invoke(run_hpo, ["--data_path", str(prepared_dir), "--num_trials", "2"])
        .exit_code
        == 0
    )
    result = register(prepared_dir, "--top_n", "5")
    assert result.exit_code == 0, result.output
    assert "Only 2 finished hyperopt runs" in result.stderr


def test_second_registration_makes_version_2(prepared_dir: Path, mlflow_server) -> None:
    assert (
        CliRunner()
        .invoke(run_hpo, ["--data_path", str(prepared_dir), "--num_trials", "2"])
        .exit_code
        == 0
    )
    for _ in range(2):
        assert register(prepared_dir).exit_code == 0
    client = MlflowClient(mlflow_server.uri)
    assert client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version == "2"


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
    hpo = CliRunner().invoke(run_hpo, ["--data_path", str(prepared_dir), "--num_trials", "3"])
    assert hpo.exit_code == 0, hpo.output
    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.get_experiment_by_name(HPO_EXPERIMENT_NAME).experiment_id
    good = {run.info.run_id: run for run in client.search_runs([experiment_id])}
    (search_id,) = {run.data.tags[SEARCH_TAG] for run in good.values()}

    def fake_trial(search: str, status: str | None, deleted: bool = False) -> None:
        run = client.create_run(experiment_id, tags={SEARCH_TAG: search})
        client.log_metric(run.info.run_id, "rmse", 0.001)  # better than any real trial
        if status:
            client.set_terminated(run.info.run_id, status)
        if deleted:
            client.delete_run(run.info.run_id)

    fake_trial(search_id, "FAILED")
    fake_trial(search_id, None)  # a crashed trial left RUNNING
    fake_trial(search_id, "FINISHED", deleted=True)
    fake_trial("a-newer-search", "FINISHED", deleted=True)  # newest, but deleted

    result = register(prepared_dir, "--top_n", "5")
    assert result.exit_code == 0, result.output
    assert "Only 3 finished hyperopt runs: using those." in result.stderr
    best_models = client.get_experiment_by_name(EXPERIMENT_NAME).experiment_id
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
    for step in range(2):
        if step == 1:  # second invocation: the usual, noisier data into the same output/
            prep = CliRunner().invoke(
                run_data_prep, ["--raw_data_path", str(raw_dir), "--dest_path", str(prepared_dir)]
            )
            assert prep.exit_code == 0, prep.output
        hpo = CliRunner().invoke(run_hpo, ["--data_path", str(prepared_dir), "--num_trials", "3"])
        assert hpo.exit_code == 0, hpo.output
        result = register(prepared_dir, "--top_n", "2")
        assert result.exit_code == 0, result.output

    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.get_experiment_by_name(HPO_EXPERIMENT_NAME).experiment_id
    trials = client.search_runs([experiment_id], order_by=["attributes.start_time ASC"])
    first, second = trials[:3], trials[3:]
    assert len(second) == 3
    assert {run.data.tags[SEARCH_TAG] for run in second}.isdisjoint(
        {run.data.tags[SEARCH_TAG] for run in first}
    )
    newest_best = min(run.data.metrics["rmse"] for run in second)
    assert min(run.data.metrics["rmse"] for run in first) < newest_best  # older runs look better
    assert q5_best_rmse() == f"{newest_best:.3f}"

    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert champion.version == "2"
    assert CHAMPION_ALIAS not in client.get_model_version(MODEL_NAME, "1").aliases
    hpo_run_id = client.get_run(champion.run_id).data.tags["hpo_run_id"]
    assert hpo_run_id in {run.info.run_id for run in second}
    X_test, y_test = load_dataset(prepared_dir, "test")
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
    assert q6_champion_test_rmse(str(prepared_dir), MODEL_NAME) == (
        f"{rmse(y_test, model.predict(X_test)):.3f}"
    )
