"""Turn three months of NYC taxi trips into vectorised train/validation/test sets (question 2).

Reads `{dataset}_tripdata_{month}.parquet` for the train, validation and test
months, keeps trips of 1 to 60 minutes, builds the features `PU_DO` (pickup and
drop-off zone, "PULocationID_DOLocationID") and `trip_distance`, fits a
DictVectorizer on the training month only and writes exactly four files to
`--dest_path`: `dv.pkl`, `train.pkl`, `val.pkl` and `test.pkl` (each `(X, y)`).

The vectorizer also records which trips it came from, as the attribute `trip_data_`
(`{"dataset": "green", "train_month": "2023-01", ...}`), so register_model.py can tag
the registered model with its data months without a fifth file.

The vectorizer is built column-wise: the same `feature_names_`, vocabulary and
matrices as `DictVectorizer().fit_transform(dicts)`, without one dict per trip.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer

from common import DATASET_FILES, atomic_dir_write, dump_pickle, first_line, raw_data_path_option

MIN_MINUTES, MAX_MINUTES = 1, 60
LOCATION_COLUMNS = ("PULocationID", "DOLocationID")
CATEGORICAL = "PU_DO"
NUMERICAL = "trip_distance"
TARGET = "duration"
TIMESTAMP_PREFIX = {"green": "lpep", "yellow": "tpep"}


def tripdata_path(raw_data_path: str | Path, dataset: str, month: str) -> Path:
    return Path(raw_data_path) / f"{dataset}_tripdata_{month}.parquet"


def required_columns(dataset: str) -> list[str]:
    prefix = TIMESTAMP_PREFIX[dataset]
    return [
        f"{prefix}_pickup_datetime",
        f"{prefix}_dropoff_datetime",
        *LOCATION_COLUMNS,
        NUMERICAL,
    ]


def read_dataframe(path: Path, dataset: str = "green") -> pd.DataFrame:
    """Read the columns we need, add `duration` in minutes and keep 1-60 minute trips."""
    columns = required_columns(dataset)
    try:
        schema_names = pq.read_schema(path).names
        missing = [name for name in columns if name not in schema_names]
        if missing:
            raise click.ClickException(
                f"{path} lacks the column(s) {', '.join(missing)}: "
                f"is it a {dataset} taxi trip file? (see --dataset)"
            )
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise click.ClickException(
            f"{path} is not a readable parquet file ({first_line(exc)}): "
            "delete it and run `make data` again."
        ) from None

    # On numpy arrays, not pandas: no frame of all trips, one copy of the kept ones.
    pickup, dropoff, *kept_columns = (table.column(name).to_numpy() for name in columns)
    # Same float operations as pandas' `.dt.total_seconds() / 60`, so the same durations.
    minutes = (dropoff - pickup) / np.timedelta64(1, "s") / 60
    keep = (minutes >= MIN_MINUTES) & (minutes <= MAX_MINUTES)
    df = pd.DataFrame(
        {name: values[keep] for name, values in zip(columns[2:], kept_columns, strict=True)}
    )
    df[TARGET] = minutes[keep]
    if df.empty:
        raise click.ClickException(
            f"{path} has no trip of {MIN_MINUTES} to {MAX_MINUTES} minutes left: check the file."
        )
    return df


def pu_do(df: pd.DataFrame) -> pd.Series:
    """The course's `PU_DO` feature: the two zone ids as strings joined by '_'."""
    pickup, dropoff = (df[column] for column in LOCATION_COLUMNS)
    return pickup.astype(str) + "_" + dropoff.astype(str)


def fit_vectorizer(df: pd.DataFrame) -> DictVectorizer:
    """Fit a DictVectorizer on the training trips, as fit() on their dicts would."""
    categories = pd.unique(pu_pairs(df)[1])
    feature_names = sorted([f"{CATEGORICAL}={value}" for value in categories] + [NUMERICAL])
    dv = DictVectorizer()
    dv.feature_names_ = feature_names
    dv.vocabulary_ = {name: index for index, name in enumerate(feature_names)}
    return dv


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


