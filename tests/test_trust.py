"""homework/trust/: signing, and the check before every load: a planted or changed model is refused.

The attack: anyone who can reach the tracking server (on the default setup, any local user)
registers a model of theirs with plain REST calls and moves @champion to it. Its pickle's
payload here only writes a marker file, so a test can tell whether it was ever unpickled.
"""

from __future__ import annotations

import http.server
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import mlflow
import pytest
import requests
from click.testing import CliRunner
from conftest import (
    PLANTED_FOREST,
    PLANTED_MINUTES,
    ROOT,
    TEST_MODEL_NAME,
    TEST_MODEL_URI,
    Payload,
    assert_one_line_error,
    plant_champion,
    register_champion,
    rest,
    wait_for_model_server,
)
from mlflow.tracking import MlflowClient

from homework.config import (
    CHAMPION_ALIAS,
    GATE_REJECTED,
    GATE_STATUS_TAG,
    HPO_EXPERIMENT,
    HPO_RUN_TAG,
    KEY_DIR_VARIABLE,
    MODEL_ARTIFACT,
    MODEL_NAME,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SIGNED_MANIFEST,
    TRAIN_EXPERIMENT,
    TRUSTED_KEYS_DIR,
)
from homework.errors import UserError
from homework.publish.gate import BASELINE_VERSION_TAG, UNTRUSTED_TAG, UNVERIFIED
from homework.search.runs import PARENT_TAG
from homework.tracking.sources import ForeignSource, check_source
from homework.trust import manifest
from predict import run_predict
from register_model import run_register_model
from train import run_train
from verify_model import run_verify_model

ONE_TRIP = ("--pu", "74", "--do", "75", "--distance", "1.2")


# ---------------------------------------------------------------- signing plain folders


def model_folder(path: Path) -> Path:
    """A folder shaped like a logged pyfunc: files at the top and in `code/`."""
    (path / "code").mkdir(parents=True)
    (path / "MLmodel").write_text("flavors: {}\n")
    (path / "python_model.pkl").write_bytes(b"\x80\x05N.")
    (path / "code" / "features.py").write_text("X = 1\n")
    return path


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key folder of this test's own, not made yet."""
    folder = tmp_path / "config" / "mlflow-homework"
    monkeypatch.setenv(KEY_DIR_VARIABLE, str(folder))
    return folder


def test_first_signature_makes_a_private_key_and_checks_out(tmp_path: Path, key_dir: Path) -> None:
    folder = model_folder(tmp_path / "model")
    key_id, created = manifest.sign_folder(folder)
    assert created
    assert manifest.check_folder(folder) == (key_id, "your key", 3)
    assert (key_dir.stat().st_mode & 0o777) == 0o700
    assert ((key_dir / PRIVATE_KEY_FILE).stat().st_mode & 0o777) == 0o600
    assert not list(key_dir.glob(".*"))  # no scratch file left
    # The public key is an OpenSSH line: `ssh-keygen -lf` names it by the same fingerprint.
    public = key_dir / PUBLIC_KEY_FILE
    assert public.read_text().startswith("ssh-ed25519 ")
    if shutil.which("ssh-keygen"):
        listed = subprocess.run(["ssh-keygen", "-lf", str(public)], capture_output=True, text=True)
        assert key_id in listed.stdout
    # The private key never lands in what is signed or logged.
    assert "PRIVATE" not in (folder / SIGNED_MANIFEST).read_text()
    assert manifest.sign_folder(folder) == (key_id, False)  # the same key next time


def change_a_file(folder: Path) -> None:
    (folder / "python_model.pkl").write_bytes(b"\x80\x05K\x01.")


def add_a_file(folder: Path) -> None:
    (folder / "code" / "sitecustomize.py").write_text("import os\n")


def remove_a_file(folder: Path) -> None:
    (folder / "code" / "features.py").unlink()


def update_the_manifest(folder: Path) -> None:
    """What an attacker who swapped the pickle would do next: record its digest."""
    change_a_file(folder)
    signed = json.loads((folder / SIGNED_MANIFEST).read_text())
    signed["files"] = manifest.file_digests(folder)
    (folder / SIGNED_MANIFEST).write_text(json.dumps(signed))


def remove_the_manifest(folder: Path) -> None:
    (folder / SIGNED_MANIFEST).unlink()


