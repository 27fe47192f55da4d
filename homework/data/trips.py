"""The raw NYC TLC trip files: where they are and how a month becomes a table of trips.

`read_month` keeps the columns the features need, adds `duration` in minutes and keeps
the course's 1 to 60 minute trips; `read_valid_trips` then drops the trips the model
cannot take (features.invalid_trips: a missing zone id or distance, a negative
distance, ...) and says how many it dropped for which reason. preprocess_data.py reads
its three months with it, register_model.py and answers.py (Q6) the test month with
`read_trips` (the same trips, so the same RMSE as test.pkl), and predict.py, which
refuses invalid trips rather than dropping them, with `read_month`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from homework.config import DATASETS
from homework.errors import UserError, first_line
from homework.model.features import LOCATION_COLUMNS, NUMERICAL, TARGET, describe_invalid, valid_trips

MIN_MINUTES, MAX_MINUTES = 1, 60
TIMESTAMP_PREFIX = dict(zip(DATASETS, ("lpep", "tpep"), strict=True))  # pickup/drop-off columns


def tripdata_path(raw_data_path: str | Path, dataset: str, month: str) -> Path:
    """Where the TLC file of one month lies, e.g. data/green_tripdata_2023-01.parquet."""
    return Path(raw_data_path) / f"{dataset}_tripdata_{month}.parquet"


def month_files(raw_data_path: str | Path, dataset: str, months: dict[str, str]) -> dict:
    """The file of each month in `raw_data_path`, once each is there and is a file."""
    if not Path(raw_data_path).is_dir():
        raise UserError(
            f"raw data folder {raw_data_path}/ does not exist: download the data with `make data` "
            "(or pass --raw_data_path)."
        )
    paths = {name: tripdata_path(raw_data_path, dataset, month) for name, month in months.items()}
    folders = [str(path) for path in paths.values() if path.is_dir()]
    if folders:
        raise UserError(
            f"{', '.join(folders)} is a folder, not a parquet file: move it out of the way, "
            "then download the data with `make data`."
        )
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise UserError(f"missing {', '.join(missing)}: download the data with `make data`.")
    return paths


def dropped_line(dropped: dict[str, dict[str, int]], months: dict[str, str]) -> str | None:
    """One line on the trips the months lost, e.g. 'Dropped 3 trips the model cannot take:
    train 2023-01: 2 with a missing zone id, ...'; None if none was dropped."""
    from homework.model.features import trips_counted

    parts = [
        f"{name} {months[name]}: {describe_invalid(counts)}"
        for name, counts in dropped.items()
        if counts
    ]
    if not parts:
        return None
    total = sum(sum(counts.values()) for counts in dropped.values())
    return f"Dropped {trips_counted(total)} the model cannot take: {'; '.join(parts)}"


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


def check_number_columns(path: Path, schema: pa.Schema, names: list[str]) -> None:
    """Fail with one line if a zone id or distance column does not hold numbers."""
    wrong = [
        f"{name} ({schema.field(name).type})"
        for name in names
        if not pa.types.is_integer(schema.field(name).type)
        and not pa.types.is_floating(schema.field(name).type)
    ]
    if wrong:
        raise UserError(
            f"{path} has non-numeric {', '.join(wrong)}: is it a TLC trip file? check the file."
        )


def read_month(path: Path, dataset: str = "green") -> pd.DataFrame:
    """Read the columns we need, add `duration` in minutes and keep 1-60 minute trips.

    The zone ids and distances are as the file has them: invalid ones included, and
    float zone ids where the file has missing ones (see read_valid_trips).
    """
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
    check_number_columns(path, table.schema, columns[2:])
    if table.num_rows == 0:
        raise UserError(f"{path} has no trips: check the file.")

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


def read_valid_trips(path: Path, dataset: str = "green") -> tuple[pd.DataFrame, dict[str, int]]:
    """The 1-60 minute trips the model can take, and how many were dropped for which reason.

    Zone ids come back as integers whatever the file's type (see features.with_model_types).
    """
    trips = read_month(path, dataset)
    df, dropped = valid_trips(trips)
    if df.empty:
        raise UserError(
            f"{path} has no valid trip of {MIN_MINUTES} to {MAX_MINUTES} minutes left "
            f"({describe_invalid(dropped)}): check the file."
        )
    return df, dropped


def read_trips(path: Path, dataset: str = "green") -> pd.DataFrame:
    """The trips preprocessing keeps of a month: 1-60 minutes, none the model cannot take."""
    return read_valid_trips(path, dataset)[0]
