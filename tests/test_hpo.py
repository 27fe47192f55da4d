"""hpo.py: each trial is one finished run with params, `rmse` and a model, tagged by search."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import plots
from common import HPO_EXPERIMENT_NAME, SEARCH_TAG
from hpo import SEARCH_SPACE, SUMMARY_TAG, TRIALS_PLOT, run_hpo
from register_model import top_hpo_runs

PARAMS = {"max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"}


def hpo_runs(uri: str, trials_only: bool = True):
    """The trial runs (those with `rmse`), best first; with trials_only=False every run."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT_NAME)
    filter_string = "metrics.rmse >= 0" if trials_only else ""
    return client.search_runs(
        [experiment.experiment_id], filter_string, order_by=["metrics.rmse ASC"]
    )


def test_each_trial_is_one_run(prepared_dir: Path, mlflow_server) -> None:
    args = ["--data_path", str(prepared_dir), "--num_trials", "3", "--tracking_uri"]
    result = CliRunner().invoke(run_hpo, [*args, mlflow_server.uri])
    assert result.exit_code == 0, result.output
    runs = hpo_runs(mlflow_server.uri)
    assert len(runs) == 3
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert len({run.data.tags[SEARCH_TAG] for run in runs}) == 1
    for run in runs:
        assert set(run.data.params) == PARAMS
        assert run.data.params["random_state"] == "42"
        assert 1 <= int(run.data.params["max_depth"]) <= 20
        assert 10 <= int(run.data.params["n_estimators"]) <= 50
        assert run.data.metrics["rmse"] > 0
    best = runs[0].data.metrics["rmse"]
    assert f"best validation RMSE: {best:.4f}" in result.stdout


def test_logged_model_reproduces_the_trial_rmse(prepared_dir: Path, mlflow_server) -> None:
    from common import load_dataset, rmse

    CliRunner().invoke(
        run_hpo, ["--data_path", str(prepared_dir), "--num_trials", "1"], catch_exceptions=False
    )
    (run,) = hpo_runs(mlflow_server.uri)
    model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    X_val, y_val = load_dataset(prepared_dir, "val")
    assert rmse(y_val, model.predict(X_val)) == pytest.approx(run.data.metrics["rmse"], rel=1e-12)


def test_same_seed_same_trials(prepared_dir: Path, mlflow_server) -> None:
    for _ in range(2):
        args = ["--data_path", str(prepared_dir), "--num_trials", "2", "--seed", "7"]
        assert CliRunner().invoke(run_hpo, args).exit_code == 0
    runs = hpo_runs(mlflow_server.uri)
    searches: dict[str, list] = {}
    for run in runs:
        searches.setdefault(run.data.tags[SEARCH_TAG], []).append(
            (run.data.params["max_depth"], round(run.data.metrics["rmse"], 12))
        )
    first, second = searches.values()
    assert sorted(first) == sorted(second)


def test_search_space_is_the_courses() -> None:
    assert set(SEARCH_SPACE) == PARAMS
    assert SEARCH_SPACE["random_state"] == 42


def test_summary_run_has_the_plot_and_q6_still_sees_only_trials(
    prepared_dir: Path, mlflow_server
) -> None:
    args = ["--data_path", str(prepared_dir), "--num_trials", "3"]
    assert CliRunner().invoke(run_hpo, args).exit_code == 0
    every_run = hpo_runs(mlflow_server.uri, trials_only=False)
    trials = [run for run in every_run if "rmse" in run.data.metrics]
    (summary,) = [run for run in every_run if "rmse" not in run.data.metrics]
    assert len(trials) == 3
    assert summary.data.tags[SUMMARY_TAG] == "true"
    assert summary.data.tags[SEARCH_TAG] == trials[0].data.tags[SEARCH_TAG]
    assert summary.data.metrics["best_val_rmse"] == trials[0].data.metrics["rmse"]
    client = MlflowClient(mlflow_server.uri)
    assert [a.path for a in client.list_artifacts(summary.info.run_id)] == [TRIALS_PLOT]
    # The summary run is logged last, yet the newest search and its top-N are the trials.
    assert summary.info.start_time >= max(run.info.start_time for run in trials)
    top = top_hpo_runs(5)
    assert [run.info.run_id for run in top] == [run.info.run_id for run in trials]


def test_trial_plot_shows_each_trial_and_the_best_so_far() -> None:
    fig = plots.trial_rmse_figure([6.0, 5.5, 5.8, 5.2])
    try:
        points, best = fig.axes[0].get_lines()
        assert list(points.get_ydata()) == [6.0, 5.5, 5.8, 5.2]
        assert list(best.get_ydata()) == [6.0, 5.5, 5.5, 5.2]
    finally:
        plots.plt.close(fig)
