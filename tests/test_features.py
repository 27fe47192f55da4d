"""features.py: PU_DO and trip_distance, and sameness with the course's plain DictVectorizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from conftest import MONTHS, write_trips
from sklearn.feature_extraction import DictVectorizer

from features import fit_vectorizer, vectorize
from preprocess_data import preprocess
from trips import read_trips

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
