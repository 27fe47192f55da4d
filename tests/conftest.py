"""Shared fixtures: small generated trip files, a real MLflow server, the real taxi data.

Tests that start a server or read the real files carry the markers `server` and
`real_data` (`make test-fast` leaves them out); the fixtures below that do either add
their marker themselves (see pytest_collection_modifyitems).

`homework` is one real run of the whole homework on the real data, typed the course's way
as docs/course.md shows it, shared by every test of the session that only reads what it
produced; a test that changes it takes `homework_copy`, a server of its own on a copy of its
database.

The session starts from none of the user's settings (pytest_configure): a PORT, HOST or
MLFLOW_TRACKING_URI in the shell or on make's command line never reaches a test.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import importlib.util
import os
import pickle
import platform
import pwd
import re
import secrets
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest
import requests
from click.testing import CliRunner

from homework.config import (
    CACHE_DIR_VARIABLE,
    CHAMPION_ALIAS,
    DATASET,
    KEY_DIR_VARIABLE,
    MODEL_NAME,
    TRACKING_URI,
)
from homework.config import MONTHS as MONTH_OF
from homework.data.trips import tripdata_path
from services import ROOT, Server, free_port, start_server

MONTHS = tuple(MONTH_OF.values())  # train, validation, test
FIXTURE_MARKERS = {
    "shared_server": "server",
    "mlflow_server": "server",
    "own_server": "server",
    "postgres_uri": "server",
    "homework": "server",
    "taxi_data_dir": "real_data",
}
COURSE_PAGE = ROOT / "docs/course.md"  # the homework typed the course's way: `homework` runs it
HOMEWORK_FILE = "test_end_to_end.py"  # the only readers of the real homework run
# The files that take longest, run first: each of make test's two processes takes the next
# file as it is free (--no-loadscope-reorder keeps this order), so the short ones fill in at
# the end and both end at about one time.
LONGEST_FILES = (HOMEWORK_FILE, "test_team.py", "test_spark_cluster.py", "test_hpo.py")


# What the user's shell or make may carry that would point a test at their own server or
# settings: make exports MLFLOW_TRACKING_URI, BACKEND_STORE_URI and ARTIFACTS_DESTINATION, and
# hands its command-line variables (PORT=5401) to every make a test runs through MAKEFLAGS.
USER_SETTINGS = (
    *("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"),
    *("MLFLOW_TRACKING_TOKEN", "PORT", "HOST", "TRACKING_URI", "BACKEND_STORE_URI"),
    *("ARTIFACTS_DESTINATION", "AUTH", "DATA_DIR", "OUTPUT_DIR", "MAKEFLAGS", "MFLAGS"),
    "MAKELEVEL",
)


def pytest_configure(config: pytest.Config) -> None:
    """The tests start from the project's defaults, whatever the user's environment says."""
    for name in USER_SETTINGS:
        os.environ.pop(name, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that use a server or the real data through a fixture; the longest
    files first (LONGEST_FILES).

    `make test` hands each test file whole to one of two pytest processes (pytest-xdist's
    loadfile), so the real homework run is made once only while every test that reads it
    lives in the one file that owns it.
    """
    items.sort(
        key=lambda item: (
            LONGEST_FILES.index(item.path.name)
            if item.path.name in LONGEST_FILES
            else len(LONGEST_FILES)
        )
    )
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        if "homework" in getattr(item, "fixturenames", ()) and item.path.name != HOMEWORK_FILE:
            raise pytest.UsageError(
                f"{item.nodeid} reads the real homework run: move it to tests/{HOMEWORK_FILE}"
            )


