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

import time

import click

import hpo
import preprocess_data
import register_model
import train
from homework.cli import (
    num_trials_option,
    raw_data_path_option,
    reporting,
    top_n_option,
    tracking_uri_option,
    verbose_option,
)
from homework.config import DATA_PATH, DATASET, MONTHS
from homework.tracking import connect


def run_step(script: str, command: click.Command, args: list[str]) -> float:
    """Run one script's command in this process as its command line would; return seconds."""
    start = time.perf_counter()
    command.main(args, prog_name=script, standalone_mode=False)
    return time.perf_counter() - start


def homework_steps(
    raw_data_path: str,
    dest_path: str,
    num_trials: int,
    top_n: int,
    tracking_uri: str,
    verbose: bool,
) -> list[tuple[str, click.Command, list[str]]]:
    """The four scripts, their commands and their command lines, in the order they run."""
    tracking = ["--tracking_uri", tracking_uri, *(["--verbose"] if verbose else [])]
    data = ["--data_path", dest_path]
    raw = ["--raw_data_path", raw_data_path]
    return [
        ("preprocess_data.py", preprocess_data.run_data_prep, [*raw, "--dest_path", dest_path]),
        ("train.py", train.run_train, [*data, *tracking]),
        ("hpo.py", hpo.run_hpo, [*data, "--num_trials", str(num_trials), *tracking]),
        (
            "register_model.py",
            register_model.run_register_model,
            [*data, *raw, "--top_n", str(top_n), *tracking],
        ),
    ]


@click.command()
@raw_data_path_option(
    f"Folder with the raw {DATASET}_tripdata_{{{','.join(MONTHS.values())}}}.parquet files."
)
@click.option(
    "--dest_path",
    "--dest-path",
    default=DATA_PATH,
    show_default=True,
    help="Folder for the four pickles: preprocessing writes them, the other steps read them.",
)
@num_trials_option
@top_n_option
@tracking_uri_option
@verbose_option
def run_pipeline(
    raw_data_path: str,
    dest_path: str,
    num_trials: int,
    top_n: int,
    tracking_uri: str,
    verbose: bool,
) -> None:
    """Run preprocess_data.py, train.py, hpo.py and register_model.py in one process."""
    with reporting(tracking_uri, verbose):
        connect(tracking_uri, verbose)  # a server that is down fails here, before any work
    steps = homework_steps(raw_data_path, dest_path, num_trials, top_n, tracking_uri, verbose)
    seconds = {script: run_step(script, command, args) for script, command, args in steps}
    each = ", ".join(f"{script} {elapsed:.1f} s" for script, elapsed in seconds.items())
    click.echo(f"Done in {sum(seconds.values()):.1f} s: {each}", err=True)


if __name__ == "__main__":
    run_pipeline()
