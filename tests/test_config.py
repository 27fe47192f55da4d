"""The few names the Makefile must repeat agree with config.py and the servers' defaults."""

from __future__ import annotations

import subprocess

from conftest import ROOT

from homework.config import (
    AUTH_ADMIN,
    CHAMPION_ALIAS,
    DATA_PATH,
    DATASET,
    MODEL_NAME,
    MONTHS,
    RAW_DATA_PATH,
    S3_BUCKET,
    S3_PORT,
    SERVER_PID_FILE,
    TRACKING_URI,
)
from services import basic_auth
from services.mlflow_server import TrackingServer
from services.s3 import LocalS3


def make_variable(name: str) -> str:
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--eval", "print-%: ; @echo $($*)", f"print-{name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_makefile_names_agree_with_config() -> None:
    assert make_variable("MONTHS").split() == list(MONTHS.values())
    assert make_variable("DATASET") == DATASET
    assert make_variable("MODEL_NAME") == MODEL_NAME
    assert make_variable("MODEL_URI") == f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
    assert make_variable("DATA_DIR") == RAW_DATA_PATH
    assert make_variable("OUTPUT_DIR") == DATA_PATH
    assert make_variable("TRACKING_URI") == TRACKING_URI


def test_server_defaults_agree_with_config_and_the_makefile() -> None:
    """The servers' defaults (an empty environment) are config.py's and the Makefile's."""
    mlflow, s3 = TrackingServer({}), LocalS3({})
    assert mlflow.url == TRACKING_URI == f"http://{make_variable('HOST')}:{make_variable('PORT')}"
    assert mlflow.pid_file.name == SERVER_PID_FILE
    assert mlflow.command()[2:] == [
        *("--backend-store-uri", make_variable("BACKEND_STORE_URI")),
        *("--default-artifact-root", "./artifacts", "--host", "127.0.0.1", "--port", "5000"),
    ]
    assert basic_auth.ADMIN == AUTH_ADMIN
    assert s3.port == S3_PORT == int(make_variable("S3_PORT"))
    assert str(s3.data) == make_variable("S3_DIR")
    assert s3.bucket == S3_BUCKET
    # make clean removes the servers' logs and the S3 server's default data folder.
    clean = (ROOT / "Makefile").read_text().split("\nclean:")[1]
    for name in (mlflow.log.name, s3.log.name, str(s3.data)):
        assert f" {name}" in clean, name
    assert f"-f {s3.pid_file.name} ]" in clean
