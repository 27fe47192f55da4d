"""preprocess_data.py: the vectorizer fitted on the training month, four files or none."""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import MONTHS, assert_one_line_error, random_month, write_trips, write_with_nulls

from homework.data import pickles
from homework.data.pickles import Prepared, write_outputs
from homework.data.trips import read_trips
from homework.errors import UserError
from preprocess_data import preprocess, run_data_prep

SPLITS = dict(zip(("train", "val", "test"), MONTHS, strict=True))


def test_vectorizer_is_fitted_on_training_month_only(raw_dir: Path) -> None:
    write_trips(raw_dir / "green_tripdata_2023-02.parquet", [10, 12], [200, 1], [201, 2])
    results = preprocess(raw_dir, "green", SPLITS)
    dv = results["dv"]
    assert "PU_DO=200_201" not in dv.vocabulary_
    train = read_trips(raw_dir / "green_tripdata_2023-01.parquet")
    expected = {
        f"PU_DO={a}_{b}" for a, b in zip(train.PULocationID, train.DOLocationID, strict=True)
    }
    assert set(dv.feature_names_) == expected | {"trip_distance"}


def test_unseen_zone_pairs_only_keep_trip_distance(raw_dir: Path) -> None:
    write_trips(raw_dir / "green_tripdata_2023-03.parquet", [10, 12], [200, 1], [201, 2], [4.0, 2])
    results = preprocess(raw_dir, "green", SPLITS)
    X_test, y_test = results["test"]
    row = results["dv"].inverse_transform(X_test[0])[0]
    assert row == {"trip_distance": 4.0}
    assert X_test.shape[1] == len(results["dv"].feature_names_)
    assert y_test.tolist() == [10.0, 12.0]


