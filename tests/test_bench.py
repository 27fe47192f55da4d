"""Smoke tests of the benchmark's pieces (the benchmark itself is `make bench`, not a test)."""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow.parquet as pq
import pytest

from bench.bench import replicate, same_answers, table


def report(ratio: float, train_mb: float, wall_15x: float) -> dict:
    stage = {"wall_s": 10.0, "one_process_s": 9.0, "peak_mb": 300.0, "baseline_s": 8.0}
    return {
        "end_to_end": {
            "repeats": 1,
            "stages": {"preprocess_data.py": stage, "train.py": {**stage, "peak_mb": train_mb}},
            "total_s": 20.0 * ratio + 2,
            "one_process_s": 20.0 * ratio,
            "one_process_peak_mb": 350.0,
            "baseline_s": 20.0,
            "baseline_peak_mb": 250.0,
            "ratio_four_processes": ratio + 0.1,
            "ratio": ratio,
            "answers": {"best_val_rmse": "5.3354", "test_rmse": "5.5674"},
        },
        "preprocess_scaling": [
            {"factor": 1, "trips": 1000, "wall_s": 1.0, "peak_mb": 200.0},
            {"factor": 15, "trips": 15000, "wall_s": wall_15x, "peak_mb": 500.0},
        ],
        "n_jobs": {
            "trials": 3,
            "cores": 2,
            "n_jobs_1_s": 20.0,
            "n_jobs_all_s": 11.0,
            "speedup": 20 / 11,
            "same_forests": True,
            "same_predictions": False,
            "same_rmse_4dp": True,
        },
        "load_before": "1.0 1.0 1.0",
        "load_after": "1.0 1.0 1.0",
    }


def test_table_marks_targets_met() -> None:
    text = table(report(ratio=1.1, train_mb=400, wall_15x=3.0))
    assert "OVER" not in text
    assert "1.10" in text and "<= 4 s, 1 GB ok" in text
    assert "n_jobs=1 20.0 s, n_jobs=-1 11.0 s (x1.82)" in text


def test_table_marks_each_missed_target() -> None:
    text = table(report(ratio=1.3, train_mb=1500, wall_15x=4.5))
    lines = {line.split()[0]: line for line in text.splitlines() if line}
    assert lines["train.py"].endswith("OVER")
    (one_process,) = [line for line in text.splitlines() if line.startswith("ratio one process")]
    assert one_process.endswith("<= 1.25 OVER")
    x15 = next(line for line in text.splitlines() if "x15" in line)
    assert x15.endswith("<= 4 s, 1 GB OVER")


def test_replicate_repeats_each_month(raw_dir: Path, tmp_path: Path) -> None:
    rows = replicate(raw_dir, tmp_path / "x3", 3)
    assert rows == 3 * 3 * 400
    for path in sorted((tmp_path / "x3").iterdir()):
        original = pq.read_table(raw_dir / path.name)
        copy = pq.read_table(path)
        n = original.num_rows
        assert copy.num_rows == 3 * n
        assert all(copy.slice(i * n, n).equals(original) for i in range(3))


def pipeline_run(best: str, test: str) -> dict:
    stdout = {
        "hpo.py": f"best validation RMSE: {best}",
        "register_model.py": f"test RMSE: {test}",
    }
    one = "\n".join(["Wrote 4 files to output/", "validation RMSE: 5.4", *stdout.values()]) + "\n"
    return {"stages": {k: {"stdout": v} for k, v in stdout.items()}, "one": {"stdout": one}}


def test_answers_must_agree_across_repeats_and_modes() -> None:
    runs = [pipeline_run("5.3354", "5.5674"), pipeline_run("5.3354", "5.5674")]
    assert same_answers(runs) == {"best_val_rmse": "5.3354", "test_rmse": "5.5674"}
    with pytest.raises(click.ClickException, match="different answers"):
        same_answers([*runs, pipeline_run("5.3354", "5.5675")])
