"""Hyperopt trials as Spark tasks: hyperopt's `SparkTrials` on a Spark master.

`hpo.py --spark_parallelism N` runs up to N trials at a time on `--spark_master` (default
`$SPARK_MASTER` or `local[*]`; `make spark-cluster` starts a standalone cluster on this
machine). Each trial runs in a Spark worker, a fresh process that knows nothing of the
driver and may be on another machine: the objective, with the training data it holds, is
broadcast to the executors once (never read from a path on the driver's disk), the package
is shipped with the job, and the worker connects to the tracking server itself and logs its
own child run. Spark's own output (its JVM's log, stage bars, warnings) goes nowhere unless
`--verbose`. A cluster that has no live worker for NO_WORKER_GRACE seconds stops the search
in one line; its finished trials stay for `--resume`. Needs pyspark (`make install-spark`)
and Java 17 or newer.
"""

from __future__ import annotations

from homework.interrupts import ctrl_c_let_through

import contextlib
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from homework.errors import UserError, first_line

DEFAULT_SPARK_MASTER = "local[*]"
LOOPBACK = ("127.0.0.1", "localhost")
FIRST_WORKER_GRACE = 180  # seconds a cluster may take to give the search its first executor
NO_WORKER_GRACE = 20  # seconds without a live executor before the search gives up
WATCH = 2.0  # seconds between two looks at the executors


@dataclass(frozen=True)
class SparkSettings:
    """`--spark_parallelism` and `--spark_master`: parallelism 0 runs no trial on Spark."""

    parallelism: int = 0
    master: str = DEFAULT_SPARK_MASTER

    def __str__(self) -> str:
        return f"up to {self.parallelism} at a time on Spark {self.master}"

    @property
    def address(self) -> tuple[str, int] | None:
        """The host and port of a standalone master (spark://host:port), else None."""
        parts = urlsplit(self.master.split(",")[0])
        return (parts.hostname or "", parts.port or 7077) if parts.scheme == "spark" else None

    def check_reachable(self) -> None:
        """Fail in seconds with one line when the standalone master does not answer (Spark
        itself would retry for over a minute, then fail without saying why)."""
        if self.address is None:
            return
        try:
            socket.create_connection(self.address, timeout=5).close()
        except OSError as exc:
            raise UserError(
                f"the Spark master {self.master} is not reachable ({exc.strerror or exc}): "
                "start it (make spark-cluster), or check --spark_master / $SPARK_MASTER."
            ) from None


def remote(payload: Any, tracking_uri: str, verbose: bool) -> Callable[[dict[str, Any]], Any]:
    """The objective as a Spark worker runs it: read once from the broadcast `payload`,
    logging to the driver's tracking server, quiet, masked.

    MLflow's chatter stays off the worker's stdout (which may be the driver's, carrying only
    results), and the password is masked in what it prints.
    """

    def remote_objective(params: dict[str, Any]) -> Any:
        import cloudpickle
        import mlflow

        from homework.reporting import masked_output
        from homework.tracking.connection import quiet_mlflow

        mlflow.set_tracking_uri(tracking_uri)
        quiet_mlflow(verbose)
        objective = cloudpickle.loads(payload.value)  # ours: pickled by the driver below
        with masked_output(tracking_uri, verbose):
            return objective(params)

    return remote_objective


def ship_package(context: Any, script: str, scratch: str) -> None:
    """Ship the calling script and this package (zipped in `scratch`) to the workers.

    The workers import them; they fetch the files when their first task starts, so
    `scratch` must outlive the Spark session.
    """
    import homework

    context.addPyFile(script)
    package = Path(homework.__file__).parent
    archive = shutil.make_archive(f"{scratch}/homework", "zip", package.parent, package.name)
    context.addPyFile(archive)


def configuration(settings: SparkSettings) -> dict[str, str]:
    """The driver's settings: no UI, no progress bars; on loopback when the master is."""
    conf = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}
    address = settings.address
    if settings.master.startswith("local") or (address and address[0] in LOOPBACK):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        conf.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
    return conf


