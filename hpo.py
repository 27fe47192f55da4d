"""Tune the random forest with hyperopt and log every trial to MLflow (question 5).

Runs hyperopt's TPE over the course's search space (search.py) for `--num_trials`
trials. Each trial fits a forest on `train.pkl`, scores it on `val.pkl` and becomes one
MLflow run in the experiment `random-forest-hyperopt` with its parameters, the
validation `rmse`, the fitted model (so register_model.py need not refit it) and the
raw training and validation months as its datasets (see lineage.py). All trials of one
invocation share the tag `hpo.search_id`. No autologging.

After the last trial, one summary run (tagged with the same `hpo.search_id` and
`hpo.summary`, but with no `rmse` metric, so the top-N search of register_model.py and Q5
never see it) holds the plot `validation_rmse_per_trial.png`: each trial's validation RMSE
and the best-so-far line. Once it has FINISHED, the search is complete: register_model.py
and Q5 only use complete searches (tracking.newest_search). A search stopped by Ctrl-C or
by a lost server has no summary run; hpo.py then exits non-zero with one line.

With `--spark_parallelism N` the trials run as tasks of hyperopt's `SparkTrials`
on a Spark master (`--spark_master`, default `$SPARK_MASTER` or `local[*]`); each
trial still logs its own run from wherever it ran (needs `make install-spark`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

import homework
from homework.cli import (
    data_path_option,
    masked_output,
    num_trials_option,
    reporting,
    tracking_uri_option,
    verbose_option,
)
from homework.config import HPO_EXPERIMENT, SEARCH_TAG, SEED, SUMMARY_TAG, TRIALS_PLOT
from homework.errors import UserError, first_line
from homework.forest import fit_forest, rmse
from homework.lineage import log_datasets, month_datasets
from homework.models import log_sklearn_model, matrix_signature
from homework.pickles import check_outputs, load_dataset, load_vectorizer
from homework.tracking import connect, set_experiment

DEFAULT_SPARK_MASTER = "local[*]"
ORPHAN_AGE_MINUTES = 10  # a trial still RUNNING after this long was left by a crash


def log_trial(
    params: dict[str, Any],
    val_rmse: float,
    model: Any,
    search_id: str,
    signature: Any = None,
    datasets: dict[str, Any] | None = None,
) -> str:
    """Record one finished trial as one run: params, `rmse`, model, data. Returns the run id."""
    import mlflow

    with mlflow.start_run(tags={SEARCH_TAG: search_id}) as run:
        mlflow.log_params(params)
        mlflow.log_metric("rmse", val_rmse)
        log_sklearn_model(model, signature=signature)
        log_datasets(datasets or {})
    return run.info.run_id


def log_summary(losses: list[float], search_id: str) -> str:
    """Log the search's plot in a run without `rmse` (not a trial); returns the run id."""
    import mlflow

    from homework import plots

    tags = {SEARCH_TAG: search_id, SUMMARY_TAG: "true"}
    with mlflow.start_run(run_name=f"hpo-summary-{search_id[:8]}", tags=tags) as run:
        mlflow.log_params({"num_trials": len(losses)})
        mlflow.log_metric("best_val_rmse", min(losses))
        plots.log_figure(plots.trial_rmse_figure(losses), TRIALS_PLOT)
    return run.info.run_id


