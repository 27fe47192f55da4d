"""Read the six homework answers back from what the runs produced (`make q1` ... `make all`).

Nothing here is typed in, and nothing is logged: Q1 asks the installed package's metadata,
Q2 counts the files preprocess_data.py wrote to `--data_path` (its dv.pkl lists them), Q3
and Q5 read the tracking server over its REST API, Q4 reads the command line of the
`mlflow server` serving the tracking URI on this machine, however it was started, and Q6
loads the registered champion (once its signature checks out, see docs/security.md) and
scores it on the raw trips of its test month (1-60 minute trips, read from the folder
preprocessing recorded, or `--raw_data_path`). An answer that cannot be read is a row saying
why and what to run, and the command exits 1. The full table ends with where to see each
answer in the MLflow UI.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

import click

from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_ALIAS,
    DATASET,
    HPO_EXPERIMENT,
    RAW_FOLDER_KEY,
    TRAIN_EXPERIMENT,
)
from homework.data.pickles import Prepared
from homework.errors import UserError
from homework.options import (
    data_path_option,
    model_name_option,
    raw_data_path_option,
    reader_connection_options,
    trust_unsigned_option,
)
from homework.reporting import explain, reporting
from homework.tracking.connection import Connection
from homework.tracking.experiments import newest_run
from homework.tracking.failures import redact
from homework.tracking.rest import Rest
from homework.tracking.serving import serving_command

QUESTIONS = {
    1: "MLflow version",
    2: "files written by preprocess_data.py",
    3: "min_samples_split of the autologged forest",
    4: "flag needed beside --backend-store-uri",
    5: "best validation RMSE of the hyperopt runs",
    6: "test RMSE of the registered champion",
}
ARTIFACT_FLAGS = ("--default-artifact-root", "--artifacts-destination")


def q1_mlflow_version() -> str:
    return version("mlflow")  # the package's metadata: MLflow itself is not imported


def q2_files_written(data_path: str) -> str:
    """The files preprocess_data.py wrote, as its dv.pkl lists them (not whatever else the
    folder holds, a .DS_Store say)."""
    return str(len(Prepared.read(data_path).written_files()))


def q3_min_samples_split(rest: Rest) -> str:
    return newest_run(rest, TRAIN_EXPERIMENT, "train.py (make q3)").data.params["min_samples_split"]


def q4_artifact_flag(tracking_uri: str) -> str:
    """The artifact flag on the command line of the server serving `tracking_uri`."""
    command = serving_command(tracking_uri)
    for word in command:
        if word.split("=")[0] in ARTIFACT_FLAGS:
            return word.split("=")[0].lstrip("-")
    raise UserError(
        f"the server at {tracking_uri} was started without an artifact flag "
        f"({' '.join(command[-6:])}): start it as the course does, with --default-artifact-root."
    )


def q5_best_rmse(rest: Rest) -> str:
    from homework.search.results import newest_trials

    search = newest_trials(rest)  # hpo.py's newest finished search, or the course's runs
    for note in search.notes:
        click.echo(note, err=True)
    return f"{search.top(1)[0].data.metrics['rmse']:.3f}"


def q6_champion_test_rmse(
    connection: Connection,
    raw_data_path: str | None,
    model_name: str,
    trust_unsigned: bool = False,
) -> str:
    """The champion's RMSE on the raw trips of the test month its version tags name, read
    from `raw_data_path`, else the folder preprocessing recorded (also on the version). The
    model is fetched and verified as predict.py does (MLflow only if it must)."""
    from homework.data.lineage import file_digest
    from homework.data.trips import read_trips, tripdata_path
    from homework.forest import rmse
    from homework.model.features import RAW_COLUMNS, TARGET
    from homework.publish.registry import no_champion
    from homework.trust.loading import load_trip_model

    rest = Rest(connection.uri)
    champion = rest.version_by_alias(model_name, CHAMPION_ALIAS)
    if champion is None:
        raise no_champion(model_name, [n for n in rest.registered_models() if n != model_name])
    tags, number = champion["tags"], champion["version"]
    if not tags.get("data.test_month"):
        raise UserError(f"{model_name} version {number} has no data.test_month tag: make q6.")
    test_file = tags.get("data.test_file")
    recorded = tags.get(f"data.{RAW_FOLDER_KEY}") or (test_file and str(Path(test_file).parent))
    if not (raw_data_path or recorded):
        raise UserError(
            f"{model_name} version {number} does not say which folder it was tested on "
            "(no data.* tags): pass --raw_data_path."
        )
    dataset = tags.get("data.dataset", DATASET)
    path = tripdata_path(raw_data_path or recorded, dataset, tags["data.test_month"])
    tested_on = f"version {number} of {model_name} was tested on the file in {recorded}/"
    if not path.is_file():
        raise UserError(f"missing {path}: {tested_on}; pass --raw_data_path (make data).")
    if file_digest(path) != tags.get("data.test_digest", file_digest(path)):
        raise UserError(f"{path} is not the file {tested_on}: pass --raw_data_path.")
    trips = read_trips(path, dataset)
    model = load_trip_model(f"models:/{model_name}/{number}", connection, trust_unsigned)
    return f"{rmse(trips[TARGET], model.predict(trips[RAW_COLUMNS])):.3f}"


def answer(question: int, connection: Connection, options: dict) -> str:
    """One answer, or the UserError saying why it cannot be read."""
    if question == 1:
        return q1_mlflow_version()
    if question == 2:
        return q2_files_written(options["data_path"])
    if question == 4:
        return q4_artifact_flag(connection.uri)
    rest = Rest(connection.uri)
    if question == 3:
        return q3_min_samples_split(rest)
    if question == 5:
        return q5_best_rmse(rest)
    return q6_champion_test_rmse(
        connection, options["raw_data_path"], options["model_name"], options["trust"]
    )


def ui_links(rest: Rest, model_name: str) -> dict[str, str]:
    """Where the answers are in the MLflow UI: the three experiments and the registered model."""
    base = rest.uri.rstrip("/")
    links = {}
    for name in (TRAIN_EXPERIMENT, HPO_EXPERIMENT, BEST_MODELS_EXPERIMENT):
        found = rest.experiment_id(name)
        if found:
            links[name] = f"{base}/#/experiments/{found}"
    links[model_name] = f"{base}/#/models/{quote(model_name)}"
    return links


@click.command()
@click.option(
    "--question",
    "-q",
    "questions",
    type=click.IntRange(1, 6),
    multiple=True,
    help="Question number to answer (repeatable); default: all six as a table.",
)
@data_path_option
@raw_data_path_option(
    "Folder with the raw trip files (Q6 scores the champion on its test month).",
    default=None,
    show_default="the folder preprocess_data.py read, recorded with the champion",
)
@model_name_option("Registered model name (Q6).")
@trust_unsigned_option
@reader_connection_options
def run_answers(
    questions: tuple[int, ...],
    data_path: str,
    raw_data_path: str | None,
    model_name: str,
    trust_unsigned: bool,
    connection: Connection,
) -> None:
    """Print the homework answers, each read back from the files, the tracking server (never
    logged to) and the registry."""
    options = {"data_path": data_path, "raw_data_path": raw_data_path, "model_name": model_name}
    options["trust"] = trust_unsigned
    if len(questions) == 1:  # one answer: it, or one Error: line
        with reporting(connection):
            value = answer(questions[0], connection, options)
        click.echo(f"Q{questions[0]} {QUESTIONS[questions[0]]}: {value}")
        return
    results, missing = {}, []
    with reporting(connection):
        for question in questions or QUESTIONS:
            try:
                results[question] = answer(question, connection, options)
            except Exception as exc:  # a row saying why, and on to the next answer
                why = explain(exc, connection.uri)
                if why is None:
                    raise
                results[question], missing = f"not read: {why}", [*missing, f"Q{question}"]
        links = {}
        if not questions and "Q3" not in missing:
            links = ui_links(Rest(connection.uri), model_name)
    width = max(len(QUESTIONS[q]) for q in results)
    click.echo(f"{'':3} {'question':<{width}}  answer")
    for question, value in results.items():
        click.echo(f"Q{question}  {QUESTIONS[question]:<{width}}  {value}")
    if links:
        click.echo("\nIn the MLflow UI:")
        width = max(len(name) for name in links)
        for name, url in links.items():
            click.echo(f"  {name:<{width}}  {redact(url, connection.uri)}")
    if missing:
        raise click.ClickException(f"{', '.join(missing)} not read: see the row for each.")


if __name__ == "__main__":
    run_answers()
