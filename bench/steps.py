"""pipeline.py with each step's peak memory: what the benchmark runs as the one-process homework.

    python -m bench.steps REPORT [pipeline.py's options]

runs pipeline.py's command in this process, exactly as `python pipeline.py OPTIONS` would,
and writes REPORT (JSON): each step's wall seconds and peak resident memory, the peak
before the first step (interpreter, imports, connecting), and the process's peak. On Linux
the kernel's high-water mark of resident memory is reset before each step
(/proc/self/clear_refs), so a step's peak is its own; elsewhere it is the peak so far.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pipeline

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")
RESET_PEAK = "5"  # what clear_refs takes to reset the high-water mark (Linux 4.0 and later)


def peak_mb() -> float:
    """This process's peak resident memory (MB) since start or the last reset_peak."""
    if STATUS.exists():
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 1024 if sys.platform != "darwin" else maxrss / 2**20  # KiB; macOS bytes


def reset_peak() -> bool:
    """Start a new high-water mark of resident memory; False where the system cannot."""
    try:
        CLEAR_REFS.write_text(RESET_PEAK)
    except OSError:
        return False
    return True


def main(report_path: str, args: list[str]) -> None:
    report: dict[str, Any] = {"steps": {}}

    def measured_step(script: str, command: Any, step_args: list[str]) -> float:
        if not report["steps"]:
            report["startup_peak_mb"] = peak_mb()
        report["per_step_peaks"] = reset_peak()
        start = time.perf_counter()
        command.main(step_args, prog_name=script, standalone_mode=False)
        seconds = time.perf_counter() - start
        report["steps"][script] = {"wall_s": seconds, "peak_mb": peak_mb()}
        return seconds

    pipeline.run_step = measured_step  # pipeline.py's own loop, each step measured
    try:
        pipeline.run_pipeline.main(args, prog_name="pipeline.py")
    finally:
        peaks = [step["peak_mb"] for step in report["steps"].values()]
        report["peak_mb"] = max([report.get("startup_peak_mb", peak_mb()), *peaks])
        Path(report_path).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
