"""Promote the best hyperopt model to the model registry (question 6).

Takes the `--top_n` trials with the lowest validation `rmse` of the newest finished hyperopt
search (experiment `random-forest-hyperopt`), scores each trial's forest on the validation
and test months, and logs both RMSEs, the forest and the two months as one run per trial in
the experiment `random-forest-best-models`. The forests are reused from the trials, not
refitted: the same parameters and seed give the same forest. The run with the lowest
`test_rmse` is registered as `--model_name`: question 6 is its test RMSE.

The package adds what a team needs (see docs/model.md): a trial's forest is loaded only
once its signature checks out; the registered model is a self-contained one that takes raw
trips, signed; and a promotion gate compares it with the current @champion on the same
trips, giving it `@champion` or `@challenger`.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import sys
from typing import Any

import click

from homework.config import BEST_MODELS_EXPERIMENT, HPO_RUN_TAG, MODEL_ARTIFACT
from homework.data.lineage import log_datasets, pickled_months
from homework.data.pickles import check_outputs, load_dataset
from homework.forest import rmse
from homework.models import log_sklearn_model
from homework.options import (
    connection_options,
    data_path_option,
    policy_options,
    raw_data_path_option,
    top_n_option,
)
from homework.publish.champion import publish, read_test_trips
from homework.publish.gate import Policy
from homework.publish.incumbent import choose_baseline
from homework.publish.registry import Candidate
from homework.reporting import reporting
from homework.search.runs import best_trials, newest_search
from homework.tracking.connection import Connection
from homework.tracking.experiments import set_experiment
from homework.trust.loading import load_sklearn

RF_PARAMS = ["max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"]


def train_and_log_model(
    trial: Any, datasets: dict, months: dict, trust_unsigned: bool
) -> tuple[Candidate, Any]:
    """Score one trial's forest on the validation and test sets, log it as a new run; and it."""
    import mlflow

    model = load_sklearn(f"runs:/{trial.info.run_id}/{MODEL_ARTIFACT}", trust_unsigned)
    params = {name: trial.data.params[name] for name in RF_PARAMS}
    with mlflow.start_run(tags={HPO_RUN_TAG: trial.info.run_id}) as run:
        mlflow.log_params(params)
        scores = {name: rmse(y, model.predict(X)) for name, (X, y) in datasets.items()}
        mlflow.log_metrics({f"{name}_rmse": score for name, score in scores.items()})
        log_sklearn_model(model)
        log_datasets(months)  # the raw months behind val.pkl and test.pkl
    candidate = Candidate(trial.info.run_id, run.info.run_id, scores["val"], scores["test"], params)
    return candidate, model


def register_best(data_path: str, raw_data_path: str, top_n: int, policy: Policy) -> tuple:
    """Log the top trials as candidates and register the best; its test RMSE, version, gate."""
    datasets = {name: load_dataset(data_path, name) for name in ("val", "test")}
    months = pickled_months(data_path, ("val", "test"))
    trips = read_test_trips(data_path, raw_data_path)  # the raw test month, as dv.pkl recorded it
    baseline = choose_baseline(policy, data_path)  # the champion to beat, if it can be trusted
    search = newest_search()
    if search.note:
        click.echo(search.note, err=True)
    trials = best_trials(search, top_n, pickled_months(data_path, ("train", "val")), data_path)
    if len(trials) < top_n:
        click.echo(f"Only {len(trials)} finished hyperopt runs: using those.", err=True)

    set_experiment(BEST_MODELS_EXPERIMENT)
    best, forest = None, None  # the lowest test RMSE so far; only its forest is kept
    with click.progressbar(trials, label="Scoring the top models", file=sys.stderr) as bar:
        for trial in bar:
            candidate, model = train_and_log_model(trial, datasets, months, policy.trust_unsigned)
            if best is None or candidate.test_rmse < best.test_rmse:
                best, forest = candidate, model
    version, decision = publish(best, forest, data_path, trips, policy, baseline)  # gate, registry
    return best.test_rmse, version, decision


@click.command()
@data_path_option
@raw_data_path_option("Folder with the raw trip files; the test month in dv.pkl is read from it.")
@top_n_option
@policy_options
@connection_options
def run_register_model(
    data_path: str, raw_data_path: str, top_n: int, policy: Policy, connection: Connection
) -> None:
    """Register the hyperopt model with the lowest test RMSE and print that RMSE."""
    name = policy.model_name
    click.echo(f"Registering the best of the top {top_n} hyperopt runs as {name}", err=True)
    with reporting(connection):
        check_outputs(data_path)
        connection.connect()
        test_rmse, version, decision = register_best(data_path, raw_data_path, top_n, policy)
    click.echo(
        f"Registered {name} version {version} as @{decision.alias}: {decision.reason()}.", err=True
    )
    click.echo(f"test RMSE: {test_rmse:.4f}")


if __name__ == "__main__":
    run_register_model()
