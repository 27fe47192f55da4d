"""The team setup (docs/team.md): artifacts in a real S3 server, and a login on the tracking server.

SeaweedFS (`make s3`, services/s3.py) serves S3 on a free loopback port; `mlflow server`
keeps its artifacts in its bucket (ARTIFACTS_DESTINATION=s3://...) and runs MLflow's basic-auth
app (AUTH=1). Clients hold no S3 key; they log in with MLFLOW_TRACKING_USERNAME/PASSWORD.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import psutil
import pytest
import requests
from conftest import (
    MONTHS,
    ROOT,
    assert_one_line_error,
    model_server,
    project_copy,
    random_month,
    unavailable,
)
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_ALIAS,
    HPO_EXPERIMENT,
    HPO_RUN_TAG,
    MODEL_NAME,
    S3_BUCKET,
    SEARCH_TAG,
    TRAIN_EXPERIMENT,
)
from homework.data.trips import read_trips
from homework.forest import rmse
from homework.model.features import RAW_COLUMNS
from homework.search.runs import PARENT_TAG
from homework.tracking.failures import describe_failure
from services import BIN, S3Server, free_port, processes, start_s3, start_server

# Keys and passwords of the team setup: none may reach a client, a command line or our output.
CLIENT_HIDDEN = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL")
EXPERIMENTS = (TRAIN_EXPERIMENT, HPO_EXPERIMENT, BEST_MODELS_EXPERIMENT)


@pytest.fixture(autouse=True)
def team_requirements() -> None:
    """weed, boto3 and Flask-WTF (`make install-team`): skipped without them, except under CI."""
    missing = [name for name in ("boto3", "flask_wtf") if not has_module(name)]
    if not (BIN / "weed").exists():
        missing.append("weed")
    if missing:
        unavailable(f"team requirements missing ({', '.join(missing)}): make install-team")


def has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


class Outputs:
    """Runs commands as a user would and keeps everything they printed, to look for secrets."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.text: list[str] = []

    def run(self, *command: str, env: dict[str, str], timeout: float = 900):
        base = {k: v for k, v in os.environ.items() if k not in CLIENT_HIDDEN}
        base.pop("MLFLOW_TRACKING_USERNAME", None)
        base.pop("MLFLOW_TRACKING_PASSWORD", None)
        done = subprocess.run(
            command,
            cwd=self.cwd,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.text += [done.stdout, done.stderr]
        return done

    def script(self, name: str, *args: str, env: dict[str, str]):
        return self.run(sys.executable, str(ROOT / name), *args, env=env)


def test_auth_refuses_to_start_without_a_real_admin_password(tmp_path: Path) -> None:
    port = free_port()
    base = {
        **os.environ,
        "BACKEND_STORE_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "SERVER_PID_FILE": str(tmp_path / "server.pid"),
        "SERVER_LOG": str(tmp_path / "server.log"),
        "AUTH_DIR": str(tmp_path / "auth"),
    }
    base.pop("MLFLOW_AUTH_ADMIN_PASSWORD", None)
    command = ["make", "-C", str(ROOT), "-o", "install", "server", f"VENV={sys.prefix}"]
    for password in (None, "password1234"):
        env = base if password is None else {**base, "MLFLOW_AUTH_ADMIN_PASSWORD": password}
        done = subprocess.run(
            [*command, f"PORT={port}", "AUTH=1"], env=env, capture_output=True, text=True
        )
        assert done.returncode != 0
        assert "export MLFLOW_AUTH_ADMIN_PASSWORD=" in done.stderr
        assert "not MLflow's default" in done.stderr
        assert "password1234" not in done.stderr
        assert not (tmp_path / "server.pid").exists()
        assert not (tmp_path / "auth").exists()  # nothing written either
    short = subprocess.run(
        [*command, f"PORT={port}", "AUTH=1"],
        env={**base, "MLFLOW_AUTH_ADMIN_PASSWORD": "short"},
        capture_output=True,
        text=True,
    )
    assert short.returncode != 0 and "12 or more characters" in short.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=5)


