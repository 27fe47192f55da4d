"""The processes the benchmark compares: the homework, four processes or one, and the floor.

The homework runs with default options against a running tracking server: its four steps
each in its own process as the course runs them (`four_processes`), or all in one
(`one_process`: pipeline.py, what `make all` runs; `one_process_by_step` adds each step's
peak memory, see steps.py). The floor is scikit-learn alone on the same pickles
(baseline.py: the same fits and predictions, no MLflow). `warm_up` gives a new server a
champion first, so every measured run pays for the whole promotion gate, as every run but
a user's first does.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import click

from bench.measure import folder_bytes, homework_env, measure, result_of
from homework.config import (
    BEST_MODELS_EXPERIMENT,
    HPO_EXPERIMENT,
    NUM_TRIALS,
    TRAIN_EXPERIMENT,
)
from services import Server

STAGES = ("preprocess_data.py", "train.py", "hpo.py", "register_model.py")
# Where each logging step writes its artifacts: its experiment's folder in the store.
STAGE_EXPERIMENTS = {
    "train.py": TRAIN_EXPERIMENT,
    "hpo.py": HPO_EXPERIMENT,
    "register_model.py": BEST_MODELS_EXPERIMENT,
}
STEP_SECONDS = re.compile(r"(\S+\.py) ([\d.]+) s")  # pipeline.py's last line: "Done in ..."


def stage_args(raw_dir: Path, out_dir: Path, num_trials: int) -> dict[str, list[str]]:
    """Each step's command line (the script, then its options), other options default."""
    data, raw = ["--data_path", str(out_dir)], ["--raw_data_path", str(raw_dir)]
    return {
        "preprocess_data.py": ["preprocess_data.py", *raw, "--dest_path", str(out_dir)],
        "train.py": ["train.py", *data],
        "hpo.py": ["hpo.py", *data, "--num_trials", str(num_trials)],
        "register_model.py": ["register_model.py", *data, *raw],
    }


def pipeline_args(raw_dir: Path, out_dir: Path, num_trials: int) -> list[str]:
    data = ["--raw_data_path", str(raw_dir), "--dest_path", str(out_dir)]
    return [*data, "--num_trials", str(num_trials)]


def four_processes(raw_dir: Path, out_dir: Path, uri: str, num_trials: int) -> dict[str, Any]:
    """The four steps one after the other, each its own process: wall and peak MB each."""
    stages = {}
    for stage, args in stage_args(raw_dir, out_dir, num_trials).items():
        stages[stage] = measure(args, homework_env(uri))
    click.echo(
        "  four processes: "
        + ", ".join(f"{stage} {run['wall_s']:.1f} s" for stage, run in stages.items()),
        err=True,
    )
    return {
        "stages": stages,
        "wall_s": sum(run["wall_s"] for run in stages.values()),
        "cpu_s": sum(run["cpu_s"] for run in stages.values()),
        "peak_mb": max(run["peak_mb"] for run in stages.values()),
        "answers": (
            result_of(stages["hpo.py"]["stdout"]),
            result_of(stages["register_model.py"]["stdout"]),
        ),
    }


def one_process(raw_dir: Path, out_dir: Path, uri: str, num_trials: int) -> dict[str, Any]:
    """pipeline.py: wall, peak MB, and each step's seconds from its last line."""
    args = ["pipeline.py", *pipeline_args(raw_dir, out_dir, num_trials)]
    run = measure(args, homework_env(uri))
    last_line = run["stderr"].strip().splitlines()[-1]
    run["steps_s"] = {script: float(s) for script, s in STEP_SECONDS.findall(last_line)}
    if sorted(run["steps_s"]) != sorted(STAGES):
        raise click.ClickException(f"pipeline.py did not report its four steps:\n{run['stderr']}")
    run["answers"] = (result_of(run["stdout"], line=-2), result_of(run["stdout"]))
    click.echo(f"  one process: {run['wall_s']:.1f} s, {run['peak_mb']:.0f} MB", err=True)
    return run


def one_process_by_step(raw_dir: Path, out_dir: Path, uri: str, num_trials: int) -> dict[str, Any]:
    """pipeline.py run by steps.py: as one_process, with each step's wall and peak MB."""
    with tempfile.TemporaryDirectory(prefix="steps-") as scratch:
        report = Path(scratch) / "steps.json"
        args = ["-m", "bench.steps", str(report), *pipeline_args(raw_dir, out_dir, num_trials)]
        run = measure(args, homework_env(uri))
        run.update(json.loads(report.read_text()))  # its peak_mb is the process's true peak
    run["answers"] = (result_of(run["stdout"], line=-2), result_of(run["stdout"]))
    click.echo(f"  one process: {run['wall_s']:.1f} s, {run['peak_mb']:.0f} MB", err=True)
    return run


def warm_up(raw_dir: Path, out_dir: Path, uri: str) -> None:
    """One short homework (one trial), so that the server has a champion to compare with."""
    args = ["pipeline.py", *pipeline_args(raw_dir, out_dir, 1), "--top_n", "1"]
    click.echo("  warm-up: a one-trial homework registers a champion", err=True)
    measure(args, homework_env(uri))


def floor(out_dir: Path, n_jobs: int = -1, num_trials: int = NUM_TRIALS) -> dict[str, Any]:
    """scikit-learn alone on the pickles in `out_dir`: its process, and its fits' seconds."""
    args = ["-m", "bench.baseline", "--data_path", str(out_dir)]
    run = measure([*args, "--n_jobs", str(n_jobs), "--num_trials", str(num_trials)])
    run.update(json.loads(run.pop("stdout")))
    click.echo(
        f"  scikit-learn alone: {run['wall_s']:.1f} s ({run['fit_predict_s']:.1f} s in fits "
        f"and predictions), {run['peak_mb']:.0f} MB",
        err=True,
    )
    return run


def server_cpu_s(server: Server) -> float:
    """CPU seconds the tracking server has used so far: its process and its workers."""
    import psutil

    main = psutil.Process(server.pid)
    used = sum(main.cpu_times()[:4])  # its own, and its reaped children's
    return used + sum(sum(child.cpu_times()[:2]) for child in main.children(recursive=True))


def with_server_cpu(server: Server, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`run()`'s result, with the CPU seconds the server spent meanwhile (`server_cpu_s`)."""
    before = server_cpu_s(server)
    result = run()
    result["server_cpu_s"] = server_cpu_s(server) - before
    return result


def same_answers(runs: list[dict[str, Any]]) -> dict[str, str]:
    """The Q5 and Q6 answers, which every homework run must give alike."""
    seen = {run["answers"] for run in runs}
    if len(seen) != 1:
        raise click.ClickException(f"the homework runs gave different answers: {sorted(seen)}")
    ((best_val_rmse, test_rmse),) = seen
    return {"best_val_rmse": best_val_rmse, "test_rmse": test_rmse}


def store_bytes(uri: str, server_folder: Path) -> dict[str, int]:
    """Bytes in the server's stores: each logging step's experiment folder, and the database."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    sizes = {}
    for stage, name in STAGE_EXPERIMENTS.items():
        experiment = client.get_experiment_by_name(name)
        location = urlsplit(experiment.artifact_location) if experiment else None
        sizes[stage] = folder_bytes(Path(url2pathname(location.path))) if location else 0
    sizes["database"] = (server_folder / "mlflow.db").stat().st_size
    return sizes
