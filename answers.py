"""Read the six homework answers back from what the runs produced (`make q1` ... `make all`).

Nothing here is typed in: Q1 asks the installed package, Q2 counts the files in
`--data_path`, Q3 and Q5 ask the tracking server, Q4 reads the running server's
command line, and Q6 loads the registered champion and scores it on the raw trips of
the test month its version tags name (read from `--raw_data_path`, 1-60 minute trips).
"""

from __future__ import annotations

import contextlib
from importlib.metadata import version
from pathlib import Path

import speedups  # noqa: F401  (first: less garbage collection, see speedups.py)

import click

from common import (
    DATASET_FILES,
    check_outputs,
    data_path_option,
    get_experiment_id,
    newest_search,
    raw_data_path_option,
    rmse,
    tracking,
    tracking_uri_option,
)
from preprocess_data import TARGET, read_dataframe, tripdata_path
from register_model import CHAMPION_ALIAS, DEFAULT_MODEL_NAME
from train import EXPERIMENT_NAME as TRAIN_EXPERIMENT_NAME
from trip_model import RAW_COLUMNS

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
    return version("mlflow")


def q2_files_written(data_path: str) -> str:
    return str(sum((Path(data_path) / name).is_file() for name in DATASET_FILES))


def q3_min_samples_split() -> str:
    from mlflow.tracking import MlflowClient

    experiment_id = get_experiment_id(TRAIN_EXPERIMENT_NAME)
    runs = experiment_id and MlflowClient().search_runs(
        [experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        raise click.ClickException(f"no run in {TRAIN_EXPERIMENT_NAME!r}: run train.py (make q3).")
    return runs[0].data.params["min_samples_split"]


def server_command_line(pid_file: str) -> list[str]:
    try:
        pid = Path(pid_file).read_text().strip()
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")
    except OSError:
        raise click.ClickException(
            f"no running server recorded in {pid_file}: start it with `make server`."
        ) from None


def q4_artifact_flag(pid_file: str) -> str:
    command = server_command_line(pid_file)
    flags = [arg.lstrip("-") for arg in command if arg in ARTIFACT_FLAGS]
    click.echo(f"  server command: {' '.join(command)}", err=True)
    if not flags:
        raise click.ClickException("the running server was started without an artifact flag.")
    return flags[0]


def q5_best_rmse() -> str:
    from mlflow.tracking import MlflowClient

    experiment_id, filter_string = newest_search()
    best = MlflowClient().search_runs(
        [experiment_id], filter_string, order_by=["metrics.rmse ASC"], max_results=1
    )[0]
    return f"{best.data.metrics['rmse']:.3f}"


def q6_champion_test_rmse(raw_data_path: str, model_name: str) -> str:
    import mlflow
    from mlflow.tracking import MlflowClient

    version = MlflowClient().get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    dataset, month = (version.tags.get(f"data.{key}") for key in ("dataset", "test_month"))
    if not (dataset and month):
        raise click.ClickException(
            f"{model_name} version {version.version} has no data.test_month tag: "
            "run register_model.py again (make q6)."
        )
    path = tripdata_path(raw_data_path, dataset, month)
    if not path.is_file():
        raise click.ClickException(f"missing {path}: pass --raw_data_path (make data).")
    trips = read_dataframe(path, dataset)
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@{CHAMPION_ALIAS}")
    return f"{rmse(trips[TARGET], model.predict(trips[RAW_COLUMNS])):.3f}"


def answer(
    question: int, data_path: str, raw_data_path: str, pid_file: str, model_name: str
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
    return q6_champion_test_rmse(raw_data_path, model_name)


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
    default="mlflow-server.pid",
    show_default=True,
    help="Pid file of the server started by `make server` (Q4).",
)
@click.option(
    "--model_name",
    "--model-name",
    default=DEFAULT_MODEL_NAME,
    show_default=True,
    help="Registered model name (Q6).",
)
@tracking_uri_option
def run_answers(
    questions: tuple[int, ...],
    data_path: str,
    raw_data_path: str,
    pid_file: str,
    model_name: str,
    tracking_uri: str,
) -> None:
    """Print the homework answers, each read back from the files, server and registry."""
    questions = questions or tuple(QUESTIONS)
    if 2 in questions:
        check_outputs(data_path)
    needs_server = any(question in (3, 5, 6) for question in questions)
    with tracking(tracking_uri) if needs_server else contextlib.nullcontext():
        results = {q: answer(q, data_path, raw_data_path, pid_file, model_name) for q in questions}
    if len(results) == 1:
        ((question, value),) = results.items()
        click.echo(f"Q{question} {QUESTIONS[question]}: {value}")
        return
    width = max(len(QUESTIONS[q]) for q in results)
    click.echo(f"{'':3} {'question':<{width}}  answer")
    for question, value in results.items():
        click.echo(f"Q{question}  {QUESTIONS[question]:<{width}}  {value}")


if __name__ == "__main__":
    run_answers()
