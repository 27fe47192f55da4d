"""Hyperopt trials as Spark tasks: hyperopt's `SparkTrials` on a Spark master.

`hpo.py --spark_parallelism N` runs up to N trials at a time on `--spark_master` (default
`$SPARK_MASTER` or `local[*]`). Each trial runs in a Spark worker, a fresh process that
knows nothing of the driver: the objective travels with the job (its closure holds the
training data), and the worker connects to the driver's tracking server itself and logs
its own child run. Needs pyspark (`make install-spark`) and Java 17 or newer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homework.errors import UserError, first_line

DEFAULT_SPARK_MASTER = "local[*]"


@dataclass(frozen=True)
class SparkSettings:
    """`--spark_parallelism` and `--spark_master`: parallelism 0 runs no trial on Spark."""

    parallelism: int = 0
    master: str = DEFAULT_SPARK_MASTER

    def __str__(self) -> str:
        return f"up to {self.parallelism} at a time on Spark {self.master}"


def remote(objective: Callable[[dict[str, Any]], Any], tracking_uri: str, verbose: bool) -> Any:
    """Wrap `objective` for a Spark worker: the driver's tracking server, quiet, masked.

    MLflow's chatter stays off the worker's stdout (which may be the driver's, carrying only
    results), and the password is masked in what it prints.
    """

    def remote_objective(params: dict[str, Any]) -> Any:
        import mlflow

        from homework.reporting import masked_output
        from homework.tracking import quiet_mlflow

        mlflow.set_tracking_uri(tracking_uri)
        quiet_mlflow(verbose)
        with masked_output(tracking_uri, verbose):
            return objective(params)

    return remote_objective


def ship_package(spark: Any, script: str, scratch: str) -> None:
    """Ship the calling script and this package (zipped in `scratch`) to the workers.

    The workers import them; they fetch the files when their first task starts, so
    `scratch` must outlive the Spark session.
    """
    import homework

    spark.sparkContext.addPyFile(script)
    package = Path(homework.__file__).parent
    archive = shutil.make_archive(f"{scratch}/homework", "zip", package.parent, package.name)
    spark.sparkContext.addPyFile(archive)


@contextlib.contextmanager
def spark_trials(parallelism: int, master: str, script: str) -> Iterator[Any]:
    """hyperopt's `SparkTrials` on `master`, its workers running this very interpreter."""
    from hyperopt.spark import SparkTrials
    from pyspark.sql import SparkSession  # installed: options.spark_installed checked

    # Without this the workers take the system's python, which lacks hyperopt and MLflow.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spark = SparkSession.builder.master(master).appName("hpo").getOrCreate()
    except Exception as exc:  # no Java, bad master URL, cluster down: all one line for the user
        raise UserError(
            f"cannot start Spark on master {master!r}: {first_line(exc)[:300]} "
            "(needs Java 17+; check --spark_master / $SPARK_MASTER)"
        ) from None
    try:
        with tempfile.TemporaryDirectory(prefix="spark-") as scratch:
            spark.sparkContext.setLogLevel("ERROR")
            ship_package(spark, script, scratch)
            yield SparkTrials(parallelism=parallelism, spark_session=spark)
    finally:
        spark.stop()


def check_all_done(trials: Any) -> None:
    """Fail with one line if a trial failed on a Spark worker (SparkTrials only records it)."""
    from hyperopt import JOB_STATE_DONE

    every = trials._dynamic_trials  # failed trials too: `trials.trials` leaves them out
    failed = [trial for trial in every if trial["state"] != JOB_STATE_DONE]
    if failed:
        error = (
            ((failed[0]["misc"].get("error") or ("", ""))[1] or "cancelled").strip().splitlines()
        )
        raise UserError(
            f"{len(failed)} of {len(every)} trials failed on Spark, the first with: "
            f"{(error or ['?'])[-1][:300]}"
        )


def minimize_on_spark(
    objective: Callable[[dict[str, Any]], Any],
    num_trials: int,
    seed: int,
    spark: SparkSettings,
    verbose: bool = False,
) -> list[float]:
    """Run the search's trials as Spark tasks, up to `spark.parallelism` at a time; their losses."""
    import mlflow

    from homework.tuning import minimize

    wrapped = remote(objective, mlflow.get_tracking_uri(), verbose)
    script = sys.modules[objective.__module__].__file__
    with spark_trials(spark.parallelism, spark.master, script) as trials:
        minimize(wrapped, num_trials, seed, trials)
    check_all_done(trials)
    return trials.losses()
