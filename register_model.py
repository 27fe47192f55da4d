"""Promote the best hyperopt model to the model registry (question 6).

Takes the `--top_n` finished runs of the newest hyperopt search (experiment
`random-forest-hyperopt`) with the lowest validation `rmse`, scores each run's
logged model on the validation and test months, and logs `val_rmse`,
`test_rmse` and the model as one run per candidate in the experiment
`random-forest-best-models`. The models are reused from the hyperopt runs, not
refitted: same parameters and seed give the same forest.

The candidate with the lowest `test_rmse` becomes the champion. Its run keeps the
bare forest as `model` (the course's `runs:/<id>/model`) and gets, beside it, the
self-contained pyfunc `trip_duration_model` (see trip_model.py: the DictVectorizer
from `dv.pkl` and the forest, raw trips in, minutes out), checked on the raw test
month read from `--raw_data_path` (it must give the same RMSE as `test.pkl`), and
the plots `predicted_vs_actual.png` and `residuals.png` of that month. The pyfunc
is registered under `--model_name` with a description and tags (validation and
test RMSE, HPO run, data months, library versions), and the alias `champion`
points at the new version.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import speedups  # noqa: F401  (first: less garbage collection, see speedups.py)

import click
import mlflow
from mlflow.entities import Run, ViewType
from mlflow.tracking import MlflowClient

import plots
from common import (
    MODEL_ARTIFACT,
    check_outputs,
    data_path_option,
    load_dataset,
    load_pickle,
    log_sklearn_model,
    matrix_signature,
    newest_search,
    raw_data_path_option,
    rmse,
    set_experiment,
    sklearn_requirements,
    top_n_option,
    tracking,
    tracking_uri_option,
)
from preprocess_data import TARGET, read_dataframe, tripdata_path
from trip_model import EXTRA_PACKAGES, RAW_COLUMNS, TripDurationModel, log_trip_model

EXPERIMENT_NAME = "random-forest-best-models"
DEFAULT_MODEL_NAME = "nyc-green-taxi-duration-rf"
CHAMPION_ALIAS = "champion"
RF_PARAMS = ["max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"]
EXAMPLE_TRIPS = 5


@dataclass
class Candidate:
    hpo_run_id: str
    run_id: str
    val_rmse: float
    test_rmse: float
    params: dict[str, str]


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


def evaluate_and_log(
    hpo_run: Run, datasets: dict[str, tuple[Any, Any]], signature: Any = None
) -> Candidate:
    """Score one hyperopt run's model on validation and test data and log it as a new run."""
    model = mlflow.sklearn.load_model(f"runs:/{hpo_run.info.run_id}/{MODEL_ARTIFACT}")
    scores = {f"{name}_rmse": rmse(y, model.predict(X)) for name, (X, y) in datasets.items()}
    params = {name: hpo_run.data.params[name] for name in RF_PARAMS}
    with mlflow.start_run(tags={"hpo_run_id": hpo_run.info.run_id}) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(scores)
        log_sklearn_model(model, signature=signature)
    return Candidate(
        hpo_run.info.run_id, run.info.run_id, scores["val_rmse"], scores["test_rmse"], params
    )


def load_test_trips(data_path: str, raw_data_path: str) -> tuple[Any, dict[str, str], Any]:
    """The vectorizer, the data months it records and the raw trips of its test month."""
    dv_path = Path(data_path) / "dv.pkl"
    dv = load_pickle(dv_path)
    trip_data = getattr(dv, "trip_data_", None)
    if not trip_data:
        raise click.ClickException(
            f"{dv_path} does not record its data months: run preprocess_data.py again (make q2)."
        )
    path = tripdata_path(raw_data_path, trip_data["dataset"], trip_data["test_month"])
    if not path.is_file():
        raise click.ClickException(
            f"missing {path}, the test month of {dv_path}: pass --raw_data_path (make data)."
        )
    return dv, trip_data, read_dataframe(path, trip_data["dataset"])


def version_tags(candidate: Candidate, trip_data: dict[str, str]) -> dict[str, str]:
    """What a reviewer needs on the registered version: scores, origin, data, libraries."""
    libraries = (requirement.split("==") for requirement in sklearn_requirements(*EXTRA_PACKAGES))
    return {
        "val_rmse": f"{candidate.val_rmse:.6f}",
        "test_rmse": f"{candidate.test_rmse:.6f}",
        "hpo_run_id": candidate.hpo_run_id,
        **{f"data.{key}": value for key, value in trip_data.items()},
        "version.python": platform.python_version(),
        **{f"version.{name}": number for name, number in libraries},
    }


