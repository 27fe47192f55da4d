"""hpo.py: each trial is one finished run with params, `rmse` and a model, tagged by search."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner
from conftest import (
    MONTHS,
    ROOT,
    assert_one_line_error,
    default_ctrl_c,
    free_port,
    random_month,
    start_server,
)
from mlflow.tracking import MlflowClient

from homework import plots
from homework.config import (
    BEST_MODELS_EXPERIMENT,
    HPO_EXPERIMENT,
    HPO_RUN_TAG,
    SEARCH_TAG,
    TRAIN_EXPERIMENT,
    TRIALS_PLOT,
)
from homework.data.lineage import logged_datasets
from homework.data.pickles import write_outputs
from homework.errors import UserError
from homework.search.results import newest_trials
from homework.search.runs import PARENT_TAG
from homework.tracking.experiments import set_experiment
from homework.tracking.rest import Rest
from hpo import run_optimization
from preprocess_data import preprocess

PARAMS = {"max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"}


def hpo_runs(uri: str):
    """The trial runs (those with `rmse`), best first."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    return client.search_runs(
        [experiment.experiment_id], "metrics.rmse >= 0", order_by=["metrics.rmse ASC"]
    )


def searches(client: MlflowClient, status: str | None = None) -> list:
    """The parent runs of the searches (with `status`, if given), newest first."""
    status_filter = f" and attributes.status = '{status}'" if status else ""
    return client.search_runs(experiment_ids(client), f"tags.`{SEARCH_TAG}` != ''{status_filter}")


def test_a_search_is_a_parent_run_with_one_child_per_trial(
    prepared_dir: Path, mlflow_server
) -> None:
    args = ["--data_path", str(prepared_dir), "--num_trials", "3", "--tracking_uri"]
    result = CliRunner().invoke(run_optimization, [*args, mlflow_server.uri])
    assert result.exit_code == 0, result.output
    client = MlflowClient(mlflow_server.uri)
    (parent,) = searches(client)
    runs = hpo_runs(mlflow_server.uri)
    assert len(runs) == 3
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert {run.data.tags[PARENT_TAG] for run in runs} == {parent.info.run_id}
    # The parent finished after its last trial, with the search's result and its data.
    assert parent.info.status == "FINISHED" and parent.data.tags[SEARCH_TAG] == "hyperopt"
    assert parent.data.metrics["best_val_rmse"] == runs[0].data.metrics["rmse"]
    assert "rmse" not in parent.data.metrics  # never counted as a trial
    assert parent.info.end_time >= max(run.info.end_time for run in runs)
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == [TRIALS_PLOT]
    assert logged_datasets(parent) == logged_datasets(runs[0])
    for run in runs:
        assert set(run.data.params) == PARAMS
        assert run.data.params["random_state"] == "42"
        assert 1 <= int(run.data.params["max_depth"]) <= 20
        assert 10 <= int(run.data.params["n_estimators"]) <= 50
        assert run.data.metrics["rmse"] > 0
    best = runs[0].data.metrics["rmse"]
    assert f"best validation RMSE: {best:.4f}" in result.stdout


def test_logged_model_reproduces_the_trial_rmse(prepared_dir: Path, mlflow_server) -> None:
    from homework.data.pickles import Prepared
    from homework.forest import rmse
    from homework.trust.loading import load_sklearn

    CliRunner().invoke(
        run_optimization,
        ["--data_path", str(prepared_dir), "--num_trials", "1"],
        catch_exceptions=False,
    )
    (run,) = hpo_runs(mlflow_server.uri)
    model = load_sklearn(f"runs:/{run.info.run_id}/model")  # signed: loads only if it checks out
    X_val, y_val = Prepared.read(prepared_dir).dataset("val")
    assert rmse(y_val, model.predict(X_val)) == pytest.approx(run.data.metrics["rmse"], rel=1e-12)
    # Logged with the signature of the vectorised matrix, as train.py's model.
    info = mlflow.models.get_model_info(f"runs:/{run.info.run_id}/model")
    spec = info.signature.inputs.to_dict()[0]["tensor-spec"]
    assert list(spec["shape"]) == [-1, X_val.shape[1]]


def test_same_seed_same_trials(prepared_dir: Path, mlflow_server) -> None:
    for _ in range(2):
        args = ["--data_path", str(prepared_dir), "--num_trials", "2", "--seed", "7"]
        assert CliRunner().invoke(run_optimization, args).exit_code == 0
    runs = hpo_runs(mlflow_server.uri)
    by_search: dict[str, list] = {}
    for run in runs:
        by_search.setdefault(run.data.tags[PARENT_TAG], []).append(
            (run.data.params["max_depth"], round(run.data.metrics["rmse"], 12))
        )
    first, second = by_search.values()
    assert sorted(first) == sorted(second)


