"""pipeline.py: the four scripts' commands in one process, against a real MLflow server."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import assert_one_line_error, free_port
from mlflow.tracking import MlflowClient

from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_ALIAS,
    DATASET_FILES,
    HPO_EXPERIMENT,
    MODEL_NAME,
    TRAIN_EXPERIMENT,
)


def finished_runs(client: MlflowClient, experiment_name: str, filter_string: str = "") -> list:
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id], filter_string)
    assert {run.info.status for run in runs} == {"FINISHED"}
    return runs


def test_one_process_does_what_the_four_scripts_do(
    raw_dir: Path, tmp_path: Path, mlflow_server, run_script
) -> None:
    output = tmp_path / "output"
    args = ("--raw_data_path", str(raw_dir), "--dest_path", str(output))
    result = run_script("pipeline.py", *args, "--num_trials", "3", "--top_n", "2")
    assert result.returncode == 0, result.stderr

    # Each script's result line, in order, and nothing else on stdout.
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Wrote 4 files to {output}/ (train ")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "validation RMSE",
        "best validation RMSE",
        "test RMSE",
    ]
    assert sorted(path.name for path in output.iterdir()) == sorted(DATASET_FILES)
    timings = result.stderr.strip().splitlines()[-1]
    assert timings.startswith("Done in ")
    assert [part.split()[0] for part in timings.split(": ", 1)[1].split(", ")] == [
        "preprocess_data.py",
        "train.py",
        "hpo.py",
        "register_model.py",
    ]

    # What the server holds: train.py's autologged run, 3 trials, 2 candidates, the champion.
    client = MlflowClient(mlflow_server.uri)
    (train_run,) = finished_runs(client, TRAIN_EXPERIMENT)
    assert train_run.data.params["min_samples_split"] == "2"
    assert f"{train_run.data.metrics['val_rmse']:.4f}" == lines[1].split()[-1]
    trials = finished_runs(client, HPO_EXPERIMENT, "metrics.rmse >= 0")
    assert len(trials) == 3
    best = min(run.data.metrics["rmse"] for run in trials)
    assert f"{best:.4f}" == lines[2].split()[-1]
    candidates = finished_runs(client, BEST_MODELS_EXPERIMENT)
    assert len(candidates) == 2
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    (champion_run,) = [run for run in candidates if run.info.run_id == champion.run_id]
    assert f"{champion_run.data.metrics['test_rmse']:.4f}" == lines[3].split()[-1]


def test_server_down_stops_it_before_any_work(raw_dir: Path, tmp_path: Path, run_script) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    output = tmp_path / "output"
    result = run_script(
        "pipeline.py",
        *("--raw_data_path", str(raw_dir), "--dest_path", str(output)),
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert_one_line_error(result, uri, "make server")
    assert not output.exists()


def test_a_failing_step_is_one_line_and_stops_the_rest(
    tmp_path: Path, mlflow_server, run_script
) -> None:
    output = tmp_path / "output"
    missing = tmp_path / "no-data"
    result = run_script("pipeline.py", "--raw_data_path", str(missing), "--dest_path", str(output))
    assert_one_line_error(result, str(missing), "make data")
    assert "Training" not in result.stderr  # train.py never started
    assert not output.exists()
    assert MlflowClient(mlflow_server.uri).get_experiment_by_name(TRAIN_EXPERIMENT) is None


def test_bad_option_is_a_usage_error(run_script) -> None:
    result = run_script("pipeline.py", "--num_trials", "0")
    assert result.returncode == 2
    assert "--num_trials" in result.stderr and "Traceback" not in result.stderr


def test_each_command_reads_dv_pkl_once(
    prepared_dir: Path, mlflow_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data folder is read once per command (Prepared): dv.pkl is opened for reading
    once by train.py, hpo.py and register_model.py each, whatever they check with it."""
    import builtins

    from hpo import run_optimization
    from register_model import run_register_model
    from train import run_train

    opened = []
    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        if Path(str(file)).name == "dv.pkl" and "r" in mode:
            opened.append(mode)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    data = ["--data_path", str(prepared_dir)]
    raw = ["--raw_data_path", str(prepared_dir.parent / "data")]
    commands = {
        "train.py": (run_train, data),
        "hpo.py": (run_optimization, [*data, "--num_trials", "2"]),
        "register_model.py": (run_register_model, [*data, *raw, "--top_n", "2"]),
    }
    for script, (command, args) in commands.items():
        opened.clear()
        result = CliRunner().invoke(command, args)
        assert result.exit_code == 0, f"{script}: {result.output}"
        assert len(opened) == 1, f"{script} opened dv.pkl {len(opened)} times"
