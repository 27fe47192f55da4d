"""Promote the best hyperopt model to the model registry (question 6).

Takes the `--top_n` finished trials of the newest complete hyperopt search (experiment
`random-forest-hyperopt`, see tracking.newest_search) with the lowest validation `rmse`,
once it has checked that they were trained on the data `--data_path` holds: the months
and file digests their runs recorded (lineage.py) must be those of `dv.pkl`. It scores
each trial's logged model on the validation and test months and logs `val_rmse`,
`test_rmse`, the model and those two months as one run per candidate in the experiment
`random-forest-best-models`. The models are reused from the trials, not refitted: same
parameters and seed give the same forest.

The candidate with the lowest `test_rmse` is registered. Its run keeps the bare forest as
`model` (the course's `runs:/<id>/model`) and gets, beside it, the self-contained pyfunc
`trip_duration_model` (see trip_model.py: the DictVectorizer from `dv.pkl` and the
forest, raw trips in, minutes out), checked on the raw test month read from
`--raw_data_path` (the file `dv.pkl` records, giving the same RMSE as `test.pkl`), the
plots `predicted_vs_actual.png` and `residuals.png` of that month, and MLflow's standard
evaluation of the pyfunc on it (promotion.py). The pyfunc is registered under
`--model_name` with a description and tags (validation and test RMSE, HPO run, data
months, files and digests, library versions, the gate's decision). The promotion gate
(promotion.py) gives the new version its alias: `champion` if there is none yet or if
its test RMSE is not worse than the champion's by more than `--max_regression` minutes
(or with `--promote always`), else `challenger`, and `champion` stays where it was.

Before the gate loads it back, the pyfunc is signed with the user's key (signing.py:
`signed-manifest.json` in its folder holds every file's digest, signed), so that the gate,
predict.py and answers.py load it and nothing planted in its place.
"""

from __future__ import annotations

import math
import platform
import re
import sys
from dataclasses import dataclass
from typing import Any

import click

from homework.cli import (
    data_path_option,
    model_name_option,
    raw_data_path_option,
    reporting,
    top_n_option,
    tracking_uri_option,
    trust_unsigned_option,
    verbose_option,
)
from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_PLOTS,
    HPO_RUN_TAG,
    MODEL_ARTIFACT,
    PYFUNC_ARTIFACT,
)
from homework.errors import UserError
from homework.forest import rmse
from homework.lineage import (
    describe,
    expected_datasets,
    file_digest,
    log_datasets,
    logged_datasets,
    month_datasets,
)
from homework.models import (
    load_pyfunc,
    load_sklearn,
    log_sklearn_model,
    matrix_signature,
    model_name,
    pinned_requirements,
    register_model,
    sign_logged_model,
)
from homework.pickles import check_outputs, load_dataset, load_vectorizer
from homework.promotion import (
    ALWAYS,
    GATE,
    RMSE_METRIC,
    Decision,
    decide,
    evaluate,
    evaluate_champion,
)
from homework.tracking import (
    Search,
    best_trials,
    connect,
    find_champion,
    newest_search,
    set_experiment,
)

RF_PARAMS = ["max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"]
EXAMPLE_TRIPS = 5
MONTH_NAMES = ("train", "val", "test")


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