def test_the_newest_complete_search_is_the_one_read_back(prepared_dir: Path, mlflow_server) -> None:
    for seed in ("1", "2"):
        args = ["--data_path", str(prepared_dir), "--num_trials", "2", "--seed", seed]
        assert CliRunner().invoke(run_optimization, args).exit_code == 0
    client = MlflowClient(mlflow_server.uri)
    newest, _ = searches(client, "FINISHED")
    search = newest_trials(Rest(mlflow_server.uri))
    assert (search.parent.info.run_id, search.notes) == (newest.info.run_id, [])
    trials = search.runs
    assert len(trials) == 2 and {t.data.tags[PARENT_TAG] for t in trials} == {newest.info.run_id}
    assert [t.data.metrics["rmse"] for t in trials] == sorted(
        t.data.metrics["rmse"] for t in trials
    )


def test_runs_of_another_script_are_named_and_ignored(prepared_dir: Path, mlflow_server) -> None:
    """Runs of no search (flat, without the forest's params: another script's) in the same
    experiment: counted and ignored, never taken for an unfinished search (the course's own
    hpo.py runs, which have them, count: tests/test_course.py)."""
    set_experiment(HPO_EXPERIMENT)
    for rmse in (0.1, 0.2, 0.3):  # better than any trial of ours: never picked
        with mlflow.start_run():
            mlflow.log_params({"max_depth": "5"})
            mlflow.log_metric("rmse", rmse)
    ignored = (
        "3 runs in 'random-forest-hyperopt' are of no search (no trial of hpo.py's, no "
        "finished run of the course's hpo.py with its params and rmse)"
    )
    rest = Rest(mlflow_server.uri)
    with pytest.raises(UserError) as none_of_ours:
        newest_trials(rest)
    assert str(none_of_ours.value) == (
        f"no hyperopt search in 'random-forest-hyperopt' yet ({ignored}, ignored): run hpo.py "
        "first (make q5)."
    )
    args = ["--data_path", str(prepared_dir), "--num_trials", "2"]
    assert CliRunner().invoke(run_optimization, args).exit_code == 0
    search = newest_trials(rest)
    assert search.notes == [f"{ignored}: ignored."]
    assert all(trial.data.metrics["rmse"] > 0.3 for trial in search.runs)


def test_trial_plot_shows_each_trial_and_the_best_so_far() -> None:
    fig = plots.trial_rmse_figure([6.0, 5.5, 5.8, 5.2])
    points, best = fig.axes[0].get_lines()
    assert list(points.get_ydata()) == [6.0, 5.5, 5.8, 5.2]
    assert list(best.get_ydata()) == [6.0, 5.5, 5.5, 5.2]


def test_optuna_not_installed_names_the_make_target(
    prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # import fails as if not installed
    args = ["--data_path", str(prepared_dir), "--tuner", "optuna", "--tracking_uri", "http://x:1"]
    result = CliRunner().invoke(run_optimization, args)
    assert result.exit_code == 2  # a usage error, before anything runs (no server asked)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: Invalid value for '--tuner': Optuna is not installed: run `make install-optuna`."
    ]


def test_missing_output_says_preprocess_first(prepared_dir: Path) -> None:
    (prepared_dir / "dv.pkl").unlink()
    result = CliRunner().invoke(run_optimization, ["--data_path", str(prepared_dir)])
    assert_one_line_error(result, "dv.pkl", "preprocess_data.py first")


