"""Read the six homework answers back from what the runs produced (`make q1` ... `make all`).

Nothing here is typed in: Q1 asks the installed package, Q2 counts the files
preprocess_data.py wrote to `--data_path` (its dv.pkl lists them), Q3 and Q5 ask the
tracking server, Q4 reads the running server's command line, and Q6 loads the registered
champion (once its signature checks out, see docs/security.md) and scores it on the raw
trips of the test month its version tags name (read from `--raw_data_path`, 1-60 minute
trips). The full table ends with where to see each answer in the MLflow UI.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

import click
import psutil

from homework.config import (
    BEST_MODELS_EXPERIMENT,
    HPO_EXPERIMENT,
    SERVER_PID_FILE,
    TRAIN_EXPERIMENT,
)
from homework.data.pickles import Prepared
from homework.errors import UserError
from homework.forest import rmse
from homework.options import (
    PathOption,
    connection_options,
    data_path_option,
    model_name_option,
    raw_data_path_option,
    trust_unsigned_option,
)
from homework.publish.registry import champion_version
from homework.reporting import reporting
from homework.search.runs import finished_trials, newest_search
from homework.tracking.connection import Connection, redact
from homework.tracking.experiments import experiment_id, newest_run
from homework.trust.loading import load_pyfunc
from services.processes import command_line, read_record

QUESTIONS = {
    1: "MLflow version",
    2: "files written by preprocess_data.py",
    3: "min_samples_split of the autologged forest",
    4: "flag needed beside --backend-store-uri",
    5: "best validation RMSE of the hyperopt runs",
    6: "test RMSE of the registered champion",
}
SERVER_QUESTIONS = (3, 5, 6)
ARTIFACT_FLAGS = ("--default-artifact-root", "--artifacts-destination")


def q1_mlflow_version() -> str:
    return version("mlflow")


def q2_files_written(data_path: str) -> str:
    """The files preprocess_data.py wrote, as its dv.pkl lists them (not whatever else the
    folder holds, a .DS_Store say)."""
    return str(len(Prepared.read(data_path).written_files()))


def q3_min_samples_split() -> str:
    return newest_run(TRAIN_EXPERIMENT, "train.py (make q3)").data.params["min_samples_split"]


def server_command_line(pid_file: str) -> list[str]:
    """The command line of the running server recorded in `pid_file` (its identity record:
    the pid must still be that process, same start time and command)."""
    try:
        record = read_record(Path(pid_file))
    except ValueError:
        record = None
    if record is None:
        raise UserError(f"no server recorded in {pid_file}: start it with `make server`.")
    try:
        return command_line(record)
    except psutil.Error:
        raise UserError(
            f"the server recorded in {pid_file} (pid {record.pid}) is not running: `make server`."
        ) from None


def q4_artifact_flag(pid_file: str) -> str:
    flags = [word.lstrip("-") for word in server_command_line(pid_file) if word in ARTIFACT_FLAGS]
    if not flags:
        raise UserError("the running server was started without an artifact flag.")
    return flags[0]


def q5_best_rmse() -> str:
    search = newest_search()
    if search.note:
        click.echo(search.note, err=True)
    best = finished_trials(search, 1)
    if not best:  # possible only if someone deleted them
        raise UserError(f"hyperopt search {search.name} has no finished trials left: make q5.")
    return f"{best[0].data.metrics['rmse']:.3f}"


def q6_champion_test_rmse(raw_data_path: str, model_name: str, trust_unsigned: bool = False) -> str:
    from homework.data.trips import read_trips, tripdata_path
    from homework.model.features import RAW_COLUMNS, TARGET

    champion = champion_version(model_name)
    dataset, month = (champion.tags.get(f"data.{key}") for key in ("dataset", "test_month"))
    if not (dataset and month):
        raise UserError(
            f"{model_name} version {champion.version} has no data.test_month tag: "
            "run register_model.py again (make q6)."
        )
    path = tripdata_path(raw_data_path, dataset, month)
    if not path.is_file():
        raise UserError(f"missing {path}: pass --raw_data_path (make data).")
    trips = read_trips(path, dataset)
    model = load_pyfunc(f"models:/{model_name}/{champion.version}", trust_unsigned)
    return f"{rmse(trips[TARGET], model.predict(trips[RAW_COLUMNS])):.3f}"


def answer(
    question: int,
    data_path: str,
    raw_data_path: str,
    pid_file: str,
    model_name: str,
    trust_unsigned: bool = False,
) -> str:
    if question == 1:
        return q1_mlflow_version()
    if question == 2:
        return q2_files_written(data_path)
    if question == 3:
        return q3_min_samples_split()
    if question == 4:
        return q4_artifact_flag(pid_file)
    if question == 5:
        return q5_best_rmse()
    return q6_champion_test_rmse(raw_data_path, model_name, trust_unsigned)


def ui_links(tracking_uri: str, model_name: str) -> dict[str, str]:
    """Where the answers are in the MLflow UI: the three experiments and the registered model."""
    base = tracking_uri.rstrip("/")
    links = {}
    for name in (TRAIN_EXPERIMENT, HPO_EXPERIMENT, BEST_MODELS_EXPERIMENT):
        found = experiment_id(name)
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
@raw_data_path_option("Folder with the raw trip files (Q6 scores the champion on its test month).")
@click.option(
    "--pid_file",
    "--pid-file",
    type=PathOption(dir_okay=False),
    default=SERVER_PID_FILE,
    show_default=True,
    help="Pid file of the server started by `make server` (Q4).",
)
@model_name_option("Registered model name (Q6).")
@trust_unsigned_option
@connection_options
def run_answers(
    questions: tuple[int, ...],
    data_path: str,
    raw_data_path: str,
    pid_file: str,
    model_name: str,
    trust_unsigned: bool,
    connection: Connection,
) -> None:
    """Print the homework answers, each read back from the files, server and registry."""
    questions = questions or tuple(QUESTIONS)
    needs_server = any(question in SERVER_QUESTIONS for question in questions)
    with reporting(connection if needs_server else None):
        if needs_server:
            connection.connect()
        results = {
            q: answer(q, data_path, raw_data_path, pid_file, model_name, trust_unsigned)
            for q in questions
        }
        links = ui_links(connection.uri, model_name) if len(results) == len(QUESTIONS) else {}
    if len(results) == 1:
        ((question, value),) = results.items()
        click.echo(f"Q{question} {QUESTIONS[question]}: {value}")
        return
    width = max(len(QUESTIONS[q]) for q in results)
    click.echo(f"{'':3} {'question':<{width}}  answer")
    for question, value in results.items():
        click.echo(f"Q{question}  {QUESTIONS[question]:<{width}}  {value}")
    if links:
        click.echo("\nIn the MLflow UI:")
        width = max(len(name) for name in links)
        for name, url in links.items():
            click.echo(f"  {name:<{width}}  {redact(url, connection.uri)}")


if __name__ == "__main__":
    run_answers()
