"""Tune the random forest with hyperopt and log every trial to MLflow (question 5).

Runs hyperopt's TPE over the course's search space for `--num_trials` trials.
Each trial fits a forest on `train.pkl`, scores it on `val.pkl` and becomes one
MLflow run in the experiment `random-forest-hyperopt` with its parameters, the
validation `rmse` and the fitted model (so register_model.py need not refit it).
All trials of one invocation share the tag `hpo.search_id`. No autologging.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import click
import mlflow
import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, hp, tpe
from hyperopt.pyll import scope
from sklearn.ensemble import RandomForestRegressor

from common import (
    HPO_EXPERIMENT_NAME,
    SEARCH_TAG,
    check_outputs,
    load_dataset,
    log_sklearn_model,
    rmse,
    tracking,
    tracking_uri_option,
)

SEARCH_SPACE = {
    "max_depth": scope.int(hp.quniform("max_depth", 1, 20, 1)),
    "n_estimators": scope.int(hp.quniform("n_estimators", 10, 50, 1)),
    "min_samples_split": scope.int(hp.quniform("min_samples_split", 2, 10, 1)),
    "min_samples_leaf": scope.int(hp.quniform("min_samples_leaf", 1, 4, 1)),
    "random_state": 42,
}
N_JOBS = -1  # every core; the fitted forest is the same whatever the number of jobs
ORPHAN_AGE_MINUTES = 10  # a trial still RUNNING after this long was left by a crash


def log_trial(params: dict[str, Any], val_rmse: float, model: Any, search_id: str) -> str:
    """Record one finished trial as one run: its params, `rmse` and model. Returns the run id."""
    with mlflow.start_run(tags={SEARCH_TAG: search_id}) as run:
        mlflow.log_params(params)
        mlflow.log_metric("rmse", val_rmse)
        log_sklearn_model(model)
    return run.info.run_id


def make_objective(data_path: str, search_id: str):
    """The function hyperopt minimises: fit, score on validation data, log the trial."""
    X_train, y_train = load_dataset(data_path, "train")
    X_val, y_val = load_dataset(data_path, "val")

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        rf = RandomForestRegressor(**params, n_jobs=N_JOBS)
        rf.fit(X_train, y_train)
        val_rmse = rmse(y_val, rf.predict(X_val))
        # The run is opened only once the fit is done, so a crash never leaves one RUNNING.
        log_trial(params, val_rmse, rf, search_id)
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


def run_optimization(data_path: str, num_trials: int, seed: int) -> tuple[str, Trials]:
    """Run the TPE search; return its search id and the hyperopt trials."""
    search_id = uuid.uuid4().hex
    objective = make_objective(data_path, search_id)
    experiment = mlflow.set_experiment(HPO_EXPERIMENT_NAME)
    fail_orphaned_trials(experiment.experiment_id)
    trials = Trials()
    fmin(
        fn=objective,
        space=SEARCH_SPACE,
        algo=tpe.suggest,
        max_evals=num_trials,
        trials=trials,
        rstate=np.random.default_rng(seed),
    )
    return search_id, trials


@click.command()
@click.option(
    "--data_path",
    "--data-path",
    default="output",
    show_default=True,
    help="Folder with the pickles written by preprocess_data.py.",
)
@click.option(
    "--num_trials",
    "--num-trials",
    default=15,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of parameter settings hyperopt evaluates.",
)
@click.option(
    "--seed",
    default=42,
    show_default=True,
    type=int,
    help="Seed of hyperopt's random generator (42 reproduces the course's answer).",
)
@tracking_uri_option
def run_hpo(data_path: str, num_trials: int, seed: int, tracking_uri: str) -> None:
    """Search random-forest hyperparameters with hyperopt and print the best validation RMSE."""
    click.echo(f"Hyperopt: {num_trials} trials, logging to {HPO_EXPERIMENT_NAME!r}", err=True)
    check_outputs(data_path)
    with tracking(tracking_uri):
        search_id, trials = run_optimization(data_path, num_trials, seed)
    best = min(trials.losses())
    click.echo(f"Search {search_id}: {len(trials)} trials logged", err=True)
    click.echo(f"best validation RMSE: {best:.4f}")


if __name__ == "__main__":
    run_hpo()
