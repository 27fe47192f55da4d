"""Benchmark the homework on the real data against scikit-learn alone (`make bench`).

In a temporary folder it starts its own MLflow server on a free port and gives it a
champion (runs.warm_up). Then, `--pairs` times, it runs whole processes in turn, A B A B:

1. the one-process homework (pipeline.py, what `make all` runs), then the floor;
2. the four steps each in its own process, as the course runs them, then the floor again;

and then the commands a person waits on, predict.py for one trip and answers.py, each
against its own floor (readers.py).

The floor is scikit-learn alone on the same pickles (baseline.py). Each ratio is a homework
wall time over the floor's in the same pair; the table shows medians and each process's
peak memory. It then checks that n_jobs=-1 gives bit-identical results to n_jobs=1 and what
it saves, and times preprocess_data.py on the real months replicated 1, 5, 15 and 50 times.
The scale run, the whole homework on the months replicated N times, is scale.py
(`make bench-scale SCALE=N`).

Prints one table and writes its results into bench/results.json under `bench` (what
scale.py wrote there stays). Targets: one process <= 1.20 x the floor (goal 1.15), four
processes <= 1.40 x (goal 1.35), every process <= 1 GB; preprocessing 15x (3.1 M trips)
<= 4 s and 1 GB, 50x <= 15 s and 3 GB.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bench import report
from bench.cli import (
    checked_output,
    checked_raw_dir,
    output_option,
    raw_data_path_option,
    read_results,
    write_results,
)
from bench.data import replicate
from bench.measure import load_average, measure, median
from bench.readers import readers
from bench.runs import (
    STAGES,
    floor,
    four_processes,
    one_process,
    same_answers,
    warm_up,
    with_server_cpu,
)
from homework.config import CACHE_DIR_VARIABLE, KEY_DIR_VARIABLE
from homework.options import num_trials_option
from services import start_server

FACTORS = (1, 5, 15, 50)
NJOBS_TRIALS = 3  # trials in the n_jobs=1 vs -1 comparison (plus train.py's forest)


def end_to_end(raw_dir: Path, work: Path, pairs: int, num_trials: int) -> dict[str, Any]:
    """The one-process and the four-process homework, each alternated with the floor."""
    out_dir = work / "output"
    rounds = []
    server = start_server(work / "server")
    try:
        warm_up(raw_dir, out_dir, server.uri)
        for pair in range(1, pairs + 1):
            click.echo(f"End to end, pair {pair}/{pairs}", err=True)
            one = with_server_cpu(
                server, lambda: one_process(raw_dir, out_dir, server.uri, num_trials)
            )
            one_floor = floor(out_dir, num_trials=num_trials)
            four = with_server_cpu(
                server, lambda: four_processes(raw_dir, out_dir, server.uri, num_trials)
            )
            four_floor = floor(out_dir, num_trials=num_trials)
            rounds.append({"one": one, "four": four, "floors": (one_floor, four_floor)})
        waited_on = readers(raw_dir, out_dir, server.uri, server.folder / "server.pid", work)
    finally:
        server.stop()
    return {**summary(rounds), "num_trials": num_trials, "readers": waited_on}


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (wall, ratios) and maxima (peak memory) over the pairs."""
    floors = [run for pair in rounds for run in pair["floors"]]

    def ratio(mode: str, index: int) -> float:
        return median([pair[mode]["wall_s"] / pair["floors"][index]["wall_s"] for pair in rounds])

    def cpu_ratio(mode: str, index: int) -> float:
        """The same with CPU seconds, the server's included: less shaken by other work."""
        return median(
            [
                (pair[mode]["cpu_s"] + pair[mode]["server_cpu_s"]) / pair["floors"][index]["cpu_s"]
                for pair in rounds
            ]
        )

    return {
        "pairs": len(rounds),
        "answers": same_answers([pair[mode] for pair in rounds for mode in ("one", "four")]),
        "one_process": {
            "wall_s": median([pair["one"]["wall_s"] for pair in rounds]),
            "peak_mb": max(pair["one"]["peak_mb"] for pair in rounds),
            "steps_s": {
                stage: median([pair["one"]["steps_s"][stage] for pair in rounds])
                for stage in STAGES
            },
            "ratio": ratio("one", 0),
            "cpu_ratio": cpu_ratio("one", 0),
        },
        "four_processes": {
            "wall_s": median([pair["four"]["wall_s"] for pair in rounds]),
            "stages": {
                stage: {
                    "wall_s": median([pair["four"]["stages"][stage]["wall_s"] for pair in rounds]),
                    "peak_mb": max(pair["four"]["stages"][stage]["peak_mb"] for pair in rounds),
                }
                for stage in STAGES
            },
            "ratio": ratio("four", 1),
            "cpu_ratio": cpu_ratio("four", 1),
        },
        "floor": {
            "wall_s": median([run["wall_s"] for run in floors]),
            "fit_predict_s": median([run["fit_predict_s"] for run in floors]),
            "cpu_s": median([run["cpu_s"] for run in floors]),
            "peak_mb": max(run["peak_mb"] for run in floors),
            "stages_s": {
                stage: median([run["stages_s"].get(stage, 0.0) for run in floors])
                for stage in STAGES
            },
        },
    }


