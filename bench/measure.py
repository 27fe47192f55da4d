"""Measuring whole processes: wall time, peak memory and output; bytes on disk; medians.

Every number of the benchmark is a whole process's, run with this environment's Python
from the project folder: its wall time from start to exit, and its peak resident memory
as the kernel reports it when the process is reaped (os.wait4).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from services import ROOT

PYTHON = sys.executable
MB = 2**20


def measure(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python ARGS` in the project folder; its wall seconds, peak MB, stdout and stderr.

    A process that fails stops the benchmark with the end of its stderr.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen([PYTHON, *args], cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise click.ClickException(f"{' '.join(args)} failed:\n{err.read().decode()[-2000:]}")
        return {
            "wall_s": wall,
            "peak_mb": usage.ru_maxrss * 1024 / MB,  # KiB on Linux
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "stdout": out.read().decode(),
            "stderr": err.read().decode(),
        }


def result_of(stdout: str, line: int = -1) -> str:
    """The number that ends a script's result line on stdout (`test RMSE: 5.5674`)."""
    return stdout.splitlines()[line].split()[-1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under `folder` (0 if it does not exist)."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def homework_env(uri: str) -> dict[str, str]:
    """The environment the homework's processes run in: this one, logging to `uri`."""
    return {**os.environ, "MLFLOW_TRACKING_URI": uri}
