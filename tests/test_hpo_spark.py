"""hpo.py --spark_parallelism: what fails before or after the trials run on Spark.

The trials themselves run on a real cluster in tests/test_spark_cluster.py.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import assert_one_line_error, free_port
from mlflow.tracking import MlflowClient

from homework.config import HPO_EXPERIMENT
from homework.errors import UserError
from hpo import run_optimization


def test_bad_spark_master_is_one_clear_line(
    spark, prepared_dir: Path, mlflow_server, run_script
) -> None:
    args = ["--data_path", str(prepared_dir), "--spark_parallelism", "2"]
    result = run_script("hpo.py", *args, env={"SPARK_MASTER": "nowhere"})
    assert result.returncode == 1
    assert "Error: cannot start Spark on master 'nowhere'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_master_is_one_line_in_seconds(
    spark, prepared_dir: Path, mlflow_server
) -> None:
    master = f"spark://127.0.0.1:{free_port()}"
    args = ["--data_path", str(prepared_dir), "--spark_parallelism", "2", "--spark_master", master]
    started = time.monotonic()
    result = CliRunner().invoke(run_optimization, args)
    assert_one_line_error(
        result, f"the Spark master {master} is not reachable", "make spark-cluster"
    )
    assert time.monotonic() - started < 10  # Spark alone takes over a minute to give up


def test_optuna_on_spark_is_a_usage_error(spark, prepared_dir: Path) -> None:
    args = ["--data_path", str(prepared_dir), "--tuner", "optuna", "--spark_parallelism", "2"]
    result = CliRunner().invoke(run_optimization, args)
    assert result.exit_code == 2 and "make q5-optuna WORKERS=N" in result.output


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

    from homework.search.spark import check_all_done

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
