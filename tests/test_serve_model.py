"""serve_model.py (`make serve-model`): the champion over HTTP, following @champion.

One registered champion and one following server are shared by the module's server tests,
which run in order as a user's day goes: requests as `mlflow models serve` takes them, a new
champion registered under load, a rollback, the gate after it, a planted champion, the
tracking server dying, Ctrl-C. A request loop runs through each move and must see no failed
request. The unit tests at the end need no server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import requests
from conftest import (
    MONTHS,
    ROOT,
    TEST_MODEL_NAME,
    TEST_MODEL_URI,
    assert_one_line_error,
    empty,
    plant_champion,
    random_month,
    register_champion,
    serving,
    start_model_server,
    wait_for_model_server,
)
from mlflow.tracking import MlflowClient

from homework.config import (
    CHAMPION_ALIAS,
    GATE_STATUS_TAG,
    ROLLBACK_BY_TAG,
    ROLLBACK_FROM_TAG,
    ROLLBACK_HOLD_TAG,
    ROLLBACK_REASON_TAG,
    ROLLBACK_TO_TAG,
)
from homework.errors import UserError
from homework.publish.gate import HELD
from homework.serving.app import VERSION_HEADER, one_line
from homework.serving.server import bind
from homework.serving.webhook import (
    DELIVERY_HEADER,
    MAX_AGE_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Receiver,
    signature,
)
from homework.tracking.connection import MLFLOW_3
from homework.trust.loading import load_pyfunc
from services import lifecycle
from services.service import port_in_use

TRIP = {"PULocationID": 3, "DOLocationID": 5, "trip_distance": 2.5}
MOVE_S = 10  # a move of @champion reaches the replies within this (the bound)
# MLflow 3: the webhook must do it, polling alone would take a minute.
FOLLOW_S = "60" if MLFLOW_3 else "2"
# What MLflow 3 changes is how the server learns of a move (the webhook): the rest is the
# same code, checked once, on MLflow 2.22, to keep CI's MLflow 3 part short.
ON_MLFLOW_2_ONLY = pytest.mark.skipif(MLFLOW_3, reason="the same code runs on MLflow 2.22")


@dataclass
class Champion:
    """The module's registered model, its data, its tracking server, its following server."""

    uri: str  # the tracking server
    folder: Path  # raw months in data/, pickles in output/
    server: object  # conftest's Server
    url: str = ""  # the following server, once it runs
    log: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.uri}

    def model(self) -> dict:
        return requests.get(f"{self.url}/model", timeout=10).json()

    def registry(self) -> MlflowClient:
        return MlflowClient(self.uri)


@pytest.fixture(scope="module")
def champion(shared_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Champion]:
    """Version 1 of the test model, @champion, on the session's (emptied) tracking server."""
    import mlflow

    from homework.data.pickles import write_outputs
    from preprocess_data import preprocess

    empty(shared_server)
    folder = tmp_path_factory.mktemp("serve")
    (folder / "data").mkdir()
    for seed, month in enumerate(MONTHS):
        random_month(folder / "data" / f"green_tripdata_{month}.parquet", 400, seed)
    months = dict(zip(("train", "val", "test"), MONTHS, strict=True))
    write_outputs(preprocess(folder / "data", "green", months), folder / "output")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", shared_server.uri)
        mlflow.set_tracking_uri(shared_server.uri)
        register_champion(folder / "output")
        yield Champion(shared_server.uri, folder, shared_server)