def start_context(settings: SparkSettings, verbose: bool, log: Path) -> Any:
    """A SparkContext on the master; Spark's JVM writes to `log` unless `verbose`."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    conf = SparkConf().setMaster(settings.master).setAppName("hpo")
    conf.setAll(list(configuration(settings).items()))
    # The JVM inherits our stdout and stderr: its banner and log lines would land between
    # the progress bar and the results. Launched here (once per process), it gets a log.
    gateway = None
    if not verbose and SparkContext._gateway is None:
        with open(log, "wb") as sink:
            gateway = launch_gateway(conf, popen_kwargs={"stdout": sink, "stderr": sink})
    return SparkContext(conf=conf, gateway=gateway)


def quiet_spark(verbose: bool) -> None:
    """hyperopt-spark's and py4j's lines, and pyspark's warnings, only when `verbose`."""
    level = logging.INFO if verbose else logging.CRITICAL
    for name in ("hyperopt-spark", "py4j"):
        logging.getLogger(name).setLevel(level)
    if not verbose:
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pyspark\.")


@contextlib.contextmanager
def spark_trials(settings: SparkSettings, script: str, verbose: bool) -> Iterator[tuple[Any, Any]]:
    """hyperopt's `SparkTrials` on the master, its workers running this very interpreter, and
    the SparkContext."""
    from hyperopt.spark import SparkTrials
    from pyspark.sql import SparkSession  # installed: options.spark_installed checked

    # Without this the workers take the system's python, which lacks hyperopt and MLflow.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    quiet_spark(verbose)
    with tempfile.TemporaryDirectory(prefix="spark-") as scratch:
        try:
            context = start_context(settings, verbose, Path(scratch) / "spark-driver.log")
        except Exception as exc:  # no Java, bad master URL: all one line for the user
            raise UserError(
                f"cannot start Spark on master {settings.master!r}: {first_line(exc)[:300]} "
                "(needs Java 17+; check --spark_master / $SPARK_MASTER)"
            ) from None
        try:
            context.setLogLevel("ERROR")
            ship_package(context, script, scratch)
            session = SparkSession(context)
            yield SparkTrials(parallelism=settings.parallelism, spark_session=session), context
        finally:
            context.stop()


def live_executors(context: Any) -> int:
    """The executors the cluster gives the search now (the driver is not one)."""
    return len(context._jsc.sc().statusTracker().getExecutorInfos()) - 1


@contextlib.contextmanager
def watched(trials: Any, context: Any, settings: SparkSettings) -> Iterator[threading.Event]:
    """Stop the search (hyperopt's own timeout) once the cluster has no live executor for
    too long: Spark would wait for one forever. The event says it happened."""
    lost, done = threading.Event(), threading.Event()

    def watch() -> None:
        since, grace = time.monotonic(), FIRST_WORKER_GRACE
        while not done.wait(WATCH):
            if live_executors(context) > 0:
                since, grace = time.monotonic(), NO_WORKER_GRACE
            elif time.monotonic() - since > grace:
                lost.set()
                trials.timeout = 0  # SparkTrials cancels its running trials, fmin stops
                return

    watcher = threading.Thread(target=watch, daemon=True)
    if settings.address:  # local mode runs in the driver: nothing to lose
        watcher.start()
    try:
        yield lost
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join()


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
    tuner: Any,
    search: Any,
    spark: SparkSettings,
    verbose: bool = False,
) -> list[float]:
    """Run the search's trials as Spark tasks, up to `spark.parallelism` at a time; the
    losses of all its trials (tuner: hyperopt_tuner.HyperoptTuner). Ctrl-C acts anywhere in
    it, Spark's start and end included, but where the driver logs a trial's run."""
    import cloudpickle
    import mlflow

    spark.check_reachable()
    script = sys.modules[objective.__module__].__file__
    with ctrl_c_let_through(), spark_trials(spark, script, verbose) as (trials, context):
        payload = context.broadcast(cloudpickle.dumps(objective))  # the data, sent once
        wrapped = remote(payload, mlflow.get_tracking_uri(), verbose)
        with watched(trials, context, spark) as lost:
            losses = tuner.minimize(wrapped, search, trials)
        if lost.is_set():
            done = trials.count_successful_trials()
            raise UserError(
                f"the Spark cluster at {spark.master} has had no live worker for "
                f"{NO_WORKER_GRACE} s (or none at all), after {done} of {search.plan.num_trials} "
                f"trials: search {search.name} is incomplete, its finished trials kept; start "
                "the workers (make spark-cluster), then run hpo.py again with --resume."
            )
    check_all_done(trials)
    return losses
