"""The trip features: what the model sees of a trip, and how it becomes a matrix row.

The course's features are `PU_DO` (pickup and drop-off zone, "PULocationID_DOLocationID")
and `trip_distance`, turned into a sparse matrix by a DictVectorizer fitted on the
training month. The vectorizer here is built column-wise: the same `feature_names_`,
vocabulary and matrices as `DictVectorizer().fit_transform(dicts)`, without one dict per
trip.

A trip the model cannot take (a missing zone id or distance, a negative or infinite
distance, a zone id that is not a whole number or is below 1) is never turned into features:
`invalid_trips` names the reason of each, preprocessing drops them (`valid_trips`),
predict.py and the served model refuse them.

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
# Why a trip cannot be a row of features, in the order they are checked (see invalid_trips).
MISSING_ZONE = "a missing zone id"
FRACTIONAL_ZONE = "a zone id that is not a whole number"
LOW_ZONE = "a zone id below 1"  # the TLC's zones are numbered from 1
MISSING_DISTANCE = "a missing trip_distance"
BAD_DISTANCE = "a negative or infinite trip_distance"


def as_numbers(column: pd.Series) -> np.ndarray:
    """A column as float64, whatever its dtype (nullable Int64, object, ...); NaN where missing.

    Anything that is not a number (a string, say) counts as missing.
    """
    if column.dtype.kind in "iuf":
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def invalid_trips(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each reason a trip cannot be predicted, which trips it applies to (boolean masks).

    A trip counts under the first reason that applies, so the masks never overlap.
    """
    none = np.zeros(len(df), dtype=bool)
    missing_zone, fractional_zone, low_zone = none, none, none
    for column in LOCATION_COLUMNS:
        if df[column].dtype.kind in "iu" and not df[column].hasnans:
            # whole numbers, none missing: the usual case, and the fast one
            low_zone = low_zone | (df[column].to_numpy() < 1)
            continue
        zone = as_numbers(df[column])
        missing_zone = missing_zone | np.isnan(zone)
        with np.errstate(invalid="ignore"):  # NaN % 1 is NaN: already counted as missing
            fractional_zone = fractional_zone | (zone % 1 != 0)
            low_zone = low_zone | (zone < 1)
    distance = as_numbers(df[NUMERICAL])
    rules = {
        MISSING_ZONE: missing_zone,
        FRACTIONAL_ZONE: fractional_zone,
        LOW_ZONE: low_zone,
        MISSING_DISTANCE: np.isnan(distance),
        BAD_DISTANCE: (distance < 0) | np.isinf(distance),
    }
    masks, seen = {}, none.copy()
    for reason, applies in rules.items():
        masks[reason] = applies & ~seen
        seen |= applies
    return masks


def count_invalid(masks: dict[str, np.ndarray]) -> dict[str, int]:
    """How many trips each reason applies to, the reasons that apply to none left out."""
    counts = {reason: int(mask.sum()) for reason, mask in masks.items()}
    return {reason: count for reason, count in counts.items() if count}


def trips_counted(count: int) -> str:
    """'1 trip', '3 trips', '1,024 trips'."""
    return f"{count:,} trip{'' if count == 1 else 's'}"


def describe_invalid(counts: dict[str, int]) -> str:
    """'2 with a missing zone id, 1 with a negative or infinite trip_distance'."""
    return ", ".join(f"{count:,} with {reason}" for reason, count in counts.items())


def with_model_types(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with integer zone ids and a float64 distance, as the model's signature takes them.

    Only for valid trips (see invalid_trips): a missing zone id cannot become an integer.
    A float or nullable zone column becomes int64; a numpy integer one (int32 in most TLC
    files) stays as it is, uncopied: MLflow takes it as a long, and PU_DO reads the same.
    """
    retyped = {
        name: dtype
        for name, dtype in RAW_DTYPES.items()
        if df[name].dtype != dtype and not (name in LOCATION_COLUMNS and is_numpy_int(df[name]))
    }
    return df.astype(retyped) if retyped else df


def is_numpy_int(column: pd.Series) -> bool:
    return isinstance(column.dtype, np.dtype) and column.dtype.kind == "i"


def valid_trips(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The trips the model can take, in the model's types, and how many were dropped why."""
    masks = invalid_trips(df)
    dropped = count_invalid(masks)
    if dropped:
        df = df[~np.logical_or.reduce(list(masks.values()))].reset_index(drop=True)
    return with_model_types(df), dropped


def pu_do(df: pd.DataFrame) -> pd.Series:
    """The course's `PU_DO` feature: the two zone ids as strings joined by '_'."""
    pickup, dropoff = (df[column] for column in LOCATION_COLUMNS)
    return pickup.astype(str) + "_" + dropoff.astype(str)


def zone_ids(values: np.ndarray) -> np.ndarray:
    """Zone ids as int64 whatever their dtype, so PU_DO reads "10_10", never "10.0_10".

    A float column (pandas' choice when a value is missing) holding a missing or
    fractional id is a ValueError: such trips are dropped or refused before (invalid_trips).
    """
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    numbers = as_numbers(pd.Series(values))
    if np.isnan(numbers).any() or (numbers % 1 != 0).any():
        raise ValueError("zone ids must be whole numbers: drop the invalid trips first")
    return numbers.astype(np.int64)


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
            LOCATION_COLUMNS[0]: zone_ids(pickups[pairs // len(dropoffs)]),
            LOCATION_COLUMNS[1]: zone_ids(dropoffs[pairs % len(dropoffs)]),
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


class SparseOnly(sp.csr_matrix):
    """A CSR matrix that refuses to be made dense (see keep_sparse)."""

    def toarray(self, order: object = None, out: object = None) -> np.ndarray:
        gigabytes = self.shape[0] * self.shape[1] * self.dtype.itemsize / 1e9
        raise TypeError(f"kept sparse on purpose: made dense it would take {gigabytes:.1f} GB")


def keep_sparse(X: sp.spmatrix) -> SparseOnly:
    """`X` (same arrays, no copy) as a CSR matrix that refuses to be made dense.

    Made dense, the taxi training matrix (66k x 5.7k) takes 3 GB. Nothing here needs it
    dense (scikit-learn converts it to CSC/CSR float32 itself), but MLflow 3's sklearn
    autolog calls `X.toarray()` after every fit to build a dataset, whatever `log_datasets`
    says (`_log_posttraining_metadata` -> `_create_dataset`), only to tag the training
    metrics; it catches any error there and goes on without the dataset. So autolog logs
    everything but that, and memory stays small. Prepared.dataset hands out only these.
    """
    return SparseOnly(X)
