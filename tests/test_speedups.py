"""speedups.py: the Databricks SDK is deferred yet works; the heap is frozen last at exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from speedups import defer_package

import pytest

from common import MLFLOW_3

ROOT = Path(__file__).resolve().parent.parent


def python(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with the repo on the path."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_mlflow_imports_without_running_the_sdk_init_and_the_sdk_still_works() -> None:
    result = python(
        """
        import sys
        import speedups, mlflow, mlflow.sklearn
        services = [m for m in sys.modules if m.startswith("databricks.sdk.service")]
        print("service modules before:", bool(services))
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.errors.platform import NotFound
        print("service modules after:", "databricks.sdk.service.jobs" in sys.modules)
        print(WorkspaceClient.__name__, issubclass(NotFound, Exception))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "service modules before: False",
        "service modules after: True",
        "WorkspaceClient True",
    ]


@pytest.mark.skipif(MLFLOW_3, reason="MLflow 3.x no longer imports the Databricks SDK at all")
def test_without_speedups_mlflow_runs_the_sdk_init() -> None:
    """The control: what speedups saves is really there (MLflow imports the SDK's services)."""
    result = python(
        """
        import sys, mlflow
        print(any(m.startswith("databricks.sdk.service") for m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize("name", ["no_such_package_here", "sys", "json"])
def test_defer_package_leaves_missing_imported_and_plain_modules_alone(name: str) -> None:
    before = sys.modules.get(name)
    assert defer_package(name) is False
    assert sys.modules.get(name) is before


def test_collections_are_rarer() -> None:
    result = python("import gc, speedups; print(*gc.get_threshold())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["50000", "10", "10"]


def test_the_heap_is_frozen_after_every_later_exit_handler() -> None:
    result = python(
        """
        import atexit, gc
        def report(which):
            print(which, "handler sees frozen heap:", gc.get_freeze_count() > 0)
        atexit.register(report, "earlier")
        import speedups
        atexit.register(report, "later")
        print("running")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "running",
        "later handler sees frozen heap: False",
        "earlier handler sees frozen heap: True",
    ]
