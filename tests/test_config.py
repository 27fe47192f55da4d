"""The few names the Makefile and shell scripts must repeat agree with config.py."""

from __future__ import annotations

import re
import subprocess
from urllib.parse import urlsplit

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


def make_variable(name: str) -> str:
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--eval", "print-%: ; @echo $($*)", f"print-{name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def shell_default(script: str, name: str) -> str:
    """The value of `NAME=${NAME:-value}` in scripts/<script>."""
    text = (ROOT / "scripts" / script).read_text()
    (value,) = re.findall(rf"^{name}=\${{{name}:-([^}}]*)}}", text, re.MULTILINE)
    return value


def test_makefile_names_agree_with_config() -> None:
    assert make_variable("MONTHS").split() == list(MONTHS.values())
    assert make_variable("DATASET") == DATASET
    assert make_variable("MODEL_NAME") == MODEL_NAME
    assert make_variable("MODEL_URI") == f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
    assert make_variable("DATA_DIR") == RAW_DATA_PATH
    assert make_variable("OUTPUT_DIR") == DATA_PATH
    assert make_variable("TRACKING_URI") == TRACKING_URI


def test_server_script_defaults_agree_with_config() -> None:
    assert shell_default("server.sh", "PORT") == str(urlsplit(TRACKING_URI).port)
    assert shell_default("server.sh", "HOST") == urlsplit(TRACKING_URI).hostname
    assert shell_default("server.sh", "SERVER_PID_FILE") == SERVER_PID_FILE
    assert shell_default("server.sh", "AUTH_ADMIN") == AUTH_ADMIN


def test_s3_script_defaults_agree_with_config() -> None:
    assert shell_default("s3.sh", "S3_PORT") == str(S3_PORT)
    assert shell_default("s3.sh", "S3_BUCKET") == S3_BUCKET
    assert make_variable("S3_PORT") == str(S3_PORT)