def write_trips(
    path: Path,
    minutes: list[float],
    pickup_ids: list[int],
    dropoff_ids: list[int],
    distances: list[float] | None = None,
    prefix: str = "lpep",
) -> Path:
    """Write a parquet file with the TLC schema's relevant columns and the given trips."""
    n = len(minutes)
    start = pd.Timestamp("2023-01-01 08:00:00")
    pickup = start + pd.to_timedelta(np.arange(n), unit="min")
    dropoff = pickup + pd.to_timedelta(np.asarray(minutes, dtype=float) * 60, unit="s")
    df = pd.DataFrame(
        {
            "VendorID": np.full(n, 2, dtype=np.int32),
            f"{prefix}_pickup_datetime": pickup.astype("datetime64[us]"),
            f"{prefix}_dropoff_datetime": dropoff.astype("datetime64[us]"),
            "PULocationID": np.asarray(pickup_ids, dtype=np.int32),
            "DOLocationID": np.asarray(dropoff_ids, dtype=np.int32),
            "passenger_count": np.ones(n, dtype=np.int64),
            "trip_distance": np.asarray(
                distances if distances is not None else np.linspace(0.5, 9.5, n), dtype=float
            ),
            "fare_amount": np.full(n, 10.0),
        }
    )
    df.to_parquet(path, index=False)
    return path


def write_with_nulls(
    path: Path,
    pickup: list,
    dropoff: list,
    distance: list,
    minutes: list[float] | None = None,
    zone_type: Any = None,
) -> Path:
    """A green-taxi file whose zone ids and distances may be null (None), as parquet allows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(pickup)
    start = pd.Timestamp("2023-01-01 08:00:00")
    pickup_time = start + pd.to_timedelta(np.arange(n), unit="h")
    dropoff_time = pickup_time + pd.to_timedelta(minutes or [10.0] * n, unit="min")
    table = pa.table(
        {
            "lpep_pickup_datetime": pa.array(pickup_time.astype("datetime64[us]")),
            "lpep_dropoff_datetime": pa.array(dropoff_time.astype("datetime64[us]")),
            "PULocationID": pa.array(pickup, type=zone_type or pa.int32()),
            "DOLocationID": pa.array(dropoff, type=zone_type or pa.int32()),
            "trip_distance": pa.array(distance, type=pa.float64()),
        }
    )
    pq.write_table(table, path)
    return path


def random_month(path: Path, n: int, seed: int, zones: int = 12, prefix: str = "lpep") -> Path:
    """A month of plausible random trips: duration grows with distance, some outliers."""
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 1.5, n).round(2)
    minutes = np.clip(distance * 3.5 + rng.normal(4, 3, n), 0.2, 80).tolist()
    pickup = rng.integers(1, zones, n).tolist()
    dropoff = rng.integers(1, zones, n).tolist()
    return write_trips(path, minutes, pickup, dropoff, distance.tolist(), prefix)


@pytest.fixture(scope="session", autouse=True)
def signing_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own signing key folder (made on first use), and its own cache folder:
    tests never touch the user's.

    Set in the environment, so the scripts the tests run sign, verify and keep with them too.
    """
    folder = tmp_path_factory.mktemp("keys") / "mlflow-homework"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_DIR_VARIABLE, str(folder))
        patch.setenv(CACHE_DIR_VARIABLE, str(tmp_path_factory.mktemp("cache")))
        yield folder


def default_ctrl_c() -> None:
    """preexec_fn of a child process a test sends SIGINT: SIGINT's default handling, as a shell
    that lets Ctrl-C through gives it (pytest started with nohup or as a background job has
    SIGINT ignored, and its children would inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Ctrl-C in this process as a shell that lets it through gives it (Python's own handler),
    even when pytest was started with SIGINT ignored (nohup, a background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """Three small generated green-taxi months (400 trips each) in the real file layout."""
    folder = tmp_path / "data"
    folder.mkdir()
    for seed, month in enumerate(MONTHS):
        random_month(folder / f"green_tripdata_{month}.parquet", 400, seed)
    return folder


@pytest.fixture
def prepared_dir(raw_dir: Path, tmp_path: Path) -> Path:
    """The four pickles preprocess_data.py writes for `raw_dir`."""
    from homework.data.pickles import write_outputs
    from preprocess_data import preprocess

    dest = tmp_path / "output"
    months = dict(zip(("train", "val", "test"), MONTHS, strict=True))
    write_outputs(preprocess(raw_dir, "green", months), dest)
    return dest


def postgres_bindir() -> Path | None:
    """The folder with the machine's PostgreSQL server programs (initdb, pg_ctl), if any."""
    found = shutil.which("initdb") or max(glob.glob("/usr/lib/postgresql/*/bin/initdb"), default="")
    return Path(found).parent if found else None


