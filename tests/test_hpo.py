"""hpo.py: each trial is one finished run with params, `rmse` and a model, tagged by search."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from common import HPO_EXPERIMENT_NAME, SEARCH_TAG
from hpo import SEARCH_SPACE, run_hpo

PARAMS = {"max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"}


def hpo_runs(uri: str):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT_NAME)
    return client.search_runs([experiment.experiment_id], order_by=["metrics.rmse ASC"])


def test_each_trial_is_one_run(prepared_dir: Path, mlflow_server) -> None:
    args = ["--data_path", str(prepared_dir), "--num_trials", "3", "--tracking_uri"]
    result = CliRunner().invoke(run_hpo, [*args, mlflow_server.uri])
    assert result.exit_code == 0, result.output
    runs = hpo_runs(mlflow_server.uri)
    assert len(runs) == 3
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert len({run.data.tags[SEARCH_TAG] for run in runs}) == 1
    for run in runs:
        assert set(run.data.params) == PARAMS
        assert run.data.params["random_state"] == "42"
        assert 1 <= int(run.data.params["max_depth"]) <= 20
        assert 10 <= int(run.data.params["n_estimators"]) <= 50
        assert run.data.metrics["rmse"] > 0
    best = runs[0].data.metrics["rmse"]
    assert f"best validation RMSE: {best:.4f}" in result.stdout


def test_logged_model_reproduces_the_trial_rmse(prepared_dir: Path, mlflow_server) -> None:
    from common import load_dataset, rmse

    CliRunner().invoke(
        run_hpo, ["--data_path", str(prepared_dir), "--num_trials", "1"], catch_exceptions=False
    )
    (run,) = hpo_runs(mlflow_server.uri)
    model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    X_val, y_val = load_dataset(prepared_dir, "val")
    assert rmse(y_val, model.predict(X_val)) == pytest.approx(run.data.metrics["rmse"], rel=1e-12)


def test_same_seed_same_trials(prepared_dir: Path, mlflow_server) -> None:
    for _ in range(2):
        args = ["--data_path", str(prepared_dir), "--num_trials", "2", "--seed", "7"]
        assert CliRunner().invoke(run_hpo, args).exit_code == 0
    runs = hpo_runs(mlflow_server.uri)
    searches: dict[str, list] = {}
    for run in runs:
        searches.setdefault(run.data.tags[SEARCH_TAG], []).append(
            (run.data.params["max_depth"], round(run.data.metrics["rmse"], 12))
        )
    first, second = searches.values()
    assert sorted(first) == sorted(second)


def test_search_space_is_the_courses() -> None:
    assert set(SEARCH_SPACE) == PARAMS
    assert SEARCH_SPACE["random_state"] == 42
