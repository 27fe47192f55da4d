"""A stand-in for the course's own train.py as a learner finishes it for Q3, for the tests
(written here, not copied): `mlflow.sklearn.autolog()` and one run of
`RandomForestRegressor(max_depth=10, random_state=0)`, in MLflow's default experiment."""

import pickle
from pathlib import Path

import click
import mlflow
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error


def read(data_path: str, name: str):
    with open(Path(data_path) / f"{name}.pkl", "rb") as file:
        return pickle.load(file)


@click.command()
@click.option("--data_path", default="./output")
def run_train(data_path: str) -> None:
    mlflow.sklearn.autolog()
    X_train, y_train = read(data_path, "train")
    X_val, y_val = read(data_path, "val")
    with mlflow.start_run():
        forest = RandomForestRegressor(max_depth=10, random_state=0).fit(X_train, y_train)
        print(root_mean_squared_error(y_val, forest.predict(X_val)))


if __name__ == "__main__":
    run_train()
