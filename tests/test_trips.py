"""trips.py: a TLC month read into trips of 1 to 60 minutes with their features' columns."""

from __future__ import annotations

from pathlib import Path

from conftest import MONTHS, write_trips

from preprocess_data import preprocess
from trips import read_trips

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
