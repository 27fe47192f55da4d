"""Benchmark the homework: each stage's wall time and peak memory against scikit-learn alone.

In a temporary folder it starts its own MLflow server on a free port, then, for
each repeat, runs the four stages one after the other on the real data with
default options (preprocess_data.py, train.py, hpo.py, register_model.py) and
the scikit-learn-only baseline (bench/baseline.py: the same fits and
predictions, no MLflow). It then times preprocess_data.py on the real months
replicated 1, 5, 15 and 50 times (each month file repeated N times), and checks
that n_jobs=-1 gives bit-identical predictions to n_jobs=1 and what it saves.

Prints one table (medians over the repeats) and writes everything to
`output/bench.json`. Targets (issue 3): end to end <= 1.25 x baseline, every
process <= 1 GB; preprocessing 15x (3.1 M trips) <= 4 s and 1 GB, 50x
(~10 M trips) <= 15 s and 3 GB.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MONTHS = ("2023-01", "2023-02", "2023-03")
STAGES = ("preprocess_data.py", "train.py", "hpo.py", "register_model.py")
FACTORS = (1, 5, 15, 50)
E2E_RATIO_TARGET = 1.25
PROCESS_MB_TARGET = 1024
PREPROCESS_TARGETS = {15: (4.0, 1024), 50: (15.0, 3072)}  # factor: (seconds, MB)
NJOBS_TRIALS = 3  # trials in the n_jobs=1 vs -1 comparison (plus train.py's forest)


# ---------------------------------------------------------------- measuring


def measure(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python ARGS`; return its wall seconds, peak resident MB and stdout.

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
        return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, "stdout": out.read().decode()}


def median(values: list[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------- data and server


def replicate(raw_dir: Path, dest: Path, factor: int) -> int:
    """Write each month file of `raw_dir` repeated `factor` times into `dest`; return rows."""
    dest.mkdir(parents=True, exist_ok=True)
    rows = 0
    for month in MONTHS:
        name = f"green_tripdata_{month}.parquet"
        table = pq.read_table(raw_dir / name)
        pq.write_table(pa.concat_tables([table] * factor), dest / name)
        rows += table.num_rows * factor
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """Start scripts/server.sh's server with its store in `folder`; yield its URI; stop it."""
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW": str(Path(PYTHON).parent / "mlflow"),
        "PORT": str(port),
        "BACKEND_STORE_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "ARTIFACT_ROOT": str(folder / "artifacts"),
        "SERVER_PID_FILE": str(folder / "server.pid"),
        "SERVER_LOG": str(folder / "server.log"),
    }
    server = [str(ROOT / "scripts" / "server.sh")]
    subprocess.run([*server, "start"], env=env, check=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([*server, "stop"], env=env, check=False)


# ---------------------------------------------------------------- the three measurements


def run_pipeline(raw_dir: Path, out_dir: Path, uri: str) -> dict[str, Any]:
    """The four stages one after the other with default options; wall and peak MB each."""
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


def run_baseline(out_dir: Path, n_jobs: int = -1, num_trials: int = 15) -> dict[str, Any]:
    args = ["bench/baseline.py", "--data_path", str(out_dir)]
    result = measure([*args, "--n_jobs", str(n_jobs), "--num_trials", str(num_trials)])
    result.update(json.loads(result.pop("stdout")))
    click.echo(
        f"  baseline (n_jobs={n_jobs}, {num_trials} trials): "
        f"{result['fit_predict_s']:.1f} s in fits and predictions",
        err=True,
    )
    return result


def end_to_end(raw_dir: Path, work: Path, repeats: int) -> dict[str, Any]:
    """Pipeline and baseline, `repeats` times in turn; medians and the per-repeat ratio."""
    out_dir = work / "output"
    runs = []
    with mlflow_server(work / "server") as uri:
        for repeat in range(1, repeats + 1):
            click.echo(f"End to end, repeat {repeat}/{repeats}", err=True)
            stages = run_pipeline(raw_dir, out_dir, uri)
            baseline = run_baseline(out_dir)
            total = sum(stage["wall_s"] for stage in stages.values())
            runs.append({"stages": stages, "baseline": baseline, "total_s": total})
    answers = {
        "best_val_rmse": runs[-1]["stages"]["hpo.py"]["stdout"].split()[-1],
        "test_rmse": runs[-1]["stages"]["register_model.py"]["stdout"].split()[-1],
    }
    stage_medians = {
        stage: {
            "wall_s": median([run["stages"][stage]["wall_s"] for run in runs]),
            "peak_mb": max(run["stages"][stage]["peak_mb"] for run in runs),
            "baseline_s": median([run["baseline"]["stages_s"].get(stage, 0.0) for run in runs]),
        }
        for stage in STAGES
    }
    return {
        "repeats": repeats,
        "stages": stage_medians,
        "total_s": median([run["total_s"] for run in runs]),
        "baseline_s": median([run["baseline"]["fit_predict_s"] for run in runs]),
        "baseline_peak_mb": max(run["baseline"]["peak_mb"] for run in runs),
        "ratio": median([run["total_s"] / run["baseline"]["fit_predict_s"] for run in runs]),
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
    lines = [f"{'stage':<34}{'wall s':>9}{'peak MB':>9}{'sklearn s':>11}  target"]
    for stage, row in e2e["stages"].items():
        ok = "ok" if row["peak_mb"] <= PROCESS_MB_TARGET else "OVER"
        lines.append(
            f"{stage:<34}{row['wall_s']:>9.1f}{row['peak_mb']:>9.0f}"
            f"{row.get('baseline_s', 0.0):>11.1f}  <= 1 GB {ok}"
        )
    ratio_ok = "ok" if e2e["ratio"] <= E2E_RATIO_TARGET else "OVER"
    lines += [
        f"{'end to end (sum of the stages)':<34}{e2e['total_s']:>9.1f}",
        f"{'scikit-learn alone (fits+predicts)':<34}{e2e['baseline_s']:>9.1f}"
        f"{e2e['baseline_peak_mb']:>9.0f}",
        f"{'ratio end to end / scikit-learn':<34}{e2e['ratio']:>9.2f}"
        f"{'':>20}  <= {E2E_RATIO_TARGET} {ratio_ok}",
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
        f"test RMSE {answers['test_rmse']}; repeats {e2e['repeats']}; "
        f"load average before {report['load_before']}, after {report['load_after']}"
    )
    return "\n".join(lines)


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
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="End-to-end runs (pipeline + baseline each); medians are reported.",
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
    default="output/bench.json",
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
    missing = [m for m in MONTHS if not (raw_dir / f"green_tripdata_{m}.parquet").is_file()]
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
