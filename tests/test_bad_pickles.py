"""Damaged or foreign pickles in the data folder: one line in every script, and no MLflow run.

Every case is a mistake that can be seen when the pickles are loaded, before a run starts,
so none may leave a FAILED (or any) run behind.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import assert_one_line_error
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from homework.data.pickles import Prepared, file_sha256
from homework.errors import UserError
from hpo import run_optimization
from register_model import run_register_model
from train import run_train


def two_key_dict(path: Path) -> None:
    """`X, y = d` would unpack a dict's two keys."""
    with open(path, "wb") as f:
        pickle.dump({"X": 1, "y": 2}, f)


def nan_in_x(path: Path) -> None:
    with open(path, "rb") as f:
        X, y = pickle.load(f)
    X.data[0] = np.nan  # what a missing trip_distance used to become
    with open(path, "wb") as f:
        pickle.dump((X, y), f)


def one_feature_less(path: Path) -> None:
    """As if copied from the output of another preprocessing run (another vocabulary)."""
    with open(path, "rb") as f:
        X, y = pickle.load(f)
    with open(path, "wb") as f:
        pickle.dump((X[:, 1:], y), f)


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def dict_instead_of_vectorizer(path: Path) -> None:
    with open(path, "wb") as f:
        pickle.dump({"feature_names_": []}, f)


CASES = [
    (run_train, "train.pkl", two_key_dict, "does not hold what preprocess_data.py writes (dict)"),
    (run_train, "val.pkl", two_key_dict, "does not hold what preprocess_data.py writes (dict)"),
    (run_train, "train.pkl", nan_in_x, "holds NaN, infinite or non-numeric values"),
    (run_train, "val.pkl", one_feature_less, "feature columns but dv.pkl"),
    (
        run_optimization,
        "train.pkl",
        two_key_dict,
        "does not hold what preprocess_data.py writes (dict)",
    ),
    (
        run_optimization,
        "val.pkl",
        two_key_dict,
        "does not hold what preprocess_data.py writes (dict)",
    ),
    (run_optimization, "val.pkl", nan_in_x, "holds NaN, infinite or non-numeric values"),
    (run_register_model, "val.pkl", two_key_dict, "does not hold what preprocess_data.py"),
    (run_register_model, "test.pkl", nan_in_x, "holds NaN, infinite or non-numeric values"),
    (run_register_model, "dv.pkl", truncated, "is damaged"),
    (run_register_model, "dv.pkl", dict_instead_of_vectorizer, "does not hold what"),
]


def record_digests(folder: Path) -> None:
    """What a preprocess_data.py that wrote damaged files would leave: dv.pkl records them.
    (A damaged file that dv.pkl does not record is refused before it is read: see below.)"""
    with open(folder / "dv.pkl", "rb") as f:
        dv = pickle.load(f)
    dv.outputs_ = {name: file_sha256(folder / name) for name in dv.outputs_}
    with open(folder / "dv.pkl", "wb") as f:
        pickle.dump(dv, f)


def test_bad_pickles_are_one_line_and_leave_no_run(prepared_dir: Path, mlflow_server) -> None:
    """train.py, hpo.py and register_model.py, each through its command line, on one server."""
    good = {path.name: path.read_bytes() for path in prepared_dir.iterdir()}
    mixed = (run_train, "train.pkl", "is not the file preprocess_data.py wrote beside")
    for command, name, damage, message in [*CASES, (*mixed[:2], one_feature_less, mixed[2])]:
        damage(prepared_dir / name)
        if name != "dv.pkl" and message != mixed[2]:
            record_digests(prepared_dir)
        args = ["--data_path", str(prepared_dir)]
        if command is run_register_model:
            args += ["--raw_data_path", str(prepared_dir.parent / "data")]
        result = CliRunner().invoke(command, args)
        assert_one_line_error(result, str(prepared_dir / name), message, "preprocess_data.py again")
        for restored in (name, "dv.pkl"):
            (prepared_dir / restored).write_bytes(good[restored])
    client = MlflowClient(mlflow_server.uri)
    experiments = [e.experiment_id for e in client.search_experiments(ViewType.ALL)]
    assert client.search_runs(experiments, run_view_type=ViewType.ALL) == []


def test_load_dataset_refuses_infinite_and_non_numeric_values(prepared_dir: Path) -> None:
    path = prepared_dir / "val.pkl"
    X, y = Prepared.read(prepared_dir).dataset("val")
    for bad in ((X, np.where(np.arange(len(y)) == 3, np.inf, y)), (X, np.full(len(y), "a"))):
        with open(path, "wb") as f:
            pickle.dump(bad, f)
        record_digests(prepared_dir)
        with pytest.raises(UserError, match="NaN, infinite or non-numeric"):
            Prepared.read(prepared_dir).dataset("val")


@pytest.mark.parametrize("name", ["", "team/model", " spaced", "a  b"])
def test_model_names_that_cannot_be_loaded_back_fail_at_once(name: str, tmp_path: Path) -> None:
    """Before any data is read or server reached: the data folder does not even exist."""
    result = CliRunner().invoke(
        run_register_model, ["--data_path", str(tmp_path / "nowhere"), "--model_name", name]
    )
    assert result.exit_code == 2, result.output
    assert "--model_name" in result.output and "cannot be loaded back" in result.output
