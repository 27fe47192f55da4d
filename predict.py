"""Predict trip durations with the registered champion (after question 6).

Loads `--model_uri` (default `models:/nyc-green-taxi-duration-rf@champion`, the
self-contained pyfunc register_model.py registers: raw trips in, minutes out), once its
files are checked against the signature register_model.py made (see homework/trust/;
`--trust_unsigned` loads an unsigned model with a warning; this project's own champion is
read without MLflow, see homework/trust/direct.py), and either

- scores a TLC trip file (`--input`): writes `--output`, a parquet file with the input's
  `PULocationID`, `DOLocationID`, `trip_distance`, the actual `duration` when the file has
  pickup and drop-off times, and `predicted_duration`. With times, only trips of 1 to 60
  minutes are kept (as in training) and the RMSE is printed; or
- predicts one trip given by `--pu`, `--do` and `--distance` and prints its minutes.

A file with a trip the model cannot take (a missing zone id or distance, a zone id below
1, a negative distance, see features.invalid_trips) or with no trips at all is refused in one line,
before the model is loaded: nothing is predicted for it, nothing is written.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import math
import os
from pathlib import Path
from typing import Any

import click

from homework.config import DATASET, MONTHS, RAW_DATA_PATH
from homework.errors import UserError
from homework.forest import rmse
from homework.options import PathOption, connection_options, model_uri_option, trust_unsigned_option
from homework.reporting import reporting
from homework.tracking.connection import Connection
from homework.trust.loading import load_trip_model

DEFAULT_INPUT = f"{RAW_DATA_PATH}/{DATASET}_tripdata_{MONTHS['test']}.parquet"
DEFAULT_OUTPUT = "predictions.parquet"
PREDICTION = "predicted_duration"
TRIP_OPTIONS = ("pu", "do", "distance")


def read_input(path: Path) -> Any:
    """The trips of a TLC file; with pickup/drop-off times, 1-60 minute trips and `duration`.

    Refuses, in one line, a file without trips and one with trips the model cannot take.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from homework.data.trips import (
        TIMESTAMP_PREFIX,
        not_readable,
        read_month,
        schema_names,
        timestamp_columns,
    )
    from homework.model.features import RAW_COLUMNS, TARGET, with_model_types

    names = schema_names(path)
    missing = [name for name in RAW_COLUMNS if name not in names]
    if missing:
        raise UserError(f"{path} lacks the column(s) {', '.join(missing)}.")
    for dataset in TIMESTAMP_PREFIX:
        if set(timestamp_columns(dataset)) <= set(names):
            trips = read_month(path, dataset)[[*RAW_COLUMNS, TARGET]]
            break
    else:
        try:
            trips = pq.read_table(path, columns=RAW_COLUMNS).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise not_readable(path, exc) from None
        if trips.empty:
            raise UserError(f"{path} has no trips: check the file.")
    check_trips(path, trips)
    return with_model_types(trips)


def check_trips(path: Path, trips: Any) -> None:
    """Refuse a file with trips the model cannot take, saying how many and why."""
    from homework.model.features import (
        count_invalid,
        describe_invalid,
        invalid_trips,
        trips_counted,
    )

    invalid = count_invalid(invalid_trips(trips))
    if invalid:
        raise UserError(
            f"{path} has {trips_counted(sum(invalid.values()))} the model cannot take "
            f"({describe_invalid(invalid)}): drop or fix them."
        )


def check_distance(ctx: click.Context, param: click.Parameter, value: float | None) -> Any:
    """A distance in miles: 0 or more, and a number (FloatRange lets 'nan' and 'inf' through)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a distance in miles: give a number, e.g. 2.5.")
    return value


def predict_file(model: Any, trips: Any, output_path: Path) -> Any:
    """Add `predicted_duration` to the trips and write them to `output_path`."""
    from homework.model.features import RAW_COLUMNS

    trips[PREDICTION] = model.predict(trips[RAW_COLUMNS])
    scratch = output_path.with_name(f".{output_path.name}.tmp")
    try:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        trips.to_parquet(scratch, index=False)
        os.replace(scratch, output_path)  # never a half-written output file
    except OSError as exc:
        scratch.unlink(missing_ok=True)
        raise UserError(
            f"cannot write {output_path} ({exc.strerror}): pick a writable --output."
        ) from None
    return trips


def actual_rmse(trips: Any) -> float | None:
    """The RMSE of the predictions, if the trips have their actual durations."""
    from homework.model.features import TARGET

    return rmse(trips[TARGET], trips[PREDICTION]) if TARGET in trips else None


def predict_trip(model: Any, pu: int, do: int, distance: float) -> float:
    import pandas as pd

    trip = pd.DataFrame({"PULocationID": [pu], "DOLocationID": [do], "trip_distance": [distance]})
    return float(model.predict(trip)[0])


@click.command()
@model_uri_option(
    "MLflow model to use: models:/<name>@<alias>, models:/<name>/<version> or runs:/..."
)
@click.option(
    "--input",
    "input_path",
    type=PathOption(dir_okay=False, path_type=Path),
    default=DEFAULT_INPUT,
    show_default=True,
    help="TLC trip parquet file to predict (ignored with --pu/--do/--distance).",
)
@click.option(
    "--output",
    "output_path",
    type=PathOption(dir_okay=False, path_type=Path),
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Parquet file to write the trips with their `predicted_duration` to.",
)
@click.option("--pu", type=click.IntRange(min=1), help="Pickup zone (PULocationID) of one trip.")
@click.option("--do", type=click.IntRange(min=1), help="Drop-off zone (DOLocationID) of one trip.")
@click.option(
    "--distance",
    type=click.FloatRange(min=0),
    callback=check_distance,
    help="Trip distance in miles of one trip.",
)
@trust_unsigned_option
@connection_options
def run_predict(
    model_uri: str,
    input_path: Path,
    output_path: Path,
    pu: int | None,
    do: int | None,
    distance: float | None,
    trust_unsigned: bool,
    connection: Connection,
) -> None:
    """Predict trip durations in minutes for a trip file or for one trip."""
    trip = {"pu": pu, "do": do, "distance": distance}
    given = [name for name, value in trip.items() if value is not None]
    if given and len(given) < len(TRIP_OPTIONS):
        missing = ", ".join(f"--{name}" for name in TRIP_OPTIONS if name not in given)
        raise click.UsageError(f"one trip needs --pu, --do and --distance: add {missing}.")
    if not given and not input_path.is_file():
        raise click.BadParameter(f"{input_path} does not exist (make data).", param_hint="--input")

    with reporting(connection):
        trips = None if given else read_input(input_path)
        connection.reach()
        click.echo(f"Loading {model_uri}", err=True)
        model = load_trip_model(model_uri, connection, trust_unsigned)
        if given:
            minutes = predict_trip(model, pu, do, distance)
        else:
            trips = predict_file(model, trips, output_path)
            score = actual_rmse(trips)
    if given:
        click.echo(f"predicted duration: {minutes:.2f} minutes")
        return
    click.echo(f"Wrote {len(trips)} predictions to {output_path}")
    if score is not None:
        click.echo(f"RMSE on {len(trips)} trips: {score:.4f}")


if __name__ == "__main__":
    run_predict()
