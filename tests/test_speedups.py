"""speedups.py: rarer collections, and the heap frozen after every other exit handler."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
