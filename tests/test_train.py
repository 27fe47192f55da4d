"""train.py: one autologged run with the forest's parameters, against a real tracking server."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from train import EXPERIMENT_NAME, run_train


def test_train_logs_one_autologged_run(prepared_dir: Path, mlflow_server) -> None:
    result = CliRunner().invoke(
        run_train, ["--data_path", str(prepared_dir), "--tracking_uri", mlflow_server.uri]
    )
    assert result.exit_code == 0, result.output
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["max_depth"] == "10"
    assert params["random_state"] == "0"
    assert params["min_samples_split"] == "2"  # autolog records the defaults too
    assert "training_root_mean_squared_error" in run.data.metrics
    val_rmse = run.data.metrics["val_rmse"]
    assert f"validation RMSE: {val_rmse:.4f}" in result.stdout
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert "model" in artifacts


def test_train_leaves_no_autolog_behind(prepared_dir: Path, mlflow_server) -> None:
    from mlflow.utils.autologging_utils import autologging_is_disabled

    CliRunner().invoke(
        run_train, ["--data_path", str(prepared_dir), "--tracking_uri", mlflow_server.uri]
    )
    assert autologging_is_disabled("sklearn")