def listening_ports(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on (Linux's `ss`)."""
    done = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True)
    found = set()
    for line in done.stdout.splitlines():
        if f"pid={pid}," in line:
            address, port = line.split()[3].rsplit(":", 1)
            found.add((address, int(port)))
    return found


def s3_command(env: dict[str, str], action: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`make s3` / `make s3-stop`'s command line, run in the project folder `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "services", "s3", action],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.server
def test_local_s3_server_listens_on_loopback_only_and_stops_only_itself(tmp_path: Path) -> None:
    s3 = start_s3(tmp_path / "s3")
    secret = s3.env["AWS_SECRET_ACCESS_KEY"]
    try:
        pid = s3.pid
        command = psutil.Process(pid).cmdline()
        assert secret not in " ".join(command)  # weed reads it from its environment
        assert command[1:3] == ["-logtostderr=true", "mini"]  # its log is s3.log, no files
        flags = dict(word.lstrip("-").split("=", 1) for word in command[3:])
        ports = {int(value) for name, value in flags.items() if "port" in name and value != "0"}
        assert len(ports) == 10 and flags["s3.port"] == str(s3.port)
        assert flags["webdav"] == flags["admin.ui"] == flags["master.telemetry"] == "false"
        if shutil.which("ss"):
            opened = listening_ports(pid)
            assert {address for address, _ in opened} == {"127.0.0.1"}
            assert {port for _, port in opened} <= ports  # none of weed's fixed defaults
        # Its files are in its folder, not the system's temporary one (but for SeaweedFS's
        # gRPC sockets, which it always makes in /tmp).
        data = s3.folder / "data"
        assert (data / "filer.sock").is_socket() and (data / "s3.sock").is_socket()
        assert psutil.Process(pid).cwd() == str(data.resolve())
        assert psutil.Process(pid).environ()["TMPDIR"] == str((data / "tmp").resolve())
        grpc_sockets = [
            Path(f"/tmp/seaweedfs-{name}-grpc-{flags[f'{name}.port.grpc']}.sock")
            for name in ("s3", "master", "volume", "filer", "admin")
        ]
        assert not [name for name in os.listdir(tempfile.gettempdir()) if name.endswith(f".{pid}")]

        # The bucket takes the key pair, and refuses another.
        client = s3.client()
        client.put_object(Bucket=S3_BUCKET, Key="probe/a.txt", Body=b"kept")
        wrong = S3Server(s3.endpoint, s3.port, s3.folder, {**s3.env, "AWS_SECRET_ACCESS_KEY": "x"})
        with pytest.raises(Exception, match="SignatureDoesNotMatch"):
            wrong.client().list_objects_v2(Bucket=S3_BUCKET)

        # Started again: "already running", the same process; its settings on stdout.
        again = s3_command(s3.env, "start")
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr and s3.pid == pid
        assert f"export MLFLOW_S3_ENDPOINT_URL={s3.endpoint}" in again.stdout
        assert "export AWS_ACCESS_KEY_ID=test-key" in again.stdout
        assert secret not in again.stdout + again.stderr

        # A copy of the project (pid file included), or the wrong port: left running.
        copy = project_copy(tmp_path / "copy")
        shutil.copy(s3.folder / "s3.pid", copy / "s3.pid")
        other_folder = s3_command({**s3.env, "S3_PID_FILE": str(copy / "s3.pid")}, "stop", copy)
        assert other_folder.returncode == 0, other_folder.stderr
        assert f"started from {ROOT}" in other_folder.stderr and "left alone" in other_folder.stderr
        other_port = s3_command({**s3.env, "S3_PORT": "1"}, "stop")
        assert other_port.returncode == 1 and "left running" in other_port.stderr
        assert processes.running(pid)
        assert s3.client().get_object(Bucket=S3_BUCKET, Key="probe/a.txt")["Body"].read()

        # Stopped (its gRPC sockets in /tmp too) and started again: the same data and bucket.
        s3.stop()
        assert not processes.running(pid)
        assert not [path for path in grpc_sockets if path.exists()]
        s3.start()
        assert s3.keys("probe/") == ["probe/a.txt"]
    finally:
        s3.stop()
    assert not (tmp_path / "s3/s3.pid").exists()


def registry_state(client: MlflowClient) -> tuple:
    """What the refused requests must leave as it was: versions, champion, runs per experiment."""
    versions = sorted(
        (version.version, version.run_id)
        for version in client.search_model_versions(f"name='{MODEL_NAME}'")
    )
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version
    runs = {
        name: len(
            client.search_runs(
                [client.get_experiment_by_name(name).experiment_id], run_view_type=ViewType.ALL
            )
        )
        for name in EXPERIMENTS
    }
    return versions, champion, runs


def wait_for_trials(client: MlflowClient, count: int, process: subprocess.Popen) -> None:
    """Wait until hpo.py has logged `count` finished trials (and is still running)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        experiment = client.get_experiment_by_name(HPO_EXPERIMENT)
        if experiment:
            finished = client.search_runs(
                [experiment.experiment_id], "attributes.status = 'FINISHED'"
            )
            if len(finished) >= count:
                return
        time.sleep(1)
    raise AssertionError(f"hpo.py ended or stalled before {count} trials: {process.poll()}")


@pytest.mark.server
def test_homework_through_s3_and_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole homework with artifacts in S3 and a login; refusals change nothing.

    On generated months big enough that a trial takes a moment (the S3 server is stopped
    in the middle of a search); the answers are what the scripts printed, read back.
    """
    admin_password = "admin-" + secrets.token_hex(8)
    reader_password = "reader-" + secrets.token_hex(8)
    s3 = start_s3(tmp_path / "s3")
    server = start_server(tmp_path / "server", s3=s3, admin_password=admin_password)
    work = tmp_path / "work"
    work.mkdir()
    out = Outputs(work)
    try:
        admin = {"MLFLOW_TRACKING_URI": server.uri, **server.login()}
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", admin_password)
        client = MlflowClient(server.uri)
        output = str(work / "output")
        months = tmp_path / "data"
        months.mkdir()
        for seed, month in enumerate(MONTHS):
            random_month(months / f"green_tripdata_{month}.parquet", 5_000, seed, zones=20)
        raw = ("--raw_data_path", str(months))
        step = out.script("preprocess_data.py", *raw, "--dest_path", output, env={})
        assert step.returncode == 0, step.stderr
        step = out.script("train.py", "--data_path", output, env=admin)
        assert step.returncode == 0, step.stderr[-3000:]

        # Keys and passwords are on no command line while everything runs.
        processes = subprocess.run(
            ["ps", "-A", "-ww", "-o", "command="], capture_output=True, text=True
        ).stdout
        assert f"--artifacts-destination s3://{S3_BUCKET}/artifacts" in processes
        for secret in (admin_password, s3.env["AWS_SECRET_ACCESS_KEY"]):
            assert secret not in processes

        # The S3 server stops in the middle of the search: one line naming the artifact store.
        base = {k: v for k, v in os.environ.items() if k not in CLIENT_HIDDEN}
        search = subprocess.Popen(
            [sys.executable, str(ROOT / "hpo.py"), "--data_path", output],
            cwd=work,
            env={**base, **admin},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_trials(client, 2, search)
        s3.stop()
        stdout, stderr = search.communicate(timeout=600)
        out.text += [stdout, stderr]
        broken = subprocess.CompletedProcess(search.args, search.returncode, stdout, stderr)
        assert_one_line_error(broken, "artifact store", server.uri)
        hpo_id = client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id
        broken_runs = client.search_runs([hpo_id], run_view_type=ViewType.ALL)
        (broken_search,) = [run for run in broken_runs if SEARCH_TAG in run.data.tags]
        assert broken_search.info.status == "FAILED"

        # After a restart the rerun succeeds; Q5 and Q6 ignore the broken search.
        s3.start()
        step = out.script("hpo.py", "--data_path", output, "--num_trials", "6", env=admin)
        assert step.returncode == 0, step.stderr[-3000:]
        best_val_rmse = float(step.stdout.split()[-1])
        step = out.script("register_model.py", "--data_path", output, *raw, env=admin)
        assert step.returncode == 0, step.stderr[-3000:]
        test_rmse = float(step.stdout.split()[-1])
        answers = out.script(
            "answers.py",
            *("--data_path", output, *raw),
            *("-q", "4", "-q", "5", "-q", "6"),
            env=admin,
        )
        assert answers.returncode == 0, answers.stderr
        table = answers.stdout.splitlines()
        assert table[1].split()[-1] == "artifacts-destination"
        assert [line.split()[-1] for line in table[2:]] == [
            f"{best_val_rmse:.3f}",
            f"{test_rmse:.3f}",
        ]
        champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
        best_models = client.search_runs(
            [client.get_experiment_by_name(BEST_MODELS_EXPERIMENT).experiment_id]
        )
        candidates = {run.data.tags[HPO_RUN_TAG] for run in best_models}
        assert len(candidates) == 5
        assert not candidates & {run.info.run_id for run in broken_runs}
        trial = client.get_run(client.get_run(champion.run_id).data.tags[HPO_RUN_TAG])
        assert trial.data.tags[PARENT_TAG] != broken_search.info.run_id
        mlflow.set_tracking_uri(server.uri)
        model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}")
        trips = read_trips(months / f"green_tripdata_{MONTHS[2]}.parquet")
        assert rmse(trips["duration"], model.predict(trips[RAW_COLUMNS])) == pytest.approx(
            test_rmse, abs=1e-4
        )
        best = client.search_runs(
            [hpo_id],
            "attributes.status = 'FINISHED' and metrics.rmse >= 0",
            order_by=["metrics.rmse ASC"],
        )[0]
        assert best.data.metrics["rmse"] == pytest.approx(best_val_rmse, abs=1e-4)

        # The models are objects in the bucket, and nothing went to a local folder.
        champion_run = client.get_run(champion.run_id).info
        assert champion_run.artifact_uri.startswith("mlflow-artifacts:/")
        run_path = f"artifacts/{champion_run.experiment_id}/{champion.run_id}/artifacts"
        in_bucket = s3.keys(run_path)
        assert f"{run_path}/model/model.pkl" in in_bucket
        assert any(key.endswith("/MLmodel") for key in in_bucket)
        assert f"artifacts/{hpo_id}/{best.info.run_id}/artifacts/model/model.pkl" in s3.keys(
            f"artifacts/{hpo_id}/"
        )
        assert not list(tmp_path.glob("**/artifacts")) and not list(tmp_path.glob("**/mlruns"))

        # A reviewer who may read: the answers and a prediction, but no run and no alias.
        made = out.run(
            "make",
            *("-C", str(ROOT), "-o", "install", "user", "NAME=reviewer"),
            *(f"VENV={sys.prefix}", f"PORT={server.port}"),
            env={"PASSWORD": reader_password, "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password},
        )
        assert made.returncode == 0, made.stderr
        assert "User reviewer created: READ" in made.stdout
        before = registry_state(client)
        reviewer = {"MLFLOW_TRACKING_URI": server.uri, **server.login("reviewer", reader_password)}
        read = out.script("answers.py", *raw, "-q", "5", "-q", "6", env=reviewer)
        assert read.returncode == 0, read.stderr
        assert [line.split()[-1] for line in read.stdout.splitlines()[1:]] == [
            f"{best_val_rmse:.3f}",
            f"{test_rmse:.3f}",
        ]
        trip = ("--pu", "74", "--do", "75", "--distance", "1.2")
        predicted = out.script("predict.py", *trip, env=reviewer)
        assert predicted.returncode == 0, predicted.stderr
        assert predicted.stdout.startswith("predicted duration: ")
        served = serve_model(reviewer, tmp_path / "serve.log")
        assert served == pytest.approx(float(predicted.stdout.split()[2]), abs=0.005)

        refused = {
            "without a login": ({"MLFLOW_TRACKING_URI": server.uri}, "refused a request"),
            "with a wrong password": (
                {"MLFLOW_TRACKING_URI": server.uri, **server.login("admin", "wrong-password-1")},
                "refused user admin: wrong user name or password",
            ),
            "as the reviewer": (reviewer, "refused user reviewer: permission denied"),
        }
        for env, fragment in refused.values():
            trained = out.script("train.py", "--data_path", output, env=env)
            assert_one_line_error(trained, fragment)
        registered = out.script("register_model.py", "--data_path", output, *raw, env=reviewer)
        assert_one_line_error(registered, "refused user reviewer: permission denied")
        for env, fragment in list(refused.values())[:2]:
            assert_one_line_error(out.script("answers.py", "-q", "5", env=env), fragment)
            assert_one_line_error(out.script("predict.py", *trip, env=env), fragment)
        # Moving @champion as the reviewer: MLflow's 403, which is one line for our scripts.
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reviewer")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", reader_password)
        with pytest.raises(Exception) as moved:
            MlflowClient(server.uri).set_registered_model_alias(MODEL_NAME, CHAMPION_ALIAS, "1")
        line = describe_failure(moved.value, server.uri)
        assert line.startswith(f"the MLflow tracking server at {server.uri} refused user reviewer")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", admin_password)
        assert registry_state(client) == before
    finally:
        server.stop()
        s3.stop()

    # No key or password in anything we printed, nor in the servers' logs.
    logs = [server.log.read_text(), (s3.folder / "s3.log").read_text()]
    for secret in (admin_password, reader_password, s3.env["AWS_SECRET_ACCESS_KEY"]):
        assert not [text for text in out.text + logs if secret in text]
    # The login's files are for their owner only.
    auth = server.folder / "auth"
    assert auth.stat().st_mode & 0o777 == 0o700
    for name in ("basic_auth.ini", "flask-secret-key", "basic_auth.db"):
        assert (auth / name).stat().st_mode & 0o777 == 0o600, name
    assert not (server.folder / "server.pid").exists()


def serve_model(login: dict[str, str], log: Path) -> float:
    """`make serve-model`'s server (serve_model.py) with a login: the champion's answer for
    one trip."""
    env = {**{k: v for k, v in os.environ.items() if k not in CLIENT_HIDDEN}, **login}
    command = [sys.executable, str(ROOT / "serve_model.py")]
    with model_server(command, log, env) as url:
        trip = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}
        response = requests.post(url, json={"dataframe_records": [trip]}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["predictions"][0]


# ---------------------------------------------------------------- every route, over HTTP

SECRET_PARAM = "secret-param-value"
SECRET_TEXT = "top secret artifact"


def grant(session: requests.Session, url: str, user: str, experiment: str, model: str) -> None:
    """READ for `user` on one experiment and one registered model, as the admin."""
    api = f"{url}/api/2.0/mlflow"
    session.post(f"{api}/users/create", json={"username": user, "password": f"{user}-pw-1234567"})
    for route, body in (
        ("experiments/permissions/create", {"experiment_id": experiment}),
        ("registered-models/permissions/create", {"name": model}),
    ):
        done = session.post(f"{api}/{route}", json={**body, "username": user, "permission": "READ"})
        done.raise_for_status()


def logged(client: MlflowClient, name: str) -> tuple[str, str]:
    """An experiment `name` with one run (a parameter, a metric, a text artifact) and a
    registered model `name-model` of that run's artifacts: the ids of both."""
    experiment = client.create_experiment(name)
    run = client.create_run(experiment).info
    client.log_param(run.run_id, "p", SECRET_PARAM)
    client.log_metric(run.run_id, "rmse", 1.23)
    client.log_text(run.run_id, SECRET_TEXT, "secret.txt")
    client.set_terminated(run.run_id)
    client.create_registered_model(f"{name}-model")
    client.create_model_version(f"{name}-model", run.artifact_uri, run_id=run.run_id)
    return experiment, run.run_id


def probes(secret: str, secret_run: str, granted_run: str) -> dict[str, tuple[str, str, dict]]:
    """(method, path, request) of every route that leaked or changed something on stock 2.22
    for a user with no permission on the secret experiment and model (or READ only)."""
    api, ajax, art = "/api/2.0/mlflow", "/ajax-api/2.0/mlflow", f"{secret}/{secret_run}/artifacts"
    experiments = {"json": {"experiment_ids": [secret]}}
    dataset = {"name": "p", "digest": "d", "source_type": "local", "source": "{}"}
    query = f'mlflowGetRun(input: {{runId: "{secret_run}"}}) {{ run {{ data {{ params {{ value }}'
    upload = {"params": {"run_uuid": granted_run, "path": "planted.txt"}, "data": b"planted"}
    return {
        "SearchRuns": ("POST", f"{api}/runs/search", experiments),
        "SearchRuns (UI)": ("POST", f"{ajax}/runs/search", experiments),
        "SearchDatasets": ("POST", f"{ajax}/experiments/search-datasets", experiments),
        "bulk metric history": (
            "GET",
            f"{api}/metrics/get-history-bulk-interval",
            {"params": {"run_ids": secret_run, "metric_key": "rmse"}},
        ),
        "bulk metric history (UI)": (
            "GET",
            f"{ajax}/metrics/get-history-bulk",
            {"params": {"run_id": secret_run, "metric_key": "rmse"}},
        ),
        "SearchModelVersions": (
            "GET",
            f"{api}/model-versions/search",
            {"params": {"filter": "name='secret-model'"}},
        ),
        "SearchModelVersions, all": ("GET", f"{api}/model-versions/search", {}),
        "artifact list": ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"params": {"path": art}}),
        "artifact (UI)": ("GET", f"/ajax-api/2.0/mlflow-artifacts/artifacts/{art}/secret.txt", {}),
        "get-artifact (UI)": (
            "GET",
            "/get-artifact",
            {"params": {"run_id": secret_run, "path": "secret.txt"}},
        ),
        "get-artifact (UI), run_uuid": (
            "GET",
            "/get-artifact",
            {"params": {"run_id": "", "run_uuid": secret_run, "path": "secret.txt"}},
        ),
        "model version artifact (UI)": (
            "GET",
            "/model-versions/get-artifact",
            {"params": {"name": "secret-model", "version": "1", "path": "secret.txt"}},
        ),
        "GraphQL": ("POST", "/graphql", {"json": {"query": f"query {{ {query} }} }} }} }}"}}),
        "traces": ("GET", f"{api}/traces", {"params": {"experiment_ids": secret}}),
        "overwrite an artifact (UI)": (
            "PUT",
            f"/ajax-api/2.0/mlflow-artifacts/artifacts/{art}/secret.txt",
            {"data": b"planted"},
        ),
        "upload an artifact (UI)": ("POST", f"{ajax}/upload-artifact", upload),
        "LogInputs": (
            "POST",
            f"{api}/runs/log-inputs",
            {"json": {"run_id": granted_run, "datasets": [{"dataset": dataset}]}},
        ),
        "create an experiment": ("POST", f"{api}/experiments/create", {"json": {"name": "x"}}),
        "create a registered model": (
            "POST",
            f"{api}/registered-models/create",
            {"json": {"name": "x"}},
        ),
    }


