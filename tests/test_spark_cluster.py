"""Trials on a real Spark standalone cluster: a master and two workers, each its own process.

The cluster is what `make spark-cluster` starts (`python -m services spark start`),
once for the module, on free loopback ports, its files in a temporary folder. The search
runs with a relative --data_path: an executor that read the data from the driver's disk
would look for it in its own work folder, so a trial that succeeds got its data with the job.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from conftest import ROOT, free_port
from mlflow.tracking import MlflowClient

from homework.config import CHAMPION_ALIAS, HPO_EXPERIMENT, MODEL_NAME, SEARCH_TAG
from homework.data.pickles import Prepared
from homework.forest import rmse
from homework.search.hyperopt_tuner import key, suggested
from homework.search.runs import PARENT_TAG
from homework.trust.loading import load_sklearn
from register_model import run_register_model
from services import processes
from services.service import port_in_use

pytestmark = pytest.mark.server


@dataclass
class Cluster:
    folder: Path
    env: dict[str, str]
    master: str

    def run(self, action: str) -> subprocess.CompletedProcess:
        """`make spark-cluster` (start), `make spark-cluster-stop` (stop) or status."""
        return subprocess.run(
            [sys.executable, "-m", "services", "spark", action],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def records(self) -> dict[str, processes.Record]:
        return {path.stem: processes.read_record(path) for path in self.folder.glob("*.pid")}


def free_ui_ports() -> int:
    """A port whose next two are free too: the master's web UI and the two workers'."""
    while True:
        port = free_port()
        if port < 65000 and not any(port_in_use("127.0.0.1", port + n) for n in (1, 2)):
            return port


@pytest.fixture(scope="module")
def cluster(spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("spark") / "cluster"
    port = free_port()
    env = {
        **os.environ,
        "SPARK_DIR": str(folder),
        "SPARK_PORT": str(port),
        "SPARK_UI_PORT": str(free_ui_ports()),
        "SPARK_WORKERS": "2",
    }
    cluster = Cluster(folder, env, f"spark://127.0.0.1:{port}")
    started = cluster.run("start")
    assert started.returncode == 0, started.stderr
    assert started.stdout == f"export SPARK_MASTER={cluster.master}\n"
    yield cluster
    cluster.run("stop")


def hpo(data: str, master: str, *extra: str) -> list[str]:
    args = ["--data_path", data, "--num_trials", "3", "--spark_parallelism", "2"]
    return [sys.executable, str(ROOT / "hpo.py"), *args, "--spark_master", master, *extra]


def finished_trials(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id], "metrics.rmse >= 0 and attributes.status = 'FINISHED'"
    )


def test_a_search_on_the_cluster_survives_losing_its_workers_and_resumes(
    cluster: Cluster, prepared_dir: Path, mlflow_server
) -> None:
    client = MlflowClient(mlflow_server.uri)
    search = subprocess.Popen(
        hpo("output", cluster.master),  # relative: see the module's docstring
        cwd=prepared_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not finished_trials(client):
            assert search.poll() is None and time.monotonic() < deadline, search.stderr.read()
            time.sleep(0.2)
        records = cluster.records()
        for name in ("worker-1", "worker-2"):  # a crash of every worker, executors and all
            processes.kill_group(records[name].pid)
        _, stderr = search.communicate(timeout=300)
    finally:
        search.kill()
    assert search.returncode == 1
    lines = [line.strip() for line in stderr.replace("\r", "\n").splitlines() if line.strip()]
    (error,) = [line for line in lines if line.startswith("Error:")]
    assert "no live worker" in error and "--resume" in error
    # Only our lines and the bar: none of Spark's log lines, stage bars or warnings.
    ours = [
        line for line in lines if line.startswith(("Hyperopt:", "Error:")) or "trials [" in line
    ]
    assert ours == lines, stderr
    kept = {run.info.run_id for run in finished_trials(client)}
    (parent,) = client.search_runs(
        [client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id], f"tags.`{SEARCH_TAG}` != ''"
    )
    assert parent.info.status == "FAILED" and 1 <= len(kept) < 3

    restarted = cluster.run("start")  # the master still runs: the workers come back
    assert restarted.returncode == 0, restarted.stderr
    assert "Spark master already running" in restarted.stderr
    resumed = subprocess.run(
        hpo("output", cluster.master, "--resume"),
        cwd=prepared_dir.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{len(kept)} of 3 trials done" in resumed.stderr
    trials = finished_trials(client)
    assert kept <= {run.info.run_id for run in trials} and len(trials) == 3
    assert {run.data.tags[PARENT_TAG] for run in trials} == {parent.info.run_id}
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    # The search's three random draws, each once (a search of up to 20 trials draws at random).
    assert sorted(key(run.data.params) for run in trials) == sorted(suggested(42, 3))
    best = min(trials, key=lambda run: run.data.metrics["rmse"])
    assert resumed.stdout == f"best validation RMSE: {best.data.metrics['rmse']:.4f}\n"
    # Nothing else was logged: no driver-side run; only a trial a killed worker was logging
    # may be left unfinished (never counted), nested in the search like the others.
    everything = client.search_runs([e.experiment_id for e in client.search_experiments()])
    known = {run.info.run_id for run in trials} | {parent.info.run_id}
    others = [run for run in everything if run.info.run_id not in known]
    assert all(run.data.tags.get(PARENT_TAG) == parent.info.run_id for run in others)
    assert all(run.info.status != "FINISHED" for run in others)
    # A worker's forest is signed (load_sklearn checks it) and scores what it reported, and
    # register_model.py takes the search as any other.
    model = load_sklearn(f"runs:/{best.info.run_id}/model")
    X_val, y_val = Prepared.read(prepared_dir).dataset("val")
    assert rmse(y_val, model.predict(X_val)) == pytest.approx(best.data.metrics["rmse"])
    raw = ["--raw_data_path", str(prepared_dir.parent / "data"), "--top_n", "2"]
    registered = CliRunner().invoke(run_register_model, ["--data_path", str(prepared_dir), *raw])
    assert registered.exit_code == 0, registered.output
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert client.get_run(champion.run_id).data.tags["hpo_run_id"] in {
        r.info.run_id for r in trials
    }


def test_spark_cluster_stop_stops_exactly_its_daemons(cluster: Cluster) -> None:
    status = cluster.run("status")
    assert status.returncode == 0 and status.stdout.count(" running (pid ") == 3, status.stdout
    records = cluster.records()
    groups = {record.pid: processes.group_members(record.pid) for record in records.values()}
    assert all(groups.values())
    stopped = cluster.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    for group, members in groups.items():
        assert processes.group_members(group) == []
        left = [m for m in members if m.is_running() and m.status() != psutil.STATUS_ZOMBIE]
        assert left == [], [(m.pid, m.status(), m.cmdline()[:3]) for m in left]
    assert list(cluster.folder.glob("*.pid")) == []
    assert cluster.run("status").returncode == 1
