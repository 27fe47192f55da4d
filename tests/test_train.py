"""train.py: one autologged run with the forest's parameters, against a real tracking server."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from conftest import assert_one_line_error, free_port
from mlflow.tracking import MlflowClient

from homework.config import TRAIN_EXPERIMENT
from homework.data.pickles import Prepared
from homework.forest import rmse
from homework.model.features import keep_sparse
from train import run_train


def test_train_logs_one_autologged_run(prepared_dir: Path, mlflow_server) -> None:
    result = CliRunner().invoke(
        run_train, ["--data_path", str(prepared_dir), "--tracking_uri", mlflow_server.uri]
    )
    assert result.exit_code == 0, result.output
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(TRAIN_EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["max_depth"] == "10"
    assert params["random_state"] == "0"
    assert params["min_samples_split"] == "2"  # autolog records the defaults too
    assert "training_root_mean_squared_error" in run.data.metrics
    val_rmse = run.data.metrics["val_rmse"]
    assert f"validation RMSE: {val_rmse:.4f}" in result.stdout
    # Through the run, not its artifact list: on MLflow 3 a model is not among the artifacts.
    model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert model.get_params()["max_depth"] == 10
    X_val, y_val = Prepared.read(prepared_dir).dataset("val")
    assert rmse(y_val, model.predict(X_val)) == pytest.approx(val_rmse, rel=1e-12)


def test_autolog_never_makes_the_training_matrix_dense(
    prepared_dir: Path, mlflow_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 3 autolog densifies X for a dataset despite log_datasets=False (GBs on real data)."""
    densified = []
    original = sp.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        densified.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    result = CliRunner().invoke(run_train, ["--data_path", str(prepared_dir)])
    assert result.exit_code == 0, result.output
    X_train, _ = Prepared.read(prepared_dir).dataset("train")
    assert X_train.shape not in densified


def test_keep_sparse_shares_the_arrays_and_refuses_to_densify(prepared_dir: Path) -> None:
    X_train, _ = Prepared.read(prepared_dir).dataset("train")
    kept = keep_sparse(X_train)
    assert sp.issparse(kept) and kept.shape == X_train.shape
    assert np.shares_memory(kept.data, X_train.data)
    with pytest.raises(TypeError, match="kept sparse"):
        kept.toarray()


def test_train_leaves_no_autolog_behind(prepared_dir: Path, mlflow_server) -> None:
    from mlflow.utils.autologging_utils import autologging_is_disabled

    result = CliRunner().invoke(
        run_train, ["--data_path", str(prepared_dir), "--tracking_uri", mlflow_server.uri]
    )
    assert result.exit_code == 0, result.output  # autolog was on for a whole run ...
    assert autologging_is_disabled("sklearn")  # ... and is off again


def test_missing_output_folder_says_preprocess_first(tmp_path: Path) -> None:
    result = CliRunner().invoke(run_train, ["--data_path", str(tmp_path / "output")])
    assert_one_line_error(result, str(tmp_path / "output"), "preprocess_data.py first")


def test_incomplete_output_names_the_missing_file(prepared_dir: Path) -> None:
    (prepared_dir / "val.pkl").unlink()
    result = CliRunner().invoke(run_train, ["--data_path", str(prepared_dir)])
    message = assert_one_line_error(result, "val.pkl", "preprocess_data.py first")
    assert "train.pkl" not in message


def test_damaged_pickle_says_preprocess_again(prepared_dir: Path, mlflow_server) -> None:
    path = prepared_dir / "train.pkl"
    path.write_bytes(path.read_bytes()[:100])
    result = CliRunner().invoke(run_train, ["--data_path", str(prepared_dir)])
    assert_one_line_error(result, str(path), "preprocess_data.py again")


def test_unreachable_server_fails_in_seconds_with_one_line(prepared_dir: Path, run_script) -> None:
    uri = f"http://student:s3cret@127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    result = run_script("train.py", "--data_path", str(prepared_dir), "--tracking_uri", uri)
    elapsed = time.monotonic() - started
    shown_uri = uri.replace("s3cret", "***")
    assert_one_line_error(result, shown_uri, "make server")
    assert "s3cret" not in result.stderr + result.stdout  # no password in any message
    assert elapsed < 20, f"took {elapsed:.1f} s"  # interpreter start-up included
