"""The benchmark's tables and the sentences of docs/performance.md, from its results.

`bench_table` is what `make bench` prints, `scale_table` what `make bench-scale` prints;
the sentences are what `make docs` writes into docs/performance.md (bench.blocks), so no
measured number is typed into the docs by hand.
"""

from __future__ import annotations

from typing import Any

from homework.config import NUM_TRIALS

# (target, goal) over scikit-learn alone at 1x: the target must hold, the goal is the next one.
ONE_PROCESS_TARGET = (1.20, 1.15)  # the one-process homework
FOUR_PROCESSES_TARGET = (1.40, 1.35)  # the course's four processes
PROCESS_MB_TARGET = 1024  # every process at 1x
READER_TARGETS = {"predict": 1.5, "answers": 2.0}  # a command a person waits on, over its floor
PREPROCESS_TARGETS = {15: (4.0, 1024), 50: (15.0, 3072)}  # factor: (seconds, MB)
SCALE_TARGETS = {1: (ONE_PROCESS_TARGET[0], 1024), 15: (1.05, 2048)}  # factor: (ratio, MB)
MB = 2**20
NOT_SCALED = (
    "Not measured yet: `make bench-scale SCALE=N` for N = 1, 5 and 15 on a quiet machine "
    "writes this table."
)


def trials_note(result: dict[str, Any]) -> str:
    """What says that a run searched fewer or more trials than the homework's."""
    trials = result.get("num_trials", NUM_TRIALS)
    return "" if trials == NUM_TRIALS else f" ({trials} trials, not the homework's {NUM_TRIALS})"


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER"


def memory_target(peak_mb: float, limit_mb: float = PROCESS_MB_TARGET) -> str:
    return f"<= {limit_mb / 1024:g} GB {verdict(peak_mb <= limit_mb)}"


def ratio_target(ratio: float, limit: float) -> str:
    return f"<= {limit:.2f} {verdict(ratio <= limit)}"


def ratio_target_and_goal(ratio: float, limits: tuple[float, float]) -> str:
    target, goal = limits
    return (
        f"{ratio_target(ratio, target)} (goal {goal:.2f} {'met' if ratio <= goal else 'not yet'})"
    )


def megabytes(size: float) -> str:
    return f"{size / MB:.1f} MB"