@pytest.fixture(scope="module")
def live(champion: Champion) -> Iterator[Champion]:
    """`make serve-model` following the champion, as a user starts it (MLflow refusing pickles)."""
    champion.log = champion.folder / "serve.log"
    args = ["make", "-s", "-C", str(ROOT), "-o", "install", "serve-model", f"VENV={sys.prefix}"]
    args += [f"TRACKING_URI={champion.uri}", f"MODEL_URI={TEST_MODEL_URI}", f"FOLLOW_S={FOLLOW_S}"]
    env = {**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
    champion.process = start_model_server(args, champion.log, env)
    try:
        url = wait_for_model_server(champion.process, champion.log)
        champion.url = url.removesuffix("/invocations")
        wait_until(lambda: not champion.model()["webhook"]["state"].startswith("pending"))
        yield champion
    finally:
        if champion.process.poll() is None:
            os.killpg(champion.process.pid, signal.SIGTERM)
        champion.process.wait(timeout=60)


@dataclass
class Loop:
    """Single-trip requests in a loop, in a thread: every reply's status and version."""

    url: str
    replies: list[tuple[float, int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with requests.Session() as session:
            while not self.stopping.is_set():
                try:
                    reply = session.post(
                        f"{self.url}/invocations", json={"dataframe_records": [TRIP]}, timeout=30
                    )
                    self.replies.append(
                        (time.monotonic(), reply.status_code, reply.headers.get(VERSION_HEADER))
                    )
                except requests.RequestException as exc:
                    self.errors.append(str(exc))

    @property
    def failed(self) -> list:
        return self.errors + [reply for reply in self.replies if reply[1] != 200]

    def versions(self) -> list[str]:
        """The versions that answered, in the order they first did."""
        return list(dict.fromkeys(version for _, _, version in self.replies))


@contextlib.contextmanager
def request_loop(url: str) -> Iterator[Loop]:
    loop = Loop(url)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.stopping.set()
        thread.join(60)
    assert loop.replies, "the loop got no reply"
    assert loop.failed == [], loop.failed[:5]


def wait_for_version(live: Champion, loop: Loop, version: str, since: float) -> float:
    """Seconds from `since` until a reply of the loop came from `version` (and /model says it)."""
    deadline = since + MOVE_S
    while time.monotonic() < deadline:
        answered = [at for at, _, seen in loop.replies if seen == version and at >= since]
        if answered and live.model()["version"] == version:
            return answered[0] - since
        time.sleep(0.1)
    raise AssertionError(f"version {version} did not answer within {MOVE_S} s: {live.model()}")


def log_lines(live: Champion, fragment: str) -> list[str]:
    assert live.log is not None
    return [line for line in live.log.read_text().splitlines() if fragment in line]


# ---------------------------------------------------------------- the day of a following server

REQUESTS = [  # (body, content type): MLflow's four JSON formats, CSV, and bad input
    ({"dataframe_records": [TRIP, {**TRIP, "trip_distance": 0.8}]}, "application/json"),
    ({"dataframe_split": {"columns": list(TRIP), "data": [list(TRIP.values())]}}, None),
    ({"instances": [TRIP]}, None),
    ({"inputs": {name: [value] for name, value in TRIP.items()}}, None),
    ("PULocationID,DOLocationID,trip_distance\n3,5,2.5\n", "text/csv"),
    ("not json", "application/json"),
    ([1, 2], None),
    ({"dataframe_split": 5}, None),
    ({"dataframe_records": [{"PULocationID": 3}]}, None),
    ({"dataframe_records": [{**TRIP, "PULocationID": "a"}]}, None),
    ({"dataframe_records": []}, None),
    ({"foo": 1}, None),
    ('a,b\n"x', "text/csv"),
    ("{}", "text/plain"),
]
REASONS = [  # trips the model refuses, and what the reply says
    ({**TRIP, "trip_distance": -3}, "negative or infinite"),
    ({**TRIP, "trip_distance": None}, "a missing trip_dist"),
    ({**TRIP, "PULocationID": None}, "PULocationID"),  # MLflow refuses it for the signature
]


def post(url: str, body: object, content_type: str | None) -> requests.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"Content-Type": content_type or "application/json"}
    return requests.post(f"{url}/invocations", data=data, headers=headers, timeout=30)


def test_answers_what_mlflow_models_serve_answers(live: Champion, tmp_path: Path) -> None:
    """The same requests to plain `mlflow models serve` of the same champion and to ours: the
    same predictions, statuses and error codes; ours one line, no stack trace, a version."""
    with serving(TEST_MODEL_URI, live.uri, tmp_path / "plain.log") as plain_url:
        plain = plain_url.removesuffix("/invocations")
        for body, content_type in REQUESTS:
            theirs, ours = post(plain, body, content_type), post(live.url, body, content_type)
            assert ours.status_code == theirs.status_code, (body, ours.text, theirs.text)
            assert ours.headers[VERSION_HEADER] == "1"
            if ours.status_code == 200:
                assert ours.json() == theirs.json()
            elif ours.headers["content-type"] == "application/json":
                mine = ours.json()
                assert mine["error_code"] == theirs.json()["error_code"]
                assert set(mine) == {"error_code", "message"} and "\n" not in mine["message"]
        for trip, reason in REASONS:
            for url in (plain, live.url):
                refused = post(url, {"dataframe_records": [trip, TRIP]}, None)
                assert refused.status_code == 400 and reason in refused.json()["message"]
        for path in ("/version", "/ping", "/health"):
            theirs, ours = requests.get(plain + path, timeout=10), requests.get(live.url + path)
            assert (ours.status_code, ours.text) == (theirs.status_code, theirs.text)
    expected = load_pyfunc(TEST_MODEL_URI).predict(pd.DataFrame([TRIP]))
    assert post(live.url, *REQUESTS[1]).json()["predictions"] == pytest.approx(expected.tolist())
    # MLflow answers a request without a content type with a 500; we with its 415.
    bare = requests.post(f"{live.url}/invocations", data=b"x", headers={"Content-Type": ""})
    assert bare.status_code == 415


def test_a_huge_request_is_refused_before_it_is_read(live: Champion) -> None:
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {2**40}\r\n\r\n".encode()
            + b'{"dataframe_records": ['
        )
        answer = b""
        while b"rows at once" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"The request is larger than 256 MB: send fewer rows at once." in answer


def register(live: Champion, run_script, *options: str) -> subprocess.CompletedProcess:
    """register_model.py on the module's data, as a user runs it; it must succeed."""
    data = (
        "--data_path",
        str(live.folder / "output"),
        "--raw_data_path",
        str(live.folder / "data"),
    )
    done = run_script(
        "register_model.py", *data, "--model_name", TEST_MODEL_NAME, *options, env=live.env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_follows_a_new_champion_with_no_failed_request(live: Champion, run_script) -> None:
    """register_model.py --promote always registers version 2 while requests go on: within
    MOVE_S seconds every reply comes from it, and no request failed or mixed versions."""
    with request_loop(live.url) as loop:
        register(live, run_script, "--promote", "always")
        moved = time.monotonic()
        wait_for_version(live, loop, "2", moved)
    assert loop.versions() == ["1", "2"]
    state = live.model()
    assert (state["version"], state["alias_version"], state["refusals"]) == ("2", "2", 0)
    assert state["signer"].startswith("SHA256:") and state["signer"].endswith("(your key)")


@ON_MLFLOW_2_ONLY
def test_rollback_puts_the_previous_champion_back(live: Champion, run_script) -> None:
    """`make rollback`: version 1 (what version 2 replaced, by the gate's tags) answers again;
    both versions say who moved the alias, when and why; the gate then keeps it there."""
    with request_loop(live.url) as loop:
        make = ["make", "-s", "-C", str(ROOT), "-o", "install", "rollback", f"VENV={sys.prefix}"]
        make += [f"TRACKING_URI={live.uri}", f"MODEL_NAME={TEST_MODEL_NAME}", "REASON=too slow"]
        done = subprocess.run(make, capture_output=True, text=True, timeout=300)
        moved = time.monotonic()
        assert done.returncode == 0, done.stderr
        assert done.stdout == "@champion: version 1\n"
        wait_for_version(live, loop, "1", moved)
    client = live.registry()
    restored, withdrawn = (client.get_model_version(TEST_MODEL_NAME, v) for v in ("1", "2"))
    for version in (restored, withdrawn):
        assert version.tags[ROLLBACK_REASON_TAG] == "too slow" and version.tags[ROLLBACK_BY_TAG]
    assert (restored.tags[ROLLBACK_FROM_TAG], withdrawn.tags[ROLLBACK_TO_TAG]) == ("2", "1")
    assert client.get_registered_model(TEST_MODEL_NAME).tags[ROLLBACK_HOLD_TAG] == "1"
    again = run_script(
        "rollback.py", "--model_name", TEST_MODEL_NAME, "--reason", "x", env=live.env
    )
    assert_one_line_error(again, "(version 1) records no champion before it", "VERSION=N")


@ON_MLFLOW_2_ONLY
def test_the_gate_leaves_a_rollback_alone_until_promote_always(live: Champion, run_script) -> None:
    """After the rollback, register_model.py's gate gives the new version @challenger (held)
    and the server keeps version 1; --promote always moves @champion on and ends the hold."""
    held = register(live, run_script)
    (line,) = [line for line in held.stderr.splitlines() if line.startswith("Registered")]
    assert "version 3 as @challenger: @champion is held at version 1 (rolled back by " in line
    assert "'too slow')" in line and line.endswith("; --promote always replaces it."), line
    client = live.registry()
    assert client.get_model_version(TEST_MODEL_NAME, "3").tags[GATE_STATUS_TAG] == HELD
    time.sleep(float(FOLLOW_S) + 1 if not MLFLOW_3 else 2)
    assert (live.model()["version"], live.model()["alias_version"]) == ("1", "1")

    with request_loop(live.url) as loop:
        forced = register(live, run_script, "--promote", "always")
        moved = time.monotonic()
        assert "this ends the hold" in forced.stderr
        wait_for_version(live, loop, "4", moved)
    assert ROLLBACK_HOLD_TAG not in client.get_registered_model(TEST_MODEL_NAME).tags


def test_a_planted_champion_is_refused_and_nothing_of_it_runs(
    live: Champion, tmp_path: Path
) -> None:
    """An unsigned version set as @champion through REST: /model keeps its version and shows
    the refusal (counted once, said in one line); the planted pickle never runs."""
    marker = tmp_path / "marker"
    served = live.model()["version"]  # 4 after the tests above (2 on MLflow 3)
    with request_loop(live.url) as loop:
        planted = plant_champion(live.uri, tmp_path, marker, TEST_MODEL_NAME)
        deadline = time.monotonic() + MOVE_S
        while not live.model()["last_refusal"] and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(float(FOLLOW_S) if not MLFLOW_3 else 1)  # a look or two more: refused once
    state = live.model()
    assert (state["version"], state["alias_version"], state["refusals"]) == (served, planted, 1)
    assert state["last_refusal"]["version"] == planted
    assert "it is unsigned" in state["last_refusal"]["reason"]
    assert loop.versions() == [served]
    assert not marker.exists()
    (line,) = log_lines(live, f"REFUSED version {planted}")
    assert "it is unsigned" in line and line.endswith(f"Still serving version {served}.")
    live.registry().set_registered_model_alias(TEST_MODEL_NAME, CHAMPION_ALIAS, served)


@ON_MLFLOW_2_ONLY
def test_a_forest_naming_os_system_is_one_line_even_trusted(
    live: Champion, tmp_path: Path, run_script
) -> None:
    """--trust_unsigned lets an unsigned champion in, but skops refuses a forest that names
    `os.system`: one line from serve_model.py (`make serve-model TRUST_UNSIGNED=1`), nothing
    of it run (predict.py's line: tests/test_trust.py)."""
    import os as os_module

    import skops.io

    from homework.config import SIGNED_MANIFEST
    from homework.trust.loading import download_verified

    def evil_copy(folder: Path) -> None:
        copy = download_verified(f"models:/{TEST_MODEL_NAME}/1", str(tmp_path / "copy"))
        shutil.copytree(copy, folder)
        (folder / SIGNED_MANIFEST).unlink()
        skops.io.dump({"run": os_module.system}, folder / "artifacts" / "forest.skops")

    served = live.model()["version"]
    planted = plant_champion(live.uri, tmp_path, tmp_path / "marker", TEST_MODEL_NAME, evil_copy)
    uri = f"models:/{TEST_MODEL_NAME}/{planted}"
    done = run_script("serve_model.py", "--model_uri", uri, "--trust_unsigned", env=live.env)
    assert_one_line_error(done, f"cannot load models:/{TEST_MODEL_NAME}/{planted}", "posix.system")
    assert "WARNING: --trust_unsigned" in done.stderr and "Serving" not in done.stderr
    live.registry().set_registered_model_alias(TEST_MODEL_NAME, CHAMPION_ALIAS, served)


@ON_MLFLOW_2_ONLY
def test_a_dying_tracking_server_stops_nothing(live: Champion) -> None:
    """The tracking server killed while following: every request is answered, the problem is
    said once (no retry chatter); once it is back, following goes on, and it says so."""

    def problem() -> str | None:
        return live.model()["following"]["registry_problem"]

    served = live.model()["version"]
    with request_loop(live.url) as loop:
        live.server.kill()
        if not MLFLOW_3:  # (MLflow 3's test polls once a minute: the webhook does the work)
            wait_until(lambda: problem() is not None)
            time.sleep(2 * float(FOLLOW_S))  # more looks fail: said once
        wait_until(lambda: not port_in_use("127.0.0.1", live.server.port))  # its workers gone
        lifecycle.start(live.server.service)
        wait_until(lambda: problem() is None)
    assert loop.versions() == [served]
    if MLFLOW_3:
        return
    said = [line[9:] for line in log_lines(live, "registry") if line[:9].strip().count(":") == 2]
    assert said[0].startswith("cannot ask the registry for @champion (")
    assert said[1].startswith("the registry answers again (after: cannot ask")
    assert len(said) == 2 and not log_lines(live, "Retrying")


def wait_until(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.2)


def test_webhook_calls_must_be_signed_by_the_tracking_server(live: Champion) -> None:
    """MLflow 3: the webhook the server made; a forged call (no, or a wrong, signature) is
    refused, counted, and changes nothing."""
    if not MLFLOW_3:
        assert live.model()["webhook"] == {"state": "off"}
        assert requests.post(f"{live.url}/webhook", data=b"{}", timeout=10).status_code == 404
        return
    before = live.model()
    assert before["webhook"]["state"].startswith("on (serve-model-")
    call = {"entity": "model_version_alias", "action": "created"}
    call["data"] = {"name": TEST_MODEL_NAME, "alias": CHAMPION_ALIAS, "version": "1"}
    body = json.dumps(call).encode()
    stamp = str(int(time.time()))
    forged = {DELIVERY_HEADER: "d-1", TIMESTAMP_HEADER: stamp}
    forged[SIGNATURE_HEADER] = signature("not-the-secret", "d-1", stamp, body)
    for headers in ({}, forged):
        refused = requests.post(f"{live.url}/webhook", data=body, headers=headers, timeout=10)
        assert refused.status_code == 401, refused.text
    after = live.model()
    assert after["webhook"]["rejected"] == before["webhook"]["rejected"] + 2
    assert (after["version"], after["refusals"]) == (before["version"], before["refusals"])


def test_ctrl_c_stops_it_and_removes_its_webhook(live: Champion) -> None:
    """Ctrl-C in the terminal of `make serve-model` (SIGINT to make and the server)."""
    assert live.process is not None
    served = live.model()["version"]
    os.killpg(live.process.pid, signal.SIGINT)
    live.process.wait(timeout=60)  # make's own exit code says it was interrupted
    assert log_lines(live, f"Stopped (SIGINT); version {served} answered last.")
    if MLFLOW_3:
        assert list(live.registry().list_webhooks()) == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{live.url}/ping", timeout=5)


# ---------------------------------------------------------------- no server needed


def test_a_taken_port_is_one_line(run_script) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = run_script("serve_model.py", "--port", str(port))
    assert_one_line_error(done, f"cannot listen on 127.0.0.1:{port}", "MODEL_PORT")
    with pytest.raises(UserError, match="Address already in use"), socket.socket() as again:
        again.bind(("127.0.0.1", 0))
        again.listen()
        bind("127.0.0.1", again.getsockname()[1])


def test_only_registered_models_are_served(run_script) -> None:
    done = run_script("serve_model.py", "--model_uri", "runs:/abc/model")
    assert done.returncode == 2 and "models:/<name>@<alias> (followed)" in done.stderr


def signed_call(secret: str, body: bytes, delivery: str, at: float) -> dict[str, str]:
    stamp = str(int(at))
    return {
        DELIVERY_HEADER: delivery,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, delivery, stamp, body),
    }


def test_a_webhook_call_counts_only_signed_fresh_and_once() -> None:
    """MLflow's scheme (HMAC-SHA256 of id.timestamp.body, base64, `v1,`): a call with the
    secret wakes the follower once; a wrong secret, an old or replayed call never does."""
    woken = []
    receiver = Receiver("s3cret", "taxi", "champion", lambda: woken.append(1))
    move = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": "taxi", "alias": "champion", "version": "7"},
        }
    ).encode()
    now = time.time()
    good = signed_call("s3cret", move, "id-1", now)
    digest = base64.b64decode(good[SIGNATURE_HEADER].removeprefix("v1,"))
    assert len(digest) == 32  # SHA-256
    assert receiver.receive(good, move) == (200, "ok") and woken == [1]
    assert receiver.receive(good, move)[0] == 401 and "replay" in receiver.last_rejection
    old = signed_call("s3cret", move, "id-2", now - MAX_AGE_S - 60)
    assert receiver.receive(old, move)[0] == 401 and "timestamp" in receiver.last_rejection
    assert receiver.receive(signed_call("other", move, "id-3", now), move)[0] == 401
    assert receiver.receive({}, move)[0] == 401
    changed = move.replace(b'"7"', b'"8"')
    assert receiver.receive({**signed_call("s3cret", move, "id-4", now)}, changed)[0] == 401
    other_model = move.replace(b'"taxi"', b'"other"')
    assert receiver.receive(signed_call("s3cret", other_model, "id-5", now), other_model)[0] == 200
    assert woken == [1] and (receiver.accepted, receiver.rejected) == (2, 5)