def test_cli_writes_exactly_four_files(raw_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    result = CliRunner().invoke(
        run_data_prep, ["--raw_data_path", str(raw_dir), "--dest_path", str(dest)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in dest.iterdir()) == ["dv.pkl", "test.pkl", "train.pkl", "val.pkl"]
    with open(dest / "train.pkl", "rb") as f:
        X, y = pickle.load(f)
    assert X.format == "csr" and X.shape[0] == len(y)
    with open(dest / "dv.pkl", "rb") as f:
        dv = pickle.load(f)
    assert dv.transform([{"trip_distance": 2.0}]).sum() == 2.0
    assert "Wrote 4 files" in result.stdout


def test_vectorizer_records_its_data_months(raw_dir: Path, tmp_path: Path) -> None:
    for month in ("2022-11", "2022-12"):
        (raw_dir / f"green_tripdata_{month}.parquet").hardlink_to(
            raw_dir / f"green_tripdata_{MONTHS[2]}.parquet"
        )
    dest = tmp_path / "out"
    args = ["--raw_data_path", str(raw_dir), "--dest_path", str(dest)]
    args += ["--train_month", "2022-11", "--val_month", "2022-12"]
    assert CliRunner().invoke(run_data_prep, args).exit_code == 0
    with open(dest / "dv.pkl", "rb") as f:
        dv = pickle.load(f)
    # The three files are one (hard links): one content, one digest, as `sha256sum` prints it.
    digest = hashlib.sha256((raw_dir / f"green_tripdata_{MONTHS[2]}.parquet").read_bytes())

    def path(month: str) -> str:
        return str((raw_dir / f"green_tripdata_{month}.parquet").resolve())

    assert (
        dv.trip_data_
        == {
            "dataset": "green",
            "raw_data_path": str(raw_dir.absolute()),  # as given: the later scripts read it
            "train_month": "2022-11",
            "val_month": "2022-12",
            "test_month": MONTHS[2],
            "train_file": path("2022-11"),
            "train_digest": digest.hexdigest()[:16],
            "val_file": path("2022-12"),
            "val_digest": digest.hexdigest()[:16],
            "test_file": path(MONTHS[2]),
            "test_digest": digest.hexdigest()[:16],
        }
    )


@pytest.mark.parametrize("option", ["--train_month", "--val_month", "--test_month"])
@pytest.mark.parametrize("bad", ["2023-1", "2023-13", "March", "2023/01"])
def test_month_must_be_yyyy_mm(option: str, bad: str) -> None:
    result = CliRunner().invoke(run_data_prep, [option, bad])
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


def test_dashed_option_aliases(raw_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dashed"
    result = CliRunner().invoke(
        run_data_prep, ["--raw-data-path", str(raw_dir), "--dest-path", str(dest)]
    )
    assert result.exit_code == 0, result.output
    assert len(list(dest.glob("*.pkl"))) == 4


def prep(raw_dir: Path, dest: Path, *extra: str):
    args = ["--raw_data_path", str(raw_dir), "--dest_path", str(dest), *extra]
    return CliRunner().invoke(run_data_prep, args)


def test_missing_raw_folder_says_make_data(run_script, tmp_path: Path) -> None:
    result = run_script("preprocess_data.py", "--raw_data_path", str(tmp_path / "nowhere"))
    assert_one_line_error(result, str(tmp_path / "nowhere"), "make data")
    assert not (tmp_path / "output").exists()


def test_every_missing_month_file_is_named(raw_dir: Path, tmp_path: Path) -> None:
    for month in MONTHS[1:]:
        (raw_dir / f"green_tripdata_{month}.parquet").unlink()
    message = assert_one_line_error(prep(raw_dir, tmp_path / "out"), "make data")
    assert "green_tripdata_2023-02.parquet" in message
    assert "green_tripdata_2023-03.parquet" in message
    assert "green_tripdata_2023-01.parquet" not in message
    assert not (tmp_path / "out").exists()


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a download that broke off halfway


def zero_the_middle(path: Path) -> None:
    data = path.read_bytes()
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes(64) + data[middle + 64 :])


@pytest.mark.parametrize(
    "damage",
    [
        cut_in_half,
        zero_the_middle,
        lambda path: path.write_text("<html>Access denied</html>"),
        lambda path: path.write_bytes(b""),
    ],
    ids=["truncated", "corrupt-middle", "html", "empty"],
)
def test_damaged_file_is_named(raw_dir: Path, tmp_path: Path, damage) -> None:
    path = raw_dir / "green_tripdata_2023-02.parquet"
    random_month(path, 5000, seed=1)  # several data pages, so the middle is data, not metadata
    damage(path)
    assert_one_line_error(prep(raw_dir, tmp_path / "out"), str(path), "make data")
    assert not (tmp_path / "out").exists()


def test_missing_columns_are_named(raw_dir: Path, tmp_path: Path) -> None:
    path = raw_dir / "green_tripdata_2023-01.parquet"
    pd.read_parquet(path).drop(columns=["trip_distance", "DOLocationID"]).to_parquet(path)
    message = assert_one_line_error(prep(raw_dir, tmp_path / "out"), str(path), "--dataset")
    assert "DOLocationID, trip_distance" in message


def test_month_without_a_1_to_60_minute_trip(raw_dir: Path, tmp_path: Path) -> None:
    path = write_trips(raw_dir / "green_tripdata_2023-03.parquet", [0.5, 61, 300], [1] * 3, [2] * 3)
    assert_one_line_error(prep(raw_dir, tmp_path / "out"), str(path), "1 to 60 minutes")


def test_yellow_month_with_green_option_is_explained(raw_dir: Path, tmp_path: Path) -> None:
    for month in MONTHS:
        random_month(raw_dir / f"green_tripdata_{month}.parquet", 50, seed=0, prefix="tpep")
    assert_one_line_error(prep(raw_dir, tmp_path / "out"), "lpep_pickup_datetime", "--dataset")


@pytest.mark.parametrize("where", ["is-a-file", "under-a-file", "read-only"])
def test_dest_path_not_writable(raw_dir: Path, tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    dest = {"is-a-file": blocker, "under-a-file": blocker / "output"}.get(where)
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes to read-only folders; the file variants cover this as root")
        dest = tmp_path / "read-only"
        dest.mkdir(mode=0o555)
    assert_one_line_error(prep(raw_dir, dest), str(dest), "--dest_path")
    assert blocker.read_text() == "not a folder"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
def test_failure_halfway_keeps_the_previous_output(
    prepared_dir: Path, raw_dir: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    before = snapshot(prepared_dir)
    assert sorted(before) == ["dv.pkl", "test.pkl", "train.pkl", "val.pkl"]
    random_month(raw_dir / "green_tripdata_2023-01.parquet", 300, seed=99)  # new data, new files
    results = preprocess(raw_dir, "green", SPLITS)
    written = []

    dump = pickles.dump_pickle

    def failing_dump(obj, path) -> None:
        if len(written) == 2:
            raise failure
        dump(obj, path)
        written.append(path)

    monkeypatch.setattr(pickles, "dump_pickle", failing_dump)
    with pytest.raises((UserError, KeyboardInterrupt)):
        write_outputs(results, prepared_dir)
    assert len(written) == 2  # two new files were written to the scratch folder...
    assert snapshot(prepared_dir) == before  # ...and none of them reached output/, no scratch left

    monkeypatch.undo()
    write_outputs(results, prepared_dir)
    after = snapshot(prepared_dir)
    assert sorted(after) == sorted(before) and after["train.pkl"] != before["train.pkl"]


def test_ctrl_c_between_the_moves_waits_for_all_four(
    prepared_dir: Path, raw_dir: Path, monkeypatch: pytest.MonkeyPatch, ctrl_c
) -> None:
    """Ctrl-C right after the first file is moved in: held back until all four are in (dv.pkl,
    which records the others, last), then it acts. Never a new file beside old ones."""
    before = snapshot(prepared_dir)
    random_month(raw_dir / "green_tripdata_2023-01.parquet", 300, seed=99)
    results = preprocess(raw_dir, "green", SPLITS)
    moved, replace = [], os.replace

    def replace_then_ctrl_c(source, target) -> None:
        replace(source, target)
        moved.append(Path(target).name)
        if len(moved) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(pickles.os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_outputs(results, prepared_dir)
    monkeypatch.undo()
    assert moved == ["train.pkl", "val.pkl", "test.pkl", "dv.pkl"]
    after = snapshot(prepared_dir)
    assert all(after[name] != before[name] for name in before)
    assert Prepared.read(prepared_dir).dataset("train")[0].shape[0] == results["train"][0].shape[0]


def test_a_mixed_set_is_refused_before_it_is_read(
    prepared_dir: Path, raw_dir: Path, tmp_path: Path
) -> None:
    """What a killed process (or a copy) can leave: a new file beside an old dv.pkl."""
    random_month(raw_dir / "green_tripdata_2023-01.parquet", 300, seed=99)
    write_outputs(preprocess(raw_dir, "green", SPLITS), tmp_path / "new")
    (prepared_dir / "train.pkl").write_bytes((tmp_path / "new" / "train.pkl").read_bytes())
    with pytest.raises(UserError) as refused:
        Prepared.read(prepared_dir).dataset("train")
    assert str(refused.value) == (
        f"{prepared_dir / 'train.pkl'} is not the file preprocess_data.py wrote beside "
        f"{prepared_dir / 'dv.pkl'} (the set is mixed, or the file was replaced): run "
        "preprocess_data.py again (make q2)."
    )
    assert Prepared.read(prepared_dir).dataset("val")  # the others are still the set's


def test_an_empty_dest_path_writes_nothing(raw_dir: Path, tmp_path: Path) -> None:
    """`--dest_path ""` would mean the current folder: refused before any work."""
    for empty in ("", " "):
        result = CliRunner().invoke(
            run_data_prep, ["--raw_data_path", str(raw_dir), "--dest_path", empty]
        )
        assert result.exit_code == 2 and "'--dest_path' / '--dest-path': is empty" in result.output
    assert not list(Path.cwd().glob("*.pkl"))


@pytest.mark.parametrize(
    "months",
    [
        ("2023-01", "2023-01", "2023-01"),
        ("2023-03", "2023-02", "2023-01"),
        ("2023-01", "2023-03", "2023-03"),
    ],
    ids=["all-the-same", "reversed", "val-is-test"],
)
def test_months_must_be_distinct_and_in_order(raw_dir: Path, tmp_path: Path, months) -> None:
    names = ("--train_month", "--val_month", "--test_month")
    args = [arg for pair in zip(names, months, strict=True) for arg in pair]
    message = assert_one_line_error(
        prep(raw_dir, tmp_path / "out", *args), "--allow_unordered_months"
    )
    train, val, test = months
    assert f"train {train}, val {val}, test {test}" in message
    assert not (tmp_path / "out").exists()

    allowed = prep(raw_dir, tmp_path / "out", *args, "--allow-unordered-months")
    assert allowed.exit_code == 0, allowed.output
    with open(tmp_path / "out" / "dv.pkl", "rb") as f:
        assert pickle.load(f).trip_data_["test_month"] == test


def test_help_explains_the_month_order_flag() -> None:
    result = CliRunner().invoke(run_data_prep, ["--help"])
    assert "--allow_unordered_months" in result.output and "train < val < test" in result.output


def test_invalid_trips_are_dropped_with_one_line_on_stderr(raw_dir: Path, tmp_path: Path) -> None:
    write_with_nulls(
        raw_dir / "green_tripdata_2023-01.parquet",
        [10, None, 10, 7],
        [10, 10, 10, 7],
        [1, 2, -5, 3],
    )
    write_with_nulls(raw_dir / "green_tripdata_2023-03.parquet", [10, 7], [10, 7], [None, 1])
    result = prep(raw_dir, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[1:] == [
        "Dropped 3 trips the model cannot take: train 2023-01: 1 with a missing zone id, "
        "1 with a negative or infinite trip_distance; test 2023-03: 1 with a missing trip_distance"
    ]
    with open(tmp_path / "out" / "dv.pkl", "rb") as f:
        assert pickle.load(f).feature_names_ == ["PU_DO=10_10", "PU_DO=7_7", "trip_distance"]
    with open(tmp_path / "out" / "train.pkl", "rb") as f:
        X, _ = pickle.load(f)
    assert X.shape == (2, 3) and np.isfinite(X.data).all()


def test_valid_months_print_only_the_progress_line(raw_dir: Path, tmp_path: Path) -> None:
    result = prep(raw_dir, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert len(result.stderr.splitlines()) == 1  # "Preprocessing ...": `make all` stays quiet


def test_a_folder_named_like_a_month_file_is_explained(raw_dir: Path, tmp_path: Path) -> None:
    path = raw_dir / "green_tripdata_2023-02.parquet"
    path.unlink()
    path.mkdir()
    message = assert_one_line_error(prep(raw_dir, tmp_path / "out"), str(path), "is a folder")
    assert "make data" in message


def test_scratch_folders_of_a_killed_write_are_removed_by_the_next(
    raw_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    left_behind = dest / f".tmp-{dead.pid}-abc123"
    left_behind.mkdir()
    (left_behind / "train.pkl").write_bytes(b"half")
    old_style = dest / ".tmp-x1y2z3"
    old_style.mkdir()
    alive = subprocess.Popen(["sleep", "60"])  # a second preprocessing, still writing
    try:
        running = dest / f".tmp-{alive.pid}-def456"
        running.mkdir()
        assert prep(raw_dir, dest).exit_code == 0
        assert sorted(path.name for path in dest.iterdir()) == [
            running.name,
            "dv.pkl",
            "test.pkl",
            "train.pkl",
            "val.pkl",
        ]
    finally:
        alive.kill()
        alive.wait()


def test_real_months_lose_no_trip_to_the_row_rules(taxi_data_dir: Path) -> None:
    """The real 2023 files have no missing zone id or distance and no negative distance."""
    results = preprocess(taxi_data_dir, "green", SPLITS)
    assert results["dropped"] == {"train": {}, "val": {}, "test": {}}


def test_one_null_zone_id_in_a_real_month_changes_nothing_else(
    taxi_data_dir: Path, tmp_path: Path, run_script
) -> None:
    """The issue's case: one null PULocationID made every PU_DO "10.0_10" (and val RMSE worse)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for month in MONTHS[1:]:
        (raw / f"green_tripdata_{month}.parquet").symlink_to(
            taxi_data_dir / f"green_tripdata_{month}.parquet"
        )
    january = pd.read_parquet(taxi_data_dir / f"green_tripdata_{MONTHS[0]}.parquet")
    minutes = (january.lpep_dropoff_datetime - january.lpep_pickup_datetime).dt.total_seconds() / 60
    zones = ["PULocationID", "DOLocationID"]
    common = january[zones].value_counts().index[0]  # its PU_DO stays a feature without the trip
    trip = january.index[(january[zones] == common).all(axis=1) & minutes.between(1, 60)][0]
    january["PULocationID"] = january["PULocationID"].astype("Int64")
    january.loc[trip, "PULocationID"] = None
    january.to_parquet(raw / f"green_tripdata_{MONTHS[0]}.parquet")

    done = run_script("preprocess_data.py", "--raw_data_path", str(raw), "--dest_path", "out")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[1:] == [
        "Dropped 1 trip the model cannot take: train 2023-01: 1 with a missing zone id"
    ]
    clean = preprocess(taxi_data_dir, "green", SPLITS)
    out = tmp_path / "out"
    assert Prepared.read(out).dv.feature_names_ == clean["dv"].feature_names_
    X_train, _ = Prepared.read(out).dataset("train")
    assert X_train.shape[0] == clean["train"][0].shape[0] - 1
    for name in ("val", "test"):
        X, y = Prepared.read(out).dataset(name)
        assert (clean[name][0] != X).nnz == 0 and np.array_equal(y, clean[name][1])
