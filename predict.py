"""Predict trip durations with the registered champion (after question 6).

Loads `--model_uri` (default `models:/nyc-green-taxi-duration-rf@champion`, the
self-contained pyfunc register_model.py registers: raw trips in, minutes out) and either

- scores a TLC trip file (`--input`): writes `--output`, a parquet file with the input's
  `PULocationID`, `DOLocationID`, `trip_distance`, the actual `duration` when the file has
  pickup and drop-off times, and `predicted_duration`. With times, only trips of 1 to 60
  minutes are kept (as in training) and the RMSE is printed; or
- predicts one trip given by `--pu`, `--do` and `--distance` and prints its minutes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import speedups  # noqa: F401  (first: less garbage collection, see speedups.py)

import click
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from common import first_line, rmse, tracking, tracking_uri_option
from preprocess_data import TARGET, TIMESTAMP_PREFIX, read_dataframe
from register_model import CHAMPION_ALIAS, DEFAULT_MODEL_NAME
from trip_model import RAW_COLUMNS

DEFAULT_MODEL_URI = f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION_ALIAS}"
DEFAULT_INPUT = "data/green_tripdata_2023-03.parquet"
DEFAULT_OUTPUT = "predictions.parquet"
PREDICTION = "predicted_duration"
TRIP_OPTIONS = ("pu", "do", "distance")


def load_model(model_uri: str):
    """Load the pyfunc; a missing model or alias is one clear line."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        raise click.ClickException(
            f"cannot load {model_uri}: {first_line(exc)[:300]} "
            "(register the champion with `make q6`, or pass --model_uri)."
        ) from None


def read_trips(path: Path) -> pd.DataFrame:
    """The trips of a TLC file; with pickup/drop-off times, 1-60 minute trips and `duration`."""
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError) as exc:
        raise click.ClickException(
            f"{path} is not a readable parquet file ({first_line(exc)})."
        ) from None
    missing = [name for name in RAW_COLUMNS if name not in names]
    if missing:
        raise click.ClickException(f"{path} lacks the column(s) {', '.join(missing)}.")
    for dataset, prefix in TIMESTAMP_PREFIX.items():
        if {f"{prefix}_pickup_datetime", f"{prefix}_dropoff_datetime"} <= set(names):
            return read_dataframe(path, dataset)[[*RAW_COLUMNS, TARGET]]
    return pq.read_table(path, columns=RAW_COLUMNS).to_pandas()


def predict_file(model, trips: pd.DataFrame, output_path: Path) -> pd.DataFrame:
    """Add `predicted_duration` to the trips and write them to `output_path`."""
    trips[PREDICTION] = model.predict(trips[RAW_COLUMNS])
    scratch = output_path.with_name(f".{output_path.name}.tmp")
    try:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        trips.to_parquet(scratch, index=False)
        os.replace(scratch, output_path)  # never a half-written output file
    except OSError as exc:
        scratch.unlink(missing_ok=True)
        raise click.ClickException(
            f"cannot write {output_path} ({exc.strerror}): pick a writable --output."
        ) from None
    return trips


def predict_trip(model, pu: int, do: int, distance: float) -> float:
    trip = pd.DataFrame({"PULocationID": [pu], "DOLocationID": [do], "trip_distance": [distance]})
    return float(model.predict(trip)[0])


@click.command()
@click.option(
    "--model_uri",
    "--model-uri",
    default=DEFAULT_MODEL_URI,
    show_default=True,
    help="MLflow model to use: models:/<name>@<alias>, models:/<name>/<version> or runs:/...",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_INPUT,
    show_default=True,
    help="TLC trip parquet file to predict (ignored with --pu/--do/--distance).",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Parquet file to write the trips with their `predicted_duration` to.",
)
@click.option("--pu", type=click.IntRange(min=1), help="Pickup zone (PULocationID) of one trip.")
@click.option("--do", type=click.IntRange(min=1), help="Drop-off zone (DOLocationID) of one trip.")
@click.option(
    "--distance", type=click.FloatRange(min=0), help="Trip distance in miles of one trip."
)
@tracking_uri_option
def run_predict(
    model_uri: str,
    input_path: Path,
    output_path: Path,
    pu: int | None,
    do: int | None,
    distance: float | None,
    tracking_uri: str,
) -> None:
    """Predict trip durations in minutes for a trip file or for one trip."""
    trip = {"pu": pu, "do": do, "distance": distance}
    given = [name for name, value in trip.items() if value is not None]
    if given and len(given) < len(TRIP_OPTIONS):
        missing = ", ".join(f"--{name}" for name in TRIP_OPTIONS if name not in given)
        raise click.UsageError(f"one trip needs --pu, --do and --distance: add {missing}.")
    if not given:
        if not input_path.is_file():
            raise click.BadParameter(
                f"{input_path} does not exist (make data).", param_hint="--input"
            )
        trips = read_trips(input_path)

    with tracking(tracking_uri):
        click.echo(f"Loading {model_uri}", err=True)
        model = load_model(model_uri)
        if given:
            minutes = predict_trip(model, pu, do, distance)
        else:
            trips = predict_file(model, trips, output_path)
    if given:
        click.echo(f"predicted duration: {minutes:.2f} minutes")
        return
    click.echo(f"Wrote {len(trips)} predictions to {output_path}", file=sys.stdout)
    if TARGET in trips:
        click.echo(f"RMSE on {len(trips)} trips: {rmse(trips[TARGET], trips[PREDICTION]):.4f}")


if __name__ == "__main__":
    run_predict()