def garble_the_manifest(folder: Path) -> None:
    (folder / SIGNED_MANIFEST).write_text("{not json")


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (change_a_file, "its files are not the signed ones: changed python_model.pkl"),
        (add_a_file, "its files are not the signed ones: added code/sitecustomize.py"),
        (remove_a_file, "its files are not the signed ones: missing code/features.py"),
        (update_the_manifest, f"its {SIGNED_MANIFEST} was changed after signing"),
        (remove_the_manifest, f"it is unsigned (it has no {SIGNED_MANIFEST})"),
        (garble_the_manifest, f"its {SIGNED_MANIFEST} is not a signed manifest"),
    ],
)
def test_any_change_after_signing_is_refused(tmp_path: Path, key_dir: Path, tamper, why) -> None:
    folder = model_folder(tmp_path / "model")
    manifest.sign_folder(folder)
    tamper(folder)
    with pytest.raises(manifest.Untrusted) as refused:
        manifest.check_folder(folder)
    assert str(refused.value).startswith(why)


def test_another_key_is_refused_until_its_public_key_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team: the machine that registers signs; a reviewer trusts its public key only."""
    folder = model_folder(tmp_path / "model")
    team = tmp_path / "ci-keys"
    monkeypatch.setenv(KEY_DIR_VARIABLE, str(team))
    key_id, _ = manifest.sign_folder(folder)

    reviewer = tmp_path / "reviewer-keys"
    monkeypatch.setenv(KEY_DIR_VARIABLE, str(reviewer))
    with pytest.raises(manifest.Untrusted, match=re.escape(f"signed by another key ({key_id})")):
        manifest.check_folder(folder)
    (reviewer / TRUSTED_KEYS_DIR).mkdir(parents=True)
    shutil.copy(team / PUBLIC_KEY_FILE, reviewer / TRUSTED_KEYS_DIR / "team.pub")
    assert manifest.check_folder(folder) == (key_id, "trusted-keys/team.pub", 3)
    assert not (reviewer / PRIVATE_KEY_FILE).exists()  # checking never makes a key


def test_a_private_key_readable_by_others_is_not_used(tmp_path: Path, key_dir: Path) -> None:
    manifest.sign_folder(model_folder(tmp_path / "model"))
    (key_dir / PRIVATE_KEY_FILE).chmod(0o644)
    with pytest.raises(UserError, match="readable by others: chmod 600"):
        manifest.sign_folder(tmp_path / "model")


def test_two_first_uses_at_once_make_one_key(tmp_path: Path, key_dir: Path) -> None:
    code = (
        "from homework.trust import keys; key, _ = keys.signing_key(); "
        "print(keys.fingerprint(key.public_key()))"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    fingerprints = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(fingerprints) == 1 and all(process.returncode == 0 for process in processes)
    assert sorted(path.name for path in key_dir.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]


# ---------------------------------------------------------------- the planting attack


def make_serve_model(server, tmp_path: Path, trust: str = "") -> subprocess.Popen:
    """`make serve-model` against `server`, as a user runs it; its scratch folder in tmp_path."""
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "TMPDIR": str(tmp_path / "scratch")}
    (tmp_path / "scratch").mkdir(exist_ok=True)
    args = ["make", "-s", "-o", "install", "serve-model", f"PORT={server.port}", f"VENV={venv}"]
    with open(tmp_path / "serve.log", "wb") as log:
        return subprocess.Popen(
            [*args, f"TRUST_UNSIGNED={trust}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_a_planted_champion_is_never_unpickled(mlflow_server, raw_dir, tmp_path, run_script):
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    assert_one_line_error(run_script("verify_model.py", env=env), "cannot load", "make q6")
    marker = tmp_path / "marker"
    version = plant_champion(mlflow_server.uri, tmp_path, marker)
    refusal = f"refusing to load models:/{MODEL_NAME}@{CHAMPION_ALIAS} (version {version})"

    predict = run_script("predict.py", *ONE_TRIP, env=env)
    line = assert_one_line_error(predict, refusal, "it is unsigned", "--trust_unsigned")
    print(line)  # the line a user sees (pytest -s)
    dest = tmp_path / "checked"
    check = run_script("verify_model.py", "--dest", str(dest), env=env)
    assert_one_line_error(check, refusal, "it is unsigned")
    assert not dest.exists()  # nothing of a refused model is kept
    q6 = run_script("answers.py", "-q", "6", "--raw_data_path", str(raw_dir), env=env)
    assert_one_line_error(q6, f"refusing to load models:/{MODEL_NAME}/{version}", "unsigned")
    serve = make_serve_model(mlflow_server, tmp_path)
    assert serve.wait(timeout=120) != 0
    log = (tmp_path / "serve.log").read_text()
    assert refusal in log and "Serving" not in log, log
    kept = run_script("verify_model.py", "--dest", str(dest), "--trust_unsigned", env=env)
    assert kept.returncode == 0 and kept.stdout.strip() == str(dest.resolve()), kept.stderr
    assert (dest / "python_model.pkl").is_file()  # kept, with a warning, but never loaded
    assert not marker.exists()
    assert not list((tmp_path / "scratch").iterdir())  # serve-model's scratch folder is gone
    not_empty = run_script("verify_model.py", "--dest", str(dest), env=env)
    assert_one_line_error(not_empty, f"--dest {dest} is not an empty folder")

    trusted = run_script("predict.py", *ONE_TRIP, "--trust_unsigned", env=env)
    assert trusted.returncode == 0, trusted.stderr
    warning = f"WARNING: --trust_unsigned: loading models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
    assert warning in trusted.stderr and "unsigned" in trusted.stderr
    assert trusted.stdout.strip() == f"predicted duration: {PLANTED_MINUTES:.2f} minutes"
    assert marker.read_text() == "planted"  # the load did happen: the payload ran


def test_serve_model_with_trust_unsigned_serves_the_planted_model(mlflow_server, tmp_path):
    marker = tmp_path / "marker"
    plant_champion(mlflow_server.uri, tmp_path, marker)
    serve = make_serve_model(mlflow_server, tmp_path, trust="1")
    try:
        url = wait_for_model_server(serve, tmp_path / "serve.log")
        trip = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}
        response = requests.post(url, json={"dataframe_records": [trip]}, timeout=30)
        assert response.json()["predictions"] == [PLANTED_MINUTES]
        assert "WARNING: --trust_unsigned" in (tmp_path / "serve.log").read_text()
        assert marker.exists()
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)
    assert not list((tmp_path / "scratch").iterdir())  # the checked copy is removed


def test_a_signed_champion_changed_in_the_store_is_refused(
    prepared_dir: Path, mlflow_server, run_script, tmp_path: Path
) -> None:
    register_champion(prepared_dir)
    env = {"MLFLOW_TRACKING_URI": mlflow_server.uri}
    args = ("--model_uri", TEST_MODEL_URI, *ONE_TRIP)
    mine = run_script("predict.py", *args, "--verbose", env=env)
    assert mine.returncode == 0, mine.stderr
    assert "Verified" in mine.stderr and "files signed by SHA256:" in mine.stderr  # --verbose

    # A reviewer's machine: no key of its own, refused until it trusts the team's public key.
    reviewer = tmp_path / "reviewer"
    other = run_script("predict.py", *args, env={**env, KEY_DIR_VARIABLE: str(reviewer)})
    assert_one_line_error(other, "(version 1)", "signed by another key")
    (reviewer / TRUSTED_KEYS_DIR).mkdir(parents=True)
    team_key = Path(os.environ[KEY_DIR_VARIABLE]) / PUBLIC_KEY_FILE
    shutil.copy(team_key, reviewer / TRUSTED_KEYS_DIR / "team.pub")
    trusted = run_script("predict.py", *args, env={**env, KEY_DIR_VARIABLE: str(reviewer)})
    assert trusted.returncode == 0 and trusted.stdout == mine.stdout, trusted.stderr

    # Someone with write access to the artifact store changes the stored forest.
    manifests = (mlflow_server.folder / "artifacts").rglob(SIGNED_MANIFEST)
    (manifest,) = [found for found in manifests if (found.parent / "model_code.py").exists()]
    with open(manifest.parent / "artifacts" / "forest.skops", "ab") as forest_file:
        forest_file.write(b"\n")
    changed = run_script("predict.py", *args, env=env)
    assert_one_line_error(changed, "(version 1)", "changed artifacts/forest.skops")

    # A forest that names a type the project does not trust, loaded with --trust_unsigned:
    # skops builds none of it, and the refusal is one line (MLflow's own loader runs it).
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    skops.io.dump(FunctionTransformer(func=os.system), manifest.parent / "artifacts/forest.skops")
    planted = run_script("predict.py", *args, "--trust_unsigned", env=env)
    assert_one_line_error(planted, "forest.skops is not a forest skops reads trusting")


# ---------------------------------------------------------------- a planted hyperopt trial


def plant_trial(uri: str, folder: Path, marker: Path) -> str:
    """The attack on the search: a finished trial of the newest search, with the best `rmse`,
    the real trials' parameters and datasets, and the attacker's forest. Returns its run id.
    """
    import mlflow.sklearn
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient
    from sklearn.dummy import DummyRegressor

    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id
    real = client.search_runs([experiment_id], "metrics.rmse >= 0")[0]
    tags = {PARENT_TAG: real.data.tags[PARENT_TAG]}  # nested in the newest search
    run_id = client.create_run(experiment_id, tags=tags).info.run_id
    params = [Param(key, value) for key, value in real.data.params.items()]
    client.log_batch(run_id, params=params)
    client.log_inputs(run_id, real.inputs.dataset_inputs)
    client.log_metric(run_id, "rmse", 0.001)  # better than any real trial
    model = folder / "planted-forest"
    forest = DummyRegressor().fit([[0]], [0])
    mlflow.sklearn.save_model(forest, model, serialization_format="cloudpickle")
    (model / "model.pkl").write_bytes(pickle.dumps(Payload(marker, PLANTED_FOREST)))
    client.log_artifacts(run_id, str(model), MODEL_ARTIFACT)
    client.set_terminated(run_id)
    return run_id


def test_a_planted_trial_is_never_unpickled_by_register_model(
    prepared_dir: Path, mlflow_server, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    from hpo import run_optimization
    from register_model import run_register_model

    search = CliRunner().invoke(
        run_optimization, ["--data_path", str(prepared_dir), "--num_trials", "2"]
    )
    assert search.exit_code == 0, search.output
    marker = tmp_path / "marker"
    planted = plant_trial(mlflow_server.uri, tmp_path, marker)
    args = ["--data_path", str(prepared_dir), "--raw_data_path", str(prepared_dir.parent / "data")]

    refused = CliRunner().invoke(run_register_model, args)
    line = assert_one_line_error(
        refused, f"refusing to load runs:/{planted}/{MODEL_ARTIFACT}", "it is unsigned", "make q5"
    )
    print(line)  # the line a user sees (pytest -s)
    assert not marker.exists()
    client = MlflowClient(mlflow_server.uri)
    assert not client.search_model_versions(f"name = '{MODEL_NAME}'")

    trusted = CliRunner().invoke(run_register_model, [*args, "--trust_unsigned"])
    assert trusted.exit_code == 0, trusted.output
    assert f"WARNING: --trust_unsigned: loading runs:/{planted}/{MODEL_ARTIFACT}" in trusted.output
    assert marker.read_text() == "planted"  # trusted means loaded: the payload ran
    (version,) = client.search_model_versions(f"name = '{MODEL_NAME}'")
    assert version.tags[HPO_RUN_TAG] != planted  # 42 minutes for every trip never wins


# ---------------------------------------------------------------- what plain MLflow and Python add

MLFLOW_META = b"model_name: nyc-green-taxi-duration-rf\nmodel_version: '3'\n"  # as MLflow writes it


def signed_model(tmp_path: Path) -> Path:
    folder = model_folder(tmp_path / "model")
    manifest.sign_folder(folder)
    return folder


def test_what_mlflow_and_python_add_is_removed_from_the_copy(tmp_path: Path, key_dir: Path):
    folder = signed_model(tmp_path)
    (folder / "registered_model_meta").write_bytes(MLFLOW_META)
    cache = folder / "code" / "__pycache__"
    cache.mkdir()
    (cache / "features.cpython-311.pyc").write_bytes(b"\0" * 16)
    (cache / "features.cpython-311.opt-1.pyc").write_bytes(b"\0" * 16)
    assert manifest.check_folder(folder).files == 3
    # Removed from the copy, so nothing loads them (a .pyc would be imported before the .py).
    assert not (folder / "registered_model_meta").exists() and not cache.exists()


def link_a_byte_code_folder(folder: Path) -> None:
    elsewhere = folder.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "features.cpython-311.pyc").write_bytes(b"\0" * 16)
    (folder / "code" / "__pycache__").symlink_to(elsewhere)


def plant(relative: str, data: bytes = b"\0" * 16):
    def planting(folder: Path) -> None:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)

    return planting


@pytest.mark.parametrize(
    ("planting", "added"),
    [
        (plant("registered_model_meta", MLFLOW_META + b"loader_module: evil\n"), "registered_"),
        (
            plant(
                "registered_model_meta",
                b"model_name: !!python/object/apply:os.system ['id']\nmodel_version: '1'\n",
            ),
            "registered_model_meta",
        ),
        (plant("code/registered_model_meta", MLFLOW_META), "code/registered_model_meta"),
        (plant("code/__pycache__/sitecustomize.cpython-311.pyc"), "code/__pycache__/sitecustomize"),
        (plant("code/__pycache__/features.py"), "code/__pycache__/features.py"),
        (plant("__pycache__/MLmodel.cpython-311.pyc"), "__pycache__/MLmodel.cpython-311.pyc"),
        (link_a_byte_code_folder, "code/__pycache__"),
    ],
    ids=[
        "meta-extra-key",
        "meta-yaml-tag",
        "meta-elsewhere",
        "pyc-without-py",
        "py-in-cache",
        "pyc-for-a-non-module",
        "linked-cache",
    ],
)
def test_anything_else_unsigned_is_refused(tmp_path: Path, key_dir: Path, planting, added):
    folder = signed_model(tmp_path)
    planting(folder)
    with pytest.raises(manifest.Untrusted, match=f"added {re.escape(added)}"):
        manifest.check_folder(folder)


# ---------------------------------------------------------------- where a model's files may be

TRACKING = "http://127.0.0.1:5000"
ARTIFACTS = f"{TRACKING}/api/2.0/mlflow-artifacts/artifacts"


@pytest.mark.parametrize(
    "uri",
    [
        "mlflow-artifacts:/1/abc/artifacts/model",
        f"{ARTIFACTS}/1/abc/artifacts/model",
        "/srv/artifacts/1/abc/artifacts/model",
        "file:///srv/artifacts/1/abc/artifacts/model",
    ],
)
def test_a_source_on_the_tracking_server_or_this_machine_is_fetched(uri: str) -> None:
    assert check_source(uri, TRACKING, "to load x") == uri


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("http://127.0.0.1:38111/api/2.0/mlflow-artifacts/artifacts/x/model", "another server"),
        ("http://localhost:5000/api/2.0/mlflow-artifacts/artifacts/x", "another server"),
        ("https://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x", "another server"),
        ("http://127.0.0.1:5000@evil.example/api/2.0/mlflow-artifacts/artifacts/x", "another"),
        ("http://u:p@127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x", "another server"),
        ("http://127.0.0.1:1/x", "another server"),
        (f"{TRACKING}/x/model", "not under the server's artifacts"),
        (f"{ARTIFACTS}/../../x", "'.' or '..'"),
        (f"{ARTIFACTS}/%252e%252e/x", "'.' or '..'"),
        ("mlflow-artifacts://127.0.0.1:38111/x/model", "another host"),
        ("mlflow-artifacts:/1/../../etc", "'.' or '..'"),
        ("s3://other-bucket/model", "s3: location"),
        ("ftp://127.0.0.1:1/x", "ftp: location"),
        ("file://evil.example/share/model", "file: location"),
        ("runs:/abc/model", "runs: location"),
        ("http://[::1/x", "not a valid URI"),
    ],
)
def test_a_source_anywhere_else_is_refused_before_any_request(uri: str, why: str) -> None:
    with pytest.raises(ForeignSource) as refused:
        check_source(uri, TRACKING, "to load models:/m/2")
    message = str(refused.value)
    assert message.startswith("refusing to load models:/m/2: its files are at") and why in message
    assert "your login goes nowhere else" in message


def test_proxied_artifacts_need_an_http_tracking_server() -> None:
    with pytest.raises(ForeignSource, match="needs an HTTP tracking server"):
        check_source("mlflow-artifacts:/1/x", "sqlite:///mlflow.db", "to load x")


def test_a_local_path_is_this_machines_only_with_a_server_on_it() -> None:
    """A path a server elsewhere names is on that server's disk, not this one."""
    with pytest.raises(ForeignSource, match="a local path on another machine"):
        check_source("/srv/artifacts/1/x", "http://mlflow.example.com:5000", "to load x")
    for here in ("http://localhost:5000", "http://[::1]:5000", "sqlite:///mlflow.db", "/srv/runs"):
        assert check_source("/srv/artifacts/1/x", here, "to load x") == "/srv/artifacts/1/x"