def bench_table(part: dict[str, Any]) -> str:
    """`make bench`'s results as one plain-text table."""
    e2e = part["end_to_end"]
    one, four, base = e2e["one_process"], e2e["four_processes"], e2e["floor"]
    width = 40
    head = f"{'':<{width}}{'own s':>7}{'one s':>7}{'peak MB':>8}{'floor s':>8}{'ratio':>7}  target"
    lines = [
        f"whole processes, medians of {e2e['pairs']} pairs (homework, then scikit-learn alone); "
        f"own = a step in its own process, one = inside pipeline.py{trials_note(e2e)}",
        head,
    ]
    for stage, row in four["stages"].items():
        floor_s = base["stages_s"][stage]
        lines.append(
            f"{stage:<{width}}{row['wall_s']:>7.1f}{one['steps_s'][stage]:>7.1f}"
            f"{row['peak_mb']:>8.0f}{f'{floor_s:.1f}' if floor_s else '-':>8}{'':>7}  "
            f"{memory_target(row['peak_mb'])}"
        )
    four_peak = max(row["peak_mb"] for row in four["stages"].values())
    lines += [
        f"{'four processes (as the course)':<{width}}{four['wall_s']:>7.1f}{'':>7}"
        f"{four_peak:>8.0f}{base['wall_s']:>8.1f}{four['ratio']:>7.2f}  "
        f"{ratio_target_and_goal(four['ratio'], FOUR_PROCESSES_TARGET)}",
        f"{'one process (pipeline.py, make all)':<{width}}{'':>7}{one['wall_s']:>7.1f}"
        f"{one['peak_mb']:>8.0f}{base['wall_s']:>8.1f}{one['ratio']:>7.2f}  "
        f"{ratio_target_and_goal(one['ratio'], ONE_PROCESS_TARGET)}, "
        f"{memory_target(one['peak_mb'])}",
        f"{'scikit-learn alone (bench/baseline.py)':<{width}}{base['wall_s']:>7.1f}{'':>7}"
        f"{base['peak_mb']:>8.0f}  (fits and predictions {base['fit_predict_s']:.1f} s)",
        f"CPU seconds over scikit-learn alone's, the server's included (less shaken by other "
        f"work than wall time): four processes {four['cpu_ratio']:.2f}, one process "
        f"{one['cpu_ratio']:.2f}",
    ]
    if e2e.get("readers"):
        lines += ["", readers_table(e2e["readers"])]
    if part.get("preprocess_scaling"):
        lines += ["", f"{'preprocess_data.py':<22}{'trips':>12}{'wall s':>8}{'peak MB':>8}  target"]
        for row in part["preprocess_scaling"]:
            target = PREPROCESS_TARGETS.get(row["factor"])
            judged = ""
            if target:
                ok = row["wall_s"] <= target[0] and row["peak_mb"] <= target[1]
                judged = f"<= {target[0]:g} s, {target[1] // 1024} GB {verdict(ok)}"
            lines.append(
                f"{'real months x' + str(row['factor']):<22}{row['trips']:>12,}"
                f"{row['wall_s']:>8.1f}{row['peak_mb']:>8.0f}  {judged}"
            )
    jobs = part.get("n_jobs")
    if jobs:
        lines += [
            "",
            f"n_jobs on {jobs['cores']} cores (train.py's forest + {jobs['trials']} trials): "
            f"n_jobs=1 {jobs['n_jobs_1_s']:.1f} s, n_jobs=-1 {jobs['n_jobs_all_s']:.1f} s "
            f"(x{jobs['speedup']:.2f}); fitted trees bit-identical: {jobs['same_forests']}; "
            f"predictions bit-identical: {jobs['same_predictions']}; "
            f"RMSEs equal to 4 decimals: {jobs['same_rmse_4dp']}",
        ]
    answers = e2e["answers"]
    lines.append(
        f"answers: best validation RMSE {answers['best_val_rmse']}, test RMSE "
        f"{answers['test_rmse']} in every run; load average before {part['load_before']}, "
        f"after {part['load_after']}"
    )
    return "\n".join(lines)


def readers_table(readers: dict[str, Any]) -> str:
    """predict.py and answers.py against their floors (bench/readers.py)."""
    width = 40
    lines = [
        f"what a person waits on, medians of {readers['pairs']} pairs after a warm-up "
        "(the command, then its floor)",
        f"{'':<{width}}{'wall s':>7}{'peak MB':>8}{'floor s':>8}{'ratio':>7}{'cpu':>6}  target",
    ]
    names = {"predict": "predict.py, one trip", "answers": "answers.py, the six answers"}
    for key, name in names.items():
        row = readers[key]
        lines.append(
            f"{name:<{width}}{row['wall_s']:>7.2f}{row['peak_mb']:>8.0f}{row['floor_wall_s']:>8.2f}"
            f"{row['ratio']:>7.2f}{row['cpu_ratio']:>6.2f}  "
            f"{ratio_target(row['ratio'], READER_TARGETS[key])}"
        )
    return "\n".join(lines)


def readers_block(results: dict[str, Any]) -> str:
    """docs/performance.md's table of what a person waits on, from the last `make bench`."""
    readers = results.get("bench", {}).get("end_to_end", {}).get("readers")
    if not readers:
        return "Not measured yet: the next `make bench` on a quiet machine writes this table."
    return f"```\n{readers_table(readers)}\n```"