def test_unreachable_server_fails_in_seconds(prepared_dir: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = CliRunner().invoke(
        run_optimization, ["--data_path", str(prepared_dir), "--tracking_uri", uri]
    )
    assert_one_line_error(result, uri, "make server")
    assert time.monotonic() - started < 10


def start_hpo(data_path: Path, uri: str, *extra: str) -> subprocess.Popen:
    args = ["--data_path", str(data_path), "--tracking_uri", uri, *extra]
    return subprocess.Popen(
        [sys.executable, str(ROOT / "hpo.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_ctrl_c,  # some tests press Ctrl-C in it
    )


def slow_data(tmp_path: Path) -> Path:
    """Pickles of 5,000 generated trips a month: big enough that one fit takes a second."""
    raw = tmp_path / "data"
    raw.mkdir()
    for seed, month in enumerate(MONTHS):
        random_month(raw / f"green_tripdata_{month}.parquet", 5_000, seed, zones=30)
    data = tmp_path / "output"
    months = dict(zip(("train", "val", "test"), MONTHS, strict=True))
    write_outputs(preprocess(raw, "green", months), data)
    return data


def wait_for_trials(client: MlflowClient, search: subprocess.Popen, count: int) -> list[str]:
    """The ids of the first `count` finished trials of the running `search` (and no other)."""
    deadline = time.monotonic() + 300
    while True:  # wait for finished trials while the next one is fitting
        assert time.monotonic() < deadline and search.poll() is None, search.stderr.read()
        runs = client.search_runs(experiment_ids(client), "metrics.rmse >= 0") or []
        done = done_searches(client)
        mine = [run for run in runs if run.data.tags[PARENT_TAG] not in done]
        if len(mine) >= count and all(run.info.status == "FINISHED" for run in mine):
            return [run.info.run_id for run in mine]
        time.sleep(0.1)


def done_searches(client: MlflowClient) -> set[str]:
    """The ids of the searches that finished (their parent run FINISHED)."""
    return {run.info.run_id for run in searches(client, "FINISHED")}


@pytest.mark.server
def test_server_killed_mid_search_keeps_finished_trials(tmp_path: Path, run_script) -> None:
    data = slow_data(tmp_path)
    server = start_server(tmp_path / "server")
    # Seed 3 draws deep forests first (max_depth 14, 17, 16), so each trial fits for seconds.
    search = start_hpo(data, server.uri, "--num_trials", "10", "--seed", "3")
    try:
        finished = wait_for_trials(MlflowClient(server.uri), search, 1)
        server.kill()  # a crash, not a clean stop
        killed = time.monotonic()
        _, stderr = search.communicate(timeout=300)
        elapsed = time.monotonic() - killed
    finally:
        search.kill()
        server.stop()

    assert search.returncode == 1
    assert "Traceback" not in stderr
    (error,) = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert server.uri in error and "make server" in error and "run this step again" in error
    assert "job exception" not in stderr  # hyperopt's own line would say it twice
    assert elapsed < 60, f"hpo.py took {elapsed:.0f} s to give up"

    restarted = start_server(tmp_path / "server", server.port)  # same SQLite file, same port
    try:
        client = MlflowClient(restarted.uri)
        runs = {run.info.run_id: run for run in client.search_runs(experiment_ids(client))}
        # The stopped search is no result: with no other, Q5 says to run hpo.py again.
        q5 = run_script("answers.py", "-q", "5", env={"MLFLOW_TRACKING_URI": restarted.uri})
    finally:
        restarted.stop()
    (parent,) = [run for run in runs.values() if SEARCH_TAG in run.data.tags]
    trials = [run for run in runs.values() if run is not parent]
    assert set(finished) <= {run.info.run_id for run in trials}
    assert {run.info.status for run in trials} == {"FINISHED"}  # none left RUNNING
    assert parent.info.status == "RUNNING"  # its process died with the server: never complete
    assert_one_line_error(q5, "no hyperopt search", "has finished", "run hpo.py again")


@pytest.mark.server
def test_ctrl_c_mid_search_leaves_a_search_that_is_never_used(tmp_path: Path, run_script) -> None:
    data = slow_data(tmp_path)
    server = start_server(tmp_path / "server")
    env = {"MLFLOW_TRACKING_URI": server.uri}
    try:
        complete = start_hpo(data, server.uri, "--num_trials", "2", "--seed", "0")
        _, stderr = complete.communicate(timeout=600)
        assert complete.returncode == 0, stderr
        client = MlflowClient(server.uri)
        (complete_id,) = done_searches(client)

        search = start_hpo(data, server.uri, "--num_trials", "10", "--seed", "3")
        try:
            stopped = wait_for_trials(client, search, 2)
            search.send_signal(signal.SIGINT)  # Ctrl-C, while the third trial is fitting
            _, stderr = search.communicate(timeout=120)
        finally:
            search.kill()
        assert search.returncode == 1
        assert "Traceback" not in stderr
        (error,) = [line for line in stderr.splitlines() if line.startswith("Error:")]
        assert "interrupted after" in error and "of 10 trials" in error
        assert "run hpo.py again" in error
        assert done_searches(client) == {complete_id}  # the stopped one is not complete
        stopped_id = client.get_run(stopped[0]).data.tags[PARENT_TAG]
        assert stopped_id[:8] in error
        assert client.get_run(stopped_id).info.status == "KILLED"

        # Q5 and register_model.py use the complete search and say why, in one line each.
        trials = client.search_runs(
            experiment_ids(client), f"tags.`{PARENT_TAG}` = '{complete_id}'", max_results=10
        )
        best = min(run.data.metrics["rmse"] for run in trials if "rmse" in run.data.metrics)
        stopped_best = min(client.get_run(run_id).data.metrics["rmse"] for run_id in stopped)
        assert f"{stopped_best:.3f}" != f"{best:.3f}"  # else Q5 could not tell them apart
        q5 = run_script("answers.py", "-q", "5", env=env)
        assert q5.returncode == 0, q5.stderr
        assert q5.stdout.strip().endswith(f": {best:.3f}")
        (note,) = [line for line in q5.stderr.splitlines() if "did not finish" in line]
        assert stopped_id[:8] in note and complete_id[:8] in note

        raw = ("--raw_data_path", str(tmp_path / "data"), "--top_n", "5")
        register = run_script("register_model.py", "--data_path", str(data), *raw, env=env)
        assert register.returncode == 0, register.stderr
        assert note in register.stderr
        assert "Only 2 finished hyperopt runs" in register.stderr
        best_models = client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id
        picked = {run.data.tags[HPO_RUN_TAG] for run in client.search_runs([best_models])}
        assert picked == {run.info.run_id for run in trials if "rmse" in run.data.metrics}
    finally:
        server.stop()


def experiment_ids(client: MlflowClient) -> list[str]:
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    return [experiment.experiment_id] if experiment else []


def test_train_and_hpo_in_parallel_lose_no_run(prepared_dir: Path, mlflow_server) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri}
    clients = [
        start_hpo(prepared_dir, mlflow_server.uri, "--num_trials", "8"),
        start_hpo(prepared_dir, mlflow_server.uri, "--num_trials", "8", "--seed", "1"),
        subprocess.Popen(
            [sys.executable, str(ROOT / "train.py"), "--data_path", str(prepared_dir)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    outputs = [client.communicate(timeout=600) for client in clients]
    for client, (_, stderr) in zip(clients, outputs, strict=True):
        assert client.returncode == 0, stderr
        assert "locked" not in stderr
    assert "locked" not in (mlflow_server.folder / "server.log").read_text()

    runs = hpo_runs(mlflow_server.uri)
    assert len(runs) == 16
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert sorted(Counter(run.data.tags[PARENT_TAG] for run in runs).values()) == [8, 8]
    assert len(done_searches(MlflowClient(mlflow_server.uri))) == 2
    client = MlflowClient(mlflow_server.uri)
    train_experiment = client.get_experiment_by_name(TRAIN_EXPERIMENT)
    (train_run,) = client.search_runs([train_experiment.experiment_id])
    assert train_run.info.status == "FINISHED"


def test_trials_left_running_by_a_crash_are_marked_failed(
    prepared_dir: Path, mlflow_server
) -> None:
    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.create_experiment(HPO_EXPERIMENT)
    an_hour_ago = int((time.time() - 3600) * 1000)
    crashed = client.create_run(experiment_id, start_time=an_hour_ago, tags={SEARCH_TAG: "x"})
    tags = {PARENT_TAG: crashed.info.run_id}
    orphan = client.create_run(experiment_id, start_time=an_hour_ago, tags=tags)
    untagged = client.create_run(experiment_id, start_time=an_hour_ago)  # not a trial of ours
    in_progress = client.create_run(experiment_id, tags=tags)  # maybe a search running now
    result = CliRunner().invoke(
        run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Marked 1 trial(s) left RUNNING as FAILED" in result.stderr
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    for run in (untagged, in_progress):
        assert client.get_run(run.info.run_id).info.status == "RUNNING"


def test_forests_fit_on_every_core_and_predict_bit_identically(prepared_dir: Path) -> None:
    from sklearn.ensemble import RandomForestRegressor

    from homework.data.pickles import Prepared
    from homework.forest import fit_forest

    X_train, y_train = Prepared.read(prepared_dir).dataset("train")
    X_val, _ = Prepared.read(prepared_dir).dataset("val")
    params = {"n_estimators": 40, "max_depth": 8, "random_state": 42}
    forest = fit_forest(X_train, y_train, n_jobs=-1, **params)
    single = RandomForestRegressor(n_jobs=1, **params).fit(X_train, y_train)
    assert forest.get_params()["n_jobs"] == 1  # what it predicts with, and is logged with
    assert forest.predict(X_val).tobytes() == single.predict(X_val).tobytes()


def test_experiment_created_by_another_client_meanwhile_still_gets_the_runs(
    mlflow_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race behind lost parallel runs: the lookup misses, another client creates it."""
    from mlflow.tracking import MlflowClient as Client

    from homework.tracking.experiments import set_experiment

    experiment_id = MlflowClient(mlflow_server.uri).create_experiment(HPO_EXPERIMENT)
    lookup = Client.get_experiment_by_name
    misses = iter([True])  # MLflow's first lookup runs before the other client's create

    def racing_lookup(self, name):
        return None if next(misses, False) else lookup(self, name)

    monkeypatch.setattr(Client, "get_experiment_by_name", racing_lookup)
    set_experiment(HPO_EXPERIMENT)
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == experiment_id