def make_objective(data_path: str, search_id: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The function hyperopt minimises: fit, score on validation data, log the trial."""
    from hyperopt import STATUS_OK

    X_train, y_train = load_dataset(data_path, "train")
    X_val, y_val = load_dataset(data_path, "val")
    signature = matrix_signature(X_train, y_train)
    trip_data = load_vectorizer(data_path).trip_data_
    datasets = month_datasets(trip_data, ("train", "val"), data_path)

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        rf = fit_forest(X_train, y_train, **params)
        val_rmse = rmse(y_val, rf.predict(X_val))
        # The run is opened only once the fit is done, so a crash never leaves one RUNNING.
        log_trial(params, val_rmse, rf, search_id, signature, datasets)
        return {"loss": val_rmse, "status": STATUS_OK}

    return objective


def fail_orphaned_trials(experiment_id: str) -> int:
    """Mark trials left RUNNING (the server died while one was logged) as FAILED.

    A trial's run is open only while it is logged, seconds, so one older than
    ORPHAN_AGE_MINUTES is an orphan; a search running elsewhere right now is never touched.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    started_before = int((time.time() - ORPHAN_AGE_MINUTES * 60) * 1000)
    orphans = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{SEARCH_TAG}` != '' "
        f"and attributes.start_time < {started_before}",
    )
    for run in orphans:
        client.set_terminated(run.info.run_id, "FAILED")
    if orphans:
        click.echo(f"Marked {len(orphans)} trial(s) left RUNNING as FAILED", err=True)
    return len(orphans)


def make_remote_objective(
    objective: Callable[[dict[str, Any]], Any], tracking_uri: str, experiment_id: str, verbose: bool
) -> Callable[[dict[str, Any]], Any]:
    """Wrap `objective` for a Spark worker, a fresh process that knows nothing of the driver.

    It connects to the driver's tracking server and experiment itself, keeps MLflow's
    chatter off its stdout (a worker's stdout may be the driver's, which carries only results)
    and masks the password in what it prints.
    """

    def remote_objective(params: dict[str, Any]) -> dict[str, Any]:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_experiment(experiment_id=experiment_id)
        with masked_output(tracking_uri, verbose):
            return objective(params)

    return remote_objective


@contextlib.contextmanager
def spark_trials(parallelism: int, master: str) -> Iterator[Any]:
    """hyperopt's `SparkTrials` on `master`, its workers running this very interpreter."""
    try:
        from hyperopt.spark import SparkTrials
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError("--spark_parallelism needs pyspark: run `make install-spark`.") from None
    # Without this the workers take the system's python, which lacks hyperopt and MLflow.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spark = SparkSession.builder.master(master).appName("hpo").getOrCreate()
    except Exception as exc:  # no Java, bad master URL, cluster down: all one line for the user
        raise UserError(
            f"cannot start Spark on master {master!r}: {first_line(exc)[:300]} "
            "(needs Java 17+; check --spark_master / $SPARK_MASTER)"
        ) from None
    try:
        spark.sparkContext.setLogLevel("ERROR")
        # The trials import the homework's modules on the workers: ship them (small files).
        spark.sparkContext.addPyFile(__file__)
        with tempfile.TemporaryDirectory() as scratch:
            package = Path(homework.__file__).parent
            archive = shutil.make_archive(
                f"{scratch}/homework", "zip", package.parent, package.name
            )
            spark.sparkContext.addPyFile(archive)
        yield SparkTrials(parallelism=parallelism, spark_session=spark)
    finally:
        spark.stop()


def check_all_done(trials: Any) -> None:
    """Fail with one line if a trial failed on a Spark worker (SparkTrials only records it)."""
    from hyperopt import JOB_STATE_DONE

    every = trials._dynamic_trials  # failed trials too: `trials.trials` leaves them out
    failed = [trial for trial in every if trial["state"] != JOB_STATE_DONE]
    if failed:
        error = failed[0]["misc"].get("error", ("", "cancelled"))[1].strip().splitlines()
        raise UserError(
            f"{len(failed)} of {len(every)} trials failed on Spark, the first with: "
            f"{(error or ['?'])[-1][:300]}"
        )


def run_optimization(
    data_path: str,
    num_trials: int,
    seed: int,
    spark_parallelism: int = 0,
    spark_master: str = DEFAULT_SPARK_MASTER,
    verbose: bool = False,
) -> tuple[str, Any]:
    """Run the TPE search; return its search id and the hyperopt trials.

    `spark_parallelism` 0 runs the trials one after the other here; N > 0 runs up to N at
    a time as Spark tasks on `spark_master`.
    """
    import mlflow
    from hyperopt import Trials

    from homework.tuning import minimize

    # A failed trial stops the search and becomes our one `Error:` line; hyperopt's own
    # "job exception: ..." log line would say it a second time.
    logging.getLogger("hyperopt.fmin").setLevel(logging.INFO if verbose else logging.CRITICAL)
    search_id = uuid.uuid4().hex
    objective = make_objective(data_path, search_id)
    experiment = set_experiment(HPO_EXPERIMENT)
    fail_orphaned_trials(experiment.experiment_id)
    trials = None
    try:
        if spark_parallelism:
            remote = make_remote_objective(
                objective, mlflow.get_tracking_uri(), experiment.experiment_id, verbose
            )
            with spark_trials(spark_parallelism, spark_master) as trials:
                minimize(remote, num_trials, seed, trials)
            check_all_done(trials)
        else:
            trials = Trials()
            minimize(objective, num_trials, seed, trials)
        log_summary(trials.losses(), search_id)  # the last step: the search is complete
    except KeyboardInterrupt:
        done = sum(loss is not None for loss in trials.losses()) if trials else 0
        raise UserError(
            f"interrupted after {done} of {num_trials} trials: search {search_id[:8]} is "
            "incomplete, so register_model.py and Q5 will not use it; run hpo.py again (make q5)."
        ) from None
    return search_id, trials


@click.command()
@data_path_option
@num_trials_option
@click.option(
    "--seed",
    default=SEED,
    show_default=True,
    type=int,
    help="Seed of hyperopt's random generator (42 reproduces the course's answer).",
)
@click.option(
    "--spark_parallelism",
    "--spark-parallelism",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Run up to N trials at a time on Spark (hyperopt's SparkTrials); 0: one by one here.",
)
@click.option(
    "--spark_master",
    "--spark-master",
    envvar="SPARK_MASTER",
    default=DEFAULT_SPARK_MASTER,
    show_default=f"$SPARK_MASTER or {DEFAULT_SPARK_MASTER}",
    help="Spark master URL for --spark_parallelism, e.g. spark://host:7077.",
)
@tracking_uri_option
@verbose_option
def run_hpo(
    data_path: str,
    num_trials: int,
    seed: int,
    spark_parallelism: int,
    spark_master: str,
    tracking_uri: str,
    verbose: bool,
) -> None:
    """Search random-forest hyperparameters with hyperopt and print the best validation RMSE."""
    where = f" (up to {spark_parallelism} at a time on Spark {spark_master})"
    click.echo(
        f"Hyperopt: {num_trials} trials{where if spark_parallelism else ''}, "
        f"logging to {HPO_EXPERIMENT!r}",
        err=True,
    )
    with reporting(tracking_uri, verbose):
        check_outputs(data_path)
        connect(tracking_uri, verbose)
        _, trials = run_optimization(
            data_path, num_trials, seed, spark_parallelism, spark_master, verbose
        )
    click.echo(f"best validation RMSE: {min(trials.losses()):.4f}")


if __name__ == "__main__":
    run_hpo()