def scale_table(result: dict[str, Any]) -> str:
    """`make bench-scale`'s results for one N as one plain-text table."""
    home, base, factor = result["homework"], result["floor"], result["factor"]
    ratio_limit, mb_limit = SCALE_TARGETS.get(factor, (None, 2048))
    width = 36
    peaks = "" if result["per_step_peaks"] else " (peak so far: no per-step reset here)"
    lines = [
        f"real months x{factor}: {result['trips']:,} trips; the homework in one process, then "
        f"scikit-learn alone on its pickles; medians of {result['pairs']} pair(s){peaks}"
        f"{trials_note(result)}",
        f"{'':<{width}}{'wall s':>8}{'peak MB':>8}{'written':>11}{'floor s':>9}{'ratio':>7}",
    ]
    for stage, row in result["stages"].items():
        floor_s = f"{row['floor_s']:>9.1f}" if row["floor_s"] else f"{'-':>9}"
        ratio = f"{row['ratio']:>7.2f}" if row["ratio"] else ""
        lines.append(
            f"{stage:<{width}}{row['wall_s']:>8.1f}{row['peak_mb']:>8.0f}"
            f"{megabytes(row['written_bytes']):>11}{floor_s}{ratio}"
        )
    judged = memory_target(home["peak_mb"], mb_limit)
    if ratio_limit:
        judged = f"{ratio_target(result['ratio'], ratio_limit)}, {judged}"
    lines += [
        f"{'homework, one process (pipeline.py)':<{width}}{home['wall_s']:>8.1f}"
        f"{home['peak_mb']:>8.0f}{'':>11}{base['wall_s']:>9.1f}{result['ratio']:>7.2f}  {judged}",
        f"{'scikit-learn alone (baseline.py)':<{width}}{base['wall_s']:>8.1f}"
        f"{base['peak_mb']:>8.0f}  {memory_target(base['peak_mb'], mb_limit)}",
        f"CPU seconds over scikit-learn alone's, the server's included: {result['cpu_ratio']:.2f}",
        f"artifact store: +{megabytes(store_growth(result))} per homework run, of which the "
        f"search +{megabytes(result['stages']['hpo.py']['written_bytes'])}; database "
        f"+{megabytes(home['database_bytes'])}",
        f"answers: best validation RMSE {result['answers']['best_val_rmse']}, test RMSE "
        f"{result['answers']['test_rmse']}; load average before {result['load_before']}, "
        f"after {result['load_after']}",
    ]
    return "\n".join(lines)


def store_growth(result: dict[str, Any]) -> float:
    """Bytes the artifact store grew by in one homework run (its three logging steps)."""
    logging_steps = ("train.py", "hpo.py", "register_model.py")
    return sum(result["stages"][stage]["written_bytes"] for stage in logging_steps)


def measured(part: dict[str, Any]) -> str:
    """The sentence that says how the numbers of `make bench` were measured."""
    e2e = part["end_to_end"]
    one, four, base = e2e["one_process"], e2e["four_processes"], e2e["floor"]
    return (
        f"Measured with `make bench` on a {part['cores']}-core machine: medians of "
        f"{e2e['pairs']} pairs, load average {part['load_before']} before and "
        f"{part['load_after']} after. scikit-learn alone took {base['wall_s']:.1f} s, the "
        f"one-process homework {one['wall_s']:.1f} s ({one['ratio']:.2f} times), the four "
        f"processes {four['wall_s']:.1f} s ({four['ratio']:.2f} times)."
    )


def n_jobs_sentence(jobs: dict[str, Any] | None) -> str:
    if jobs is None:
        return "Not measured by the last `make bench`, which ran with `--no-n_jobs`."
    return (
        f"On the {jobs['cores']}-core machine of the table above, all cores make the fits "
        f"{jobs['speedup']:.2f} times faster than one (the `n_jobs` line)."
    )


def scale_summary(results: dict[str, Any]) -> str:
    """One Markdown row per N measured: trips, wall times, ratio, memory, store growth."""
    if not results.get("scale"):
        return NOT_SCALED
    rows = [
        "| real months | trips | homework | scikit-learn alone | ratio | peak memory "
        "(homework / alone) | artifacts per run (search) | database per run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(results.get("scale", {}), key=int):
        result = results["scale"][key]
        home, base = result["homework"], result["floor"]
        rows.append(
            f"| x{key} | {result['trips']:,} | {home['wall_s']:.0f} s | {base['wall_s']:.0f} s "
            f"| {result['ratio']:.2f} | {home['peak_mb']:.0f} / {base['peak_mb']:.0f} MB "
            f"| {megabytes(store_growth(result))} "
            f"({megabytes(result['stages']['hpo.py']['written_bytes'])}) "
            f"| {megabytes(home['database_bytes'])} |"
        )
    return "\n".join(rows)


def scale_tables(results: dict[str, Any]) -> str:
    """Each N's table as `make bench-scale` printed it (none before the first)."""
    if not results.get("scale"):
        return ""
    tables = [scale_table(results["scale"][key]) for key in sorted(results["scale"], key=int)]
    return "```\n" + "\n\n".join(tables) + "\n```"
