"""Tune the random forest with hyperopt and log every trial to MLflow (question 5).

Runs hyperopt's TPE over the course's search space (homework/search/hyperopt_tuner.py) for
`--num_trials` trials. The search is one parent run in the experiment
`random-forest-hyperopt`; each trial is a run nested in it with its parameters and the
validation `rmse` (and its forest, so register_model.py need not fit it again). Question 5
is the lowest `rmse` of the newest search whose parent run finished.

The package adds what a team needs (see docs/scripts.md): the runs record the raw months
they used, every forest is signed, the parent run gets a plot of the trials, a search
stopped halfway stays unfinished and `--resume` goes on with it, `--tuner optuna` searches
with Optuna (several workers may share one study), and `--spark_parallelism N` runs the
trials on Spark.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import click

from homework.data.pickles import Prepared
from homework.forest import fit_forest, rmse
from homework.options import connection_options, data_path_option, num_trials_option, seed_option
from homework.reporting import reporting
from homework.search.options import Tuning, spark_options, tuning_options
from homework.search.runs import Tuner, start_search
from homework.search.spark import SparkSettings, minimize_on_spark
from homework.tracking.connection import Connection


def optimize(
    data: Prepared, tuner: Tuner, spark: SparkSettings | None = None, verbose: bool = False
) -> float:
    """Run the search, one child run per trial; return the best validation RMSE."""
    X_train, y_train = data.dataset("train")
    X_val, y_val = data.dataset("val")

    with start_search(data, tuner) as search:  # the parent run: new, or resumed

        def objective(params: dict) -> float:
            rf = fit_forest(X_train, y_train, **params)
            val_rmse = rmse(y_val, rf.predict(X_val))
            search.log_trial(params, val_rmse, rf)  # a child run: params, rmse, the forest
            return val_rmse

        if spark and spark.parallelism:
            losses = minimize_on_spark(objective, tuner, search, spark, verbose)
        else:
            losses = tuner.minimize(objective, search)
        search.finish(losses)
    return min(losses)


@click.command()
@data_path_option
@num_trials_option
@seed_option
@tuning_options
@spark_options
@connection_options
def run_optimization(
    data_path: str,
    num_trials: int,
    seed: int,
    tuning: Tuning,
    spark: SparkSettings,
    connection: Connection,
) -> None:
    """Search random-forest hyperparameters (hyperopt's TPE, or Optuna's) and print the best
    validation RMSE."""
    tuning.check(spark)
    click.echo(
        f"{tuning}: {num_trials} trials{f' ({spark})' if spark.parallelism else ''}", err=True
    )
    with reporting(connection):
        data = Prepared.read(data_path)
        connection.connect()
        tuner = tuning.tuner_for(num_trials, seed, connection.verbose)  # hyperopt or Optuna
        best = optimize(data, tuner, spark, connection.verbose)
    click.echo(f"best validation RMSE: {best:.4f}")


if __name__ == "__main__":
    run_optimization()
