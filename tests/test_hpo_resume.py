"""hpo.py --resume: a stopped hyperopt search goes on from the trials it finished."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import assert_one_line_error
from mlflow.tracking import MlflowClient

import hpo
from homework.config import HPO_EXPERIMENT, SEARCH_TAG
from homework.processes import this_process
from homework.search.hyperopt_tuner import key, suggested
from homework.search.plan import Plan
from homework.search.runs import PARENT_TAG, PROCESS_TAG
from hpo import run_optimization


def search(data: Path, *extra: str):
    args = ["--data_path", str(data), "--num_trials", "4", "--seed", "5", *extra]
    return CliRunner().invoke(run_optimization, args)


def stop_at_trial(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Ctrl-C while trial `number` (from 1) fits."""
    fits = []

    def fit(*args, **params):
        fits.append(params)
        if len(fits) == number:
            raise KeyboardInterrupt
        return hpo_fit(*args, **params)

    hpo_fit = hpo.fit_forest
    monkeypatch.setattr(hpo, "fit_forest", fit)


def parents(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    return client.search_runs([experiment.experiment_id], f"tags.`{SEARCH_TAG}` != ''")


def trials_of(client: MlflowClient, parent) -> list[tuple[tuple[int, ...], float]]:
    runs = client.search_runs(
        [parent.info.experiment_id],
        f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'",
        order_by=["attributes.start_time ASC"],
    )
    return [(key(run.data.params), run.data.metrics["rmse"]) for run in runs]


def test_a_resumed_search_is_the_uninterrupted_one(
    prepared_dir: Path, mlflow_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = MlflowClient(mlflow_server.uri)
    whole = search(prepared_dir)
    assert whole.exit_code == 0, whole.output
    (uninterrupted,) = parents(client)

    with monkeypatch.context() as patch:
        stop_at_trial(patch, 3)
        stopped = search(prepared_dir)
    assert_one_line_error(stopped, "interrupted after 2 of 4 trials", "--resume")
    (parent,) = [run for run in parents(client) if run.info.run_id != uninterrupted.info.run_id]
    assert parent.info.status == "KILLED" and len(trials_of(client, parent)) == 2

    # Another tool's run, tagged like a search but with no plan, is RUNNING and newer: skipped.
    foreign = client.create_run(parent.info.experiment_id, tags={SEARCH_TAG: "hyperopt"})
    resumed = search(prepared_dir, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert f"Going on with search {parent.info.run_id[:8]}: 2 of 4 trials done" in resumed.stderr
    assert f"no plan of hpo.py's ({foreign.info.run_id[:8]})" in resumed.stderr
    client.delete_run(foreign.info.run_id)
    # The same parent run, now complete: the same four trials as the uninterrupted search.
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert len(parents(client)) == 2
    assert trials_of(client, parent) == trials_of(client, uninterrupted)
    assert [found for found, _ in trials_of(client, parent)] == suggested(5, 4)
    assert resumed.stdout == whole.stdout  # best validation RMSE: ...
    # Nothing left to resume.
    again = search(prepared_dir, "--resume")
    assert_one_line_error(again, "--resume: no unfinished hyperopt search", "leave out --resume")


def test_resume_refuses_another_plan_another_data_or_a_search_still_running(
    prepared_dir: Path, mlflow_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from conftest import MONTHS, random_month

    from homework.data.pickles import write_outputs
    from preprocess_data import preprocess

    with monkeypatch.context() as patch:
        stop_at_trial(patch, 2)
        assert search(prepared_dir).exit_code == 1
    client = MlflowClient(mlflow_server.uri)
    (stopped,) = parents(client)

    other_options = search(prepared_dir, "--resume", "--seed", "6")
    assert_one_line_error(other_options, "was made with seed 5", "this run has seed 6")
    other_trials = CliRunner().invoke(
        run_optimization, ["--data_path", str(prepared_dir), "--seed", "5", "--resume"]
    )
    assert_one_line_error(other_trials, "num_trials 4", "num_trials 15")

    raw = tmp_path / "other"
    raw.mkdir()
    for seed, month in enumerate(MONTHS):
        random_month(raw / f"green_tripdata_{month}.parquet", 300, seed + 10)
    months = dict(zip(("train", "val", "test"), MONTHS, strict=True))
    write_outputs(preprocess(raw, "green", months), tmp_path / "other-output")
    other_data = search(tmp_path / "other-output", "--resume")
    assert_one_line_error(other_data, "data_digest", "--data_path it was made with")

    # A search whose process still runs (here: this very test) is not taken over.
    plan = Plan("hyperopt", 4, 5, data=dict(stopped.data.params)["data_digest"])
    running = client.create_run(
        stopped.info.experiment_id, tags={SEARCH_TAG: "hyperopt", PROCESS_TAG: this_process()}
    )
    for name, value in plan.recorded().items():
        client.log_param(running.info.run_id, name, value)
    busy = search(prepared_dir, "--resume")
    assert_one_line_error(busy, f"search {running.info.run_id[:8]} is still running", "pid")

    # Nothing changed: no new search, the stopped one still stopped with its one trial.
    assert {run.info.run_id for run in parents(client)} == {
        stopped.info.run_id,
        running.info.run_id,
    }
    assert len(trials_of(client, client.get_run(stopped.info.run_id))) == 1
