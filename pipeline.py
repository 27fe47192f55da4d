"""Run the whole homework in one Python process: preprocess, train, hpo, register (Q2, Q3, Q5, Q6).

The four scripts stay standalone, as in the course. This runs the same four commands with
the same options, one after the other, in one interpreter: MLflow, scikit-learn, pandas,
hyperopt and matplotlib are imported once instead of once per script, which saves 1 to 2.5 s
per step (see the README's "Performance"). `make all` uses it.

Each step prints what its script prints (its result on stdout) and then, on stderr, how long
it took. A tracking server that is down stops the pipeline before any work is done.
"""

from __future__ import annotations

import time

import speedups  # noqa: F401  (first: less garbage collection, see speedups.py)

import click

import hpo
import preprocess_data
import register_model
import train
from common import (
    connect,
    num_trials_option,
    raw_data_path_option,
    top_n_option,
    tracking_uri_option,
)


def run_step(script: str, command: click.Command, args: list[str]) -> float:
    """Run one script's command in this process as its command line would; return seconds."""
    start = time.perf_counter()
    command.main(args, prog_name=script, standalone_mode=False)
    return time.perf_counter() - start


def homework_steps(
    raw_data_path: str, dest_path: str, num_trials: int, top_n: int, tracking_uri: str
) -> list[tuple[str, click.Command, list[str]]]:
    """The four scripts, their commands and their command lines, in the order they run."""
    tracking = ["--tracking_uri", tracking_uri]
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
@raw_data_path_option("Folder with the raw green_tripdata_2023-0{1,2,3}.parquet files.")
@click.option(
    "--dest_path",
    "--dest-path",
    default="output",
    show_default=True,
    help="Folder for the four pickles: preprocessing writes them, the other steps read them.",
)
@num_trials_option
@top_n_option
@tracking_uri_option
def run_pipeline(
    raw_data_path: str, dest_path: str, num_trials: int, top_n: int, tracking_uri: str
) -> None:
    """Run preprocess_data.py, train.py, hpo.py and register_model.py in one process."""
    connect(tracking_uri)  # a server that is down fails here, before any work
    steps = homework_steps(raw_data_path, dest_path, num_trials, top_n, tracking_uri)
    total = 0.0
    for number, (script, command, args) in enumerate(steps, start=1):
        click.echo(f"[{number}/{len(steps)}] {script}", err=True)
        seconds = run_step(script, command, args)
        click.echo(f"[{number}/{len(steps)}] {script} done in {seconds:.1f} s", err=True)
        total += seconds
    click.echo(f"All {len(steps)} steps done in {total:.1f} s", err=True)


if __name__ == "__main__":
    run_pipeline()
