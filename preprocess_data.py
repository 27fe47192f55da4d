"""Turn three months of NYC taxi trips into vectorised train/validation/test sets (question 2).

Reads `{dataset}_tripdata_{month}.parquet` for the training, validation and test months from
`--raw_data_path`, keeps trips of 1 to 60 minutes, builds the features `PU_DO` (pickup and
drop-off zone) and `trip_distance`, fits a DictVectorizer on the training month only and
writes four files to `--dest_path`: `dv.pkl`, `train.pkl`, `val.pkl` and `test.pkl` (each
`(X, y)`). Question 2 is how many files that is.

The package adds what a team needs (see docs/scripts.md): the months must be distinct and
in order, trips the model cannot take (a missing zone id, ...) are dropped and counted, the
vectorizer records each raw file's digest (`dv.trip_data_`) for the runs' data lineage, and
the four files are written all or none.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

from pathlib import Path
from typing import Any

import click

from homework.data.lineage import Months, trip_record
from homework.data.pickles import write_outputs
from homework.options import dataset_option, dest_path_option, months_options, raw_data_path_option
from homework.reporting import reporting


def preprocess(raw_data_path: str | Path, dataset: str, months: dict[str, str]) -> dict[str, Any]:
    """Read each month; return what to pickle: {'dv': dv, 'train': (X, y), ...}.

    Also 'dropped': per month, how many trips the model cannot take were dropped and why;
    and 'note': one line saying so, None if no trip was dropped.
    """
    from homework.data.trips import dropped_line, month_files, read_valid_trips
    from homework.model.features import TARGET, fit_vectorizer, vectorize

    paths = month_files(raw_data_path, dataset, months)
    frames, dropped = {}, {}
    for name, path in paths.items():
        frames[name], dropped[name] = read_valid_trips(path, dataset)

    dv = fit_vectorizer(frames["train"])
    dv.trip_data_ = trip_record(dataset, months, paths)  # each month's file and digest
    results: dict[str, Any] = {"dv": dv, "dropped": dropped, "note": dropped_line(dropped, months)}
    for name, df in frames.items():
        results[name] = (vectorize(df, dv), df[TARGET].to_numpy())
    return results


@click.command()
@raw_data_path_option("Folder with the raw {dataset}_tripdata_YYYY-MM.parquet files.")
@dest_path_option
@dataset_option
@months_options
def run_data_prep(raw_data_path: str, dest_path: str, dataset: str, months: Months) -> None:
    """Vectorise the raw trip files into the four pickles the other scripts use."""
    click.echo(
        f"Preprocessing {dataset} trips of {months.train}/{months.val}/{months.test}", err=True
    )
    with reporting():
        named = months.checked()  # distinct, in order
        results = preprocess(raw_data_path, dataset, named)
        written = write_outputs(results, dest_path)
    if results["note"]:
        click.echo(results["note"], err=True)
    trips = ", ".join(f"{name} {results[name][0].shape[0]:,}" for name in named)
    features = results["train"][0].shape[1]
    click.echo(f"Wrote {len(written)} files to {dest_path}/ ({trips} trips; {features:,} features)")


if __name__ == "__main__":
    run_data_prep()
