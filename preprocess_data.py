"""Turn three months of NYC taxi trips into vectorised train/validation/test sets (question 2).

Reads `{dataset}_tripdata_{month}.parquet` for the train, validation and test months
from `--raw_data_path` (three distinct months in that order, unless
`--allow_unordered_months`), keeps trips of 1 to 60 minutes, drops the trips the model
cannot take (a missing zone id or distance, a negative distance, ...; one line on stderr
says how many, only if there are any), builds the features (`PU_DO` and `trip_distance`,
see features.py), fits a DictVectorizer on the training month only and writes exactly
four files to `--dest_path`: `dv.pkl`, `train.pkl`, `val.pkl` and `test.pkl` (each
`(X, y)`), all four or, on any failure, none.

The vectorizer also records which trips it came from, as the attribute `trip_data_`
(`{"dataset": "green", "train_month": "2023-01", ..., "train_file": ..., "train_digest":
...}`: each month's raw file and a digest of it, see lineage.py), so the runs can log the
data they used and register_model.py can tag the registered model with it, without a fifth
file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from homework.cli import raw_data_path_option, reporting
from homework.config import DATA_PATH, DATASET, DATASET_FILES, MONTHS
from homework.errors import UserError
from homework.lineage import raw_files
from homework.pickles import atomic_dir_write, dump_pickle

DATASETS = ("green", "yellow")
ALLOW_UNORDERED = "--allow_unordered_months"


def check_month_order(months: dict[str, str]) -> None:
    """Fail unless the train, validation and test months are distinct and in that order.

    A test month seen in training (or before it) would make the test RMSE a lie.
    """
    train, val, test = months["train"], months["val"], months["test"]
    if not train < val < test:
        raise UserError(
            f"the months must be distinct and in order, train < val < test, not train {train}, "
            f"val {val}, test {test}: pick other months (or pass {ALLOW_UNORDERED} to experiment)."
        )


def preprocess(raw_data_path: str | Path, dataset: str, months: dict[str, str]) -> dict[str, Any]:
    """Read each month and return the objects to pickle: {'dv': dv, 'train': (X, y), ...}.

    Also {'dropped': {'train': {reason: count}, ...}}: the trips each month lost because
    the model cannot take them (features.invalid_trips), only the non-zero counts.
    """
    from homework.features import TARGET, fit_vectorizer, vectorize
    from homework.trips import read_valid_trips, tripdata_path

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
    frames, dropped = {}, {}
    for name, path in paths.items():
        frames[name], dropped[name] = read_valid_trips(path, dataset)
    dv = fit_vectorizer(frames["train"])
    dv.trip_data_ = {
        "dataset": dataset,
        **{f"{name}_month": month for name, month in months.items()},
        **raw_files(paths),  # each month's file and digest: the runs' data lineage
    }
    results: dict[str, Any] = {"dv": dv, "dropped": dropped}
    for name, df in frames.items():
        results[name] = (vectorize(df, dv), df[TARGET].to_numpy())
    return results


def dropped_line(dropped: dict[str, dict[str, int]], months: dict[str, str]) -> str | None:
    """One line on the trips the months lost, e.g. 'Dropped 3 invalid trips: train 2023-01:
    2 with a missing zone id, ...'; None if none was dropped."""
    from homework.features import describe_invalid, trips_counted

    parts = [
        f"{name} {months[name]}: {describe_invalid(counts)}"
        for name, counts in dropped.items()
        if counts
    ]
    if not parts:
        return None
    total = sum(sum(counts.values()) for counts in dropped.values())
    return f"Dropped {trips_counted(total)} the model cannot take: {'; '.join(parts)}"


def write_outputs(results: dict[str, Any], dest_path: str | Path) -> list[Path]:
    """Write dv.pkl, train.pkl, val.pkl and test.pkl: all four or, on failure, none."""
    dest = Path(dest_path)
    try:
        with atomic_dir_write(dest) as scratch:
            for file_name in DATASET_FILES:
                dump_pickle(results[Path(file_name).stem], scratch / file_name)
    except OSError as exc:  # not writable, a file in the way, disk full, ...
        raise UserError(
            f"cannot write to {dest}/ ({exc.strerror or exc}): pick a writable --dest_path."
        ) from None
    return [dest / file_name for file_name in DATASET_FILES]


def check_month(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f"{value!r} is not a month in the form YYYY-MM, e.g. 2023-01.")
    return value


def month_option(name: str, help: str) -> Any:
    return click.option(
        f"--{name}_month",
        f"--{name}-month",
        default=MONTHS[name],
        show_default=True,
        callback=check_month,
        help=help,
    )


@click.command()
@raw_data_path_option("Folder with the raw {dataset}_tripdata_YYYY-MM.parquet files.")
@click.option(
    "--dest_path",
    "--dest-path",
    default=DATA_PATH,
    show_default=True,
    help="Folder to write dv.pkl, train.pkl, val.pkl and test.pkl to.",
)
@click.option(
    "--dataset",
    type=click.Choice(DATASETS),
    default=DATASET,
    show_default=True,
    help="Which TLC trip records: green or yellow taxis.",
)
@month_option("train", "Month to fit the vectorizer and model on (YYYY-MM).")
@month_option("val", "Validation month (YYYY-MM).")
@month_option("test", "Test month (YYYY-MM).")
@click.option(
    ALLOW_UNORDERED,
    "--allow-unordered-months",
    is_flag=True,
    help="Accept months that are not distinct and in order train < val < test "
    "(experiments only: a test month seen in training makes the test RMSE meaningless).",
)
def run_data_prep(
    raw_data_path: str,
    dest_path: str,
    dataset: str,
    train_month: str,
    val_month: str,
    test_month: str,
    allow_unordered_months: bool,
) -> None:
    """Vectorise the raw trip files into the four pickles the other scripts use."""
    months = {"train": train_month, "val": val_month, "test": test_month}
    click.echo(f"Preprocessing {dataset} trips of {'/'.join(months.values())}", err=True)
    with reporting():
        if not allow_unordered_months:
            check_month_order(months)
        results = preprocess(raw_data_path, dataset, months)
        written = write_outputs(results, dest_path)
    note = dropped_line(results["dropped"], months)
    if note:
        click.echo(note, err=True)
    trips = ", ".join(f"{name} {results[name][0].shape[0]:,}" for name in months)
    features = results["train"][0].shape[1]
    click.echo(f"Wrote {len(written)} files to {dest_path}/ ({trips} trips; {features:,} features)")


if __name__ == "__main__":
    run_data_prep()