def test_error_messages_are_one_line_without_the_data() -> None:
    predicted = (
        "Failed to predict data '   PULocationID  DOLocationID  trip_distance\n0  3  5  -2.5'. \n"
        "Error: 1 of 1 trips cannot be predicted: 1 with a negative distance."
    )
    assert one_line(predicted) == (
        "Failed to predict: 1 of 1 trips cannot be predicted: 1 with a negative distance."
    )
    echoed = "Invalid input. Not JSON. Error: 'x'\nInput: \nb'" + "secret " * 1000 + "'\n"
    assert one_line(echoed) == "Invalid input. Not JSON. Error: 'x'"
    assert len(one_line("word " * 1000)) == 1000


def test_replies_on_a_kept_alive_connection_do_not_wait_for_delayed_acks() -> None:
    """The socket bind() makes is one asyncio sets TCP_NODELAY on (uvicorn's own are): with
    Nagle's algorithm on, every reply after the first on a connection waited 40 ms."""
    import asyncio

    async def accepted_nodelay() -> int:
        accepted = asyncio.get_running_loop().create_future()

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        sock = bind("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Protocol, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        nodelay = await asyncio.wait_for(accepted, 10)
        writer.close()
        server.close()
        return nodelay

    assert asyncio.run(accepted_nodelay()) == 1
