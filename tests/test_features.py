"""features.py: PU_DO and trip_distance, and sameness with the course's plain DictVectorizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import MONTHS, write_trips
from sklearn.feature_extraction import DictVectorizer

from homework.data.trips import read_trips
from homework.model.features import (
    BAD_DISTANCE,
    FRACTIONAL_ZONE,
    LOW_ZONE,
    MISSING_DISTANCE,
    MISSING_ZONE,
    describe_invalid,
    fit_vectorizer,
    invalid_trips,
    valid_trips,
    vectorize,
)
from preprocess_data import preprocess

SPLITS = dict(zip(("train", "val", "test"), MONTHS, strict=True))


def course_reference(path: Path, dv: DictVectorizer, fit: bool, prefix: str = "lpep"):
    """The course's own row-by-row preprocessing, kept here as the reference to match."""
    df = pd.read_parquet(path)
    df["duration"] = df[f"{prefix}_dropoff_datetime"] - df[f"{prefix}_pickup_datetime"]
    df.duration = df.duration.apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    df[["PULocationID", "DOLocationID"]] = df[["PULocationID", "DOLocationID"]].astype(str)
    df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
    dicts = df[["PU_DO", "trip_distance"]].to_dict(orient="records")
    X = dv.fit_transform(dicts) if fit else dv.transform(dicts)
    return X, df.duration.values


def assert_same_matrix(actual, expected) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(actual, part), getattr(expected, part))


def test_features_are_pu_do_and_trip_distance(tmp_path: Path) -> None:
    path = write_trips(tmp_path / "t.parquet", [10, 20, 30], [43, 43, 7], [151, 43, 7], [1.5, 0, 3])
    df = read_trips(path)
    dv = fit_vectorizer(df)
    assert dv.feature_names_ == ["PU_DO=43_151", "PU_DO=43_43", "PU_DO=7_7", "trip_distance"]
    X = vectorize(df, dv)
    np.testing.assert_array_equal(X.toarray(), [[1, 0, 0, 1.5], [0, 1, 0, 0], [0, 0, 1, 3]])


def test_same_result_as_course_dictvectorizer_on_generated_data(raw_dir: Path) -> None:
    results = preprocess(raw_dir, "green", SPLITS)
    dv = DictVectorizer()
    for i, (name, month) in enumerate(SPLITS.items()):
        X_ref, y_ref = course_reference(raw_dir / f"green_tripdata_{month}.parquet", dv, i == 0)
        X, y = results[name]
        assert_same_matrix(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)
    assert results["dv"].feature_names_ == dv.feature_names_
    assert results["dv"].vocabulary_ == dv.vocabulary_


def test_same_result_as_course_dictvectorizer_on_real_data(taxi_data_dir: Path) -> None:
    results = preprocess(taxi_data_dir, "green", SPLITS)
    dv = DictVectorizer()
    for i, (name, month) in enumerate(SPLITS.items()):
        path = taxi_data_dir / f"green_tripdata_{month}.parquet"
        X_ref, y_ref = course_reference(path, dv, fit=i == 0)
        assert_same_matrix(results[name][0], X_ref)
        np.testing.assert_array_equal(results[name][1], y_ref)
    assert results["dv"].feature_names_ == dv.feature_names_
    assert results["dv"].vocabulary_ == dv.vocabulary_


def trips_frame(pickup, dropoff, distance, zone_dtype=None) -> pd.DataFrame:
    df = pd.DataFrame({"PULocationID": pickup, "DOLocationID": dropoff, "trip_distance": distance})
    return df.astype({"PULocationID": zone_dtype, "DOLocationID": zone_dtype}) if zone_dtype else df


