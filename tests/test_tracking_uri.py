"""--tracking_uri beyond the server: a local store must be in a folder that already exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import assert_one_line_error

from homework.errors import UserError
from homework.tracking import connect, local_store_folder
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