def unprivileged_user() -> dict:
    """subprocess arguments to run as `postgres` (else `nobody`) when we are root, else none."""
    if os.geteuid() != 0:
        return {}
    names = {entry.pw_name: entry for entry in pwd.getpwall()}
    entry = names.get("postgres") or names["nobody"]
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A real PostgreSQL server of the machine's own binaries, in a temporary folder.

    `initdb` makes a fresh cluster whose user `mlflow` has a password, `pg_ctl` starts it on a
    free loopback port; yields the SQLAlchemy URI of an empty database `mlflow`, then stops
    the server and removes the folder. PostgreSQL refuses to run as root, so as root it runs
    as `postgres`. No binaries: skipped on a laptop, a failure under CI.
    """
    import sqlalchemy

    if importlib.util.find_spec("psycopg2") is None:
        unavailable("psycopg2 is not installed (make install-postgres)")
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("no PostgreSQL server binaries (initdb): apt-get install postgresql")
    as_user = unprivileged_user()
    folder = Path(tempfile.mkdtemp(prefix="mlflow-pg-"))  # root's pytest tmp_path is private
    data = str(folder / "data")

    def pg(program: str, *args: str) -> None:
        done = subprocess.run(
            [str(bindir / program), *args], capture_output=True, text=True, timeout=120, **as_user
        )
        assert done.returncode == 0, f"{program} failed: {done.stdout}{done.stderr}"

    try:
        if as_user:
            os.chown(folder, as_user["user"], as_user["group"])
        password = secrets.token_hex(8)
        (folder / "pwfile").write_text(password)
        pg(
            "initdb",
            "-D",
            data,
            "-U",
            "mlflow",
            "--pwfile",
            str(folder / "pwfile"),
            "-A",
            "scram-sha-256",
        )
        port = free_port()
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}"
        pg("pg_ctl", "-D", data, "-l", str(folder / "log"), "-o", options, "-w", "start")
        try:
            uri = f"postgresql://mlflow:{password}@127.0.0.1:{port}"
            engine = sqlalchemy.create_engine(f"{uri}/postgres", isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("CREATE DATABASE mlflow"))
            engine.dispose()
            yield f"{uri}/mlflow"
        finally:
            pg("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real MLflow tracking server for the session's tests (see mlflow_server)."""
    server = start_server(tmp_path_factory.mktemp("shared") / "server")
    yield server
    server.stop()


def empty(server: Server) -> None:
    """Remove every run, experiment (but Default), registered model and artifact of `server`.

    Straight through MLflow's own SQL stores, so names are free again (the REST API only
    marks experiments deleted, and a deleted name cannot be made anew); the server keeps
    nothing of them in memory. A store is opened once per server and reused.
    """
    from mlflow.entities import ViewType
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as Registry
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as Tracking

    uri = f"sqlite:///{server.folder / 'mlflow.db'}"
    if uri not in STORES:
        STORES[uri] = (Tracking(uri, str(server.folder / "artifacts")), Registry(uri))
    tracking, registry = STORES[uri]
    for model in registry.search_registered_models(max_results=1000):
        registry.delete_registered_model(model.name)
    for experiment in tracking.search_experiments(view_type=ViewType.ALL, max_results=1000):
        if experiment.experiment_id != "0":
            if experiment.lifecycle_stage == "active":
                tracking.delete_experiment(experiment.experiment_id)  # hard deletes need this first
            tracking._hard_delete_experiment(experiment.experiment_id)
    for run in tracking.search_runs(["0"], "", ViewType.ALL, max_results=50_000):
        tracking._hard_delete_run(run.info.run_id)
    shutil.rmtree(server.folder / "artifacts", ignore_errors=True)


