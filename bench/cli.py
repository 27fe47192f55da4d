"""What the benchmarks share on their command lines: the real months, the trials, the results.

`checked_raw_dir` refuses a folder without the three real months in one line; the results
file is read and written whole, each benchmark replacing only its own part of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from homework import options
from homework.config import DATASET, MONTHS, NUM_TRIALS, RAW_DATA_PATH
from homework.data.trips import tripdata_path

RESULTS = Path(__file__).with_name("results.json")

raw_data_path_option = options.raw_data_path_option(
    "Folder with the three real green_tripdata_2023-0{1,2,3}.parquet files.",
    default=lambda: os.environ.get("TAXI_DATA_DIR", RAW_DATA_PATH),
    show_default=f"$TAXI_DATA_DIR or {RAW_DATA_PATH}",
)
output_option = click.option(
    "--output",
    default=str(RESULTS),
    show_default="bench/results.json",
    help="The results file (JSON) to write into (another one for a quick try).",
)


def checked_raw_dir(raw_data_path: str) -> Path:
    """The folder of the three real months, or a ClickException saying what is missing."""
    raw_dir = Path(raw_data_path).resolve()
    missing = [m for m in MONTHS.values() if not tripdata_path(raw_dir, DATASET, m).is_file()]
    if missing:
        raise click.ClickException(
            f"{raw_dir}/ lacks the green taxi files for {', '.join(missing)}: "
            "run `make data` or pass --raw_data_path."
        )
    return raw_dir


def checked_output(output: str, num_trials: int) -> Path:
    """The results file; bench/results.json only for the homework's own search."""
    path = Path(output).resolve()
    if num_trials != NUM_TRIALS and path == RESULTS.resolve():
        raise click.UsageError(
            f"--num_trials {num_trials} is a quick try, not the homework's {NUM_TRIALS} trials: "
            "pass --output FILE (bench/results.json keeps the real measurements)."
        )
    return path


def read_results(path: Path) -> dict[str, Any]:
    """What the results file holds so far (nothing if there is none)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def write_results(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
