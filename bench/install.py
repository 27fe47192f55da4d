"""Time `make install` with pip and with uv, and a first `make all` (`make bench-install`).

Each run is a fresh clone of this repository's HEAD in a temporary folder, with empty caches
of its own (PIP_CACHE_DIR, UV_CACHE_DIR): everything comes from the package index, as on a
new machine. `--pairs` times (3), whole processes in turn, A B A B:

1. `make install INSTALLER=pip`: pip alone installs requirements.txt and requirements-dev.txt;
2. `make install`: uv (pip installs uv first), byte code compiled.

Each must leave exactly the lock files' packages for this machine in the venv (beside the
venv's own pip and setuptools), or the benchmark fails. Then, unless `--no-make_all`, one
`make all` in a fresh clone with empty caches: install, the data copied from
`--raw_data_path` (TAXI_DATA_URL=file://...), its own server on a free port (stopped after),
the homework and the answers, which must be the course's. The machine may be shared: the
load average before and after each run is kept beside it.

Writes its results under `install` in bench/results.json; `make docs` puts them into
docs/performance.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.cli import (
    checked_raw_dir,
    output_option,
    raw_data_path_option,
    read_results,
    write_results,
)
from bench.measure import load_average, median
from homework.config import KEY_DIR_VARIABLE
from scripts.lock import pins
from services import ROOT, free_port

INSTALLERS = ("pip", "uv")  # A, then B
LOCKS = ("requirements.txt", "requirements-dev.txt")  # what `make install` installs
VENV_OWN = {"pip", "setuptools"}  # what `python -m venv` puts in every venv
ANSWERS = ("5.335", "5.567")  # Q5 and Q6 as answers.py prints them


def fresh_clone(work: Path, name: str) -> Path:
    """A clone of this repository's HEAD in work/name, nothing else in it."""
    clone = work / name
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    return clone