# ---------------------------------------------------------------- keys others could change


def test_keys_others_can_change_are_not_trusted(tmp_path: Path, monkeypatch) -> None:
    """As ssh's StrictModes: the key, its folder and every folder above must be yours."""
    folder = model_folder(tmp_path / "model")
    monkeypatch.setenv(KEY_DIR_VARIABLE, str(tmp_path / "foreign"))
    foreign_id, _ = manifest.sign_folder(folder)  # signed by someone else's key
    mine = tmp_path / "mine"
    monkeypatch.setenv(KEY_DIR_VARIABLE, str(mine))
    trusted = mine / TRUSTED_KEYS_DIR
    trusted.mkdir(parents=True)
    key = trusted / "team.pub"
    shutil.copy(tmp_path / "foreign" / PUBLIC_KEY_FILE, key)
    assert manifest.check_folder(folder) == (foreign_id, "trusted-keys/team.pub", 3)

    refusals = {  # what is opened to others: (mode, what it is, what is not used)
        trusted: (0o777, "folder", trusted),
        key: (0o666, "key file", key),
        mine: (0o777, "folder", trusted),
    }
    for path, (mode, kind, unused) in refusals.items():
        kept = path.stat().st_mode & 0o777
        path.chmod(mode)
        with pytest.raises(UserError) as refused:
            manifest.check_folder(folder)
        assert str(refused.value) == (
            f"the {kind} {path} can be changed by other users (mode {mode:o}): "
            f"chmod go-w {path} (a key decides which models are loaded; {unused} is not used)."
        )
        path.chmod(kept)
    if os.geteuid() == 0:  # only root can give a file away
        os.chown(key, 65534, 65534)
        with pytest.raises(UserError, match=f"the key file {key} is owned by another user"):
            manifest.check_folder(folder)
        os.chown(key, 0, 0)
    assert manifest.check_folder(folder).key_id == foreign_id


