"""The trip features: what the model sees of a trip, and how it becomes a matrix row.

The course's features are `PU_DO` (pickup and drop-off zone, "PULocationID_DOLocationID")
and `trip_distance`, turned into a sparse matrix by a DictVectorizer fitted on the
training month. The vectorizer here is built column-wise: the same `feature_names_`,
vocabulary and matrices as `DictVectorizer().fit_transform(dicts)`, without one dict per
trip.

preprocess_data.py builds the training matrices with it and trip_model.py the matrix of
each prediction, so both see the same features. This module is shipped with the
registered model: it imports neither Click nor MLflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer

LOCATION_COLUMNS = ("PULocationID", "DOLocationID")
NUMERICAL = "trip_distance"
CATEGORICAL = "PU_DO"
TARGET = "duration"  # minutes
RAW_COLUMNS = [*LOCATION_COLUMNS, NUMERICAL]  # a raw trip, as the model takes it
RAW_DTYPES = {"PULocationID": "int64", "DOLocationID": "int64", NUMERICAL: "float64"}


def pu_do(df: pd.DataFrame) -> pd.Series:
    """The course's `PU_DO` feature: the two zone ids as strings joined by '_'."""
    pickup, dropoff = (df[column] for column in LOCATION_COLUMNS)
    return pickup.astype(str) + "_" + dropoff.astype(str)


def pu_pairs(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Factorise the (pickup, dropoff) pairs: codes per trip and the PU_DO string per code.

    Only the distinct pairs become strings, so this is fast on millions of trips: each
    zone column is factorised on its own, then the pair of codes as one integer.
    """
    (pickup_codes, pickups), (dropoff_codes, dropoffs) = (
        pd.factorize(df[column].to_numpy(), use_na_sentinel=False) for column in LOCATION_COLUMNS
    )
    pair_codes = pickup_codes.astype(np.int64) * len(dropoffs) + dropoff_codes
    codes, pairs = pd.factorize(pair_codes)
    frame = pd.DataFrame(
        {
            LOCATION_COLUMNS[0]: pickups[pairs // len(dropoffs)],
            LOCATION_COLUMNS[1]: dropoffs[pairs % len(dropoffs)],
        }
    )
    return codes, pu_do(frame).to_numpy()


def fit_vectorizer(df: pd.DataFrame) -> DictVectorizer:
    """Fit a DictVectorizer on the training trips, as fit() on their dicts would."""
    categories = pd.unique(pu_pairs(df)[1])
    feature_names = sorted([f"{CATEGORICAL}={value}" for value in categories] + [NUMERICAL])
    dv = DictVectorizer()
    dv.feature_names_ = feature_names
    dv.vocabulary_ = {name: index for index, name in enumerate(feature_names)}
    return dv


def vectorize(df: pd.DataFrame, dv: DictVectorizer) -> sp.csr_matrix:
    """Same matrix as `dv.transform(df[[PU_DO, trip_distance]].to_dict('records'))`."""
    codes, categories = pu_pairs(df)
    vocabulary = dv.vocabulary_
    column_of_code = np.array(
        [vocabulary.get(f"{CATEGORICAL}={value}", -1) for value in categories], dtype=np.intc
    )
    pu_do_column = column_of_code[codes]
    known = pu_do_column >= 0  # unseen zone pairs get no PU_DO entry, as in DictVectorizer
    n_rows = len(df)

    row_lengths = known.astype(np.intc) + 1  # PU_DO (if known) then trip_distance
    indptr = np.zeros(n_rows + 1, dtype=np.intc)
    np.cumsum(row_lengths, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.intc)
    data = np.empty(indptr[-1], dtype=np.float64)

    last = indptr[1:] - 1
    indices[last] = vocabulary[NUMERICAL]
    data[last] = df[NUMERICAL].to_numpy(dtype=np.float64)
    first = indptr[:-1][known]
    indices[first] = pu_do_column[known]
    data[first] = 1.0
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, len(dv.feature_names_)))