def publish(
    candidate: Candidate, dv: Any, trip_data: dict[str, str], trips: Any, model_name: str
) -> str:
    """Log the champion's raw-trip pyfunc and plots, register it, alias it; return the version."""
    forest = mlflow.sklearn.load_model(f"runs:/{candidate.run_id}/{MODEL_ARTIFACT}")
    model = TripDurationModel(dv, forest)
    predicted = model.predict(None, trips)
    raw_rmse = rmse(trips[TARGET], predicted)
    if abs(raw_rmse - candidate.test_rmse) > 1e-9:
        raise click.ClickException(
            f"the raw test month gives RMSE {raw_rmse:.4f} but test.pkl {candidate.test_rmse:.4f}:"
            " the pickles were made from other files than --raw_data_path holds;"
            " run preprocess_data.py again (make q2)."
        )
    with mlflow.start_run(run_id=candidate.run_id):
        model_info = log_trip_model(model, trips[RAW_COLUMNS].head(EXAMPLE_TRIPS))
        plots.log_figure(
            plots.predicted_vs_actual_figure(trips[TARGET], predicted), "predicted_vs_actual.png"
        )
        plots.log_figure(plots.residuals_figure(trips[TARGET], predicted), "residuals.png")
    version = mlflow.register_model(
        model_info.model_uri, model_name, tags=version_tags(candidate, trip_data)
    ).version
    client = MlflowClient()
    params = ", ".join(f"{name}={value}" for name, value in candidate.params.items())
    client.update_model_version(
        model_name,
        version,
        description=(
            f"Random forest ({params}) from hyperopt run {candidate.hpo_run_id}, lowest test RMSE"
            f" ({candidate.test_rmse:.4f} on {trip_data['dataset']} trips of"
            f" {trip_data['test_month']}) of the top hyperopt runs. Input: a DataFrame of raw"
            f" trips ({', '.join(RAW_COLUMNS)}); the DictVectorizer is inside the model."
            " Output: trip duration in minutes."
        ),
    )
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    return version


def run_register(
    data_path: str, raw_data_path: str, top_n: int, model_name: str
) -> tuple[Candidate, str]:
    datasets = {name: load_dataset(data_path, name) for name in ("val", "test")}
    dv, trip_data, trips = load_test_trips(data_path, raw_data_path)
    hpo_runs = top_hpo_runs(top_n)
    if len(hpo_runs) < top_n:
        click.echo(f"Only {len(hpo_runs)} finished hyperopt runs: using those.", err=True)
    set_experiment(EXPERIMENT_NAME)
    signature = matrix_signature(*datasets["val"])
    candidates = []
    with click.progressbar(
        hpo_runs, label="Scoring top models", file=click.get_text_stream("stderr")
    ) as bar:
        for hpo_run in bar:
            candidates.append(evaluate_and_log(hpo_run, datasets, signature))
    best = min(candidates, key=lambda candidate: candidate.test_rmse)
    return best, publish(best, dv, trip_data, trips, model_name)


@click.command()
@data_path_option
@raw_data_path_option(
    "Folder with the raw trip files; the test month recorded in dv.pkl is read from it."
)
@top_n_option
@click.option(
    "--model_name",
    "--model-name",
    default=DEFAULT_MODEL_NAME,
    show_default=True,
    help="Registered model name for the champion.",
)
@tracking_uri_option
def run_register_model(
    data_path: str, raw_data_path: str, top_n: int, model_name: str, tracking_uri: str
) -> None:
    """Register the hyperopt model with the lowest test RMSE and print that RMSE."""
    check_outputs(data_path)
    with tracking(tracking_uri):
        best, version = run_register(data_path, raw_data_path, top_n, model_name)
    click.echo(
        f"Registered {model_name} version {version} (@{CHAMPION_ALIAS}) from run {best.run_id}",
        err=True,
    )
    click.echo(f"test RMSE: {best.test_rmse:.4f}")


if __name__ == "__main__":
    run_register_model()
