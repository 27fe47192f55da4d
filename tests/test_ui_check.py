"""ui_check.py: a real headless Chromium walks a real server's MLflow UI.

The real-data run (the course's answers in the UI) is in tests/test_end_to_end.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_one_line_error, free_port
from PIL import Image

from homework.errors import UserError
from ui.browser import VIEWPORT, ui_address
from ui.profiles import PROFILES, profile_for

SMALL_SEARCH = ("--num_trials", "3", "--top_n", "2")


def assert_png(path: Path) -> None:
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert picture.size == (VIEWPORT["width"], VIEWPORT["height"])


def test_the_browser_logs_in_with_mlflow_s_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    assert ui_address("http://127.0.0.1:5000/") == ("http://127.0.0.1:5000", None)
    # A password in the URI goes to the browser's login, never into the URL it opens.
    assert ui_address("https://ana:s3cret@mlflow.example:8443") == (
        "https://mlflow.example:8443",
        {"username": "ana", "password": "s3cret", "origin": "https://mlflow.example:8443"},
    )
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2")
    assert ui_address("http://127.0.0.1:5000") == (
        "http://127.0.0.1:5000",
        {"username": "bob", "password": "hunter2", "origin": "http://127.0.0.1:5000"},
    )


def test_the_walk_knows_the_uis_of_mlflow_2_and_3() -> None:
    base = "http://127.0.0.1:5000"
    assert profile_for("2.22.0", base) is PROFILES[2]
    assert profile_for("3.17.2", base).registry_link == "Model registry"
    for other in ("4.0.0", "1.30.1", "dev"):
        with pytest.raises(UserError, match=f"runs MLflow {other}: the UI check knows the UIs"):
            profile_for(other, base)
    # The browser storage that keeps 3.x's dialogs away, as JavaScript string literals.
    assert 'localStorage.setItem("mlflow.workflowType_v1", "\\"machine_learning\\"");' in (
        PROFILES[3].init_script
    )


def test_no_chromium_is_one_line(run_script, tmp_path: Path, playwright: None) -> None:
    missing = tmp_path / "no-such-chrome"
    result = run_script("ui_check.py", env={"CHROMIUM": str(missing)})
    assert_one_line_error(result, f"CHROMIUM={missing}", "make install-browser")


def test_a_file_store_is_one_line(run_script, tmp_path: Path, chromium: str) -> None:
    result = run_script("ui_check.py", "--tracking_uri", f"file://{tmp_path}/mlruns")
    assert_one_line_error(result, "not an http(s) server", "make server")


def test_a_server_that_is_down_is_one_line(run_script, chromium: str) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    result = run_script("ui_check.py", "--tracking_uri", uri)
    assert_one_line_error(result, f"cannot reach the MLflow tracking server at {uri}")


def test_what_the_ui_does_not_show_is_one_line_and_a_screenshot(
    raw_dir: Path, tmp_path: Path, mlflow_server, run_script, chromium: str
) -> None:
    """No homework yet, then a (small) homework whose plot is lost from the artifact store.

    The walk through the UI of a whole homework, and the docs' pictures, are checked on the
    real run (tests/test_end_to_end.py).
    """
    shot = tmp_path / "failed.png"
    result = run_script("ui_check.py", "--failure_screenshot", str(shot))
    assert_one_line_error(
        result,
        f"the MLflow UI at {mlflow_server.uri} does not show the experiment "
        "'random-forest-train' in its experiment list: run `make all` first",
        f"(screenshot: {shot})",
    )
    assert_png(shot)

    args = ("--raw_data_path", str(raw_dir), "--dest_path", str(tmp_path / "output"))
    homework = run_script("pipeline.py", *args, *SMALL_SEARCH)
    assert homework.returncode == 0, homework.stderr

    # The plot is lost from the artifact store: the UI cannot show it any more.
    (lost,) = mlflow_server.folder.glob("artifacts/**/residuals.png")
    lost.unlink()
    result = run_script("ui_check.py")
    assert_one_line_error(
        result,
        "does not show the plot residuals.png among the artifacts of the run",
        "(screenshot: ui-check-failure.png)",
    )
    assert_png(tmp_path / "ui-check-failure.png")
