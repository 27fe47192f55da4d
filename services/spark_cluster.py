"""The Spark standalone cluster of `make spark-cluster`: a master and its workers on 127.0.0.1.

Each daemon runs from the installed pyspark the command its `bin/spark-class` would run:
Spark's own launcher builds it, with the settings `bin/load-spark-env.sh` exports. It runs
in the foreground of a process group of its own, its identity recorded (processes.py), so
`make spark-cluster-stop` stops exactly these daemons, and the executors a worker started
with it. Loopback only: every daemon binds 127.0.0.1 on a port of its own, the master's
REST server is off. Pid files, logs, the workers' application folders and Spark's scratch
space all stay in SPARK_DIR.

Settings come from the environment (the Makefile passes them):
  SPARK_DIR             the cluster's files                     (default: spark-cluster)
  SPARK_PORT            the master's port                       (default: 7077)
  SPARK_UI_PORT         the master's web UI; worker N's is SPARK_UI_PORT + N (default: 8080)
  SPARK_WORKERS         how many workers                        (default: 2)
  SPARK_WORKER_MEMORY   each worker's memory for executors      (default: 1g; one core each)
  START_TIMEOUT         seconds to wait for each daemon         (default: 120)
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services import lifecycle
from services.processes import OURS, Record
from services.s3 import free_ports
from services.service import (
    DIRECT,
    ServerError,
    Service,
    port_in_use,
    port_setting,
    seconds_setting,
    setting,
)

HOST = "127.0.0.1"
SPARK_DIR = "spark-cluster"
MASTER_PORT = 7077  # Spark's own defaults
UI_PORT = 8080
WORKERS = 2
WORKER_MEMORY = "1g"
START_TIMEOUT = 120  # seconds; a worker registers in 5-20 s on a quiet machine
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
LAUNCHER = "org.apache.spark.launcher.Main"  # builds the java command spark-class runs
# What spark-class sources first: its exports (SPARK_SCALA_VERSION, ...) the daemons need too.
SPARK_ENV = '. "$SPARK_HOME/bin/load-spark-env.sh" && env -0'


def spark_home() -> Path:
    """The installed pyspark, which is a whole Spark (its jars, bin/ and conf)."""
    try:
        import pyspark
    except ImportError:
        raise ServerError("pyspark is not installed: run `make install-spark` first.") from None
    return Path(pyspark.__file__).parent


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


class SparkDaemon(Service):
    """One daemon of the cluster; the master and the workers fill in their part."""

    start_target = "make spark-cluster"
    stop_target = "make spark-cluster-stop"
    main_class = ""

    def __init__(self, env: Mapping[str, str], name: str, port: int, file: str) -> None:
        self.env = dict(env)
        self.name = name
        self.dir = Path(setting(env, "SPARK_DIR", SPARK_DIR)).resolve()
        self.master_port = port_setting(env, "SPARK_PORT", MASTER_PORT)
        self.ui_port = port_setting(env, "SPARK_UI_PORT", UI_PORT)
        timeout = seconds_setting(env, START_TIMEOUT)
        super().__init__(HOST, port, self.dir / f"{file}.pid", self.dir / f"{file}.log", timeout)

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    def arguments(self) -> list[str]:
        raise NotImplementedError

    @functools.cached_property
    def spark_env(self) -> dict[str, str]:
        """Our settings, and what Spark's bin/load-spark-env.sh exports with them."""
        settings = {
            **self.env,
            "SPARK_HOME": str(spark_home()),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_LOG_DIR": str(self.dir),
            "SPARK_LOCAL_DIRS": str(self.dir / "local"),
            "SPARK_WORKER_DIR": str(self.dir / "work"),
            "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
            # Finished applications' folders (their logs and shipped files) go after an hour.
            "SPARK_WORKER_OPTS": "-Dspark.worker.cleanup.enabled=true "
            "-Dspark.worker.cleanup.appDataTtl=3600",
            # No hsperfdata files in /tmp; a port that is taken fails, never drifts to the next.
            "SPARK_DAEMON_JAVA_OPTS": "-XX:-UsePerfData -Dspark.port.maxRetries=0",
            "PYSPARK_PYTHON": sys.executable,
        }
        done = subprocess.run(["bash", "-c", SPARK_ENV], env=settings, capture_output=True)
        exported = done.stdout.decode(errors="replace").split("\0")
        return {**settings, **dict(item.split("=", 1) for item in exported if "=" in item)}

    def environment(self) -> dict[str, str]:
        return self.spark_env

    def command(self) -> list[str]:
        """The daemon's java command line, as Spark's launcher builds it for spark-class."""
        classpath = f"{self.spark_env['SPARK_HOME']}/jars/*"
        done = subprocess.run(
            [java(), "-Xmx128m", "-cp", classpath, LAUNCHER, self.main_class, *self.arguments()],
            env=self.spark_env,
            capture_output=True,
        )
        _, marker, words = done.stdout.partition(b"\0\n")
        if done.returncode != 0 or not marker:
            message = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise ServerError(f"Spark's launcher failed (is Java 17+ installed?): {message[-300:]}")
        return [word.decode() for word in words.split(b"\0")[:-1]]

    def prepare(self) -> None:
        for folder in (self.dir / "local", self.dir / "work"):
            folder.mkdir(parents=True, exist_ok=True)

    def cluster(self) -> dict[str, Any] | None:
        """What the master's web UI says of the cluster (/json/), None if it does not answer."""
        try:
            with DIRECT.open(f"http://{HOST}:{self.ui_port}/json/", timeout=2) as response:
                return json.load(response)
        except (OSError, ValueError):
            return None

    def reuse(self, record: Record) -> None:
        lifecycle.wait_for_starting(self, record)
        self.say(f"{self.name} already running (pid {record.pid}).")

    def announce(self, pid: int) -> None:
        self.say(f"Starting the {self.name} (pid {pid}, log {self.log}) ...")

    def running_line(self, pid: int) -> str:
        return f"{self.name} running (pid {pid})"


