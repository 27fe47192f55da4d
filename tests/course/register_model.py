"""A stand-in for the course's own register_model.py, for the tests (written here, not
copied): the `--top_n` runs of `random-forest-hyperopt` with the lowest `rmse`, whatever made
them, each refitted from its params under `mlflow.sklearn.autolog()` as a run of
`random-forest-best-models` with `val_rmse` and `test_rmse`; the one with the lowest
`test_rmse` registered as `rf-best-model`, no alias."""

import pickle
from pathlib import Path

import click
import mlflow
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import root_mean_squared_error

FOREST_PARAMS = (
    "max_depth",
    "n_estimators",
    "min_samples_split",
    "min_samples_leaf",
    "random_state",
)


def read(data_path: str, name: str):
    with open(Path(data_path) / f"{name}.pkl", "rb") as file:
        return pickle.load(file)


def refit_and_log(data_path: str, logged: dict) -> None:
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = (
        read(data_path, name) for name in ("train", "val", "test")
    )
    with mlflow.start_run():
        forest = RandomForestRegressor(**{name: int(logged[name]) for name in FOREST_PARAMS})
        forest.fit(X_train, y_train)
        mlflow.log_metric("val_rmse", root_mean_squared_error(y_val, forest.predict(X_val)))
        mlflow.log_metric("test_rmse", root_mean_squared_error(y_test, forest.predict(X_test)))


@click.command()
@click.option("--data_path", default="./output")
@click.option("--top_n", default=5)
def run_register_model(data_path: str, top_n: int) -> None:
    client = MlflowClient()
    mlflow.set_experiment("random-forest-best-models")
    mlflow.sklearn.autolog()
    searched = client.get_experiment_by_name("random-forest-hyperopt")
    for run in client.search_runs(
        [searched.experiment_id],
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=top_n,
        order_by=["metrics.rmse ASC"],
    ):
        refit_and_log(data_path, run.data.params)
    best_models = client.get_experiment_by_name("random-forest-best-models")
    (best,) = client.search_runs(
        [best_models.experiment_id],
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=1,
        order_by=["metrics.test_rmse ASC"],
    )
    mlflow.register_model(f"runs:/{best.info.run_id}/model", "rf-best-model")


if __name__ == "__main__":
    run_register_model()