@pytest.mark.server
def test_a_user_sees_only_what_is_granted_through_every_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 2.22's basic-auth leaves routes open that the tracking client and the UI call
    (SearchRuns, SearchModelVersions, the artifact list, ...), lets anyone create experiments
    and registered models, and lets anyone read the server's files through a model version
    with the prompt tag. Our authorization function closes each, over real HTTP."""
    password = "admin-" + secrets.token_hex(8)
    server = start_server(tmp_path / "server", proxied_artifacts=True, admin_password=password)
    url, api = server.uri, f"{server.uri}/api/2.0/mlflow"
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        mlflow.set_tracking_uri(url)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        admin_client = MlflowClient(url)
        granted, granted_run = logged(admin_client, "granted")
        secret, secret_run = logged(admin_client, "secret")
        admin = requests.Session()
        admin.auth = ("admin", password)
        grant(admin, url, "reviewer", granted, "granted-model")

        # The reviewer reads what it was given, through MLflow's own client.
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reviewer")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "reviewer-pw-1234567")
        reviewer = MlflowClient(url)
        assert [run.info.run_id for run in reviewer.search_runs([granted])] == [granted_run]
        assert reviewer.get_run(granted_run).data.params == {"p": SECRET_PARAM}
        versions = reviewer.search_model_versions("name='granted-model'")
        assert [version.name for version in versions] == ["granted-model"]
        assert [f.path for f in reviewer.list_artifacts(granted_run)] == ["secret.txt"]
        assert [e.name for e in reviewer.search_experiments()] == ["granted"]

        session = requests.Session()
        session.auth = ("reviewer", "reviewer-pw-1234567")
        for name, (method, path, request) in probes(secret, secret_run, granted_run).items():
            answer = session.request(method, url + path, timeout=30, **request)
            assert answer.status_code == 403, f"{name}: {answer.text[:300]}"
            assert SECRET_PARAM not in answer.text and SECRET_TEXT not in answer.text

        # The server's own files, through a model version with the prompt tag: not even the
        # admin; nor a version or experiment elsewhere than the server's artifact store.
        prompt = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
        for source in ("file:///proc/self/cwd", "file:///etc"):
            body = {"name": "granted-model", "source": source, "tags": prompt}
            answer = admin.post(f"{api}/model-versions/create", json=body)
            assert answer.status_code == 403 and "mlflow.prompt.is_prompt" in answer.text
        elsewhere = "http://127.0.0.1:1/x"
        foreign = {
            "model-versions/create": {"name": "granted-model", "source": elsewhere},
            "experiments/create": {"name": "foreign", "artifact_location": elsewhere},
        }
        for route, body in foreign.items():
            for run_id in ({}, {"run_id": granted_run}):
                assert admin.post(f"{api}/{route}", json={**body, **run_id}).status_code == 403
        read = {"name": "granted-model", "version": "2", "path": "basic_auth.ini"}
        assert (
            "admin_password"
            not in admin.get(f"{url}/model-versions/get-artifact", params=read).text
        )
        # What the admin may do still works: GraphQL (a 500 for everyone on stock 2.22) too.
        graphql = admin.post(
            f"{url}/graphql", json=probes(secret, secret_run, granted_run)["GraphQL"][2]["json"]
        )
        assert graphql.status_code == 200 and SECRET_PARAM in graphql.text
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        experiments = {e.name for e in admin_client.search_experiments()}
        assert experiments == {"Default", "granted", "secret"}  # nobody created any other
        models = {m.name for m in admin_client.search_registered_models()}
        assert models == {"granted-model", "secret-model"}
    finally:
        server.stop()