class SparkMaster(SparkDaemon):
    main_class = MASTER_CLASS
    port_variable = "SPARK_PORT"
    other_port = 7078

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(
            env, "Spark master", port_setting(env, "SPARK_PORT", MASTER_PORT), "master"
        )

    def arguments(self) -> list[str]:
        return ["--host", HOST, "--port", str(self.port), "--webui-port", str(self.ui_port)]

    def prepare(self) -> None:
        super().prepare()
        if port_in_use(HOST, self.ui_port):
            raise ServerError(
                f"port {self.ui_port} (the Spark master's web UI) is taken by another program: "
                "pick another, e.g. `make spark-cluster SPARK_UI_PORT=8090`."
            )

    def ready(self) -> bool:
        return self.cluster() is not None

    def started(self) -> None:
        self.say(f"Spark master up at {self.master_url} (web UI http://{HOST}:{self.ui_port})")


class SparkWorker(SparkDaemon):
    main_class = WORKER_CLASS
    port_variable = "SPARK_UI_PORT"
    other_port = 8090

    def __init__(self, env: Mapping[str, str], number: int) -> None:
        ui_port = port_setting(env, "SPARK_UI_PORT", UI_PORT) + number
        super().__init__(env, f"Spark worker {number}", ui_port, f"worker-{number}")
        self.memory = setting(env, "SPARK_WORKER_MEMORY", WORKER_MEMORY)

    def arguments(self) -> list[str]:
        (rpc_port,) = free_ports(1)
        return [
            *("--host", HOST, "--port", str(rpc_port), "--webui-port", str(self.port)),
            *("--cores", "1", "--memory", self.memory, "--work-dir", str(self.dir / "work")),
            self.master_url,
        ]

    def prepare(self) -> None:
        super().prepare()
        if self.cluster() is None:
            raise ServerError(
                f"no Spark master answers at {self.master_url}: run `make spark-cluster`."
            )

    def ready(self) -> bool:
        """True once the master lists this worker as ALIVE."""
        cluster = self.cluster() or {}
        mine = f"http://{HOST}:{self.port}"
        return any(
            worker.get("state") == "ALIVE" and worker.get("webuiaddress") == mine
            for worker in cluster.get("workers", [])
        )

    def started(self) -> None:
        self.say(f"{self.name} up, registered with {self.master_url}")


def daemons(env: Mapping[str, str]) -> list[SparkDaemon]:
    """The master, then the workers: the order they start in (they stop in reverse)."""
    count = setting(env, "SPARK_WORKERS", str(WORKERS))
    if not count.isdigit() or not 1 <= int(count) <= 16:
        raise ServerError(f"SPARK_WORKERS={count} is not a number of workers (1-16).")
    count = int(count)
    return [SparkMaster(env), *(SparkWorker(env, number) for number in range(1, count + 1))]


def run(action: str, env: Mapping[str, str]) -> int:
    """`python -m services spark start|stop|status`; the exit code."""
    cluster = daemons(env)
    if action == "start":
        for daemon in cluster:
            lifecycle.start(daemon)
        print(f"export SPARK_MASTER={cluster[0].master_url}", flush=True)
    elif action == "stop":
        for daemon in reversed(cluster):
            lifecycle.stop(daemon)
    else:
        up = True
        for daemon in cluster:
            found = lifecycle.check(daemon)
            running = found.verdict == OURS and found.record is not None and daemon.ready()
            print(
                daemon.running_line(found.record.pid) if running else f"{daemon.name} not running"
            )
            up = up and running
        return 0 if up else 1
    return 0