def check_max_regression(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if math.isnan(value):
        raise click.BadParameter("nan is not a number of minutes: pass e.g. 0.05.")
    return value


def check_same_data(hpo_runs: list[Any], search: Search, months: dict, data_path: str) -> None:
    """Refuse pickles made from other data than the search's trials were trained on."""
    expected = expected_datasets({name: months[name] for name in ("train", "val")})
    for run in hpo_runs:
        logged = logged_datasets(run)
        if logged != expected:
            raise UserError(
                f"{data_path}/ holds pickles of {describe(expected)}, but hyperopt search "
                f"{search.search_id[:8]} was trained on {describe(logged)}: pass the "
                "--data_path that search used, or run hpo.py on these pickles (make q5)."
            )


def evaluate_and_log(
    hpo_run: Any,
    datasets: dict[str, tuple[Any, Any]],
    months: dict[str, Any],
    signature: Any,
    trust_unsigned: bool = False,
) -> Candidate:
    """Score one hyperopt run's model on validation and test data and log it as a new run.

    `months` are the raw months behind `datasets` (lineage.py), logged as the run's inputs.
    The trial's model is loaded only if hpo.py's signature on it checks out (models.py).
    """
    import mlflow

    model = load_sklearn(f"runs:/{hpo_run.info.run_id}/{MODEL_ARTIFACT}", trust_unsigned)
    scores = {f"{name}_rmse": rmse(y, model.predict(X)) for name, (X, y) in datasets.items()}
    params = {name: hpo_run.data.params[name] for name in RF_PARAMS}
    with mlflow.start_run(tags={HPO_RUN_TAG: hpo_run.info.run_id}) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(scores)
        log_sklearn_model(model, signature=signature)
        log_datasets(months)
    return Candidate(
        hpo_run.info.run_id, run.info.run_id, scores["val_rmse"], scores["test_rmse"], params
    )


def load_test_trips(
    data_path: str, raw_data_path: str, trip_data: dict[str, str], test_month: Any
) -> Any:
    """The raw trips of the test month, from the very file dv.pkl was made from."""
    from homework.trips import read_trips, tripdata_path

    path = tripdata_path(raw_data_path, trip_data["dataset"], trip_data["test_month"])
    if not path.is_file():
        raise UserError(
            f"missing {path}, the test month of {data_path}/dv.pkl: pass --raw_data_path "
            "(make data)."
        )
    digest = file_digest(path)
    if digest != test_month.digest:
        raise UserError(
            f"{path} is not the file {data_path}/dv.pkl was made from (digest {digest}, not "
            f"{test_month.digest}): pass the --raw_data_path of that preprocessing, or run "
            "preprocess_data.py again (make q2)."
        )
    return read_trips(path, trip_data["dataset"])


def version_tags(candidate: Candidate, trip_data: dict[str, str]) -> dict[str, str]:
    """What a reviewer needs on the registered version: scores, origin, data, libraries."""
    from homework.trip_model import REQUIREMENTS

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

    from homework.trip_model import REQUIREMENTS, raw_trips, shipped_code, signature

    with shipped_code() as code_paths:
        return mlflow.pyfunc.log_model(
            **model_name(PYFUNC_ARTIFACT),
            python_model=model,
            code_paths=code_paths,
            signature=signature(),
            input_example=raw_trips(example),
            pip_requirements=pinned_requirements(*REQUIREMENTS),
        )


def publish(
    candidate: Candidate,
    dv: Any,
    trip_data: dict[str, str],
    trips: Any,
    test_month: Any,
    model_name: str,
    promote: str = GATE,
    max_regression: float = 0.0,
    trust_unsigned: bool = False,
) -> tuple[str, Decision]:
    """Log the candidate's raw-trip pyfunc and plots, register it, alias it by the gate.

    Returns the new version and the gate's decision (@champion or @challenger).
    `trust_unsigned` lets the gate score a champion that is not signed by a trusted key.
    """
    import mlflow

    from homework import plots
    from homework.features import RAW_COLUMNS, TARGET
    from homework.trip_model import TripDurationModel

    forest = load_sklearn(f"runs:/{candidate.run_id}/{MODEL_ARTIFACT}")
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
        sign_logged_model(model_info)
        for figure, file_name in zip(figures, CHAMPION_PLOTS, strict=True):
            plots.log_figure(figure(trips[TARGET], predicted), file_name)
        decision = gate(
            model_info.model_uri,
            candidate,
            trips,
            test_month,
            model_name,
            promote,
            max_regression,
            trust_unsigned,
        )
    tags = {**version_tags(candidate, trip_data), **decision.tags()}
    version = register_model(model_info.model_uri, model_name, tags)
    client = mlflow.MlflowClient()
    client.update_model_version(
        model_name, version, description=description(candidate, trip_data, decision)
    )
    client.set_registered_model_alias(model_name, decision.alias, version)
    return version, decision


def gate(
    model_uri: str,
    candidate: Candidate,
    trips: Any,
    test_month: Any,
    model_name: str,
    promote: str,
    max_regression: float,
    trust_unsigned: bool = False,
) -> Decision:
    """Evaluate the logged pyfunc in the active run, and the champion if any; decide.

    The pyfunc is loaded back from the server as any user would load it, and MLflow's RMSE
    of it must be test.pkl's. The champion is scored on the same trips (promotion.py).
    """
    evaluation = evaluate(load_pyfunc(model_uri), trips, test_month)
    check_evaluation(evaluation, candidate)
    champion = find_champion(model_name)
    if champion is None:
        return decide(evaluation, None, "", promote, max_regression)
    baseline = evaluate_champion(model_name, champion.version, trips, test_month, trust_unsigned)
    return decide(evaluation, baseline, champion.version, promote, max_regression)


def check_evaluation(evaluation: Any, candidate: Candidate) -> None:
    """MLflow's RMSE of the logged pyfunc on the raw trips must be the test.pkl RMSE."""
    evaluated = evaluation.metrics[RMSE_METRIC]
    if abs(evaluated - candidate.test_rmse) > 1e-9:
        raise RuntimeError(
            f"mlflow.models.evaluate gives the logged model RMSE {evaluated} on the raw test "
            f"month, but its forest gives {candidate.test_rmse} on test.pkl"
        )


def description(candidate: Candidate, trip_data: dict[str, str], decision: Decision) -> str:
    """The registered version's description: what it is, what it takes, and the gate's decision."""
    from homework.features import RAW_COLUMNS

    params = ", ".join(f"{name}={value}" for name, value in candidate.params.items())
    return (
        f"Random forest ({params}) from hyperopt run {candidate.hpo_run_id}, lowest test RMSE"
        f" ({candidate.test_rmse:.4f} on {trip_data['dataset']} trips of"
        f" {trip_data['test_month']}) of the top hyperopt runs. Input: a DataFrame of raw"
        f" trips ({', '.join(RAW_COLUMNS)}); the DictVectorizer is inside the model."
        " Output: trip duration in minutes."
        f" Promotion gate: {decision.status}, registered as @{decision.alias}:"
        f" {decision.reason()}."
    )


def run_register(
    data_path: str,
    raw_data_path: str,
    top_n: int,
    model_name: str,
    promote: str = GATE,
    max_regression: float = 0.0,
    trust_unsigned: bool = False,
) -> tuple[Candidate, str, Decision]:
    """Score the top trials, log them, register the best; return it, its version, the decision.

    `trust_unsigned` loads trials and a champion not signed by a trusted key, with a warning.
    """
    datasets = {name: load_dataset(data_path, name) for name in ("val", "test")}
    dv = load_vectorizer(data_path)
    months = month_datasets(dv.trip_data_, MONTH_NAMES, data_path)
    trips = load_test_trips(data_path, raw_data_path, dv.trip_data_, months["test"])
    search = newest_search()
    if search.note:
        click.echo(search.note, err=True)
    hpo_runs = best_trials(search, top_n)
    check_same_data(hpo_runs, search, months, data_path)
    if len(hpo_runs) < top_n:
        click.echo(f"Only {len(hpo_runs)} finished hyperopt runs: using those.", err=True)
    set_experiment(BEST_MODELS_EXPERIMENT)
    signature = matrix_signature(*datasets["val"])
    scored_months = {name: months[name] for name in datasets}
    candidates = []
    with click.progressbar(hpo_runs, label="Scoring the top models", file=sys.stderr) as bar:
        for hpo_run in bar:
            candidate = evaluate_and_log(
                hpo_run, datasets, scored_months, signature, trust_unsigned
            )
            candidates.append(candidate)
    best = min(candidates, key=lambda candidate: candidate.test_rmse)
    version, decision = publish(
        best,
        dv,
        dv.trip_data_,
        trips,
        months["test"],
        model_name,
        promote,
        max_regression,
        trust_unsigned,
    )
    return best, version, decision


@click.command()
@data_path_option
@raw_data_path_option(
    "Folder with the raw trip files; the test month recorded in dv.pkl is read from it."
)
@top_n_option
@model_name_option("Registered model name for the champion.", callback=check_model_name)
@click.option(
    "--promote",
    type=click.Choice((GATE, ALWAYS)),
    default=GATE,
    show_default=True,
    help="gate: the new version becomes @champion only if its test RMSE is not worse than the"
    " champion's by more than --max_regression, else @challenger; always: @champion anyway.",
)
@click.option(
    "--max_regression",
    "--max-regression",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    callback=check_max_regression,
    help="Minutes of test RMSE the new version may lose to the champion and still replace it.",
)
@trust_unsigned_option
@tracking_uri_option
@verbose_option
def run_register_model(
    data_path: str,
    raw_data_path: str,
    top_n: int,
    model_name: str,
    promote: str,
    max_regression: float,
    trust_unsigned: bool,
    tracking_uri: str,
    verbose: bool,
) -> None:
    """Register the hyperopt model with the lowest test RMSE and print that RMSE."""
    click.echo(f"Registering the best of the top {top_n} hyperopt runs as {model_name}", err=True)
    with reporting(tracking_uri, verbose):
        check_outputs(data_path)
        connect(tracking_uri, verbose)
        best, version, decision = run_register(
            data_path, raw_data_path, top_n, model_name, promote, max_regression, trust_unsigned
        )
    click.echo(
        f"Registered {model_name} version {version} as @{decision.alias}: {decision.reason()}.",
        err=True,
    )
    click.echo(f"test RMSE: {best.test_rmse:.4f}")


if __name__ == "__main__":
    run_register_model()
