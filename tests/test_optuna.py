"""hpo.py --tuner optuna: a study in a real database (SQLite, PostgreSQL), logged as hyperopt's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy
from click.testing import CliRunner
from conftest import ROOT, assert_one_line_error, extra
from mlflow.tracking import MlflowClient

import hpo
from homework.config import CHAMPION_ALIAS, HPO_EXPERIMENT, MODEL_NAME, SEARCH_TAG
from homework.data.lineage import logged_datasets
from homework.data.pickles import Prepared
from homework.errors import UserError
from homework.forest import rmse
from homework.search.results import newest_trials
from homework.search.runs import PARENT_TAG
from homework.search.study_storage import default_storage, open_storage
from homework.tracking.rest import Rest
from homework.trust.loading import load_sklearn
from hpo import run_optimization
from register_model import run_register_model

optuna = extra("optuna", "install-optuna")
PARAMS = {"max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"}


def optuna_search(data: Path, storage: str, *extra: str):
    args = ["--data_path", str(data), "--tuner", "optuna", "--storage", storage]
    return CliRunner().invoke(run_optimization, [*args, "--num_trials", "3", *extra])


def children(client: MlflowClient, parent_id: str) -> list:
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    return client.search_runs(
        [experiment.experiment_id], f"tags.`{PARENT_TAG}` = '{parent_id}'", max_results=100
    )


def study(storage: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage)


def completed(storage: str, name: str) -> list[tuple[int, ...]]:
    trials = study(storage, name).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return [tuple(trial.params.values()) for trial in trials]


def test_an_optuna_search_is_logged_as_hyperopt_s_and_registers(
    prepared_dir: Path, mlflow_server, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = optuna_search(prepared_dir, storage, "--study_name", "first")
    assert result.exit_code == 0, result.output
    client = MlflowClient(mlflow_server.uri)
    parent_id = study(storage, "first").user_attrs["parent_run_id"]
    parent, trials = client.get_run(parent_id), children(client, parent_id)
    assert parent.data.tags[SEARCH_TAG] == "optuna" and parent.info.status == "FINISHED"
    assert parent.data.params["study_name"] == "first"
    assert len(trials) == 3 and {run.info.status for run in trials} == {"FINISHED"}
    assert {tuple(sorted(run.data.params)) for run in trials} == {tuple(sorted(PARAMS))}
    best = min(run.data.metrics["rmse"] for run in trials)
    assert parent.data.metrics["best_val_rmse"] == best
    assert result.stdout == f"best validation RMSE: {best:.4f}\n"
    assert logged_datasets(parent) == logged_datasets(trials[0])
    # The forest each trial logged is signed and scores what it reported.
    (top,) = [run for run in trials if run.data.metrics["rmse"] == best][:1]
    X_val, y_val = Prepared.read(prepared_dir).dataset("val")
    model = load_sklearn(f"runs:/{top.info.run_id}/model")
    assert rmse(y_val, model.predict(X_val)) == pytest.approx(best, rel=1e-12)
    # Q5 and register_model.py read it as they read a hyperopt search.
    assert newest_trials(Rest(mlflow_server.uri)).parent.info.run_id == parent_id
    raw = ["--raw_data_path", str(prepared_dir.parent / "data"), "--top_n", "2"]
    registered = CliRunner().invoke(run_register_model, ["--data_path", str(prepared_dir), *raw])
    assert registered.exit_code == 0, registered.output
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    picked = client.get_run(champion.run_id).data.tags["hpo_run_id"]
    assert picked in {run.info.run_id for run in trials}


def test_a_resumed_study_is_the_uninterrupted_one(
    prepared_dir: Path, mlflow_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert optuna_search(prepared_dir, storage, "--study_name", "whole").exit_code == 0
    with monkeypatch.context() as patch:
        fits = []

        def fit(*args, **params):
            fits.append(params)
            if len(fits) == 2:
                raise KeyboardInterrupt  # Ctrl-C while the second trial fits
            return fit_forest(*args, **params)

        fit_forest = hpo.fit_forest
        patch.setattr(hpo, "fit_forest", fit)
        stopped = optuna_search(prepared_dir, storage, "--study_name", "stopped")
    assert_one_line_error(stopped, "interrupted after 1 of 3 trials")
    elsewhere = tmp_path / "elsewhere.db"  # not the storage the study is in: refused, not made
    lost = optuna_search(prepared_dir, f"sqlite:///{elsewhere}", "--resume")
    assert_one_line_error(lost, "no Optuna study 'stopped'", f"its search recorded {storage}")
    assert not elsewhere.exists()
    resumed = optuna_search(prepared_dir, storage, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "Optuna study stopped" in resumed.stderr and "1 of 3 trials done" in resumed.stderr
    # The interrupted trial failed and ran again: the same parameters, in the same order.
    states = Counter(trial.state.name for trial in study(storage, "stopped").trials)
    assert states == {"COMPLETE": 3, "FAIL": 1}
    assert completed(storage, "stopped") == completed(storage, "whole")
    client = MlflowClient(mlflow_server.uri)
    parent_id = study(storage, "stopped").user_attrs["parent_run_id"]
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert len(children(client, parent_id)) == 3
    assert resumed.stdout == optuna_search(prepared_dir, storage).stdout  # a new study: same best


def test_bad_optuna_input_is_one_line_and_changes_nothing(
    prepared_dir: Path, mlflow_server, tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert_one_line_error(optuna_search(prepared_dir, storage, "--resume"), "no unfinished optuna")
    assert optuna_search(prepared_dir, storage, "--study_name", "s").exit_code == 0
    done = optuna_search(prepared_dir, storage, "--study_name", "s")
    assert_one_line_error(done, "Optuna study 's'", "is complete", "another --study_name")
    # A second worker with other options, or on other data, joins no study.
    other = optuna_search(prepared_dir, storage, "--study_name", "s", "--seed", "1")
    assert_one_line_error(other, "was made with seed 42", "this run has seed 1")
    optuna.load_study(study_name="s", storage=storage).set_user_attr("data_digest", "train:x")
    moved = optuna_search(prepared_dir, storage, "--study_name", "s")
    assert_one_line_error(moved, "data_digest train:x", "same options and data")
    # MLflow's own database is never Optuna's.
    mlflow_db = f"sqlite:///{mlflow_server.folder / 'mlflow.db'}"
    assert_one_line_error(optuna_search(prepared_dir, mlflow_db), "MLflow's own database")
    assert Counter(s.study_name for s in optuna.get_all_study_summaries(storage)) == {"s": 1}
    # Optuna's options given to hyperopt: a usage error before anything runs.
    args = ["--data_path", str(prepared_dir), "--study_name", "s"]
    hyperopt = CliRunner().invoke(run_optimization, args)
    assert hyperopt.exit_code == 2 and "are for --tuner optuna" in hyperopt.output


def test_the_default_storage_is_beside_mlflow_s_never_in_it(tmp_path: Path) -> None:
    assert default_storage({}) == f"sqlite:///{Path('optuna.db').resolve()}"
    sqlite = default_storage({"BACKEND_STORE_URI": f"sqlite:///{tmp_path}/mlflow.db"})
    assert sqlite == f"sqlite:///{tmp_path}/optuna.db"
    postgres = default_storage({"BACKEND_STORE_URI": "postgresql://u:p@db:5432/mlflow"})
    assert postgres == "postgresql://u:p@db:5432/mlflow?options=-csearch_path%3Doptuna"


def start_worker(data: Path, uri: str, env: dict[str, str], *extra: str) -> subprocess.Popen:
    args = ["--data_path", str(data), "--tuner", "optuna", "--num_trials", "4", *extra]
    return subprocess.Popen(
        [sys.executable, str(ROOT / "hpo.py"), *args, "--tracking_uri", uri],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def two_workers(data: Path, uri: str, env: dict[str, str]) -> list[tuple[int, str, str]]:
    """Two hpo.py started at once on one new study, on two machines as far as they know."""
    workers = [start_worker(data, uri, env, "--study_name", "shared") for _ in range(2)]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    return [(worker.returncode, *output) for worker, output in zip(workers, outputs, strict=True)]


def check_one_search(storage: str, uri: str, outputs: list[tuple[int, str, str]]) -> None:
    """Every trial landed once, in one complete search, and every worker says its result."""
    for code, _, stderr in outputs:
        assert code == 0, stderr
    (name,) = optuna.get_all_study_names(storage)
    shared = study(storage, name)
    states = Counter(t.state.name for t in shared.trials)
    # A worker that asks for a trial once the others hold the whole budget prunes it (a race
    # of the workers, as designed): it fits and logs nothing.
    assert states["COMPLETE"] == 4 and set(states) <= {"COMPLETE", "PRUNED"}, states
    client = MlflowClient(uri)
    parent_id = shared.user_attrs["parent_run_id"]
    trials = children(client, parent_id)
    assert len(trials) == 4 and len({tuple(sorted(run.data.params.items())) for run in trials}) == 4
    assert client.get_run(parent_id).info.status == "FINISHED"
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    assert len(client.search_runs([experiment.experiment_id], f"tags.`{SEARCH_TAG}` != ''")) == 1
    best = min(run.data.metrics["rmse"] for run in trials)
    assert {stdout for _, stdout, _ in outputs} == {f"best validation RMSE: {best:.4f}\n"}


def test_make_q5_optuna_workers_share_one_study_on_sqlite(
    prepared_dir: Path, mlflow_server, tmp_path: Path
) -> None:
    """What `make q5-optuna WORKERS=2` runs: scripts/hpo_workers.sh, two hpo.py at once."""
    args = ["--data_path", str(prepared_dir), "--num_trials", "4", "--tracking_uri"]
    command = [sys.executable, str(ROOT / "hpo.py"), "--tuner", "optuna", *args, mlflow_server.uri]
    done = subprocess.run(
        [str(ROOT / "scripts/hpo_workers.sh"), "2", "", *command],
        cwd=tmp_path,
        env={**os.environ, "BACKEND_STORE_URI": f"sqlite:///{tmp_path}/mlflow.db"},  # as make does
        capture_output=True,
        text=True,
        timeout=600,
    )
    second = (tmp_path / "hpo-worker-2.log").read_text()
    joined = [text for text in (done.stderr, second) if "Going on with search" in text]
    assert len(joined) == 1  # one made the study and its search, the other joined it
    outputs = [(done.returncode, done.stdout, done.stderr)]
    check_one_search(f"sqlite:///{tmp_path}/optuna.db", mlflow_server.uri, outputs)
    bad = subprocess.run(
        [str(ROOT / "scripts/hpo_workers.sh"), "two", "", *command], capture_output=True, text=True
    )
    assert (bad.returncode, bad.stderr) == (
        1,
        "Error: WORKERS=two is not a number of workers (1, 2, ...).\n",
    )


def test_two_workers_share_one_study_on_postgresql(
    prepared_dir: Path, mlflow_server, postgres_uri: str
) -> None:
    """The team's PostgreSQL: the study in the schema optuna of its database, MLflow's
    tables untouched (here no MLflow at all), workers that could be on other machines."""
    outputs = two_workers(prepared_dir, mlflow_server.uri, {"BACKEND_STORE_URI": postgres_uri})
    check_one_search(
        default_storage({"BACKEND_STORE_URI": postgres_uri}), mlflow_server.uri, outputs
    )
    engine = sqlalchemy.create_engine(postgres_uri)
    with engine.connect() as connection:
        tables = sqlalchemy.inspect(connection).get_table_names(schema="optuna")
        public = sqlalchemy.inspect(connection).get_table_names(schema="public")
    engine.dispose()
    assert {"studies", "trials", "alembic_version"} <= set(tables) and public == []


def test_a_postgresql_storage_without_its_driver_names_the_make_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # import fails as if not installed
    with pytest.raises(UserError) as raised:
        open_storage("postgresql://mlflow:db-secret-17@127.0.0.1:5432/mlflow")
    message = str(raised.value)
    assert "needs the PostgreSQL driver psycopg2" in message and "make install-postgres" in message
    assert "db-secret-17" not in message and "mlflow:***@" in message
