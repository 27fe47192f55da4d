"""The benchmark's pieces (the benchmark itself is `make bench`, never a timed test)."""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench.bench import blocks
from bench.cli import RESULTS, checked_output, checked_raw_dir
from bench.data import replicate
from bench.report import bench_table, scale_table
from bench.runs import STAGES, one_process_by_step, same_answers, store_bytes
from bench.steps import peak_mb, reset_peak
from homework.config import NUM_TRIALS
from services import Server


def bench_part(one_ratio: float, four_ratio: float, train_mb: float, wall_15x: float) -> dict:
    stage = {"wall_s": 10.0, "peak_mb": 300.0}
    return {
        "end_to_end": {
            "pairs": 3,
            "answers": {"best_val_rmse": "5.3354", "test_rmse": "5.5674"},
            "one_process": {
                "wall_s": 60.0 * one_ratio,
                "peak_mb": 450.0,
                "steps_s": dict.fromkeys(STAGES, 9.0),
                "ratio": one_ratio,
                "cpu_ratio": one_ratio,
            },
            "four_processes": {
                "wall_s": 60.0 * four_ratio,
                "stages": {
                    **dict.fromkeys(STAGES, stage),
                    "train.py": {**stage, "peak_mb": train_mb},
                },
                "ratio": four_ratio,
                "cpu_ratio": four_ratio,
            },
            "floor": {
                "wall_s": 60.0,
                "fit_predict_s": 56.0,
                "peak_mb": 300.0,
                "stages_s": {**dict.fromkeys(STAGES, 8.0), "preprocess_data.py": 0.0},
            },
        },
        "preprocess_scaling": [
            {"factor": 1, "trips": 1000, "wall_s": 1.0, "peak_mb": 200.0},
            {"factor": 15, "trips": 15000, "wall_s": wall_15x, "peak_mb": 500.0},
        ],
        "load_before": "1.0 1.0 1.0",
        "load_after": "1.0 1.0 1.0",
    }


def test_bench_table_marks_targets_met() -> None:
    text = bench_table(bench_part(1.1, 1.3, 400, 3.0))
    assert "OVER" not in text and "not yet" not in text
    assert "<= 1.20 ok (goal 1.15 met)" in text and "<= 1.40 ok (goal 1.35 met)" in text
    assert "<= 4 s, 1 GB ok" in text


def test_bench_table_tells_a_target_met_from_its_goal() -> None:
    text = bench_table(bench_part(1.18, 1.38, 400, 3.0))
    assert "<= 1.20 ok (goal 1.15 not yet)" in text and "<= 1.40 ok (goal 1.35 not yet)" in text


def test_bench_table_marks_each_missed_target() -> None:
    lines = bench_table(bench_part(1.25, 1.45, 1500, 4.5)).splitlines()
    row = {line.split("  ")[0]: line for line in lines if line}
    assert row["train.py"].endswith("<= 1 GB OVER")
    assert "<= 1.40 OVER" in row["four processes (as the course)"]
    assert "<= 1.20 OVER" in row["one process (pipeline.py, make all)"]
    assert next(line for line in lines if "x15" in line).endswith("<= 4 s, 1 GB OVER")


def test_docs_show_what_make_bench_measured_and_say_what_is_not_measured() -> None:
    results = {"bench": {**bench_part(1.1, 1.3, 400, 3.0), "cores": 2}}
    measured = blocks()["bench-measured"](results)
    assert measured.startswith("Measured with `make bench` on a 2-core machine: medians of 3")
    assert "(1.10 times)" in measured and "(1.30 times)" in measured
    assert blocks()["scale-summary"](results).startswith("Not measured yet")
    assert blocks()["n-jobs"](results).startswith("Not measured by the last `make bench`")
    assert blocks()["scale-tables"](results) == ""
    scaled = {**results, "scale": {"15": scale_result(15, 1.04, 1900)}}
    assert "| x15 | 3,075,960 |" in blocks()["scale-summary"](scaled)
    assert "real months x15: 3,075,960 trips" in blocks()["scale-tables"](scaled)


def test_a_short_search_is_marked_in_the_table() -> None:
    assert "(2 trials, not the homework's 15)" in scale_table(scale_result(2, 1.0, 500, 2))
    assert "trials, not" not in scale_table(scale_result(2, 1.0, 500))


def test_a_folder_without_the_real_months_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(click.ClickException, match=r"lacks the green taxi files for 2023-01"):
        checked_raw_dir(str(tmp_path))