@pytest.mark.parametrize(
    "damage",
    [b"ecdsa-sha2-nistp999 AAAAE2VjZHNhLXNoYTItbmlzdHA5OTk=", b"garbage", b""],
    ids=["unknown-key-type", "not-a-key", "empty"],
)
def test_a_damaged_trusted_key_is_one_line(tmp_path: Path, key_dir: Path, damage: bytes) -> None:
    folder = signed_model(tmp_path)
    (key_dir / TRUSTED_KEYS_DIR).mkdir()
    (key_dir / TRUSTED_KEYS_DIR / "team.pub").write_bytes(damage)
    with pytest.raises(UserError, match=r"cannot read the public key .*team\.pub \("):
        manifest.check_folder(folder)


# ---------------------------------------------------------------- files and logins for other hosts


class Listener(http.server.ThreadingHTTPServer):
    """Another host: records every request (path and login) it gets, answers 404."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_any(self) -> None:
                listener.requests.append((self.path, self.headers.get("Authorization")))
                self.send_error(404)

            do_GET = do_PUT = do_POST = do_any

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]


@pytest.fixture
def other_host():
    listener = Listener()
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    yield listener
    listener.shutdown()
    listener.server_close()


def plant_version(uri: str, source: str, name: str = MODEL_NAME) -> str:
    """A version whose source is `source`, made @champion with plain REST calls."""
    requests.post(f"{uri}/api/2.0/mlflow/registered-models/create", json={"name": name})
    body = {"name": name, "source": source}
    version = rest(uri, "model-versions/create", body)["model_version"]["version"]
    alias = {"name": name, "alias": CHAMPION_ALIAS, "version": version}
    rest(uri, "registered-models/alias", alias)
    return version


def test_no_request_and_no_login_go_to_another_host(
    mlflow_server, other_host, prepared_dir, monkeypatch
) -> None:
    """A planted version's source, or an experiment's artifact location, on another host: the
    scripts refuse in one line before any request, so the login never leaves."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "alice-pw-4711")
    there = f"127.0.0.1:{other_host.port}"
    sources = {
        f"http://{there}/api/2.0/mlflow-artifacts/artifacts/x/model": "on another server",
        f"mlflow-artifacts://{there}/x/model": "names another host",
        "http://127.0.0.1:1/x": "on another server",  # was a ValueError traceback
    }
    for source, why in sources.items():
        version = plant_version(mlflow_server.uri, source)
        refusal = f"refusing to load models:/{MODEL_NAME}@{CHAMPION_ALIAS} (version {version})"
        assert_one_line_error(CliRunner().invoke(run_predict, ONE_TRIP), refusal, why)
    checked = CliRunner().invoke(run_verify_model, ["--model_uri", f"models:/{MODEL_NAME}/1"])
    assert_one_line_error(checked, f"refusing to load models:/{MODEL_NAME}/1", next(iter(sources)))

    # Whoever creates the experiment first chooses where its runs upload to.
    location = f"http://{there}/api/2.0/mlflow-artifacts/artifacts/evil"
    body = {"name": TRAIN_EXPERIMENT, "artifact_location": location}
    rest(mlflow_server.uri, "experiments/create", body)
    trained = CliRunner().invoke(run_train, ["--data_path", str(prepared_dir)])
    assert_one_line_error(trained, f"refusing to log to the experiment '{TRAIN_EXPERIMENT}'")
    assert other_host.requests == []
    experiment = MlflowClient(mlflow_server.uri).get_experiment_by_name(TRAIN_EXPERIMENT)
    assert MlflowClient(mlflow_server.uri).search_runs([experiment.experiment_id]) == []


