"""predict.py: the registered champion answers for raw trips (serving: test_serve_model.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import (
    PLANTED_FOREST,
    ROOT,
    TEST_MODEL_NAME,
    TEST_MODEL_URI,
    Payload,
    assert_one_line_error,
    free_port,
    register_champion,
    write_trips,
    write_with_nulls,
)
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from homework.config import CACHE_DIR_VARIABLE, KEY_DIR_VARIABLE, PYFUNC_ARTIFACT
from homework.data.pickles import Prepared
from homework.errors import UserError
from homework.forest import fit_forest, rmse
from homework.model.features import RAW_COLUMNS, RAW_DTYPES
from homework.model.trip_model import TripDurationModel
from homework.models import model_name
from homework.tracking.connection import MLFLOW_3
from homework.trust.loading import PICKLED_CHAMPION, load_pyfunc
from homework.trust.signing import sign_logged_model
from predict import read_input, run_predict


def test_read_trips_with_times_keeps_1_to_60_minutes(tmp_path: Path) -> None:
    path = write_trips(tmp_path / "t.parquet", [0.5, 10, 61, 30], [1, 2, 3, 4], [5, 6, 7, 8])
    trips = read_input(path)
    assert list(trips.columns) == [*RAW_COLUMNS, "duration"]
    assert trips["duration"].tolist() == [10.0, 30.0]


def test_read_trips_without_times_keeps_every_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame(
        {"PULocationID": [1, 2], "DOLocationID": [3, 4], "trip_distance": [1.0, 2.0]}
    ).to_parquet(path)
    assert read_input(path).to_dict("list") == {
        "PULocationID": [1, 2],
        "DOLocationID": [3, 4],
        "trip_distance": [1.0, 2.0],
    }


def test_read_trips_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"PULocationID": [1]}).to_parquet(path)
    with pytest.raises(UserError, match=r"lacks the column.*DOLocationID"):
        read_input(path)


def test_read_input_refuses_trips_the_model_cannot_take(tmp_path: Path) -> None:
    without_times = tmp_path / "raw.parquet"
    pd.DataFrame(
        {"PULocationID": [1, None, 3], "DOLocationID": [3, 4, 5], "trip_distance": [1.0, 2.0, -3]}
    ).to_parquet(without_times)
    with pytest.raises(UserError) as error:
        read_input(without_times)
    assert str(error.value) == (
        f"{without_times} has 2 trips the model cannot take (1 with a missing zone id, "
        "1 with a negative or infinite trip_distance): drop or fix them."
    )
    with_times = write_with_nulls(tmp_path / "timed.parquet", [1, 2], [3, 4], [None, 1.0])
    with pytest.raises(
        UserError, match=r"1 trip the model cannot take \(1 with a missing trip_dis"
    ):
        read_input(with_times)


def test_read_input_gives_integer_zone_ids(tmp_path: Path) -> None:
    path = tmp_path / "floats.parquet"
    pd.DataFrame(
        {"PULocationID": [10.0, 7.0], "DOLocationID": [10.0, 8.0], "trip_distance": [1.0, 2.0]}
    ).to_parquet(path)
    trips = read_input(path)
    assert trips.dtypes.astype(str).to_dict() == RAW_DTYPES  # the model's signature takes these
    assert trips["PULocationID"].tolist() == [10, 7]


@pytest.mark.parametrize("times", [False, True], ids=["three-columns", "with-times"])
def test_read_input_refuses_a_file_without_trips(tmp_path: Path, times: bool) -> None:
    path = tmp_path / "empty.parquet"
    if times:
        write_with_nulls(path, [], [], [])
    else:
        pd.DataFrame(
            {name: pd.Series([], dtype=RAW_DTYPES[name]) for name in RAW_COLUMNS}
        ).to_parquet(path)
    with pytest.raises(UserError, match=r"empty.parquet has no trips: check the file."):
        read_input(path)


def test_bad_input_file_is_one_line_before_any_model_is_loaded(tmp_path: Path, run_script) -> None:
    """No tracking server needed: the file is refused before the model is loaded."""
    bad = write_with_nulls(tmp_path / "bad.parquet", [1, 2], [3, 4], [-1.0, 1.0])
    output = tmp_path / "predictions.parquet"
    env = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    done = run_script("predict.py", "--input", str(bad), "--output", str(output), env=env)
    assert_one_line_error(done, str(bad), "1 with a negative or infinite trip_distance")
    assert not output.exists()

    empty = tmp_path / "empty.parquet"
    pd.DataFrame({name: pd.Series([], dtype=RAW_DTYPES[name]) for name in RAW_COLUMNS}).to_parquet(
        empty
    )
    done = run_script("predict.py", "--input", str(empty), "--output", str(output), env=env)
    assert_one_line_error(done, str(empty), "has no trips")

    zones = tmp_path / "zones.parquet"
    pd.DataFrame(
        {"PULocationID": [-5, 0, 7], "DOLocationID": [1, 2, 3], "trip_distance": [1.0, 2.0, 3.0]}
    ).to_parquet(zones)
    done = CliRunner().invoke(run_predict, ["--input", str(zones), "--output", str(output)])
    assert_one_line_error(done, str(zones), "2 trips the model cannot take (2 with a zone id below")
    assert not output.exists()
    for option in ("--input", "--output"):
        done = CliRunner().invoke(run_predict, [option, ""])
        assert done.exit_code == 2 and f"'{option}': is empty" in done.output, done.output


@pytest.mark.parametrize("distance", ["nan", "inf", "-1"])
def test_one_trip_needs_a_finite_distance(distance: str) -> None:
    result = CliRunner().invoke(
        run_predict, ["--pu", "1", "--do", "2", "--distance", distance], catch_exceptions=False
    )
    assert result.exit_code == 2 and "--distance" in result.output


def test_champion_refuses_invalid_trips_and_answers_none(prepared_dir: Path) -> None:
    """The pyfunc itself, as `mlflow models serve` runs it: one error naming the reasons."""
    X_train, y_train = Prepared.read(prepared_dir).dataset("train")
    model = TripDurationModel(Prepared.read(prepared_dir).dv, fit_forest(X_train, y_train))
    trips = pd.DataFrame(
        {
            "PULocationID": [3, 3, 3, 0, -5],
            "DOLocationID": [5, 5, 5, 5, 5],
            "trip_distance": [2.5, np.nan, -3, 1.0, 1.0],
        }
    )
    with pytest.raises(MlflowException) as error:
        model.predict(None, trips)
    assert error.value.error_code == "INVALID_PARAMETER_VALUE"
    assert error.value.message == (
        "4 of 5 trips cannot be predicted: 2 with a zone id below 1, 1 with a missing "
        "trip_distance, 1 with a negative or infinite trip_distance. Send whole-number zone ids "
        "of 1 or more and a trip_distance of 0 or more."
    )
    assert model.predict(None, trips.head(1)).shape == (1,)
    assert model.predict(None, trips.head(0)).tolist() == []


def test_predict_file_and_one_trip(prepared_dir: Path, mlflow_server, run_script, tmp_path) -> None:
    test_month = register_champion(prepared_dir)
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    output = tmp_path / "out" / "predictions.parquet"
    args = ["--model_uri", TEST_MODEL_URI, "--input", str(test_month), "--output", str(output)]
    done = run_script("predict.py", *args, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    written = pd.read_parquet(output)
    assert list(written.columns) == [*RAW_COLUMNS, "duration", "predicted_duration"]
    assert len(written) == len(read_input(test_month))
    version = MlflowClient(mlflow_server.uri).get_model_version_by_alias(
        TEST_MODEL_NAME, "champion"
    )
    file_rmse = rmse(written["duration"], written["predicted_duration"])
    assert file_rmse == pytest.approx(float(version.tags["test_rmse"]), abs=1e-6)
    assert f"RMSE on {len(written)} trips: {file_rmse:.4f}" in done.stdout
    assert not list(output.parent.glob(".*tmp"))

    one = run_script(
        "predict.py",
        "--model_uri",
        TEST_MODEL_URI,
        "--pu",
        "3",
        "--do",
        "5",
        "--distance",
        "2.5",
        env=env,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    model = load_pyfunc(TEST_MODEL_URI)
    trip = pd.DataFrame({"PULocationID": [3], "DOLocationID": [5], "trip_distance": [2.5]})
    assert one.stdout.strip() == f"predicted duration: {model.predict(trip)[0]:.2f} minutes"


def test_one_trip_reads_the_verified_champion_without_mlflow(
    prepared_dir: Path, mlflow_server, run_script, tmp_path
) -> None:
    """The champion fetched over REST, checked, and read by the project's own code: MLflow is
    never imported. The alias is asked every time, and a key no longer trusted is noticed."""
    register_champion(prepared_dir)
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri, "PYTHONPROFILEIMPORTTIME": "1"}
    one_trip = ("--model_uri", TEST_MODEL_URI, "--pu", "3", "--do", "5", "--distance", "2.5")
    first = run_script("predict.py", *one_trip, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in first.stderr.splitlines()]
    assert "mlflow" not in imported and "homework.model.predictor" in imported
    assert f"Verified {TEST_MODEL_URI} (version 1): " in first.stderr

    # A second version, then the alias moved back by hand: version 1 answers, and says so.
    register_champion(prepared_dir)
    MlflowClient(mlflow_server.uri).set_registered_model_alias(TEST_MODEL_NAME, "champion", "1")
    moved = run_script("predict.py", *one_trip, env=env)
    assert f"Verified {TEST_MODEL_URI} (version 1): " in moved.stderr
    assert moved.stdout == first.stdout

    # Another machine's keys: the same model is refused, in one line.
    stranger = {**env, KEY_DIR_VARIABLE: str(tmp_path / "stranger")}
    refused = run_script("predict.py", *one_trip, env=stranger)
    assert_one_line_error(refused, "(version 1)", "signed by another key")


def test_the_kept_forest_is_used_only_from_a_folder_nobody_else_can_change(
    prepared_dir: Path, mlflow_server, run_script, tmp_path
) -> None:
    """The verified forest is kept as this machine's pickle; a kept file that is not what was
    written is read again from the skops file, and a folder others could change is never read."""
    register_champion(prepared_dir)
    cache = tmp_path / "cache"
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri, CACHE_DIR_VARIABLE: str(cache)}
    one_trip = ("--model_uri", TEST_MODEL_URI, "--pu", "3", "--do", "5", "--distance", "2.5")
    first = run_script("predict.py", *one_trip, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    (kept,) = (cache / "forests").glob("*.pkl")

    kept.write_bytes(kept.read_bytes()[:100])  # a write cut short
    again = run_script("predict.py", *one_trip, env=env)
    assert again.stdout == first.stdout
    (kept,) = (cache / "forests").glob("*.pkl")  # the cut one removed, a whole one kept

    marker = tmp_path / "marker"
    kept.write_bytes(pickle.dumps(Payload(marker, PLANTED_FOREST)))  # a planted pickle
    kept.rename(kept.with_name(f"{kept.name.split('-')[0]}-{sha256_16(kept)}.pkl"))
    (cache / "forests").chmod(0o777)  # ... in a folder anybody can change
    planted = run_script("predict.py", *one_trip, env=env)
    assert planted.stdout == first.stdout and not marker.exists()


def sha256_16(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_the_default_input_is_the_test_month_preprocessing_read(
    prepared_dir: Path, tmp_path: Path, run_script
) -> None:
    """No --input: the test month in the folder output/dv.pkl records (where it moved to, with
    --raw_data_path); predict.py runs in the folder of output/, as the course's scripts do."""
    assert prepared_dir == tmp_path / "output"  # run_script's folder holds output/dv.pkl
    moved = tmp_path / "taxi"
    (tmp_path / "data").rename(moved)
    gone = run_script("predict.py", "--output", str(tmp_path / "p.parquet"))
    assert gone.returncode == 2, gone.stderr
    assert f"{tmp_path / 'data' / 'green_tripdata_2023-03.parquet'} does not exist" in gone.stderr
    uri = f"http://127.0.0.1:{free_port()}"  # nothing there: the input was found and read
    found = run_script("predict.py", "--raw_data_path", str(moved), "--tracking_uri", uri)
    assert_one_line_error(found, f"cannot reach the MLflow tracking server at {uri}")


