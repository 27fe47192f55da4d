"""--tracking_uri beyond the server: a local store must be in a folder that already exists."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import assert_one_line_error

from homework.errors import UserError
from homework.tracking.connection import connect
from homework.tracking.uri import local_store_folder
from train import run_train


@pytest.mark.parametrize(
    "uri_of",
    [
        lambda folder: f"file://{folder}",
        lambda folder: str(folder),
        lambda folder: f"sqlite:///{folder}/mlflow.db",
    ],
    ids=["file-uri", "plain-path", "sqlite"],
)
def test_a_local_store_in_a_missing_folder_is_refused(tmp_path: Path, uri_of) -> None:
    folder = tmp_path / "x" / "y"
    uri = uri_of(folder)
    with pytest.raises(UserError, match=f"--tracking_uri {uri}: the folder {folder}/ does not"):
        connect(uri)
    assert not (tmp_path / "x").exists()  # MLflow would have made it without a word


def test_train_with_a_missing_local_store_is_one_line_and_makes_no_folder(
    prepared_dir: Path, tmp_path: Path
) -> None:
    uri = f"file://{tmp_path}/x/y"
    result = CliRunner().invoke(
        run_train, ["--data_path", str(prepared_dir), "--tracking_uri", uri]
    )
    assert_one_line_error(result, uri, "make server")
    assert not (tmp_path / "x").exists()


def test_an_empty_tracking_uri_is_refused() -> None:
    with pytest.raises(UserError, match="--tracking_uri is empty"):
        connect("")


def test_a_local_store_in_an_existing_folder_is_used(tmp_path: Path) -> None:
    import mlflow

    before = mlflow.get_tracking_uri()
    try:
        connect(f"file://{tmp_path}")
        assert mlflow.get_tracking_uri() == f"file://{tmp_path}"
        connect(f"sqlite:///{tmp_path}/mlflow.db")
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path}/mlflow.db"
    finally:
        mlflow.set_tracking_uri(before)


def test_only_local_stores_have_a_folder() -> None:
    assert local_store_folder("file:///srv/runs") == Path("/srv/runs")
    assert local_store_folder("sqlite:///mlflow.db") == Path(".")
    assert local_store_folder("sqlite:////srv/m.db") == Path("/srv")
    for remote in ("http://h:5000", "https://h", "postgresql://u:p@h/db", "databricks"):
        assert local_store_folder(remote) is None


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://127.0.0.1:99999", "Port out of range"),
        ("http://127.0.0.1:abc", "Port could not be cast"),
        ("http://:5000", "no host"),
    ],
)
def test_a_malformed_server_url_is_one_line(prepared_dir: Path, uri: str, why: str) -> None:
    result = CliRunner().invoke(
        run_train, ["--data_path", str(prepared_dir), "--tracking_uri", uri]
    )
    assert_one_line_error(result, f"--tracking_uri {uri} is not a valid URL ({why}")


def test_an_unreachable_database_fails_within_seconds(prepared_dir: Path) -> None:
    """MLflow alone tries for 100 s (forever, on a server that never answers), then prints a
    long traceback: one line in seconds instead, the password masked."""
    with socket.socket() as refusing, socket.socket() as silent:
        refusing.bind(("127.0.0.1", 0))  # bound, not listening: the connection is refused
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts, never answers
        for sock, why in ((refusing, "Connection refused"), (silent, "timeout expired")):
            uri = f"postgresql://mlflow:db-secret-17@127.0.0.1:{sock.getsockname()[1]}/mlflow"
            started = time.monotonic()
            result = CliRunner().invoke(
                run_train, ["--data_path", str(prepared_dir), "--tracking_uri", uri]
            )
            assert time.monotonic() - started < 15
            line = assert_one_line_error(result, "cannot reach the database of --tracking_uri", why)
            assert "db-secret-17" not in result.output and "mlflow:***@" in line