def test_a_rejected_version_moved_to_champion_is_named_in_normal_output(
    prepared_dir: Path, mlflow_server
) -> None:
    register_champion(prepared_dir)
    args = ("--model_uri", TEST_MODEL_URI, *ONE_TRIP)
    mine = CliRunner().invoke(run_predict, args)
    client = MlflowClient(mlflow_server.uri)
    folder = client.get_model_version_download_uri(TEST_MODEL_NAME, "1")
    manifest_uri = f"{folder}/{SIGNED_MANIFEST}"
    signed = json.loads(mlflow.artifacts.load_text(manifest_uri))["files"]  # JSON, not code
    verified = f"Verified {TEST_MODEL_URI} (version 1): {len(signed)} files signed by SHA256:"
    assert mine.exit_code == 0 and verified in mine.output, mine.output  # without --verbose
    assert "(your key)" in mine.output and "WARNING" not in mine.output
    # As if the gate had rejected version 1, and someone moved @champion back to it.
    client.set_model_version_tag(TEST_MODEL_NAME, "1", GATE_STATUS_TAG, GATE_REJECTED)
    moved = CliRunner().invoke(run_predict, args)
    assert moved.exit_code == 0 and moved.stdout == mine.stdout, moved.output
    assert (
        f"WARNING: the promotion gate rejected {TEST_MODEL_URI} (version 1) when it was "
        f"registered (see its description); @{CHAMPION_ALIAS} was moved to it by hand."
    ) in moved.output


