"""Run the whole homework in one Python process: preprocess, train, hpo, register (Q2, Q3, Q5, Q6).

The four scripts stay standalone, as in the course. This runs the same four commands with
the same options, one after the other, in one interpreter: MLflow, scikit-learn, pandas,
hyperopt and matplotlib are imported once instead of once per script (see
docs/performance.md). `make all` uses it.

Each step prints what its script prints (its result on stdout); the last line, on stderr,
says how long each step took. A tracking server that is down stops the pipeline before
any work is done.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import time

import click

import hpo
import preprocess_data
import register_model
import train
from homework.config import DATASET, MONTHS
from homework.options import (
    connection_options,
    dest_path_option,
    num_trials_option,
    raw_data_path_option,
    top_n_option,
)
from homework.reporting import reporting
from homework.tracking.connection import Connection


def run_step(script: str, command: click.Command, args: list[str]) -> float:
    """Run one script's command in this process as its command line would; return seconds."""
    start = time.perf_counter()
    command.main(args, prog_name=script, standalone_mode=False)
    return time.perf_counter() - start


@click.command()
@raw_data_path_option(
    f"Folder with the raw {DATASET}_tripdata_{{{','.join(MONTHS.values())}}}.parquet files."
)
@dest_path_option
@num_trials_option
@top_n_option
@connection_options
def run_pipeline(
    raw_data_path: str, dest_path: str, num_trials: int, top_n: int, connection: Connection
) -> None:
    """Run preprocess_data.py, train.py, hpo.py and register_model.py in one process."""
    with reporting(connection):
        connection.connect()  # a server that is down fails here, before any work
    server = ["--tracking_uri", connection.uri, *(["--verbose"] if connection.verbose else [])]
    data, raw = ["--data_path", dest_path], ["--raw_data_path", raw_data_path]
    steps = {
        "preprocess_data.py": (preprocess_data.run_data_prep, [*raw, "--dest_path", dest_path]),
        "train.py": (train.run_train, [*data, *server]),
        "hpo.py": (hpo.run_optimization, [*data, "--num_trials", str(num_trials), *server]),
        "register_model.py": (
            register_model.run_register_model,
            [*data, *raw, "--top_n", str(top_n), *server],
        ),
    }
    seconds = {script: run_step(script, *step) for script, step in steps.items()}
    each = ", ".join(f"{script} {elapsed:.1f} s" for script, elapsed in seconds.items())
    click.echo(f"Done in {sum(seconds.values()):.1f} s: {each}", err=True)


if __name__ == "__main__":
    run_pipeline()
