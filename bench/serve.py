"""`make bench-serve`: serve_model.py against `mlflow models serve`, and alias moves under load.

In a temporary folder with its own tracking server (and a throwaway signing key), the whole
homework registers the real champion (pipeline.py, default options), and three more versions
of the same signed model are registered for the moves. Then, on 127.0.0.1:

1. `--pairs` times, whole processes in turn, A B A B: serve_model.py following @champion, then
   `mlflow models serve` of the same champion checked by `verify_model.py --dest`. Each is
   asked `--trips` single-trip requests one after the other (latency p50 and p99) and the
   whole March month (the 69,392 trips Q6 scores) in one request, `--months` times (rows per
   second); each started cold (seconds until /ping answers).
2. serve_model.py under `--clients` request loops while @champion moves to versions 2, 3 and
   4 and `rollback.py --version 3` moves it back: every request must be answered, and the
   time from each move to the first reply from the new version is recorded.

Everything stops by itself; the results go into bench/results.json (`serve`), the table to
stdout, and `make docs` writes them into docs/performance.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click
import requests

from bench import cli
from bench.cli import checked_output, checked_raw_dir, output_option, raw_data_path_option
from bench.measure import load_average, measure
from bench.runs import pipeline_args
from bench.serving_report import table
from homework.config import CHAMPION_ALIAS, DATASET, KEY_DIR_VARIABLE, MODEL_NAME, MONTHS
from homework.options import num_trials_option
from homework.serving.app import VERSION_HEADER
from services import ROOT, free_port, start_server

TRIP = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}
MOVES = ("2", "3", "4")  # @champion moves to each, then rollback.py --version ROLLBACK
ROLLBACK = "3"
FOLLOW_S = 5.0  # serve_model.py's default
OURS, PLAIN = "serve_model.py", "mlflow models serve"
PLAIN_OPTIONS = ("--env-manager", "local")  # in this environment, as make serve-model was
MOVE_TIMEOUT_S = 60


def start(command: list[str], url: str, log: Path, env: dict[str, str]) -> tuple[Any, float]:
    """Start a server process; it and the seconds until /ping answers."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    while True:
        if process.poll() is not None:
            raise click.ClickException(f"{command[1]} exited:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/ping", timeout=1).ok:
                return process, time.perf_counter() - started
        except requests.RequestException:
            pass
        if time.perf_counter() - started > 300:
            process.terminate()
            raise click.ClickException(f"{command[1]} did not answer /ping in 300 s")
        time.sleep(0.1)


def stop(process: Any) -> None:
    process.terminate()
    process.wait(timeout=60)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_server(url: str, month: bytes, rows: int, counts: dict[str, int]) -> dict[str, Any]:
    """Single-trip latency (ms, one request after the other) and the month's rows per second."""
    one = json.dumps({"dataframe_records": [TRIP]}).encode()
    headers = {"Content-Type": "application/json"}
    latencies = []
    with requests.Session() as session:
        for index in range(counts["trips"] + 20):  # the first 20 warm up
            started = time.perf_counter()
            reply = session.post(f"{url}/invocations", data=one, headers=headers, timeout=60)
            if reply.status_code != 200:
                raise click.ClickException(f"{url}: {reply.status_code} {reply.text[:300]}")
            if index >= 20:
                latencies.append((time.perf_counter() - started) * 1000)
        seconds = []
        for _ in range(counts["months"]):
            started = time.perf_counter()
            reply = session.post(f"{url}/invocations", data=month, headers=headers, timeout=300)
            seconds.append(time.perf_counter() - started)
            if reply.status_code != 200 or len(reply.json()["predictions"]) != rows:
                raise click.ClickException(f"{url}: the month got {reply.text[:300]}")
    month_s = statistics.median(seconds)
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "month_s": month_s,
        "rows_per_s": rows / month_s,
    }


class Load:
    """`clients` threads sending single-trip requests until stopped: every reply recorded."""

    def __init__(self, url: str, clients: int) -> None:
        self.url, self.replies, self.failures = url, [], []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self) -> None:
        body = {"dataframe_records": [TRIP]}
        with requests.Session() as session:
            while not self.stopping.is_set():
                try:
                    reply = session.post(f"{self.url}/invocations", json=body, timeout=60)
                    self.replies.append((time.monotonic(), reply.headers.get(VERSION_HEADER)))
                    if reply.status_code != 200:
                        self.failures.append(f"{reply.status_code} {reply.text[:200]}")
                except requests.RequestException as exc:
                    self.failures.append(str(exc)[:200])

    def first_reply(self, version: str, since: float) -> float:
        """Seconds from `since` to the first reply from `version` (waiting for it)."""
        deadline = since + MOVE_TIMEOUT_S
        while time.monotonic() < deadline:
            seen = [at for at, got in self.replies[-5000:] if got == version and at >= since]
            if seen:
                return seen[0] - since
            time.sleep(0.05)
        raise click.ClickException(f"version {version} never answered within {MOVE_TIMEOUT_S} s")


