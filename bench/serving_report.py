"""`make bench-serve`'s table, and the blocks of docs/performance.md written from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NOT_MEASURED = "Not measured yet: `make bench-serve` writes this."


def table(part: dict[str, Any]) -> str:
    """The two servers side by side, then the moves under load, as one plain-text table."""
    moves = part["moves"]
    width = 24
    lines = [
        f"the real champion ({part['num_trials']} trials), {part['rows']:,} March trips; "
        f"medians of {part['pairs']} runs of each server, A B A B, each started cold",
        f"{'':<{width}}{'1 trip p50 ms':>14}{'p99 ms':>8}{'month s':>9}{'rows/s':>10}"
        f"{'start s':>9}",
    ]
    for name, row in part["servers"].items():
        lines.append(
            f"{name:<{width}}{row['p50_ms']:>14.1f}{row['p99_ms']:>8.1f}{row['month_s']:>9.2f}"
            f"{row['rows_per_s']:>10,.0f}{row['start_s']:>9.1f}"
        )
    lines += [
        f"({part['trips']} single-trip requests one after the other, the month {part['months']} "
        "times in one request each)",
        "",
        f"serve_model.py following @champion ({moves['follow']}) under {moves['clients']} request "
        f"loops: {moves['requests']:,} requests ({moves['requests_per_s']:,.0f}/s), "
        f"{moves['failed']} failed",
    ]
    for swap in moves["swaps"]:
        how = "rollback.py" if swap["by"] == "rollback.py" else "the alias set"
        lines.append(
            f"  {how} to version {swap['to']}: first reply from it {swap['s']:.2f} s later"
        )
    lines.append(
        f"load average before {part['load_before']}, after {part['load_after']} "
        f"({part['cores']} cores)"
    )
    return "\n".join(lines)


def measured(part: dict[str, Any]) -> str:
    """The sentence of docs/performance.md that sums the run up."""
    ours, plain = part["servers"]["serve_model.py"], part["servers"]["mlflow models serve"]
    moves = part["moves"]
    slowest = max(swap["s"] for swap in moves["swaps"])
    return (
        f"Measured with `make bench-serve` on a {part['cores']}-core machine, load average "
        f"{part['load_before']} before and {part['load_after']} after: a single trip takes "
        f"{ours['p50_ms']:.1f} ms (p50) from serve_model.py and {plain['p50_ms']:.1f} ms from "
        f"`mlflow models serve`, the whole March month {ours['month_s']:.2f} s and "
        f"{plain['month_s']:.2f} s. Through {len(moves['swaps'])} moves of @champion under "
        f"load, {moves['failed']} of {moves['requests']:,} requests failed, and the new "
        f"version answered at most {slowest:.1f} s after each move ({moves['follow']})."
    )


def blocks() -> dict[str, Callable[[dict[str, Any]], str]]:
    """The blocks of docs/performance.md that `make docs` writes from bench/results.json."""

    def when_measured(write: Callable[[dict[str, Any]], str]) -> Callable[[dict], str]:
        return lambda results: write(results["serve"]) if "serve" in results else NOT_MEASURED

    return {
        "serve-measured": when_measured(measured),
        "serve-table": when_measured(lambda part: f"```\n{table(part)}\n```"),
    }
