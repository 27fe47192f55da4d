"""hpo.py --spark_parallelism: trials as hyperopt SparkTrials tasks, each still one MLflow run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import unavailable
from mlflow.tracking import MlflowClient

from homework.config import CHAMPION_ALIAS, HPO_EXPERIMENT, MODEL_NAME, SEARCH_TAG
from homework.errors import UserError
from homework.forest import rmse
from homework.pickles import load_dataset
from homework.search_runs import PARENT_TAG
from homework.trust.loading import load_sklearn
from hpo import run_optimization

PARAMS = {"max_depth", "n_estimators", "min_samples_split", "min_samples_leaf", "random_state"}


@pytest.fixture
def spark() -> None:
    """Skip without pyspark or Java on a laptop (`make install-spark`); under CI, fail instead."""
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (make install-spark)"
    if not missing and not shutil.which("java"):
        missing = "no java on PATH (Spark needs Java 17+)"
    if missing:
        unavailable(missing)


def test_every_spark_trial_is_one_run_and_register_model_works(
    spark,
    raw_dir: Path,
    prepared_dir: Path,
    mlflow_server,
    run_script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)  # hpo.py must set it for the workers
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    data = ["--data_path", str(prepared_dir)]
    spark_args = ["--num_trials", "4", "--spark_parallelism", "2", "--spark_master", "local[2]"]
    result = run_script("hpo.py", *data, *spark_args, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]

    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    trials = client.search_runs(
        [experiment.experiment_id], "metrics.rmse >= 0", order_by=["metrics.rmse ASC"]
    )
    assert len(trials) == 4
    assert {run.info.status for run in trials} == {"FINISHED"}
    for run in trials:
        assert set(run.data.params) == PARAMS
        assert run.data.metrics["rmse"] > 0
    # Nothing else was logged anywhere: no driver-side run, no trial in the Default experiment;
    # just the search's parent run (its plot, no `rmse`), which every trial is nested in.
    everything = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(everything) == 4 + 1
    (parent,) = [run for run in everything if "rmse" not in run.data.metrics]
    assert parent.data.tags[SEARCH_TAG] == "hyperopt" and parent.info.status == "FINISHED"
    assert {run.data.tags[PARENT_TAG] for run in trials} == {parent.info.run_id}
    # Results alone on stdout: the workers' MLflow chatter went to stderr.
    assert result.stdout == f"best validation RMSE: {trials[0].data.metrics['rmse']:.4f}\n"

    # A worker's logged model is signed (load_sklearn checks it) and scores what it reported.
    model = load_sklearn(f"runs:/{trials[0].info.run_id}/model")
    X_val, y_val = load_dataset(prepared_dir, "val")
    assert rmse(y_val, model.predict(X_val)) == pytest.approx(trials[0].data.metrics["rmse"])

    registered = run_script(
        "register_model.py", *data, "--raw_data_path", str(raw_dir), "--top_n", "2"
    )
    assert registered.returncode == 0, registered.stderr[-3000:]
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    champion_source = client.get_run(version.run_id).data.tags["hpo_run_id"]
    assert champion_source in {run.info.run_id for run in trials[:2]}


def test_bad_spark_master_is_one_clear_line(
    spark, prepared_dir: Path, mlflow_server, run_script
) -> None:
    args = ["--data_path", str(prepared_dir), "--spark_parallelism", "2"]
    result = run_script("hpo.py", *args, env={"SPARK_MASTER": "nowhere"})
    assert result.returncode == 1
    assert "Error: cannot start Spark on master 'nowhere'" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_pyspark_says_how_to_install(
    prepared_dir: Path, mlflow_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import fails as if not installed
    args = ["--data_path", str(prepared_dir), "--spark_parallelism", "2"]
    result = CliRunner().invoke(run_optimization, args)
    assert result.exit_code == 2  # a usage error, before anything runs
    assert "needs pyspark: run `make install-spark`" in result.output
    assert MlflowClient().get_experiment_by_name(HPO_EXPERIMENT) is None


def test_failed_trials_fail_the_search_in_one_line() -> None:
    import numpy as np
    from hyperopt import Trials, fmin, hp, rand

    from homework.spark import check_all_done

    def objective(params: dict) -> float:
        raise OSError("tracking server went away")

    trials = Trials()
    fmin(
        objective,
        {"x": hp.uniform("x", 0, 1)},
        algo=rand.suggest,
        max_evals=3,
        trials=trials,
        rstate=np.random.default_rng(0),
        catch_eval_exceptions=True,  # record the failures as SparkTrials does
        return_argmin=False,
        show_progressbar=False,
    )
    with pytest.raises(UserError) as failure:
        check_all_done(trials)
    assert str(failure.value) == (
        "3 of 3 trials failed on Spark, the first with: tracking server went away"
    )
