"""A stand-in for the course's own hpo.py, for the tests (written here, not copied): what it
does, not its code. Hyperopt's TPE over the course's search space, seeded with 42; each trial
one flat run in `random-forest-hyperopt` with the trial's params and its validation `rmse`.
No parent run, no model, no dataset, no autolog. It logs to $MLFLOW_TRACKING_URI (the
course's sets http://127.0.0.1:5000)."""

import pickle
from pathlib import Path

import click
import mlflow
import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, hp, tpe
from hyperopt.pyll import scope
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error


def read(data_path: str, name: str):
    with open(Path(data_path) / f"{name}.pkl", "rb") as file:
        return pickle.load(file)


@click.command()
@click.option("--data_path", default="./output")
@click.option("--num_trials", default=15)
def run_optimization(data_path: str, num_trials: int) -> None:
    mlflow.set_experiment("random-forest-hyperopt")
    X_train, y_train = read(data_path, "train")
    X_val, y_val = read(data_path, "val")

    def objective(params: dict) -> dict:
        with mlflow.start_run():
            mlflow.log_params(params)
            forest = RandomForestRegressor(**params).fit(X_train, y_train)
            rmse = root_mean_squared_error(y_val, forest.predict(X_val))
            mlflow.log_metric("rmse", rmse)
        return {"loss": rmse, "status": STATUS_OK}

    space = {
        name: scope.int(hp.quniform(name, low, high, 1))
        for name, low, high in [
            ("max_depth", 1, 20),
            ("n_estimators", 10, 50),
            ("min_samples_split", 2, 10),
            ("min_samples_leaf", 1, 4),
        ]
    }
    space["random_state"] = 42
    rstate = np.random.default_rng(42)
    fmin(objective, space, tpe.suggest, num_trials, trials=Trials(), rstate=rstate)


if __name__ == "__main__":
    run_optimization()