def preprocess_scaling(raw_dir: Path, work: Path, factors: tuple[int, ...], repeats: int) -> list:
    """preprocess_data.py on the months replicated N times: median wall, max peak MB."""
    rows = []
    for factor in factors:
        data = work / f"x{factor}"
        trips = replicate(raw_dir, data, factor)
        args = ["preprocess_data.py", "--raw_data_path", str(data), "--dest_path", str(data)]
        runs = [measure(args) for _ in range(repeats)]
        wall, peak = median([run["wall_s"] for run in runs]), max(run["peak_mb"] for run in runs)
        click.echo(f"  {factor}x: {trips} trips, {wall:.1f} s, {peak:.0f} MB", err=True)
        rows.append({"factor": factor, "trips": trips, "wall_s": wall, "peak_mb": peak})
        shutil.rmtree(data)
    return rows


def n_jobs_comparison(out_dir: Path) -> dict[str, Any]:
    """train.py's forest + the first trials with n_jobs=1 and -1: seconds and same predictions."""
    single, every = (floor(out_dir, n_jobs, NJOBS_TRIALS) for n_jobs in (1, -1))
    return {
        "trials": NJOBS_TRIALS,
        "cores": os.cpu_count(),
        "n_jobs_1_s": single["fit_predict_s"],
        "n_jobs_all_s": every["fit_predict_s"],
        "speedup": single["fit_predict_s"] / every["fit_predict_s"],
        "same_forests": single["forests_sha256"] == every["forests_sha256"],
        "same_predictions": single["predictions_sha256"] == every["predictions_sha256"],
        "same_rmse_4dp": all(
            f"{single[key]:.4f}" == f"{every[key]:.4f}"
            for key in ("train_val_rmse", "best_val_rmse", "best_test_rmse")
        ),
    }


def blocks() -> dict[str, Callable[[dict[str, Any]], str]]:
    """The blocks of docs/performance.md that `make docs` writes from bench/results.json."""
    return {
        "bench-measured": lambda results: report.measured(results["bench"]),
        "bench-table": lambda results: f"```\n{report.bench_table(results['bench'])}\n```",
        "bench-readers": report.readers_block,
        "n-jobs": lambda results: report.n_jobs_sentence(results["bench"].get("n_jobs")),
        "scale-summary": report.scale_summary,
        "scale-tables": report.scale_tables,
    }


@click.command()
@raw_data_path_option
@click.option(
    "--pairs",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Pairs per comparison (homework, then scikit-learn alone); medians reported.",
)
@click.option(
    "--preprocess_repeats",
    "--preprocess-repeats",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="preprocess_data.py runs per replication factor (0: no preprocessing scaling).",
)
@click.option(
    "--factors",
    default=",".join(map(str, FACTORS)),
    show_default=True,
    help="Replication factors of the real months for the preprocessing scaling.",
)
@click.option(
    "--n_jobs/--no-n_jobs",
    "--n-jobs/--no-n-jobs",
    "compare_jobs",
    default=True,
    show_default=True,
    help="Also compare n_jobs=1 with n_jobs=-1 (time and identical predictions).",
)
@num_trials_option
@output_option
def main(
    raw_data_path: str,
    pairs: int,
    num_trials: int,
    preprocess_repeats: int,
    factors: str,
    compare_jobs: bool,
    output: str,
) -> None:
    """Time the homework against scikit-learn alone on the real data; print a table, save JSON."""
    raw_dir = checked_raw_dir(raw_data_path)
    results_path = checked_output(output, num_trials)
    try:
        factor_list = tuple(int(factor) for factor in factors.split(","))
    except ValueError:
        raise click.BadParameter(f"{factors!r} is not a list of integers like 1,5,15.") from None
    part: dict[str, Any] = {"load_before": load_average(), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        work = Path(scratch)
        # The champions the benchmark registers are signed with a throwaway key, not yours,
        # and what it keeps of them (evaluations) goes to a cache of its own.
        os.environ[KEY_DIR_VARIABLE] = str(work / "signing-key")
        os.environ[CACHE_DIR_VARIABLE] = str(work / "cache")
        part["end_to_end"] = end_to_end(raw_dir, work, pairs, num_trials)
        if compare_jobs:
            click.echo("n_jobs=1 vs n_jobs=-1", err=True)
            part["n_jobs"] = n_jobs_comparison(work / "output")
        if preprocess_repeats:
            click.echo("Preprocessing scaling", err=True)
            part["preprocess_scaling"] = preprocess_scaling(
                raw_dir, work, factor_list, preprocess_repeats
            )
    part["load_after"] = load_average()
    results = read_results(results_path)
    write_results(results_path, {**results, "bench": part})
    click.echo(report.bench_table(part))
    click.echo(f"Wrote {output}", err=True)


if __name__ == "__main__":
    main()
