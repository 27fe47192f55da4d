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
is signed with the user's key (signing.py: `signed-manifest.json` in its folder holds
every file's digest, signed), so that predict.py and answers.py load it and nothing
planted in its place. It is registered under `--model_name` with a description and
tags (validation and test RMSE, HPO run, data months, library versions), and the
alias `champion` points at the new version.
"""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass
from typing import Any

import click

from cli import (
    data_path_option,
    raw_data_path_option,
    reporting,
    top_n_option,
    tracking_uri_option,
    verbose_option,
)
from config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_ALIAS,
    HPO_RUN_TAG,
    MODEL_ARTIFACT,
    MODEL_NAME,
    PYFUNC_ARTIFACT,
)
from errors import UserError
from forest import rmse
from pickles import check_outputs, load_dataset, load_vectorizer
from tracking import (
    connect,
    log_sklearn_model,
    matrix_signature,
    model_name,
    newest_search,
    pinned_requirements,
    register_model,
    set_experiment,
    sign_logged_model,
)

RF_PARAMS = ["max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"]
EXAMPLE_TRIPS = 5
PLOTS = ("predicted_vs_actual.png", "residuals.png")


@dataclass
class Candidate:
    hpo_run_id: str
    run_id: str
    val_rmse: float
    test_rmse: float
    params: dict[str, str]


def check_model_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A name the registry can load back: `models:/<name>@alias` breaks on '/' (and on '')."""
    if not re.fullmatch(r"[\w.-]+( [\w.-]+)*", value):
        raise click.BadParameter(
            f"{value!r} cannot be loaded back as models:/<name>: use letters, digits, '.', "
            "'_', '-' (and single spaces)."
        )
    return value


def top_hpo_runs(top_n: int) -> list[Any]:
    """The `top_n` finished runs of the newest search with the lowest validation `rmse`."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    experiment_id, filter_string = newest_search()
    return MlflowClient().search_runs(
        [experiment_id],
        filter_string=filter_string,
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["metrics.rmse ASC"],
        max_results=top_n,
    )


def evaluate_and_log(
    hpo_run: Any, datasets: dict[str, tuple[Any, Any]], signature: Any = None
) -> Candidate:
    """Score one hyperopt run's model on validation and test data and log it as a new run."""
    import mlflow

    model = mlflow.sklearn.load_model(f"runs:/{hpo_run.info.run_id}/{MODEL_ARTIFACT}")
    scores = {f"{name}_rmse": rmse(y, model.predict(X)) for name, (X, y) in datasets.items()}
    params = {name: hpo_run.data.params[name] for name in RF_PARAMS}
    with mlflow.start_run(tags={HPO_RUN_TAG: hpo_run.info.run_id}) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(scores)
        log_sklearn_model(model, signature=signature)
    return Candidate(
        hpo_run.info.run_id, run.info.run_id, scores["val_rmse"], scores["test_rmse"], params
    )


def load_test_trips(data_path: str, raw_data_path: str) -> tuple[Any, dict[str, str], Any]:
    """The vectorizer, the data months it records and the raw trips of its test month."""
    from trips import read_trips, tripdata_path

    dv = load_vectorizer(data_path)
    trip_data = dv.trip_data_
    path = tripdata_path(raw_data_path, trip_data["dataset"], trip_data["test_month"])
    if not path.is_file():
        raise UserError(
            f"missing {path}, the test month of {data_path}/dv.pkl: pass --raw_data_path "
            "(make data)."
        )
    return dv, trip_data, read_trips(path, trip_data["dataset"])


def version_tags(candidate: Candidate, trip_data: dict[str, str]) -> dict[str, str]:
    """What a reviewer needs on the registered version: scores, origin, data, libraries."""
    from trip_model import REQUIREMENTS

    libraries = (requirement.split("==") for requirement in pinned_requirements(*REQUIREMENTS))
    return {
        "val_rmse": f"{candidate.val_rmse:.6f}",
        "test_rmse": f"{candidate.test_rmse:.6f}",
        HPO_RUN_TAG: candidate.hpo_run_id,
        **{f"data.{key}": value for key, value in trip_data.items()},
        "version.python": platform.python_version(),
        **{f"version.{name}": number for name, number in libraries},
    }