STORES: dict[str, tuple] = {}


@pytest.fixture
def mlflow_server(shared_server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A real MLflow tracking server, empty for this test; MLFLOW_TRACKING_URI points at it.

    The session's one server, emptied before each test that takes it: starting a server
    costs seconds, emptying it milliseconds. A test that stops, breaks or kills its server
    takes `own_server`.
    """
    empty(shared_server)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared_server.uri)
    import mlflow

    mlflow.set_tracking_uri(shared_server.uri)
    yield shared_server


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A real MLflow tracking server of this test's own, which it may stop or break."""
    server = start_server(tmp_path / "server")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    import mlflow

    mlflow.set_tracking_uri(server.uri)
    yield server
    server.stop()


@pytest.fixture
def run_script(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run one of the repo's scripts as a user would: a fresh interpreter, real CLI."""

    def run(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
        return subprocess.run(
            [sys.executable, str(ROOT / script), *args],
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def unavailable(message: str) -> NoReturn:
    """Something to install or download is missing: a failure under CI, which has everything,
    else a skip."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def extra(module: str, target: str) -> ModuleType:
    """A library of an extra (pyproject.toml), imported at the top of the test module that
    needs it: without it the module is skipped on a laptop, and fails under CI."""
    try:
        return importlib.import_module(module)
    except ImportError:
        message = f"{module} is not installed (make {target})"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def taxi_data_dir() -> Path:
    """The real January-March 2023 files (TAXI_DATA_DIR, default data/).

    Missing data skips the test on a laptop but fails it under CI: it never skips silently there.
    """
    folder = Path(os.environ.get("TAXI_DATA_DIR", ROOT / "data")).resolve()
    names = [tripdata_path(folder, DATASET, month).name for month in MONTHS]
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        unavailable(f"real taxi data missing in {folder}: {', '.join(missing)} (run `make data`)")
    return folder


@dataclass
class HandStarted:
    """An `mlflow server` started by hand, as the course starts it: no pid file of ours."""

    uri: str
    port: int
    folder: Path  # where it was started: its mlflow.db and artifacts/
    process: subprocess.Popen

    def stop(self) -> None:
        """SIGTERM to its process group (gunicorn's or uvicorn's workers too), then wait."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_by_hand(command: list[str], folder: Path) -> HandStarted:
    """The course's `mlflow server ...` line, in `folder`, on a free loopback port (never
    5000, which other people's servers may use); returns once /health answers."""
    port = free_port()
    program = str(Path(sys.executable).parent / "mlflow")  # this environment's MLflow
    log = open(folder / "mlflow-server.log", "wb")  # noqa: SIM115 (the server's, while it runs)
    process = subprocess.Popen(
        [program, *command[1:], "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    server = HandStarted(f"http://127.0.0.1:{port}", port, folder, process)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, (folder / "mlflow-server.log").read_text()[-3000:]
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{server.uri}/health", timeout=2).ok:
                return server
        time.sleep(0.5)
    server.stop()
    raise AssertionError(f"{command} did not answer: {(folder / 'mlflow-server.log').read_text()}")


def no_network() -> list[str]:
    """A prefix that runs a command with no server anywhere, as the course's Q3 is: a network
    namespace of its own (root's `unshare -n`), whatever this machine serves on port 5000."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"]).returncode == 0:
        return ["unshare", "-n"]
    with contextlib.suppress(requests.RequestException):
        requests.get(TRACKING_URI, timeout=2)
        unavailable(f"something answers at {TRACKING_URI}, and `unshare -n` is not allowed")
    return []


def course_commands(page: Path = COURSE_PAGE) -> list[list[str]]:
    """The commands of the page's bash blocks that run the homework, in order: each `python
    <script>.py ...` and the `mlflow server ...` line (the venv, pip and download lines are
    the test environment's own)."""
    blocks = re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    homework = re.compile(r"python \S+\.py\b|mlflow server ")
    return [shlex.split(line) for line in lines if homework.match(line)]


@dataclass
class Homework:
    """A whole homework run (each command a process of its own) and the server it logged to."""

    server: HandStarted | Server
    raw: Path  # the raw month files
    output: Path  # the four pickles
    steps: dict[str, subprocess.CompletedProcess]  # what each script printed

    @property
    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.server.uri}

    @property
    def paths(self) -> tuple[str, ...]:
        return ("--data_path", str(self.output), "--raw_data_path", str(self.raw))


def run_course_page(taxi_data: Path, folder: Path) -> Homework:
    """docs/course.md's commands, in order, as a learner types them in a fresh folder: the
    real months in `taxi/`, `python train.py` with no server anywhere (it logs to
    ./mlflow.db), then the course's `mlflow server ...` started by hand (on a free port,
    which the later steps get as MLFLOW_TRACKING_URI), then the rest. Each must succeed."""
    (folder / "taxi").mkdir(parents=True)
    for month in MONTHS:
        name = tripdata_path(taxi_data, DATASET, month).name
        (folder / "taxi" / name).symlink_to(taxi_data / name)
    # As a user runs them: Python writes bytecode, which a logged model must not take along;
    # and no experiment an earlier test of this process set (MLflow passes it on).
    unset = ("PYTHONDONTWRITEBYTECODE", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    # MLflow 3 refuses every pickle it is asked to load: no model the homework loads is one.
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    server, steps, prefix = None, {}, no_network()
    try:
        for command in course_commands():
            if command[0] == "mlflow":
                server, prefix = start_by_hand(command, folder), []
                env["MLFLOW_TRACKING_URI"] = server.uri
                continue
            script = command[1]
            steps[script] = subprocess.run(
                [*prefix, sys.executable, str(ROOT / script), *command[2:]],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
            assert steps[script].returncode == 0, f"{command}: {steps[script].stderr[-3000:]}"
    except BaseException:
        if server:
            server.stop()
        raise
    assert server is not None, f"{COURSE_PAGE} starts no server"
    return Homework(server, folder / "taxi", folder / "output", steps)


@pytest.fixture(scope="session")
def homework(taxi_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homework]:
    """The homework on the real January-March 2023 files, once per session, read-only, typed
    as docs/course.md says (run_course_page).

    Its server keeps running for the whole session; a test that changes runs, models or
    aliases takes `homework_copy` instead.
    """
    homework = run_course_page(taxi_data_dir, tmp_path_factory.mktemp("homework"))
    try:
        yield homework
    finally:
        homework.server.stop()


@pytest.fixture
def homework_copy(homework: Homework, tmp_path: Path) -> Iterator[Homework]:
    """The shared homework on a server of its own, over a copy of its database.

    The copy's runs and models keep their artifacts where the original's are; whatever the
    test logs goes to new folders, so the original never sees it.
    """
    database = tmp_path / "copy.db"
    source = sqlite3.connect(homework.server.folder / "mlflow.db")
    target = sqlite3.connect(database)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    server = start_server(tmp_path / "server", backend_store_uri=f"sqlite:///{database}")
    try:
        yield Homework(server, homework.raw, homework.output, homework.steps)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def playwright() -> None:
    """Playwright, which ui_check.py needs before it looks for a browser (make install-browser)."""
    from homework.errors import UserError
    from ui.browser import require_playwright

    try:
        require_playwright()
    except UserError as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def chromium(request: pytest.FixtureRequest) -> str:
    """The Chromium that ui_check.py drives, with Playwright installed (`make install-browser`).

    Missing: skipped on a laptop, a failure under CI.
    """
    from homework.errors import UserError
    from ui.browser import chromium_path

    request.getfixturevalue("playwright")
    try:
        return chromium_path()
    except UserError as exc:
        unavailable(str(exc))


def assert_one_line_error(result, *fragments: str) -> str:
    """A user mistake: exit code 1, one `Error: ...` line holding `fragments`, no traceback.

    `result` is a finished subprocess (stderr is checked) or a Click `CliRunner` result.
    """
    if isinstance(result, subprocess.CompletedProcess):
        code, text = result.returncode, result.stderr
    else:
        code, text = result.exit_code, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert code == 1, text
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, text
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


# ---------------------------------------------------------------- helpers several test files use

TEST_MODEL_NAME = "predict-test-model"
TEST_MODEL_URI = f"models:/{TEST_MODEL_NAME}@{CHAMPION_ALIAS}"


def register_champion(prepared_dir: Path) -> Path:
    """Run a 2-trial search and register its champion; return the raw test month's file."""
    from hpo import run_optimization
    from register_model import run_register_model

    raw_dir = prepared_dir.parent / "data"
    args = ["--data_path", str(prepared_dir), "--num_trials", "2"]
    hpo = CliRunner().invoke(run_optimization, args)
    assert hpo.exit_code == 0, hpo.output
    args = ["--data_path", str(prepared_dir), "--raw_data_path", str(raw_dir)]
    result = CliRunner().invoke(run_register_model, [*args, "--model_name", TEST_MODEL_NAME])
    assert result.exit_code == 0, result.output
    return raw_dir / f"green_tripdata_{MONTHS[2]}.parquet"


def wait_for_model_server(server: subprocess.Popen, log: Path, url: str | None = None) -> str:
    """The /invocations URL (`url`, or the one the server announced), once /ping answers."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        text = log.read_text()
        if url is None and " at http://" in text:
            url = text.split(" at ", 1)[1].split()[0].rstrip(",")
        if url:
            try:
                if requests.get(url.replace("/invocations", "/ping"), timeout=1).ok:
                    return url
            except requests.RequestException:
                pass
        time.sleep(0.5)
    raise AssertionError(f"model server did not answer /ping: {log.read_text()[-3000:]}")


def start_model_server(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """`command` in a process group of its own, run in `log`'s folder, output in `log`, with
    Ctrl-C's default handler (whatever the test's shell ignores)."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            command,
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


@contextlib.contextmanager
def model_server(
    command: list[str], log: Path, env: dict[str, str], url: str | None = None
) -> Iterator[str]:
    """A model server started as `command` (its own process group, output in `log`, run in
    `log`'s folder); yields its /invocations URL once it answers, and stops it afterwards."""
    server = start_model_server(command, log, env)
    try:
        yield wait_for_model_server(server, log, url)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


@contextlib.contextmanager
def serving(model_uri: str, tracking_uri: str, log: Path, **env: str) -> Iterator[str]:
    """Plain `mlflow models serve`, as MLflow's tutorials run it, on a copy of `model_uri`
    checked by `verify_model.py --dest` (what a user of both does), with MLflow told to refuse
    pickles (MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false, MLflow 3); yields the /invocations URL,
    and stops it afterwards."""
    bin_dir = Path(sys.executable).parent
    settings = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",  # mlflow starts the venv's uvicorn
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        **env,
    }
    copy = log.parent / f"{log.stem}-model"
    verify = [sys.executable, str(ROOT / "verify_model.py"), "--model_uri", model_uri]
    checked = subprocess.run(
        [*verify, "--dest", str(copy)], env=settings, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stderr
    port = free_port()
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(copy), "--env-manager"]
    command += ["local", "--host", "127.0.0.1", "--port", str(port)]
    with model_server(command, log, settings, f"http://127.0.0.1:{port}/invocations") as url:
        yield url


@contextlib.contextmanager
def following(
    model_uri: str, tracking_uri: str, log: Path, *args: str, **env: str
) -> Iterator[str]:
    """`serve_model.py` (what `make serve-model` runs) serving and following `model_uri`,
    with MLflow told to refuse pickles; yields its base URL (http://127.0.0.1:port)."""
    settings = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        **env,
    }
    command = [sys.executable, str(ROOT / "serve_model.py"), "--model_uri", model_uri, *args]
    with model_server(command, log, settings) as url:
        yield url.removesuffix("/invocations")


def project_copy(folder: Path) -> Path:
    """What `make server`, `make s3` and `make q4` need of the project: the Makefile, the
    homework and services packages, scripts/ and answers.py (a copy is a project folder of
    its own)."""
    folder.mkdir()
    shutil.copy(ROOT / "Makefile", folder)
    shutil.copy(ROOT / "answers.py", folder)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "homework", folder / "homework", ignore=ignore)
    shutil.copytree(ROOT / "services", folder / "services", ignore=ignore)
    shutil.copytree(ROOT / "scripts", folder / "scripts", ignore=ignore)
    return folder


# ---------------------------------------------------------------- what an attacker plants

PLANTED_MINUTES = 42.0  # what the planted model predicts for every trip
PLANTED_PYFUNC = (  # a pyfunc model that predicts 42 minutes for every trip
    "type('Planted', (__import__('mlflow.pyfunc').pyfunc.PythonModel,), "
    f"{{'predict': lambda self, context, model_input, params=None: "
    f"[{PLANTED_MINUTES}] * len(model_input)}})()"
)
PLANTED_FOREST = (  # a scikit-learn regressor that predicts 42 minutes for every trip
    "__import__('sklearn.dummy').dummy.DummyRegressor("
    f"strategy='constant', constant={PLANTED_MINUTES}).fit([[0]], [0])"
)


class Payload:
    """Unpickled, it writes `marker` and becomes the object the expression `model` makes."""

    def __init__(self, marker: Path, model: str = PLANTED_PYFUNC) -> None:
        self.marker = marker
        self.model = model

    def __reduce__(self):
        marker = f"__import__('pathlib').Path({str(self.marker)!r}).write_text('planted')"
        return (eval, (f"({marker}, {self.model})[1]",))


def planted_model_folder(path: Path, marker: Path) -> Path:
    """A pyfunc folder as an attacker writes it by hand: an MLmodel file and their pickle."""
    import mlflow

    path.mkdir(parents=True)
    (path / "MLmodel").write_text(
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.pyfunc.model\n"
        "    python_model: python_model.pkl\n"
        f"    python_version: {platform.python_version()}\n"
        f"mlflow_version: {mlflow.__version__}\n"
    )
    (path / "python_model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    return path


def rest(uri: str, endpoint: str, body: dict) -> dict:
    response = requests.post(f"{uri}/api/2.0/mlflow/{endpoint}", json=body, timeout=30)
    assert response.ok, response.text
    return response.json()


def plant_champion(
    uri: str,
    folder: Path,
    marker: Path,
    name: str = MODEL_NAME,
    write_model: Callable[[Path], object] | None = None,
) -> str:
    """The attack, with plain REST calls: a version of the attacker's model becomes @champion.

    An experiment whose artifact location is the attacker's folder, a run in it holding the
    model (planted_model_folder, or what `write_model` writes into the folder it is given), a
    model version whose source is that model, then the alias. Returns the version.
    """
    attacker = folder / f"attacker-{secrets.token_hex(4)}"
    body = {"name": attacker.name, "artifact_location": str(attacker)}
    experiment = rest(uri, "experiments/create", body)
    run = rest(uri, "runs/create", {"experiment_id": experiment["experiment_id"]})["run"]
    source = Path(run["info"]["artifact_uri"].removeprefix("file://")) / "model"
    if write_model is None:
        planted_model_folder(source, marker)
    else:
        write_model(source)
    requests.post(f"{uri}/api/2.0/mlflow/registered-models/create", json={"name": name})
    version = rest(
        uri,
        "model-versions/create",
        {"name": name, "source": str(source), "run_id": run["info"]["run_id"]},
    )["model_version"]["version"]
    tags = {"data.dataset": "green", "data.test_month": MONTHS[2]}  # what Q6 reads first
    for key, value in tags.items():
        rest(
            uri,
            "model-versions/set-tag",
            {"name": name, "version": version, "key": key, "value": value},
        )
    rest(
        uri, "registered-models/alias", {"name": name, "alias": CHAMPION_ALIAS, "version": version}
    )
    return version