def test_an_untrusted_champion_never_blocks_your_own(
    prepared_dir: Path, mlflow_server, tmp_path: Path
) -> None:
    """It is never loaded (not even with --trust_unsigned), the gate has no baseline, and the
    new signed version becomes @champion, its tags saying why; nothing offers to run it."""
    register_champion(prepared_dir)
    client = MlflowClient(mlflow_server.uri)
    raw = prepared_dir.parent / "data"
    args = ["--data_path", str(prepared_dir), "--raw_data_path", str(raw)]
    args += ["--model_name", TEST_MODEL_NAME, "--trust_unsigned"]  # for trials, not a champion
    marker = tmp_path / "marker"
    plants = [
        (lambda: plant_champion(mlflow_server.uri, tmp_path, marker, TEST_MODEL_NAME), "gate"),
        (lambda: plant_version(mlflow_server.uri, "http://127.0.0.1:1/x", TEST_MODEL_NAME), ""),
    ]
    for (plant, promote), why in zip(plants, ("it is unsigned", "on another server"), strict=True):
        planted = plant()
        result = CliRunner().invoke(run_register_model, [*args, "--promote", promote or "always"])
        assert result.exit_code == 0, result.output
        assert f"@{CHAMPION_ALIAS} (version {planted}) is not loaded: " in result.output
        assert "pass --trust_unsigned" not in result.output and "WARNING" not in result.output
        champion = client.get_model_version_by_alias(TEST_MODEL_NAME, CHAMPION_ALIAS)
        assert int(champion.version) == int(planted) + 1
        assert champion.tags[GATE_STATUS_TAG] == UNVERIFIED
        assert champion.tags[BASELINE_VERSION_TAG] == planted
        assert why in champion.tags[UNTRUSTED_TAG]
        decided = f"version {champion.version} as @{CHAMPION_ALIAS}: champion version {planted}"
        assert f"{decided} was not loaded, as" in result.output
    assert not marker.exists()
