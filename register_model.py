"""Promote the best hyperopt model to the model registry (question 6).

Takes the `--top_n` trials with the lowest validation `rmse` of the newest finished hyperopt
search (experiment `random-forest-hyperopt`), scores each trial's forest on the validation
and test months, and logs both RMSEs, the forest and the two months as one run per trial in
the experiment `random-forest-best-models`. The forests of hpo.py's trials are reused, not
refitted: the same parameters and seed give the same forest; runs of the course's own hpo.py
(flat, no forest of ours) are refitted from their params, as the course does. The run with
the lowest `test_rmse` is registered as `--model_name`: question 6 is its test RMSE. The test
month is read from the folder preprocess_data.py read (recorded in dv.pkl).

The package adds what a team needs (see docs/model.md): a trial's forest is loaded only
once its signature checks out; the registered model is a self-contained one that takes raw
trips, signed; and a promotion gate compares it with the current @champion on the same
trips, giving it `@champion` or `@challenger`.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import click

from homework.config import BEST_MODELS_EXPERIMENT
from homework.data.pickles import Prepared
from homework.options import (
    connection_options,
    data_path_option,
    policy_options,
    raw_data_path_option,
    top_n_option,
)
from homework.publish.candidates import score_and_log
from homework.publish.champion import publish
from homework.publish.gate import Decision, Policy
from homework.publish.incumbent import choose_baseline
from homework.reporting import progress, reporting
from homework.search.results import newest_trials
from homework.tracking.connection import Connection
from homework.tracking.experiments import set_experiment
from homework.tracking.rest import Rest


def register_best(
    data: Prepared, rest: Rest, raw_data_path: str | None, top_n: int, policy: Policy
) -> tuple[float, str, Decision]:
    """Log the top trials as candidates and register the best; its test RMSE, version, gate."""
    for name in ("val", "test"):
        data.dataset(name)  # checked before the server is asked anything
    search = newest_trials(rest)  # hpo.py's newest finished search, or the course's runs
    if search.of_the_course:
        data.dataset("train")  # their forests are fitted again from their params
    trips = data.test_trips(raw_data_path)  # the raw test month, as dv.pkl recorded it
    baseline = choose_baseline(policy, data.trip_data)  # the champion to beat, if trusted
    for note in search.notes:
        click.echo(note, err=True)
    trials = search.best(top_n, data)
    if len(trials) < top_n:
        click.echo(f"Only {len(trials)} finished hyperopt runs: using those.", err=True)

    set_experiment(BEST_MODELS_EXPERIMENT)
    best, forest = None, None  # the lowest test RMSE so far; only its forest is kept
    for trial in progress(trials, "Scoring the top models"):
        candidate, model = score_and_log(trial, data, policy.trust_unsigned, search.of_the_course)
        if best is None or candidate.test_rmse < best.test_rmse:
            best, forest = candidate, model
    version, decision = publish(best, forest, data, trips, policy, baseline)  # gate, registry
    return best.test_rmse, version, decision


@click.command()
@data_path_option
@raw_data_path_option(
    "Folder with the raw trip files; the test month in dv.pkl is read from it.",
    default=None,
    show_default="the folder preprocess_data.py read, recorded in dv.pkl",
)
@top_n_option
@policy_options
@connection_options
def run_register_model(
    data_path: str, raw_data_path: str | None, top_n: int, policy: Policy, connection: Connection
) -> None:
    """Register the hyperopt model with the lowest test RMSE and print that RMSE."""
    name = policy.model_name
    click.echo(f"Registering the best of the top {top_n} hyperopt runs as {name}", err=True)
    with reporting(connection):
        data = Prepared.read(data_path)
        rest = Rest(connection.uri)  # the registry steps need a tracking server
        connection.connect()
        test_rmse, version, decision = register_best(data, rest, raw_data_path, top_n, policy)
    click.echo(
        f"Registered {name} version {version} as @{decision.alias}: {decision.reason()}.", err=True
    )
    click.echo(f"test RMSE: {test_rmse:.4f}")


if __name__ == "__main__":
    run_register_model()
