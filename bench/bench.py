"""Benchmark the homework: each stage's wall time and peak memory against scikit-learn alone.

In a temporary folder it starts its own MLflow server on a free port, then, for
each repeat, runs the four stages one after the other on the real data with
default options (preprocess_data.py, train.py, hpo.py, register_model.py), each
in its own process as the course runs them; then the same four in one process
(pipeline.py, what `make all` runs); then the scikit-learn-only baseline
(bench/baseline.py: the same fits and predictions, no MLflow). It then times
preprocess_data.py on the real months replicated 1, 5, 15 and 50 times (each
month file repeated N times), and checks that n_jobs=-1 gives bit-identical
predictions to n_jobs=1 and what it saves.

Prints one table (medians over the repeats) and writes everything to
`bench/results.json`. Targets: end to end <= 1.25 x baseline (checked
on the one-process pipeline; the four-process ratio is shown beside it), every
process <= 1 GB; preprocessing 15x (3.1 M trips) <= 4 s and 1 GB, 50x
(~10 M trips) <= 15 s and 3 GB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.parquet as pq

from homework.config import DATASET, KEY_DIR_VARIABLE, MONTHS
from homework.servers import ROOT, start_server
from homework.trips import tripdata_path

PYTHON = sys.executable
STAGES = ("preprocess_data.py", "train.py", "hpo.py", "register_model.py")
STEP_SECONDS = re.compile(r"(\S+\.py) ([\d.]+) s")  # pipeline.py's last line: "Done in ..."
FACTORS = (1, 5, 15, 50)
E2E_RATIO_TARGET = 1.25
PROCESS_MB_TARGET = 1024
PREPROCESS_TARGETS = {15: (4.0, 1024), 50: (15.0, 3072)}  # factor: (seconds, MB)
NJOBS_TRIALS = 3  # trials in the n_jobs=1 vs -1 comparison (plus train.py's forest)


# ---------------------------------------------------------------- measuring


def measure(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python ARGS`; return its wall and CPU seconds, peak resident MB, stdout and stderr.

    os.wait4 reaps the process and reports its peak RSS (children it waited for included).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen([PYTHON, *args], cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise click.ClickException(f"{' '.join(args)} failed:\n{err.read().decode()[-2000:]}")
        return {
            "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime,  # every thread's, less shaken by load
            "peak_mb": usage.ru_maxrss / 1024,
            "stdout": out.read().decode(),
            "stderr": err.read().decode(),
        }


def result_of(stdout: str, line: int = -1) -> str:
    """The number that ends a script's result line on stdout (`test RMSE: 5.5674`)."""
    return stdout.splitlines()[line].split()[-1]


def same_answers(runs: list[dict[str, Any]]) -> dict[str, str]:
    """The Q5 and Q6 answers, which every repeat must give alike, in four processes or one."""
    seen = set()
    for run in runs:
        four = (
            result_of(run["stages"]["hpo.py"]["stdout"]),
            result_of(run["stages"]["register_model.py"]["stdout"]),
        )
        one = (result_of(run["one"]["stdout"], line=-2), result_of(run["one"]["stdout"]))
        seen |= {four, one}
    if len(seen) != 1:
        raise click.ClickException(f"the repeats gave different answers: {sorted(seen)}")
    ((best_val_rmse, test_rmse),) = seen
    return {"best_val_rmse": best_val_rmse, "test_rmse": test_rmse}