def log_trip_model(model: Any, example: Any) -> Any:
    """Log the raw-trip pyfunc in the active run with its signature and an input example."""
    import mlflow.pyfunc

    from trip_model import CODE_PATHS, REQUIREMENTS, raw_trips, signature

    return mlflow.pyfunc.log_model(
        **model_name(PYFUNC_ARTIFACT),
        python_model=model,
        code_paths=CODE_PATHS,
        signature=signature(),
        input_example=raw_trips(example),
        pip_requirements=pinned_requirements(*REQUIREMENTS),
    )


def publish(
    candidate: Candidate, dv: Any, trip_data: dict[str, str], trips: Any, model_name: str
) -> str:
    """Log the champion's raw-trip pyfunc and plots, register it, alias it; return the version."""
    import mlflow
    from mlflow.tracking import MlflowClient

    import plots
    from features import RAW_COLUMNS, TARGET
    from trip_model import TripDurationModel

    forest = mlflow.sklearn.load_model(f"runs:/{candidate.run_id}/{MODEL_ARTIFACT}")
    model = TripDurationModel(dv, forest)
    predicted = model.predict(None, trips)
    raw_rmse = rmse(trips[TARGET], predicted)
    if abs(raw_rmse - candidate.test_rmse) > 1e-9:
        raise UserError(
            f"the raw test month gives RMSE {raw_rmse:.4f} but test.pkl {candidate.test_rmse:.4f}:"
            " the pickles were made from other files than --raw_data_path holds;"
            " run preprocess_data.py again (make q2)."
        )
    figures = (plots.predicted_vs_actual_figure, plots.residuals_figure)
    with mlflow.start_run(run_id=candidate.run_id):
        model_info = log_trip_model(model, trips[RAW_COLUMNS].head(EXAMPLE_TRIPS))
        # Sign what was logged, so that nobody loads a model planted in its place (signing.py).
        click.echo(sign_logged_model(model_info), err=True)
        for figure, file_name in zip(figures, PLOTS, strict=True):
            plots.log_figure(figure(trips[TARGET], predicted), file_name)
    version = register_model(model_info.model_uri, model_name, version_tags(candidate, trip_data))
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
    """Score the top hyperopt runs, log them, register the best; return it and its version."""
    datasets = {name: load_dataset(data_path, name) for name in ("val", "test")}
    dv, trip_data, trips = load_test_trips(data_path, raw_data_path)
    hpo_runs = top_hpo_runs(top_n)
    if len(hpo_runs) < top_n:
        click.echo(f"Only {len(hpo_runs)} finished hyperopt runs: using those.", err=True)
    set_experiment(BEST_MODELS_EXPERIMENT)
    signature = matrix_signature(*datasets["val"])
    candidates = []
    with click.progressbar(hpo_runs, label="Scoring the top models", file=sys.stderr) as bar:
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
    default=MODEL_NAME,
    show_default=True,
    callback=check_model_name,
    help="Registered model name for the champion.",
)
@tracking_uri_option
@verbose_option
def run_register_model(
    data_path: str,
    raw_data_path: str,
    top_n: int,
    model_name: str,
    tracking_uri: str,
    verbose: bool,
) -> None:
    """Register the hyperopt model with the lowest test RMSE and print that RMSE."""
    click.echo(f"Registering the best of the top {top_n} hyperopt runs as {model_name}", err=True)
    with reporting(tracking_uri, verbose):
        check_outputs(data_path)
        connect(tracking_uri, verbose)
        best, version = run_register(data_path, raw_data_path, top_n, model_name)
    click.echo(f"Registered {model_name} version {version} as @{CHAMPION_ALIAS}", err=True)
    click.echo(f"test RMSE: {best.test_rmse:.4f}")


if __name__ == "__main__":
    run_register_model()
