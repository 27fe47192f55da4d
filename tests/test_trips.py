"""trips.py: a TLC month read into trips of 1 to 60 minutes with their features' columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from conftest import MONTHS, write_trips, write_with_nulls

from homework.data.trips import read_month, read_trips, read_valid_trips
from homework.errors import UserError
from homework.model.features import BAD_DISTANCE, MISSING_DISTANCE, MISSING_ZONE, RAW_DTYPES
from preprocess_data import preprocess

SPLITS = dict(zip(("train", "val", "test"), MONTHS, strict=True))


def test_duration_filter_keeps_1_to_60_minutes_inclusive(tmp_path: Path) -> None:
    minutes = [0.5, 0.99, 1.0, 30.0, 60.0, 60.01, 125.0]
    path = write_trips(tmp_path / "t.parquet", minutes, [1] * 7, [2] * 7)
    df = read_trips(path)
    assert df["duration"].tolist() == [1.0, 30.0, 60.0]


def test_yellow_files_use_tpep_timestamps(tmp_path: Path) -> None:
    for month in MONTHS:
        path = tmp_path / f"yellow_tripdata_{month}.parquet"
        write_trips(path, [5, 70, 15], [1, 2, 3], [4, 5, 6], prefix="tpep")
    results = preprocess(tmp_path, "yellow", SPLITS)
    assert results["train"][1].tolist() == [5.0, 15.0]


def test_invalid_trips_are_dropped_and_counted_per_reason(tmp_path: Path) -> None:
    path = write_with_nulls(
        tmp_path / "t.parquet",
        pickup=[10, None, 10, 10, 10, 10, None],
        dropoff=[10, 20, None, 10, 10, 10, 30],
        distance=[1.0, 1.0, 1.0, None, -3.0, 2.0, -1.0],
        minutes=[10, 10, 10, 10, 10, 10, 90],  # the last one is out of 1-60 anyway
    )
    month = read_month(path)
    assert len(month) == 6 and month["PULocationID"].dtype == "float64"  # as the file has it
    df, dropped = read_valid_trips(path)
    assert dropped == {MISSING_ZONE: 2, MISSING_DISTANCE: 1, BAD_DISTANCE: 1}
    assert df.to_dict("list") == {
        "PULocationID": [10, 10],
        "DOLocationID": [10, 10],
        "trip_distance": [1.0, 2.0],
        "duration": [10.0, 10.0],
    }
    assert df[list(RAW_DTYPES)].dtypes.astype(str).to_dict() == RAW_DTYPES
    assert read_trips(path).equals(df)  # register_model.py and Q6 see the same trips


@pytest.mark.parametrize(
    "zone_type, dtype",
    [(pa.int32(), "int32"), (pa.int64(), "int64"), (pa.uint8(), "int64"), (pa.float64(), "int64")],
)
def test_zone_ids_come_back_as_integers_whatever_the_file_type(
    tmp_path: Path, zone_type, dtype: str
) -> None:
    """Signed integers stay as they are (uncopied); anything else becomes int64."""
    path = write_with_nulls(tmp_path / "t.parquet", [10, 7], [10, 8], [1.0, 2.0], None, zone_type)
    df, dropped = read_valid_trips(path)
    assert dropped == {}
    assert df["PULocationID"].dtype == dtype and df["PULocationID"].tolist() == [10, 7]


def test_a_month_of_only_invalid_trips_is_one_clear_error(tmp_path: Path) -> None:
    path = write_with_nulls(tmp_path / "t.parquet", [None, 1], [1, 1], [1.0, -1.0])
    with pytest.raises(UserError, match=r"no valid trip .*1 with a missing zone id"):
        read_valid_trips(path)


def test_non_numeric_zone_ids_are_refused(tmp_path: Path) -> None:
    path = write_with_nulls(
        tmp_path / "t.parquet", ["10", "7"], ["1", "2"], [1.0, 2.0], None, pa.string()
    )
    with pytest.raises(UserError, match=r"non-numeric PULocationID \(string\), DOLocationID"):
        read_month(path)


def test_a_file_without_trips_says_so(tmp_path: Path) -> None:
    path = write_with_nulls(tmp_path / "t.parquet", [], [], [])
    with pytest.raises(UserError, match=r"t.parquet has no trips: check the file"):
        read_month(path)
