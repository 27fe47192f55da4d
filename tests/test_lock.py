"""pyproject.toml declares every library the code imports; the lock files are what it declares.

The lock checks ask the package index (uv pip compile, scripts/lock.py): without it they are
skipped on a laptop, and fail under CI.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT, unavailable
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = ROOT / "scripts" / "lock.py"
INDEX_UNREACHABLE = 3  # lock.py's exit code when uv cannot reach the package index


def project_files() -> list[Path]:
    """Every Python file of the project but the tests, committed or new (git's list)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [ROOT / name for name in listed if not name.startswith("tests/")]


def first_party() -> set[str]:
    """The names the project's own modules are imported by: root scripts and folders."""
    folders = {path.name for path in ROOT.iterdir() if path.is_dir() and any(path.glob("*.py"))}
    return folders | {path.stem for path in ROOT.glob("*.py")}


def imported(path: Path) -> set[str]:
    """The top-level names of every absolute import in a file, at its top or in a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@functools.cache
def installed_providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # reads every installed package: once


def distributions(module: str) -> set[str]:
    """The distributions that may provide `module`: the installed ones that do, else its name
    (an extra that is not installed here is found by its name: optuna, pyspark, ...)."""
    found = installed_providers().get(module) or [module]
    return {canonicalize_name(name) for name in found}


def declared() -> set[str]:
    """The distributions pyproject.toml names: the base dependencies and every extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {canonicalize_name(Requirement(requirement).name) for requirement in requirements}


def test_every_library_the_code_imports_is_declared() -> None:
    own, known = first_party(), declared()
    undeclared: dict[str, list[str]] = {}
    files = project_files()
    assert ROOT / "train.py" in files and any("homework" in path.parts for path in files)
    for path in files:
        for module in imported(path) - own - set(sys.stdlib_module_names):
            if not distributions(module) & known:
                undeclared.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert undeclared == {}, f"imported but not in pyproject.toml: {undeclared}"


def test_an_undeclared_import_is_found(tmp_path: Path) -> None:
    script = tmp_path / "scratch.py"
    script.write_text("import os\nimport tqdm\n\ndef f():\n    from yaml import safe_load\n")
    assert imported(script) == {"os", "tqdm", "yaml"}
    assert distributions("yaml") == {"pyyaml"} and "pyyaml" not in declared()


def run_lock(*args: str) -> subprocess.CompletedProcess:
    """scripts/lock.py ARGS; skipped (failed under CI) when the index cannot be reached."""
    done = subprocess.run(
        [sys.executable, str(LOCK), *args], capture_output=True, text=True, timeout=600
    )
    if done.returncode == INDEX_UNREACHABLE:
        unavailable(done.stderr.strip())
    return done


@pytest.mark.index
def test_the_lock_files_match_pyproject() -> None:
    done = run_lock("--check")
    assert done.returncode == 0, done.stderr


@pytest.mark.index
def test_a_changed_constraint_makes_the_locks_stale_until_make_lock(tmp_path: Path) -> None:
    for path in [ROOT / "pyproject.toml", *ROOT.glob("requirements*.txt")]:
        shutil.copy(path, tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"sqlalchemy<2.1"', '"sqlalchemy<2.0.50"'))
    stale = run_lock("--check", "--root", str(tmp_path))
    assert stale.returncode == 1 and "stale: requirements.txt" in stale.stderr, stale.stderr
    assert "run `make lock`" in stale.stderr
    written = run_lock("--root", str(tmp_path))
    assert written.returncode == 0, written.stderr
    pins = re.findall(r"^sqlalchemy==(\S+)", (tmp_path / "requirements.txt").read_text(), re.M)
    assert len(pins) == 1 and tuple(map(int, pins[0].split("."))) < (2, 0, 50)