def test_predict_bad_input_is_one_clear_line(run_script, mlflow_server, tmp_path) -> None:
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    partial = run_script("predict.py", "--pu", "3", env=env)
    assert partial.returncode == 2 and "add --do, --distance" in partial.stderr

    missing_file = run_script("predict.py", "--input", str(tmp_path / "nope.parquet"), env=env)
    assert missing_file.returncode == 2 and "nope.parquet does not exist" in missing_file.stderr

    no_model = run_script(
        "predict.py",
        "--model_uri",
        TEST_MODEL_URI,
        "--pu",
        "1",
        "--do",
        "2",
        "--distance",
        "1",
        env=env,
    )
    assert no_model.returncode == 1
    assert "cannot load" in no_model.stderr and "make q6" in no_model.stderr
    assert "Traceback" not in no_model.stderr


def test_a_pickled_champion_of_before_loads_with_a_note(
    prepared_dir: Path, mlflow_server, run_script
) -> None:
    """A champion registered before champions were models from code: the pyfunc pickled,
    with its code, signed. It is verified and loaded as before, with one line saying so;
    MLflow 3 told to refuse pickles refuses it, in one line."""
    import mlflow

    X_train, y_train = Prepared.read(prepared_dir).dataset("train")
    forest = fit_forest(X_train, y_train, n_estimators=3, random_state=0)
    model = TripDurationModel(Prepared.read(prepared_dir).dv, forest)
    mlflow.set_experiment("before-models-from-code")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            **model_name(PYFUNC_ARTIFACT),
            python_model=model,
            code_paths=[str(ROOT / "homework")],
            pip_requirements=[],
        )
        sign_logged_model(info)
    version = mlflow.register_model(info.model_uri, TEST_MODEL_NAME).version
    MlflowClient().set_registered_model_alias(TEST_MODEL_NAME, "champion", version)

    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    one_trip = ("--model_uri", TEST_MODEL_URI, "--pu", "3", "--do", "5", "--distance", "2.5")
    done = run_script("predict.py", *one_trip, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    (note,) = [line for line in done.stderr.splitlines() if line.startswith("Note:")]
    assert note == f"Note: {TEST_MODEL_URI} {PICKLED_CHAMPION}"
    trip = pd.DataFrame({"PULocationID": [3], "DOLocationID": [5], "trip_distance": [2.5]})
    expected = model.predict(None, trip)[0]
    assert done.stdout.strip() == f"predicted duration: {expected:.2f} minutes"
    if MLFLOW_3:
        refuse = {**env, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
        refused = run_script("predict.py", *one_trip, env=refuse)
        assert_one_line_error(refused, f"cannot load {TEST_MODEL_URI}", "pickle")
