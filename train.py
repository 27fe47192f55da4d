"""Train a random forest with MLflow autologging (question 3).

Loads `train.pkl` and `val.pkl` from `--data_path`, fits
`RandomForestRegressor(max_depth=10, random_state=0)` inside one run of the
experiment `random-forest-train` with `mlflow.sklearn.autolog()` switched on, and
prints the validation RMSE. Autolog records every parameter of the forest, among
them `min_samples_split`, the answer to question 3. The run also logs the raw months
behind the pickles as its training and validation datasets (see lineage.py).
"""

from __future__ import annotations

import click

from homework.cli import data_path_option, reporting, tracking_uri_option, verbose_option
from homework.config import TRAIN_EXPERIMENT
from homework.forest import fit_forest, rmse
from homework.lineage import log_datasets, month_datasets
from homework.models import keep_sparse, log_sklearn_model, matrix_signature
from homework.pickles import check_outputs, load_dataset, load_vectorizer
from homework.tracking import connect, set_experiment

RF_PARAMS = {"max_depth": 10, "random_state": 0}


def train_and_log(data_path: str) -> tuple[str, float]:
    """Fit the forest in an autologged run; return the run id and validation RMSE."""
    import mlflow

    X_train, y_train = load_dataset(data_path, "train")
    X_val, y_val = load_dataset(data_path, "val")
    trip_data = load_vectorizer(data_path).trip_data_
    datasets = month_datasets(trip_data, ("train", "val"), data_path)

    # No dataset logging: it would turn the sparse matrix dense (gigabytes). log_datasets=False
    # stops it on MLflow 2.x; keep_sparse (see models.py) on 3.x, which ignores that flag.
    # log_models=False: autolog would infer the model's pip requirements by loading it again
    # in a fresh interpreter (seconds); the model is logged below with pinned requirements
    # and the signature autolog gives it (float64 tensors), the rest stays autologged.
    mlflow.sklearn.autolog(log_datasets=False, log_models=False, silent=True)
    try:
        set_experiment(TRAIN_EXPERIMENT)
        with mlflow.start_run() as run:
            log_datasets(datasets)  # the raw months behind train.pkl and val.pkl
            rf = fit_forest(keep_sparse(X_train), y_train, **RF_PARAMS)
            val_rmse = rmse(y_val, rf.predict(X_val))
            mlflow.log_metric("val_rmse", val_rmse)
            log_sklearn_model(rf, signature=matrix_signature(X_train, y_train))
    finally:
        mlflow.sklearn.autolog(disable=True)  # leave no patched scikit-learn behind
    return run.info.run_id, val_rmse


@click.command()
@data_path_option
@tracking_uri_option
@verbose_option
def run_train(data_path: str, tracking_uri: str, verbose: bool) -> None:
    """Train the baseline random forest with autologging and print its validation RMSE."""
    click.echo(f"Training RandomForestRegressor{RF_PARAMS} with autolog", err=True)
    with reporting(tracking_uri, verbose):
        check_outputs(data_path)
        connect(tracking_uri, verbose)
        _, val_rmse = train_and_log(data_path)
    click.echo(f"validation RMSE: {val_rmse:.4f}")


if __name__ == "__main__":
    run_train()
