"""Promote the best hyperopt model to the model registry (question 6).

Takes the `--top_n` finished runs of the newest hyperopt search (experiment
`random-forest-hyperopt`) with the lowest validation `rmse`, scores each run's
logged model on the validation and test months, and logs `val_rmse`,
`test_rmse` and the model as one run per candidate in the experiment
`random-forest-best-models`. The candidate with the lowest `test_rmse` is
registered under `--model_name` and the alias `champion` points at that new
version. The models are reused from the hyperopt runs, not refitted: same
parameters and seed give the same forest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
import mlflow
from mlflow.entities import Run, ViewType
from mlflow.tracking import MlflowClient

from common import (
    MODEL_ARTIFACT,
    check_outputs,
    load_dataset,
    log_sklearn_model,
    newest_search,
    rmse,
    tracking,
    tracking_uri_option,
)

EXPERIMENT_NAME = "random-forest-best-models"
DEFAULT_MODEL_NAME = "nyc-green-taxi-duration-rf"
CHAMPION_ALIAS = "champion"
RF_PARAMS = ["max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"]


@dataclass
class Candidate:
    hpo_run_id: str
    run_id: str
    val_rmse: float
    test_rmse: float


def top_hpo_runs(top_n: int) -> list[Run]:
    """The `top_n` finished runs of the newest search with the lowest validation `rmse`."""
    experiment_id, filter_string = newest_search()
    return MlflowClient().search_runs(
        [experiment_id],
        filter_string=filter_string,
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["metrics.rmse ASC"],
        max_results=top_n,
    )


def evaluate_and_log(hpo_run: Run, datasets: dict[str, tuple[Any, Any]]) -> Candidate:
    """Score one hyperopt run's model on validation and test data and log it as a new run."""
    model = mlflow.sklearn.load_model(f"runs:/{hpo_run.info.run_id}/{MODEL_ARTIFACT}")
    scores = {f"{name}_rmse": rmse(y, model.predict(X)) for name, (X, y) in datasets.items()}
    params = {name: hpo_run.data.params[name] for name in RF_PARAMS}
    with mlflow.start_run(tags={"hpo_run_id": hpo_run.info.run_id}) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(scores)
        log_sklearn_model(model)
    return Candidate(hpo_run.info.run_id, run.info.run_id, scores["val_rmse"], scores["test_rmse"])


def register(candidate: Candidate, model_name: str) -> str:
    """Register the candidate's model and point the `champion` alias at it; return the version."""
    version = mlflow.register_model(f"runs:/{candidate.run_id}/{MODEL_ARTIFACT}", model_name)
    MlflowClient().set_registered_model_alias(model_name, CHAMPION_ALIAS, version.version)
    return version.version


def run_register(data_path: str, top_n: int, model_name: str) -> tuple[Candidate, str]:
    datasets = {name: load_dataset(data_path, name) for name in ("val", "test")}
    hpo_runs = top_hpo_runs(top_n)
    if len(hpo_runs) < top_n:
        click.echo(f"Only {len(hpo_runs)} finished hyperopt runs: using those.", err=True)
    mlflow.set_experiment(EXPERIMENT_NAME)
    candidates = []
    with click.progressbar(
        hpo_runs, label="Scoring top models", file=click.get_text_stream("stderr")
    ) as bar:
        for hpo_run in bar:
            candidates.append(evaluate_and_log(hpo_run, datasets))
    best = min(candidates, key=lambda candidate: candidate.test_rmse)
    return best, register(best, model_name)


@click.command()
@click.option(
    "--data_path",
    "--data-path",
    default="output",
    show_default=True,
    help="Folder with the pickles written by preprocess_data.py.",
)
@click.option(
    "--top_n",
    "--top-n",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many of the best hyperopt runs to evaluate on the test month.",
)
@click.option(
    "--model_name",
    "--model-name",
    default=DEFAULT_MODEL_NAME,
    show_default=True,
    help="Registered model name for the champion.",
)
@tracking_uri_option
def run_register_model(data_path: str, top_n: int, model_name: str, tracking_uri: str) -> None:
    """Register the hyperopt model with the lowest test RMSE and print that RMSE."""
    check_outputs(data_path)
    with tracking(tracking_uri):
        best, version = run_register(data_path, top_n, model_name)
    click.echo(
        f"Registered {model_name} version {version} (@{CHAMPION_ALIAS}) from run {best.run_id}",
        err=True,
    )
    click.echo(f"test RMSE: {best.test_rmse:.4f}")


if __name__ == "__main__":
    run_register_model()