def moves_under_load(url: str, env: dict[str, str], clients: int) -> dict[str, Any]:
    """@champion to 2, 3, 4, then rollback.py back to 3, under load: the swap times."""
    from mlflow.tracking import MlflowClient

    load = Load(url, clients)
    for thread in load.threads:
        thread.start()
    swaps = []
    try:
        time.sleep(2)
        started = time.monotonic()
        for version in MOVES:
            MlflowClient().set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, version)
            moved = time.monotonic()
            swaps.append({"to": version, "by": "alias", "s": load.first_reply(version, moved)})
            time.sleep(2)
        args = ["rollback.py", "--version", ROLLBACK, "--reason", "make bench-serve"]
        rollback = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env)
        moved = alias_moved(MlflowClient(), ROLLBACK)
        if rollback.wait(timeout=300) != 0:
            raise click.ClickException("rollback.py failed (its error is above)")
        swaps.append({"to": ROLLBACK, "by": "rollback.py", "s": load.first_reply(ROLLBACK, moved)})
        time.sleep(2)
        seconds = time.monotonic() - started
    finally:
        load.stopping.set()
        for thread in load.threads:
            thread.join(120)
    return {
        "clients": clients,
        "requests": len(load.replies),
        "failed": len(load.failures),
        "failures": load.failures[:5],
        "requests_per_s": len(load.replies) / seconds,
        "swaps": swaps,
    }


def alias_moved(client: Any, version: str) -> float:
    """When @champion is at `version` (rollback.py moves it, then tags both versions)."""
    deadline = time.monotonic() + MOVE_TIMEOUT_S
    while client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version != version:
        if time.monotonic() > deadline:
            raise click.ClickException(f"@{CHAMPION_ALIAS} never moved to version {version}")
        time.sleep(0.02)
    return time.monotonic()


def register_versions(client: Any) -> None:
    """Versions 2-4: the champion's signed files registered again (each verifies as its own)."""
    champion = client.get_model_version(MODEL_NAME, "1")
    for _ in MOVES:
        client.create_model_version(MODEL_NAME, champion.source, champion.run_id)


def month_request(raw_dir: Path) -> tuple[bytes, int]:
    """The March trips Q6 scores, as one dataframe_split request; and how many."""
    from homework.data.trips import read_trips, tripdata_path
    from homework.model.features import RAW_COLUMNS

    trips = read_trips(tripdata_path(raw_dir, DATASET, MONTHS["test"]))[RAW_COLUMNS]
    split = trips.to_dict(orient="split", index=False)
    return json.dumps({"dataframe_split": split}).encode(), len(trips)


def command(name: str, port: int, checked: Path) -> list[str]:
    """How each server is started: ours following @champion, or MLflow's on the checked copy."""
    if name == OURS:
        return [sys.executable, "serve_model.py", "--port", str(port)]
    mlflow = str(Path(sys.executable).parent / "mlflow")
    return [mlflow, "models", "serve", "-m", str(checked), *PLAIN_OPTIONS, "--port", str(port)]


def compare(
    work: Path, env: dict[str, str], request: tuple[bytes, int], counts: dict[str, int]
) -> dict:
    """Each server `pairs` times, A B A B, started cold each time: the medians of each."""
    checked = work / "checked-model"
    measure(["verify_model.py", "--dest", str(checked)], env)
    runs: dict[str, list[dict[str, Any]]] = {OURS: [], PLAIN: []}
    for pair in range(counts["pairs"]):
        for name, found in runs.items():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            process, start_s = start(command(name, port, checked), url, work / "serve.log", env)
            try:
                found.append({"start_s": start_s, **measure_server(url, *request, counts)})
            finally:
                stop(process)
            click.echo(f"  pair {pair + 1}, {name}: {found[-1]}", err=True)
    return {
        name: {key: statistics.median(run[key] for run in found) for key in found[0]}
        for name, found in runs.items()
    }


def follow(work: Path, env: dict[str, str], clients: int) -> dict[str, Any]:
    """serve_model.py following @champion through the moves, under load."""
    port = free_port()
    url, log = f"http://127.0.0.1:{port}", work / "moves.log"
    process, _ = start(command(OURS, port, work), url, log, env)
    try:
        moves = moves_under_load(url, env, clients)
    finally:
        stop(process)
    webhook = "Webhook serve-model" in log.read_text()
    moves["follow"] = f"polling every {FOLLOW_S:g} s" + (" and a webhook" if webhook else "")
    return moves


@click.command()
@raw_data_path_option
@num_trials_option
@click.option("--pairs", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--trips", default=500, show_default=True, type=click.IntRange(min=10))
@click.option("--months", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--clients", default=4, show_default=True, type=click.IntRange(min=1))
@output_option
def main(raw_data_path: str, num_trials: int, output: str, clients: int, **counts: int) -> None:
    """serve_model.py against `mlflow models serve` on the real champion; moves under load.

    --pairs: runs of each server, in turn; --trips: single-trip requests per run; --months:
    whole-month requests per run; --clients: request loops during the moves.
    """
    from mlflow.tracking import MlflowClient

    raw_dir, results_file = checked_raw_dir(raw_data_path), checked_output(output, num_trials)
    part: dict[str, Any] = {"load_before": load_average(), "cores": os.cpu_count(), **counts}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        work = Path(scratch)
        os.environ[KEY_DIR_VARIABLE] = str(work / "signing-key")  # a throwaway key, not yours
        server = start_server(work / "server")
        try:
            os.environ["MLFLOW_TRACKING_URI"] = server.uri
            bin_dir = str(Path(sys.executable).parent)  # mlflow starts the venv's uvicorn
            env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
            click.echo("Registering the champion: the whole homework (pipeline.py)", err=True)
            measure(["pipeline.py", *pipeline_args(raw_dir, work / "output", num_trials)], env)
            register_versions(MlflowClient())
            request = month_request(raw_dir)
            part["servers"] = compare(work, env, request, counts)
            part["moves"] = follow(work, env, clients)
        finally:
            server.stop()
    part.update(rows=request[1], num_trials=num_trials, load_after=load_average())
    results = cli.read_results(results_file)
    results["serve"] = part
    cli.write_results(results_file, results)
    click.echo(table(part))


if __name__ == "__main__":
    main()