def clean_env(work: Path, name: str) -> dict[str, str]:
    """This environment with empty caches of the run's own, and nothing of a calling make."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.pop("VIRTUAL_ENV", None)
    return {
        **env,
        "PIP_CACHE_DIR": str(work / f"{name}-pip-cache"),
        "UV_CACHE_DIR": str(work / f"{name}-uv-cache"),
        KEY_DIR_VARIABLE: str(work / f"{name}-key"),  # the homework signs with a throwaway key
    }


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run a command to its end: wall seconds, load average before and after, its output."""
    before, start = load_average(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise click.ClickException(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return {"wall_s": wall, "load_before": before, "load_after": load_average(), "out": done}


def locked(clone: Path) -> set[str]:
    """name==version of every package the lock files give this machine (this Python: the
    Makefile's python3 made the venv from it)."""
    wanted = set()
    for lock in LOCKS:
        for pin in pins((clone / lock).read_text()):
            requirement = Requirement(pin)
            if requirement.marker is None or requirement.marker.evaluate():
                version = next(iter(requirement.specifier)).version
                wanted.add(f"{canonicalize_name(requirement.name)}=={version}")
    return wanted


def installed(python: Path) -> set[str]:
    """name==version of every package in a venv but its own pip and setuptools."""
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pairs = [line.split("==") for line in listed]
    return {
        f"{canonicalize_name(n)}=={v}" for n, v in pairs if canonicalize_name(n) not in VENV_OWN
    }


def install(work: Path, installer: str, run: int) -> dict[str, Any]:
    """`make install` with `installer` in a fresh clone: its wall time; the venv is the lock."""
    name = f"{installer}-{run}"
    clone = fresh_clone(work, name)
    click.echo(f"make install INSTALLER={installer} (run {run})", err=True)
    result = timed(
        ["make", "-s", "install", f"INSTALLER={installer}"], clone, clean_env(work, name)
    )
    wanted, have = locked(clone), installed(clone / ".venv" / "bin" / "python")
    if wanted != have:
        raise click.ClickException(
            f"{installer}: the venv is not the lock: missing {sorted(wanted - have)}, "
            f"more {sorted(have - wanted)}"
        )
    click.echo(f"  {result['wall_s']:.1f} s, load average {result['load_before']}", err=True)
    for folder in work.glob(f"{name}*"):  # the clone and its caches: about 1 GB a run
        shutil.rmtree(folder)
    return {"installer": installer, **{k: v for k, v in result.items() if k != "out"}}


def first_make_all(work: Path, raw_dir: Path) -> dict[str, Any]:
    """The learner's first `make all` in a fresh clone, empty caches; the server stopped after."""
    clone = fresh_clone(work, "make-all")
    env = clean_env(work, "make-all")
    port = f"PORT={free_port()}"
    click.echo(f"make all in a fresh clone ({port})", err=True)
    try:
        result = timed(["make", "all", port, f"TAXI_DATA_URL=file://{raw_dir}"], clone, env)
    finally:
        subprocess.run(["make", "-s", "server-stop", port], cwd=clone, env=env, capture_output=True)
    table = result.pop("out").stdout
    if not all(answer in table for answer in ANSWERS):
        raise click.ClickException(f"make all did not give {' and '.join(ANSWERS)}:\n{table}")
    click.echo(f"  {result['wall_s']:.1f} s", err=True)
    return {**result, "answers": list(ANSWERS)}


def table(part: dict[str, Any]) -> str:
    """The runs and their medians, as one plain-text table."""
    lines = [
        f"make install on a fresh clone ({' + '.join(LOCKS)}), empty caches, A B A B, "
        f"{part['pairs']} pairs; installed = the lock in every run",
        f"{'run':<5}{'installer':<11}{'wall s':>7}  load average before -> after",
    ]
    for number, run in enumerate(part["runs"], start=1):
        lines.append(
            f"{number:<5}{run['installer']:<11}{run['wall_s']:>7.1f}  "
            f"{run['load_before']} -> {run['load_after']}"
        )
    lines.append(
        f"medians: pip {part['pip_s']:.1f} s, uv {part['uv_s']:.1f} s "
        f"({part['pip_s'] / part['uv_s']:.1f} times faster)"
    )
    if part.get("make_all"):
        first = part["make_all"]
        lines.append(
            f"first make all on a fresh clone (uv, empty caches, data from file://): "
            f"{first['wall_s']:.0f} s, answers {' and '.join(first['answers'])}; load average "
            f"{first['load_before']} -> {first['load_after']}"
        )
    return "\n".join(lines)


def blocks() -> dict[str, Any]:
    """The block of docs/performance.md that `make docs` writes from bench/results.json."""

    def block(results: dict[str, Any]) -> str:
        if "install" not in results:
            return "Not measured yet: `make bench-install` writes this table."
        return f"```\n{table(results['install'])}\n```"

    return {"bench-install": block}


@click.command()
@raw_data_path_option
@click.option("--pairs", default=3, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--make_all/--no-make_all",
    "--make-all/--no-make-all",
    default=True,
    show_default=True,
    help="Also time a first `make all` in a fresh clone.",
)
@output_option
def main(raw_data_path: str, pairs: int, make_all: bool, output: str) -> None:
    """Time `make install` with pip and with uv on fresh clones, and a first `make all`."""
    raw_dir = checked_raw_dir(raw_data_path) if make_all else None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    part: dict[str, Any] = {"commit": commit, "pairs": pairs, "cores": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-install-") as scratch:
        work = Path(scratch)
        for run in range(1, pairs + 1):
            part["runs"] += [install(work, installer, run) for installer in INSTALLERS]
        for installer in INSTALLERS:
            walls = [r["wall_s"] for r in part["runs"] if r["installer"] == installer]
            part[f"{installer}_s"] = median(walls)
        results_path = Path(output)
        write_results(results_path, {**read_results(results_path), "install": part})
        if raw_dir is not None:
            part["make_all"] = first_make_all(work, raw_dir)
            write_results(results_path, {**read_results(results_path), "install": part})
    click.echo(table(part))


if __name__ == "__main__":
    main()