def test_invalid_trips_are_named_by_their_first_reason() -> None:
    df = trips_frame(
        [None, 10, 10.5, 10, 10, 10, 10, None, 10, 0, 10, -5.5],
        [10, np.nan, 10, 10, 10, 10, 10, 10, 10, 10, -5, 10],
        [1.0, 1, 1, None, -3, np.inf, 0, -1, 2.5, 1, 1, 1],
    )
    masks = invalid_trips(df)
    assert {reason: np.flatnonzero(mask).tolist() for reason, mask in masks.items()} == {
        MISSING_ZONE: [0, 1, 7],  # row 7 also has a negative distance: counted once
        FRACTIONAL_ZONE: [2, 11],
        LOW_ZONE: [9, 10],
        MISSING_DISTANCE: [3],
        BAD_DISTANCE: [4, 5],
    }
    valid, dropped = valid_trips(df)
    assert dropped == {
        MISSING_ZONE: 3,
        FRACTIONAL_ZONE: 2,
        LOW_ZONE: 2,
        MISSING_DISTANCE: 1,
        BAD_DISTANCE: 2,
    }
    # Integer columns (the usual, fast case) are checked for zone ids below 1 too.
    ints = trips_frame([1, 0, 3, -5], [1, 2, 0, 4], [1.0, 1.0, 1.0, 1.0])
    assert np.flatnonzero(invalid_trips(ints)[LOW_ZONE]).tolist() == [1, 2, 3]
    assert valid.to_dict("list") == {
        "PULocationID": [10, 10],
        "DOLocationID": [10, 10],
        "trip_distance": [0.0, 2.5],
    }
    assert describe_invalid({MISSING_ZONE: 1200, BAD_DISTANCE: 1}) == (
        "1,200 with a missing zone id, 1 with a negative or infinite trip_distance"
    )


def test_valid_trips_keep_every_trip_and_count_nothing() -> None:
    df = trips_frame([1, 2], [3, 4], [0.0, 2.0])
    valid, dropped = valid_trips(df)
    assert dropped == {}
    assert valid is df  # nothing to drop or retype: no copy


@pytest.mark.parametrize("zone_dtype", ["int32", "int64", "uint16", "float64", "Int64", "Float64"])
def test_pu_do_is_made_of_integers_whatever_the_zone_dtype(zone_dtype: str) -> None:
    """A null zone id makes pandas use float: "10.0_10" must never become a feature."""
    df = trips_frame([10, 7, None], [10, 8, 3], [1.0, 2.0, 3.0])
    if zone_dtype not in ("float64", "Float64", "Int64"):
        df = df.iloc[:2]  # these types cannot hold the missing one
    valid, _ = valid_trips(df.astype({"PULocationID": zone_dtype, "DOLocationID": zone_dtype}))
    kinds = {
        name: (isinstance(dtype, np.dtype), dtype.kind) for name, dtype in valid.dtypes.items()
    }
    assert kinds == {
        "PULocationID": (True, "i"),
        "DOLocationID": (True, "i"),
        "trip_distance": (True, "f"),
    }
    dv = fit_vectorizer(valid)
    assert dv.feature_names_ == ["PU_DO=10_10", "PU_DO=7_8", "trip_distance"]
    # The same zones in another dtype find the same features.
    assert vectorize(trips_frame([10.0], [10.0], [1.0]), dv).toarray().tolist() == [[1, 0, 1]]


def test_features_refuse_missing_or_fractional_zone_ids() -> None:
    """Never a silent "nan_10" or "10_10" for 10.5: such trips must be dropped first."""
    for pickup in ([np.nan, 10.0], [10.5, 10.0]):
        with pytest.raises(ValueError, match="whole numbers"):
            fit_vectorizer(trips_frame(pickup, [10, 10], [1.0, 1.0]))


def test_same_result_as_course_dictvectorizer_on_the_valid_trips(raw_dir: Path) -> None:
    """Months with invalid trips: the same matrices as the course's code on the valid ones."""
    for seed, month in enumerate(MONTHS):
        path = raw_dir / f"green_tripdata_{month}.parquet"
        df = pd.read_parquet(path)
        df = df.astype({"PULocationID": "Int32", "DOLocationID": "Int32"})
        df.loc[3 + seed, "PULocationID"] = None
        df.loc[7, "trip_distance"] = -2.0
        df.loc[11, "trip_distance"] = None
        df.to_parquet(path)
    results = preprocess(raw_dir, "green", SPLITS)
    assert results["dropped"]["train"] == {MISSING_ZONE: 1, MISSING_DISTANCE: 1, BAD_DISTANCE: 1}
    dv = DictVectorizer()
    for i, (name, month) in enumerate(SPLITS.items()):
        path = raw_dir / f"green_tripdata_{month}.parquet"
        valid = pd.read_parquet(path).dropna(subset=["PULocationID", "trip_distance"])
        valid = valid[valid.trip_distance >= 0].astype({"PULocationID": int, "DOLocationID": int})
        valid.to_parquet(raw_dir / "valid.parquet")
        X_ref, y_ref = course_reference(raw_dir / "valid.parquet", dv, i == 0)
        assert_same_matrix(results[name][0], X_ref)
        np.testing.assert_array_equal(results[name][1], y_ref)
    assert results["dv"].feature_names_ == dv.feature_names_
    assert not any(".0_" in name or name.endswith(".0") for name in dv.feature_names_)
