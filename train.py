"""Train a random forest with MLflow autologging (question 3).

Loads `train.pkl` and `val.pkl` from `--data_path`, fits `RandomForestRegressor(max_depth=10,
random_state=0)` in one run of the experiment `random-forest-train` with autolog on, and prints
the validation RMSE. Autolog records every parameter of the forest, among them
`min_samples_split`: the answer to question 3.

With no tracking URI named and no server up, the run goes to `sqlite:///mlflow.db` in the
current folder, as the course's does (Q3 comes before any server). The run also records the
raw months behind the pickles, and its forest is logged signed (see docs/scripts.md).
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import click

from homework.config import TRAIN_EXPERIMENT
from homework.data.pickles import Prepared
from homework.forest import fit_forest, rmse
from homework.models import autologged_run, log_sklearn_model
from homework.options import data_path_option, local_connection_options
from homework.reporting import reporting
from homework.tracking.connection import Connection

RF_PARAMS = {"max_depth": 10, "random_state": 0}


def train_and_log(data: Prepared) -> float:
    """Fit the forest in an autologged run; return its validation RMSE."""
    import mlflow

    X_train, y_train = data.dataset("train")
    X_val, y_val = data.dataset("val")

    with autologged_run(TRAIN_EXPERIMENT, data.months("train", "val")):
        rf = fit_forest(X_train, y_train, **RF_PARAMS)
        val_rmse = rmse(y_val, rf.predict(X_val))
        mlflow.log_metric("val_rmse", val_rmse)
        log_sklearn_model(rf, as_autolog=True)  # the course's runs:/<id>/model: a pickle
    return val_rmse


@click.command()
@data_path_option
@local_connection_options
def run_train(data_path: str, connection: Connection) -> None:
    """Train the baseline random forest with autologging and print its validation RMSE."""
    click.echo(f"Training RandomForestRegressor{RF_PARAMS} with autolog", err=True)
    connection = connection.or_local_store()  # no server named, none up: ./mlflow.db
    with reporting(connection):
        data = Prepared.read(data_path)
        connection.connect()
        val_rmse = train_and_log(data)
    click.echo(f"validation RMSE: {val_rmse:.4f}")


if __name__ == "__main__":
    run_train()