def median(values: list[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------- data and server


def replicate(raw_dir: Path, dest: Path, factor: int) -> int:
    """Write each month file of `raw_dir` repeated `factor` times into `dest`; return rows."""
    dest.mkdir(parents=True, exist_ok=True)
    rows = 0
    for month in MONTHS.values():
        source = tripdata_path(raw_dir, DATASET, month)
        table = pq.read_table(source)
        pq.write_table(pa.concat_tables([table] * factor), dest / source.name)
        rows += table.num_rows * factor
    return rows


# ---------------------------------------------------------------- the three measurements


def run_stages(raw_dir: Path, out_dir: Path, uri: str) -> dict[str, Any]:
    """The four stages one after the other, each its own process; wall and peak MB each."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    stage_args = {
        "preprocess_data.py": ["--raw_data_path", str(raw_dir), "--dest_path", str(out_dir)],
        "train.py": ["--data_path", str(out_dir)],
        "hpo.py": ["--data_path", str(out_dir)],
        "register_model.py": ["--data_path", str(out_dir), "--raw_data_path", str(raw_dir)],
    }
    results = {}
    for stage in STAGES:
        result = measure([stage, *stage_args[stage]], env)
        click.echo(f"  {stage}: {result['wall_s']:.1f} s, {result['peak_mb']:.0f} MB", err=True)
        results[stage] = result
    return results


def run_one_process(raw_dir: Path, out_dir: Path, uri: str) -> dict[str, Any]:
    """pipeline.py (the four stages in one process): wall, peak MB and each step's seconds."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    args = ["pipeline.py", "--raw_data_path", str(raw_dir), "--dest_path", str(out_dir)]
    result = measure(args, env)
    last_line = result["stderr"].strip().splitlines()[-1]
    result["steps_s"] = {script: float(s) for script, s in STEP_SECONDS.findall(last_line)}
    if sorted(result["steps_s"]) != sorted(STAGES):
        raise click.ClickException(
            f"pipeline.py did not report its four steps:\n{result['stderr']}"
        )
    click.echo(
        f"  pipeline.py (one process): {result['wall_s']:.1f} s, {result['peak_mb']:.0f} MB",
        err=True,
    )
    return result


def run_baseline(out_dir: Path, n_jobs: int = -1, num_trials: int = 15) -> dict[str, Any]:
    args = ["-m", "bench.baseline", "--data_path", str(out_dir)]
    result = measure([*args, "--n_jobs", str(n_jobs), "--num_trials", str(num_trials)])
    result.update(json.loads(result.pop("stdout")))
    click.echo(
        f"  baseline (n_jobs={n_jobs}, {num_trials} trials): "
        f"{result['fit_predict_s']:.1f} s in fits and predictions",
        err=True,
    )
    return result


def end_to_end(raw_dir: Path, work: Path, repeats: int) -> dict[str, Any]:
    """Four processes, one process and baseline, `repeats` times in turn; medians and ratios.

    Each ratio is taken within one repeat (same machine state), then the median is reported.
    """
    out_dir = work / "output"
    runs = []
    server = start_server(work / "server")
    uri = server.uri
    try:
        for repeat in range(1, repeats + 1):
            click.echo(f"End to end, repeat {repeat}/{repeats}", err=True)
            stages = run_stages(raw_dir, out_dir, uri)
            one = run_one_process(raw_dir, out_dir, uri)
            baseline = run_baseline(out_dir)
            total = sum(stage["wall_s"] for stage in stages.values())
            runs.append({"stages": stages, "one": one, "baseline": baseline, "total_s": total})
    finally:
        server.stop()
    answers = same_answers(runs)
    stage_medians = {
        stage: {
            "wall_s": median([run["stages"][stage]["wall_s"] for run in runs]),
            "peak_mb": max(run["stages"][stage]["peak_mb"] for run in runs),
            "one_process_s": median([run["one"]["steps_s"][stage] for run in runs]),
            "baseline_s": median([run["baseline"]["stages_s"].get(stage, 0.0) for run in runs]),
        }
        for stage in STAGES
    }

    def ratio(wall: Callable[[dict[str, Any]], float]) -> float:
        return median([wall(run) / run["baseline"]["fit_predict_s"] for run in runs])

    return {
        "repeats": repeats,
        "stages": stage_medians,
        "total_s": median([run["total_s"] for run in runs]),
        "one_process_s": median([run["one"]["wall_s"] for run in runs]),
        "one_process_peak_mb": max(run["one"]["peak_mb"] for run in runs),
        "baseline_s": median([run["baseline"]["fit_predict_s"] for run in runs]),
        "baseline_peak_mb": max(run["baseline"]["peak_mb"] for run in runs),
        "ratio_four_processes": ratio(lambda run: run["total_s"]),
        "ratio": ratio(lambda run: run["one"]["wall_s"]),
        "answers": answers,
    }


def preprocess_scaling(raw_dir: Path, work: Path, factors: tuple[int, ...], repeats: int):
    """preprocess_data.py on the months replicated N times: median wall, max peak MB."""
    rows = []
    for factor in factors:
        data = work / f"x{factor}"
        trips = replicate(raw_dir, data, factor)
        args = ["preprocess_data.py", "--raw_data_path", str(data), "--dest_path", str(data)]
        runs = [measure(args) for _ in range(repeats)]
        row = {
            "factor": factor,
            "trips": trips,
            "wall_s": median([run["wall_s"] for run in runs]),
            "peak_mb": max(run["peak_mb"] for run in runs),
        }
        click.echo(
            f"  {factor}x: {trips} trips, {row['wall_s']:.1f} s, {row['peak_mb']:.0f} MB", err=True
        )
        rows.append(row)
        shutil.rmtree(data)
    return rows


def n_jobs_comparison(out_dir: Path) -> dict[str, Any]:
    """train.py's forest + the first trials with n_jobs=1 and -1: seconds and same predictions."""
    single, every = (run_baseline(out_dir, n_jobs, NJOBS_TRIALS) for n_jobs in (1, -1))
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


# ---------------------------------------------------------------- report


def table(report: dict[str, Any]) -> str:
    """The benchmark as one plain-text table."""
    e2e = report["end_to_end"]

    def memory(peak_mb: float) -> str:
        return f"<= 1 GB {'ok' if peak_mb <= PROCESS_MB_TARGET else 'OVER'}"

    width = 48
    lines = [
        "wall s: own = the stage in its own process, one = inside pipeline.py's one process",
        f"{'stage':<{width}}{'own s':>6}{'one s':>8}{'peak MB':>9}{'sklearn':>9}  target",
    ]
    for stage, row in e2e["stages"].items():
        lines.append(
            f"{stage:<{width}}{row['wall_s']:>6.1f}{row['one_process_s']:>8.1f}"
            f"{row['peak_mb']:>9.0f}{row['baseline_s']:>9.1f}  {memory(row['peak_mb'])}"
        )
    ratio_ok = "ok" if e2e["ratio"] <= E2E_RATIO_TARGET else "OVER"
    lines += [
        f"{'end to end, four processes (as the course)':<{width}}{e2e['total_s']:>6.1f}",
        f"{'end to end, one process (pipeline.py, make all)':<{width}}{'':>6}"
        f"{e2e['one_process_s']:>8.1f}{e2e['one_process_peak_mb']:>9.0f}{'':>9}  "
        f"{memory(e2e['one_process_peak_mb'])}",
        f"{'scikit-learn alone (fits + predictions)':<{width}}{'':>14}"
        f"{e2e['baseline_peak_mb']:>9.0f}{e2e['baseline_s']:>9.1f}",
        f"{'ratio four processes / scikit-learn':<{width}}{e2e['ratio_four_processes']:>6.2f}",
        f"{'ratio one process / scikit-learn':<{width}}{'':>6}{e2e['ratio']:>8.2f}"
        f"{'':>18}  <= {E2E_RATIO_TARGET} {ratio_ok}",
        "",
        f"{'preprocess_data.py':<20}{'trips':>14}{'wall s':>9}{'peak MB':>9}  target",
    ]
    for row in report["preprocess_scaling"]:
        target = PREPROCESS_TARGETS.get(row["factor"])
        verdict = ""
        if target:
            ok = row["wall_s"] <= target[0] and row["peak_mb"] <= target[1]
            verdict = f"<= {target[0]:g} s, {target[1] // 1024} GB {'ok' if ok else 'OVER'}"
        lines.append(
            f"{'real months x' + str(row['factor']):<20}{row['trips']:>14,}"
            f"{row['wall_s']:>9.1f}{row['peak_mb']:>9.0f}  {verdict}"
        )
    jobs = report.get("n_jobs")
    if jobs:
        lines += [
            "",
            f"n_jobs on {jobs['cores']} cores (train.py's forest + {jobs['trials']} trials): "
            f"n_jobs=1 {jobs['n_jobs_1_s']:.1f} s, n_jobs=-1 {jobs['n_jobs_all_s']:.1f} s "
            f"(x{jobs['speedup']:.2f})",
            f"  fitted trees bit-identical: {jobs['same_forests']}; predictions bit-identical: "
            f"{jobs['same_predictions']} (forests fit on all cores, predict on one); "
            f"RMSEs equal to 4 decimals: {jobs['same_rmse_4dp']}",
        ]
    answers = e2e["answers"]
    lines.append(
        f"answers: best validation RMSE {answers['best_val_rmse']}, "
        f"test RMSE {answers['test_rmse']} (the same in every repeat, four processes or one); "
        f"repeats {e2e['repeats']}; "
        f"load average before {report['load_before']}, after {report['load_after']}"
    )
    return "\n".join(lines)


def measured(report: dict[str, Any]) -> str:
    """The sentence that says how the numbers of docs/performance.md were measured."""
    e2e = report["end_to_end"]
    return (
        f"Measured with `make bench` on a {report.get('n_jobs', {}).get('cores', '?')}-core "
        f"machine: medians of {e2e['repeats']} repeats, load average "
        f"{report['load_before']} before and {report['load_after']} after. "
        f"scikit-learn alone took {e2e['baseline_s']:.1f} s, the one-process homework "
        f"{e2e['one_process_s']:.1f} s ({e2e['ratio']:.2f} times), the four processes "
        f"{e2e['total_s']:.1f} s ({e2e['ratio_four_processes']:.2f} times)."
    )


def n_jobs_sentence(report: dict[str, Any]) -> str:
    jobs = report["n_jobs"]
    return (
        f"On the {jobs['cores']}-core machine of the table above, all cores make the fits "
        f"{jobs['speedup']:.2f} times faster than one (the `n_jobs` line)."
    )


def blocks() -> dict[str, Callable[[dict[str, Any]], str]]:
    """The blocks of docs/performance.md that `make docs` writes from bench/results.json."""
    return {
        "bench-measured": measured,
        "bench-table": lambda report: f"```\n{table(report)}\n```",
        "n-jobs": n_jobs_sentence,
    }


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


@click.command()
@click.option(
    "--raw_data_path",
    "--raw-data-path",
    default=lambda: os.environ.get("TAXI_DATA_DIR", "data"),
    show_default="$TAXI_DATA_DIR or data",
    help="Folder with the three real green_tripdata_2023-0{1,2,3}.parquet files.",
)
@click.option(
    "--repeats",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="End-to-end runs (four processes, one process, baseline each); medians reported.",
)
@click.option(
    "--preprocess_repeats",
    "--preprocess-repeats",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="preprocess_data.py runs per replication factor.",
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
@click.option(
    "--output",
    default="bench/results.json",
    show_default=True,
    help="Where to write the results as JSON.",
)
def main(
    raw_data_path: str,
    repeats: int,
    preprocess_repeats: int,
    factors: str,
    compare_jobs: bool,
    output: str,
) -> None:
    """Time the homework's stages against scikit-learn alone; print a table, write JSON."""
    raw_dir = Path(raw_data_path).resolve()
    missing = [m for m in MONTHS.values() if not tripdata_path(raw_dir, DATASET, m).is_file()]
    if missing:
        raise click.ClickException(
            f"{raw_dir}/ lacks the green taxi files for {', '.join(missing)}: "
            "run `make data` or pass --raw_data_path."
        )
    try:
        factor_list = tuple(int(factor) for factor in factors.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{factors!r} is not a comma-separated list of integers."
        ) from None
    report: dict[str, Any] = {"load_before": load_average()}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        work = Path(scratch)
        # The champions the benchmark registers are signed with a throwaway key, not yours.
        os.environ[KEY_DIR_VARIABLE] = str(work / "signing-key")
        report["end_to_end"] = end_to_end(raw_dir, work, repeats)
        if compare_jobs:
            click.echo("n_jobs=1 vs n_jobs=-1", err=True)
            report["n_jobs"] = n_jobs_comparison(work / "output")
        click.echo("Preprocessing scaling", err=True)
        report["preprocess_scaling"] = preprocess_scaling(
            raw_dir, work, factor_list, preprocess_repeats
        )
    report["load_after"] = load_average()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    click.echo(table(report))
    click.echo(f"Wrote {output}", err=True)


if __name__ == "__main__":
    main()