def test_a_quick_try_never_writes_the_real_results(tmp_path: Path) -> None:
    with pytest.raises(click.UsageError, match="--num_trials 2 is a quick try"):
        checked_output(str(RESULTS), 2)
    assert checked_output(str(tmp_path / "try.json"), 2) == tmp_path / "try.json"
    assert checked_output(str(RESULTS), NUM_TRIALS) == RESULTS.resolve()


def scale_result(factor: int, ratio: float, peak_mb: float, num_trials: int = 15) -> dict:
    stage = {"wall_s": 100.0, "peak_mb": 900.0, "written_bytes": 2**20, "floor_s": 95.0}
    stages = {name: {**stage, "ratio": 100 / 95} for name in STAGES}
    stages["preprocess_data.py"].update(floor_s=0.0, ratio=None)
    return {
        "factor": factor,
        "trips": 15 * 205_064,
        "pairs": 1,
        "answers": {"best_val_rmse": "5.1", "test_rmse": "5.3"},
        "stages": stages,
        "per_step_peaks": True,
        "homework": {"wall_s": 400.0, "peak_mb": peak_mb, "database_bytes": 2**19},
        "floor": {"wall_s": 400 / ratio, "peak_mb": 800.0},
        "ratio": ratio,
        "cpu_ratio": ratio,
        "num_trials": num_trials,
        "load_before": "1.0 1.0 1.0",
        "load_after": "1.0 1.0 1.0",
    }


def test_scale_table_judges_15x_by_its_targets() -> None:
    assert "<= 1.05 ok, <= 2 GB ok" in scale_table(scale_result(15, 1.04, 1900))
    assert "<= 1.05 OVER, <= 2 GB OVER" in scale_table(scale_result(15, 1.06, 2100))
    assert "+3.0 MB per homework run, of which the search +1.0 MB" in scale_table(
        scale_result(5, 1.06, 900)
    )


def test_replicate_adds_noisy_copies_of_each_month(raw_dir: Path, tmp_path: Path) -> None:
    rows = replicate(raw_dir, tmp_path / "x3", 3)
    assert rows == 3 * 3 * 400
    for path in sorted((tmp_path / "x3").iterdir()):
        original, copy = pq.read_table(raw_dir / path.name), pq.read_table(path)
        n = original.num_rows
        assert copy.schema == original.schema and copy.num_rows == 3 * n
        assert copy.slice(0, n).equals(original)  # copy 0: the real rows
        first, second = copy.slice(n, n), copy.slice(2 * n, n)
        assert not first.equals(original) and not second.equals(first)
        moved = pc.subtract(first["lpep_dropoff_datetime"], original["lpep_dropoff_datetime"])
        assert pc.max(pc.abs(pc.cast(moved, "int64"))).as_py() <= 30 * 10**6  # microseconds
        ratio = pc.divide(first["trip_distance"], original["trip_distance"]).to_numpy()
        assert abs(ratio - 1).max() <= 0.01
    again = replicate(raw_dir, tmp_path / "again", 3)  # seeded: the same copies every time
    assert again == rows
    assert pq.read_table(tmp_path / "again" / path.name).equals(copy)


def test_answers_must_agree_across_runs() -> None:
    runs = [{"answers": ("5.3354", "5.5674")}, {"answers": ("5.3354", "5.5674")}]
    assert same_answers(runs) == {"best_val_rmse": "5.3354", "test_rmse": "5.5674"}
    with pytest.raises(click.ClickException, match="different answers"):
        same_answers([*runs, {"answers": ("5.3354", "5.5675")}])


def test_peak_memory_starts_anew_after_a_reset() -> None:
    if not reset_peak():
        pytest.skip("this system cannot reset a process's peak memory (Linux only)")
    block = bytearray(200 * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: resident
    high = peak_mb()
    del block
    assert reset_peak() and peak_mb() < high - 150


def test_each_step_of_the_one_process_homework_is_measured(
    raw_dir: Path, tmp_path: Path, mlflow_server: Server
) -> None:
    """bench.steps runs pipeline.py's own loop: each step's wall and peak, what it wrote."""
    before = store_bytes(mlflow_server.uri, mlflow_server.folder)
    run = one_process_by_step(raw_dir, tmp_path / "output", mlflow_server.uri, num_trials=1)
    after = store_bytes(mlflow_server.uri, mlflow_server.folder)
    assert list(run["steps"]) == list(STAGES)
    assert all(step["wall_s"] > 0 and step["peak_mb"] > 50 for step in run["steps"].values())
    assert run["peak_mb"] == max(
        run["startup_peak_mb"], *(s["peak_mb"] for s in run["steps"].values())
    )
    assert all(
        after[stage] > before[stage] for stage in ("train.py", "hpo.py", "register_model.py")
    )
    assert run["answers"][1] == run["stdout"].split()[-1]  # register_model.py's test RMSE
