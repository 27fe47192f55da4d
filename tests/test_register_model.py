"""register_model.py: top-N hyperopt runs scored, best test RMSE registered with alias champion."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from common import load_dataset, rmse
from hpo import run_hpo
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
