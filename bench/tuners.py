"""Benchmark the tuners on the real data: hyperopt's TPE beside Optuna's, and resumed searches.

In a temporary folder it starts its own MLflow server, preprocesses the real months and,
for each tuner, runs `hpo.py` as the course does (15 trials, seed 42, its own process):

- the best validation RMSE after the 15 trials;
- the overhead per trial: (hpo.py's time - the same 15 forests fitted and scored with
  scikit-learn alone, n_jobs=-1 as hpo.py) / 15, in wall seconds and in CPU seconds (of every
  thread: on a machine shared with other work, wall time swings with its load, CPU time much
  less). What a trial costs beyond its forest: the tuner's suggestion, its storage (Optuna's
  SQLite study), the MLflow runs and the signed model, with hpo.py's start-up (imports,
  connection, parent run, plot) shared out;
- a search stopped by Ctrl-C after RESUME_AFTER trials, then `hpo.py --resume`: how many of
  its 15 trials are the uninterrupted search's, in the same order, and its best RMSE.

Writes bench/tuners.json (`--output`); `make docs` puts the table into docs/performance.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from bench.cli import raw_data_path_option
from bench.measure import PYTHON, load_average, measure, result_of
from homework.config import (
    CACHE_DIR_VARIABLE,
    HPO_EXPERIMENT,
    KEY_DIR_VARIABLE,
    NUM_TRIALS,
    SEED,
    TUNERS,
)
from services import ROOT, start_server

RESUME_AFTER = 6  # trials done before the Ctrl-C


def trials_of(client: Any, parent_id: str) -> list[Any]:
    """The finished trials of a search, in the order they started."""
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    return client.search_runs(
        [experiment.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent_id}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time ASC"],
    )


def newest_parent(client: Any) -> Any:
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    (parent,) = client.search_runs(
        [experiment.experiment_id],
        "tags.`hpo.search` != ''",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return parent


def sklearn_alone(data: Path, trials: list[Any]) -> tuple[float, float]:
    """Wall and CPU seconds to fit and score the trials' forests with scikit-learn alone."""
    from homework.data.pickles import Prepared
    from homework.forest import fit_forest, rmse

    prepared = Prepared.read(data)
    (X_train, y_train), (X_val, y_val) = (prepared.dataset(name) for name in ("train", "val"))
    wall, cpu = time.perf_counter(), time.process_time()  # process_time: every thread's
    for trial in trials:
        params = {name: int(value) for name, value in trial.data.params.items()}
        forest = fit_forest(X_train, y_train, **params)
        assert abs(rmse(y_val, forest.predict(X_val)) - trial.data.metrics["rmse"]) < 1e-9
    return time.perf_counter() - wall, time.process_time() - cpu


def stopped_after(args: list[str], env: dict[str, str], client: Any, count: int) -> None:
    """Run hpo.py ARGS and press Ctrl-C once `count` trials of its new search are done."""
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    known = {run.info.run_id for run in client.search_runs([experiment.experiment_id])}
    process = subprocess.Popen(
        [PYTHON, *args],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even under nohup
    )
    while process.poll() is None:
        runs = client.search_runs([experiment.experiment_id], "metrics.rmse >= 0")
        if len([run for run in runs if run.info.run_id not in known]) >= count:
            process.send_signal(signal.SIGINT)
            break
        time.sleep(0.1)
    if process.wait() != 1:
        raise click.ClickException(f"{' '.join(args)} was not stopped by Ctrl-C")


