"""lineage.py: every run logs the raw months it used, as metadata: name, source, digest, schema."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

from click.testing import CliRunner
from conftest import assert_one_line_error, random_month
from mlflow.tracking import MlflowClient

from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_ALIAS,
    HPO_EXPERIMENT,
    MONTHS,
    TRAIN_EXPERIMENT,
)
from homework.data.lineage import file_digest
from hpo import run_optimization
from preprocess_data import run_data_prep
from register_model import run_register_model
from train import run_train

MONTH_FILES = {name: f"green_tripdata_{month}" for name, month in MONTHS.items()}


def sha256_prefix(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def inputs_by_context(run) -> dict[str, tuple[str, str]]:
    """{context: (dataset name, digest)} of a run's dataset inputs."""
    found = {}
    for dataset_input in run.inputs.dataset_inputs:
        (context,) = [tag.value for tag in dataset_input.tags if tag.key == "mlflow.data.context"]
        found[context] = (dataset_input.dataset.name, dataset_input.dataset.digest)
    return found


def expected(raw_dir: Path, *names: str) -> dict[str, tuple[str, str]]:
    contexts = {"train": "training", "val": "validation", "test": "test"}
    return {
        contexts[name]: (
            MONTH_FILES[name],
            sha256_prefix(raw_dir / f"{MONTH_FILES[name]}.parquet"),
        )
        for name in names
    }


def runs_of(client: MlflowClient, experiment: str) -> list:
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client.search_runs([experiment_id])


def test_digest_is_the_files_sha256_and_changes_with_it(raw_dir: Path) -> None:
    path = raw_dir / f"{MONTH_FILES['train']}.parquet"
    before = file_digest(path)
    assert before == sha256_prefix(path)  # what `sha256sum` prints, first 16 digits
    random_month(path, 400, seed=99)
    assert file_digest(path) != before


def test_train_hpo_and_register_runs_log_their_months(
    prepared_dir: Path, raw_dir: Path, mlflow_server
) -> None:
    data = ["--data_path", str(prepared_dir)]
    assert CliRunner().invoke(run_train, data).exit_code == 0
    assert CliRunner().invoke(run_optimization, [*data, "--num_trials", "2"]).exit_code == 0
    register = [*data, "--raw_data_path", str(raw_dir), "--top_n", "2"]
    result = CliRunner().invoke(run_register_model, [*register, "--model_name", "lineage"])
    assert result.exit_code == 0, result.output

    client = MlflowClient(mlflow_server.uri)
    (train_run,) = runs_of(client, TRAIN_EXPERIMENT)
    assert inputs_by_context(train_run) == expected(raw_dir, "train", "val")
    trials = [run for run in runs_of(client, HPO_EXPERIMENT) if "rmse" in run.data.metrics]
    assert len(trials) == 2
    for trial in trials:
        assert inputs_by_context(trial) == expected(raw_dir, "train", "val")
    best_models = runs_of(client, BEST_MODELS_EXPERIMENT)
    assert len(best_models) == 2
    for run in best_models:  # the champion's too: its evaluation adds no second test input
        assert inputs_by_context(run) == expected(raw_dir, "val", "test")

    # Metadata only: the file's path as source, the columns read as schema, no data profile.
    dataset = train_run.inputs.dataset_inputs[0].dataset
    path = raw_dir / f"{dataset.name}.parquet"
    assert (dataset.source_type, json.loads(dataset.source)) == (
        "local",
        {"uri": str(path.resolve())},
    )
    columns = [column["name"] for column in json.loads(dataset.schema)["mlflow_colspec"]]
    assert columns == [
        "lpep_pickup_datetime",
        "lpep_dropoff_datetime",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
    ]
    assert not dataset.profile

    version = client.get_model_version_by_alias("lineage", CHAMPION_ALIAS)
    for name, context in (("train", "training"), ("val", "validation"), ("test", "test")):
        assert version.tags[f"data.{name}_digest"] == expected(raw_dir, name)[context][1]
        assert version.tags[f"data.{name}_file"] == str(
            (raw_dir / f"{MONTH_FILES[name]}.parquet").resolve()
        )


def test_a_changed_file_gets_a_new_digest_on_the_next_run(
    raw_dir: Path, tmp_path: Path, mlflow_server
) -> None:
    output = tmp_path / "output"
    client = MlflowClient(mlflow_server.uri)
    digests = []
    for seed in (None, 99):
        if seed is not None:  # the training month is downloaded again, with other trips
            random_month(raw_dir / f"{MONTH_FILES['train']}.parquet", 400, seed)
        prep = ["--raw_data_path", str(raw_dir), "--dest_path", str(output)]
        assert CliRunner().invoke(run_data_prep, prep).exit_code == 0
        assert CliRunner().invoke(run_train, ["--data_path", str(output)]).exit_code == 0
        newest = client.search_runs(
            [client.get_experiment_by_name(TRAIN_EXPERIMENT).experiment_id],
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )[0]
        assert inputs_by_context(newest) == expected(raw_dir, "train", "val")
        digests.append(inputs_by_context(newest)["training"][1])
    assert digests[0] != digests[1]


def test_pickles_that_record_no_files_are_refused(prepared_dir: Path, mlflow_server) -> None:
    """dv.pkl written before the lineage existed: say to preprocess again, log nothing."""
    with open(prepared_dir / "dv.pkl", "rb") as f:
        dv = pickle.load(f)
    dv.trip_data_ = {key: dv.trip_data_[key] for key in ("dataset", "train_month", "val_month")}
    with open(prepared_dir / "dv.pkl", "wb") as f:
        pickle.dump(dv, f)
    for command in (run_train, run_optimization):
        result = CliRunner().invoke(command, ["--data_path", str(prepared_dir)])
        assert_one_line_error(result, "dv.pkl", "raw files", "preprocess_data.py again")
    client = MlflowClient(mlflow_server.uri)
    assert client.search_experiments(filter_string=f"name = '{TRAIN_EXPERIMENT}'") == []
    assert client.search_experiments(filter_string=f"name = '{HPO_EXPERIMENT}'") == []