def preprocess(
    raw_data_path: str | Path, dataset: str, months: dict[str, str]
) -> dict[str, object]:
    """Read each month and return the objects to pickle: {'dv': dv, 'train': (X, y), ...}."""
    if not Path(raw_data_path).is_dir():
        raise click.ClickException(
            f"raw data folder {raw_data_path}/ does not exist: download the data with `make data` "
            "(or pass --raw_data_path)."
        )
    paths = {name: tripdata_path(raw_data_path, dataset, month) for name, month in months.items()}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise click.ClickException(
            f"missing {', '.join(missing)}: download the data with `make data`."
        )
    frames = {name: read_dataframe(path, dataset) for name, path in paths.items()}
    dv = fit_vectorizer(frames["train"])
    dv.trip_data_ = {
        "dataset": dataset,
        **{f"{name}_month": month for name, month in months.items()},
    }
    results: dict[str, object] = {"dv": dv}
    for name, df in frames.items():
        results[name] = (vectorize(df, dv), df[TARGET].to_numpy())
    return results


def write_outputs(results: dict[str, object], dest_path: str | Path) -> list[Path]:
    """Write dv.pkl, train.pkl, val.pkl and test.pkl: all four or, on failure, none."""
    dest = Path(dest_path)
    try:
        with atomic_dir_write(dest) as scratch:
            for file_name in DATASET_FILES:
                dump_pickle(results[Path(file_name).stem], scratch / file_name)
    except OSError as exc:  # not writable, a file in the way, disk full, ...
        raise click.ClickException(
            f"cannot write to {dest}/ ({exc.strerror or exc}): pick a writable --dest_path."
        ) from None
    return [dest / file_name for file_name in DATASET_FILES]


def check_month(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f"{value!r} is not a month in the form YYYY-MM, e.g. 2023-01.")
    return value


@click.command()
@raw_data_path_option("Folder with the raw {dataset}_tripdata_YYYY-MM.parquet files.")
@click.option(
    "--dest_path",
    "--dest-path",
    default="output",
    show_default=True,
    help="Folder to write dv.pkl, train.pkl, val.pkl and test.pkl to.",
)
@click.option(
    "--dataset",
    type=click.Choice(sorted(TIMESTAMP_PREFIX)),
    default="green",
    show_default=True,
    help="Which TLC trip records: green or yellow taxis.",
)
@click.option(
    "--train_month",
    "--train-month",
    default="2023-01",
    show_default=True,
    callback=check_month,
    help="Month to fit the vectorizer and model on (YYYY-MM).",
)
@click.option(
    "--val_month",
    "--val-month",
    default="2023-02",
    show_default=True,
    callback=check_month,
    help="Validation month (YYYY-MM).",
)
@click.option(
    "--test_month",
    "--test-month",
    default="2023-03",
    show_default=True,
    callback=check_month,
    help="Test month (YYYY-MM).",
)
def run_data_prep(
    raw_data_path: str,
    dest_path: str,
    dataset: str,
    train_month: str,
    val_month: str,
    test_month: str,
) -> None:
    """Vectorise the raw trip files into the four pickles the other scripts use."""
    months = {"train": train_month, "val": val_month, "test": test_month}
    click.echo(f"Preprocessing {dataset} trips {train_month}/{val_month}/{test_month}", err=True)
    results = preprocess(raw_data_path, dataset, months)
    written = write_outputs(results, dest_path)
    for name in months:
        X, _ = results[name]
        click.echo(f"  {name}: {X.shape[0]} trips x {X.shape[1]} features", err=True)
    click.echo(f"Wrote {len(written)} files to {dest_path}/", file=sys.stdout)


if __name__ == "__main__":
    # Only as a script: the champion model ships this module (trip_model.py), not speedups.py.
    import speedups  # noqa: F401  (a faster exit, see speedups.py)

    run_data_prep()
