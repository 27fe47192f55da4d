"""The raw NYC TLC trip files: where they are and how a month becomes a table of trips.

`read_trips` keeps the columns the features need, adds `duration` in minutes and keeps
the course's 1 to 60 minute trips. preprocess_data.py reads its three months with it,
register_model.py, answers.py (Q6) and predict.py the test month.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from errors import UserError, first_line
from features import LOCATION_COLUMNS, NUMERICAL, TARGET

MIN_MINUTES, MAX_MINUTES = 1, 60
TIMESTAMP_PREFIX = {"green": "lpep", "yellow": "tpep"}  # pickup/drop-off column prefix


def tripdata_path(raw_data_path: str | Path, dataset: str, month: str) -> Path:
    """Where the TLC file of one month lies, e.g. data/green_tripdata_2023-01.parquet."""
    return Path(raw_data_path) / f"{dataset}_tripdata_{month}.parquet"


def timestamp_columns(dataset: str) -> list[str]:
    prefix = TIMESTAMP_PREFIX[dataset]
    return [f"{prefix}_pickup_datetime", f"{prefix}_dropoff_datetime"]


def not_readable(path: Path, exc: Exception) -> UserError:
    return UserError(
        f"{path} is not a readable parquet file ({first_line(exc)}): "
        "delete it and run `make data` again."
    )


def schema_names(path: Path) -> list[str]:
    """The column names of a parquet file."""
    try:
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError) as exc:
        raise not_readable(path, exc) from None


def read_trips(path: Path, dataset: str = "green") -> pd.DataFrame:
    """Read the columns we need, add `duration` in minutes and keep 1-60 minute trips."""
    columns = [*timestamp_columns(dataset), *LOCATION_COLUMNS, NUMERICAL]
    missing = [name for name in columns if name not in schema_names(path)]
    if missing:
        raise UserError(
            f"{path} lacks the column(s) {', '.join(missing)}: "
            f"is it a {dataset} taxi trip file? (see --dataset)"
        )
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise not_readable(path, exc) from None

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
        raise UserError(
            f"{path} has no trip of {MIN_MINUTES} to {MAX_MINUTES} minutes left: check the file."
        )
    return df
