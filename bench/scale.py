"""The whole homework on the real months replicated N times (`make bench-scale SCALE=N`).

Writes the real months replicated N times, each copy after the first with small seeded
noise (data.py), starts its own MLflow server and gives it a champion (runs.warm_up), then,
`--pairs` times: the whole homework in one process (pipeline.py, each step measured by
steps.py), then scikit-learn alone on the same pickles (baseline.py). Per step: wall time,
peak memory, the bytes it wrote (the pickles; each logging step's artifacts in the store),
and its ratio to the floor's fits and predictions of that step; for the whole: the ratio of
the two processes, and how much the artifact store and the database grew per homework run.

Prints one table and writes its results into bench/results.json under `scale` and N
(what other runs wrote stays). Targets at 15x: <= 1.05 x the floor, every process <= 2 GB.
"""

from __future__ import annotations

import os
import tempfile
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
from bench.measure import folder_bytes, load_average, median
from bench.runs import (
    STAGES,
    floor,
    one_process_by_step,
    same_answers,
    store_bytes,
    warm_up,
    with_server_cpu,
)
from homework.config import CACHE_DIR_VARIABLE, KEY_DIR_VARIABLE
from homework.options import num_trials_option
from services import Server, start_server


def homework_run(data: Path, out_dir: Path, server: Server, num_trials: int) -> dict[str, Any]:
    """One measured homework: steps.py's report, plus what each step wrote."""
    before = store_bytes(server.uri, server.folder)
    run = with_server_cpu(
        server, lambda: one_process_by_step(data, out_dir, server.uri, num_trials)
    )
    after = store_bytes(server.uri, server.folder)
    run["written"] = {name: after[name] - before[name] for name in after}
    run["written"]["preprocess_data.py"] = folder_bytes(out_dir)  # the four pickles
    return run


def scale_run(
    raw_dir: Path, work: Path, factor: int, pairs: int, num_trials: int
) -> dict[str, Any]:
    """Replicate, warm the server up, then `pairs` times the homework and the floor."""
    data, out_dir = work / f"x{factor}", work / "output"
    click.echo(f"Writing the real months x{factor} to {data}", err=True)
    trips = replicate(raw_dir, data, factor)
    rounds = []
    server = start_server(work / "server")
    try:
        warm_up(data, out_dir, server.uri)
        for pair in range(1, pairs + 1):
            click.echo(f"Scale x{factor}, pair {pair}/{pairs}", err=True)
            home = homework_run(data, out_dir, server, num_trials)
            rounds.append((home, floor(out_dir, num_trials=num_trials)))
    finally:
        server.stop()
    return {**summary(factor, trips, rounds), "num_trials": num_trials}


def summary(factor: int, trips: int, rounds: list[tuple[dict, dict]]) -> dict[str, Any]:
    """Per step and for the whole: medians of wall and bytes, maxima of peak memory."""
    homework = [home for home, _ in rounds]
    floors = [base for _, base in rounds]

    def step_floor(stage: str) -> float:
        return median([base["stages_s"].get(stage, 0.0) for base in floors])

    stages = {}
    for stage in STAGES:
        wall = median([home["steps"][stage]["wall_s"] for home in homework])
        stages[stage] = {
            "wall_s": wall,
            "peak_mb": max(home["steps"][stage]["peak_mb"] for home in homework),
            "written_bytes": median([home["written"][stage] for home in homework]),
            "floor_s": step_floor(stage),
            "ratio": wall / step_floor(stage) if step_floor(stage) else None,
        }
    return {
        "factor": factor,
        "trips": trips,
        "pairs": len(rounds),
        "answers": same_answers(homework),
        "stages": stages,
        "per_step_peaks": all(home["per_step_peaks"] for home in homework),
        "homework": {
            "wall_s": median([home["wall_s"] for home in homework]),
            "peak_mb": max(home["peak_mb"] for home in homework),
            "startup_peak_mb": max(home["startup_peak_mb"] for home in homework),
            "database_bytes": median([home["written"]["database"] for home in homework]),
        },
        "floor": {
            "wall_s": median([base["wall_s"] for base in floors]),
            "fit_predict_s": median([base["fit_predict_s"] for base in floors]),
            "peak_mb": max(base["peak_mb"] for base in floors),
        },
        "ratio": median([home["wall_s"] / base["wall_s"] for home, base in rounds]),
        "cpu_ratio": median(
            [(home["cpu_s"] + home["server_cpu_s"]) / base["cpu_s"] for home, base in rounds]
        ),
    }


@click.command()
@raw_data_path_option
@click.option(
    "--scale",
    "factor",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many times over the real months are replicated (15: 3.1 M trips).",
)
@click.option(
    "--pairs",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Pairs (the homework, then scikit-learn alone); medians reported.",
)
@num_trials_option
@output_option
def main(raw_data_path: str, factor: int, pairs: int, num_trials: int, output: str) -> None:
    """Run the whole homework on the real months replicated N times against scikit-learn alone."""
    raw_dir = checked_raw_dir(raw_data_path)
    results_path = checked_output(output, num_trials)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        work = Path(scratch)
        os.environ[KEY_DIR_VARIABLE] = str(work / "signing-key")  # a throwaway key, not yours
        os.environ[CACHE_DIR_VARIABLE] = str(work / "cache")  # and a cache of its own
        result = scale_run(raw_dir, work, factor, pairs, num_trials)
    result.update(load_before=load_before, load_after=load_average(), cores=os.cpu_count())
    results = read_results(results_path)
    results.setdefault("scale", {})[str(factor)] = result
    write_results(results_path, results)
    click.echo(report.scale_table(result))
    click.echo(f"Wrote {output}", err=True)


if __name__ == "__main__":
    main()