def compare(tuner: str, data: Path, work: Path, env: dict[str, str], client: Any) -> dict:
    """One tuner: its search, its overhead per trial, and the same search stopped and resumed."""
    args = ["hpo.py", "--data_path", str(data), "--tuner", tuner, "--seed", str(SEED)]
    if tuner == "optuna":
        args += ["--storage", f"sqlite:///{work / 'optuna.db'}"]
    click.echo(f"{tuner}: {NUM_TRIALS} trials", err=True)
    run = measure(args, env)
    trials = trials_of(client, newest_parent(client).info.run_id)
    alone_wall, alone_cpu = sklearn_alone(data, trials)
    click.echo(f"{tuner}: stopped after {RESUME_AFTER} trials, then --resume", err=True)
    stopped_after(args, env, client, RESUME_AFTER)
    resumed = measure([*args, "--resume"], env)
    again = trials_of(client, newest_parent(client).info.run_id)

    def params(runs: list[Any]) -> list[dict[str, str]]:
        return [run.data.params for run in runs]

    same = sum(a == b for a, b in zip(params(trials), params(again), strict=False))
    return {
        "best_val_rmse": float(result_of(run["stdout"])),
        "wall_s": run["wall_s"],
        "sklearn_s": alone_wall,
        "overhead_per_trial_s": (run["wall_s"] - alone_wall) / NUM_TRIALS,
        "cpu_s": run["cpu_s"],
        "sklearn_cpu_s": alone_cpu,
        "overhead_per_trial_cpu_s": (run["cpu_s"] - alone_cpu) / NUM_TRIALS,
        "resumed": {
            "after": RESUME_AFTER,
            "trials": len(again),
            "same_trials_in_order": same,
            "best_val_rmse": float(result_of(resumed["stdout"])),
        },
    }


def table(report: dict[str, Any]) -> str:
    """The tuners side by side, as one plain-text table."""
    lines = [
        "15 trials, seed 42, real data: wall and CPU seconds of hpo.py and of the same forests",
        "with scikit-learn alone; overhead per trial = (hpo.py - scikit-learn alone) / 15",
        f"{'tuner':<12}{'best val RMSE':>14}{'hpo.py':>9}{'sklearn':>9}{'overhead/trial':>16}"
        f"{'hpo.py CPU':>12}{'sklearn CPU':>13}{'CPU overhead/trial':>20}",
    ]
    for tuner, row in report["tuners"].items():
        lines.append(
            f"{tuner:<12}{row['best_val_rmse']:>14.4f}{row['wall_s']:>9.1f}"
            f"{row['sklearn_s']:>9.1f}{row['overhead_per_trial_s']:>16.2f}"
            f"{row['cpu_s']:>12.1f}{row['sklearn_cpu_s']:>13.1f}"
            f"{row['overhead_per_trial_cpu_s']:>20.2f}"
        )
    lines.append("")
    for tuner, row in report["tuners"].items():
        resumed = row["resumed"]
        lines.append(
            f"{tuner}: stopped after {resumed['after']} trials, resumed: "
            f"{resumed['same_trials_in_order']}/{resumed['trials']} trials the uninterrupted "
            f"search's, in order; best {resumed['best_val_rmse']:.4f}"
        )
    lines.append(f"load average before {report['load_before']}, after {report['load_after']}")
    return "\n".join(lines)


def blocks() -> dict[str, Any]:
    """The block of docs/performance.md that `make docs` writes from bench/tuners.json."""
    return {"bench-tuners": lambda results: f"```\n{table(results['tuners'])}\n```"}


@click.command()
@raw_data_path_option
@click.option("--output", default="bench/tuners.json", show_default=True, help="JSON results.")
def main(raw_data_path: str, output: str) -> None:
    """hyperopt's and Optuna's search on the real data, and each stopped and resumed."""
    from mlflow.tracking import MlflowClient

    report: dict[str, Any] = {"load_before": load_average(), "tuners": {}}
    with tempfile.TemporaryDirectory(prefix="bench-tuners-") as scratch:
        work = Path(scratch)
        # The forests the searches log are signed with a throwaway key, not yours.
        os.environ[KEY_DIR_VARIABLE] = str(work / "signing-key")
        os.environ[CACHE_DIR_VARIABLE] = str(work / "cache")
        server = start_server(work / "server")
        try:
            env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri}
            data = work / "output"
            paths = ["--raw_data_path", raw_data_path, "--dest_path", str(data)]
            measure(["preprocess_data.py", *paths])
            client = MlflowClient(server.uri)
            for tuner in TUNERS:
                report["tuners"][tuner] = compare(tuner, data, work, env, client)
        finally:
            server.stop()
    report["load_after"] = load_average()
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    click.echo(table(report))


if __name__ == "__main__":
    main()
