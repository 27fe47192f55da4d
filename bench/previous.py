"""The last numbers of the previous benchmark, shown until `make bench` measures anew.

The previous benchmark ran each repeat's four processes, one process and the fits alone one
after the other, and divided by the seconds of the fits and predictions alone, not by a whole
scikit-learn process alternated with the homework (bench.py now). bench/results.json keeps
its numbers, unchanged, under `previous`, and docs/performance.md shows them as they were
measured, marked as such, until `make bench` writes `bench` (which drops `previous`). Then
this module can go.
"""

from __future__ import annotations

from typing import Any

from bench.report import PREPROCESS_TARGETS, memory_target, verdict

E2E_RATIO_TARGET = 1.25  # the previous target, over the fits and predictions alone


def measured(previous: dict[str, Any]) -> str:
    """The sentence that says how the previous numbers were measured, and what they lack."""
    e2e = previous["end_to_end"]
    return (
        "Not measured yet with `make bench` as described above: the table below is the "
        f"previous benchmark's, on a {previous['n_jobs']['cores']}-core machine, medians of "
        f"{e2e['repeats']} repeats (not alternated), load average {previous['load_before']} "
        f"before and {previous['load_after']} after. Its ratios divide by the fits and "
        f"predictions alone ({e2e['baseline_s']:.1f} s), not by a whole scikit-learn process: "
        f"the one-process homework {e2e['one_process_s']:.1f} s ({e2e['ratio']:.2f} times), "
        f"the four processes {e2e['total_s']:.1f} s ({e2e['ratio_four_processes']:.2f} "
        "times). The ratios against whole processes, A B A B, are not measured yet."
    )


def table(previous: dict[str, Any]) -> str:
    """The previous benchmark's table, as it printed it."""
    e2e = previous["end_to_end"]
    width = 48
    lines = [
        "wall s: own = the stage in its own process, one = inside pipeline.py's one process",
        f"{'stage':<{width}}{'own s':>6}{'one s':>8}{'peak MB':>9}{'sklearn':>9}  target",
    ]
    for stage, row in e2e["stages"].items():
        lines.append(
            f"{stage:<{width}}{row['wall_s']:>6.1f}{row['one_process_s']:>8.1f}"
            f"{row['peak_mb']:>9.0f}{row['baseline_s']:>9.1f}  {memory_target(row['peak_mb'])}"
        )
    lines += [
        f"{'end to end, four processes (as the course)':<{width}}{e2e['total_s']:>6.1f}",
        f"{'end to end, one process (pipeline.py, make all)':<{width}}{'':>6}"
        f"{e2e['one_process_s']:>8.1f}{e2e['one_process_peak_mb']:>9.0f}{'':>9}  "
        f"{memory_target(e2e['one_process_peak_mb'])}",
        f"{'scikit-learn alone (fits + predictions)':<{width}}{'':>14}"
        f"{e2e['baseline_peak_mb']:>9.0f}{e2e['baseline_s']:>9.1f}",
        f"{'ratio four processes / scikit-learn':<{width}}{e2e['ratio_four_processes']:>6.2f}",
        f"{'ratio one process / scikit-learn':<{width}}{'':>6}{e2e['ratio']:>8.2f}"
        f"{'':>18}  <= {E2E_RATIO_TARGET} {verdict(e2e['ratio'] <= E2E_RATIO_TARGET)}",
        "",
        f"{'preprocess_data.py':<20}{'trips':>14}{'wall s':>9}{'peak MB':>9}  target",
    ]
    for row in previous["preprocess_scaling"]:
        target = PREPROCESS_TARGETS.get(row["factor"])
        judged = ""
        if target:
            ok = row["wall_s"] <= target[0] and row["peak_mb"] <= target[1]
            judged = f"<= {target[0]:g} s, {target[1] // 1024} GB {verdict(ok)}"
        lines.append(
            f"{'real months x' + str(row['factor']):<20}{row['trips']:>14,}"
            f"{row['wall_s']:>9.1f}{row['peak_mb']:>9.0f}  {judged}"
        )
    jobs = previous["n_jobs"]
    lines += [
        "",
        f"n_jobs on {jobs['cores']} cores (train.py's forest + {jobs['trials']} trials): "
        f"n_jobs=1 {jobs['n_jobs_1_s']:.1f} s, n_jobs=-1 {jobs['n_jobs_all_s']:.1f} s "
        f"(x{jobs['speedup']:.2f})",
        f"  fitted trees bit-identical: {jobs['same_forests']}; predictions bit-identical: "
        f"{jobs['same_predictions']} (forests fit on all cores, predict on one); "
        f"RMSEs equal to 4 decimals: {jobs['same_rmse_4dp']}",
        f"answers: best validation RMSE {e2e['answers']['best_val_rmse']}, "
        f"test RMSE {e2e['answers']['test_rmse']} (the same in every repeat, four processes or "
        f"one); repeats {e2e['repeats']}; "
        f"load average before {previous['load_before']}, after {previous['load_after']}",
    ]
    return "\n".join(lines)
