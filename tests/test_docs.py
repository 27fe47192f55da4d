"""The documentation stays true: generated pages are fresh, the README stays short."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

README_LIMIT = 8000  # bytes: a learner's first ten minutes


def test_generated_docs_are_fresh() -> None:
    """docs/cli.md is each script's --help; performance.md's numbers are bench/results.json's."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_a_stale_number_is_caught() -> None:
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "scripts/make_docs.py")
    make_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_docs)
    page = "<!-- make docs: n-jobs -->\nthe fits 1.84 times faster\n<!-- /make docs -->\n"
    results = {"bench": {"n_jobs": {"cores": 2, "speedup": 1.8002}}}
    assert "1.80 times faster" in make_docs.fill(page, results)
    assert "1.84" not in make_docs.fill(page, results)


def test_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) <= README_LIMIT, f"README.md is {len(readme)} bytes"
    for page in ROOT.glob("*.md"), ROOT.glob("docs/*.md"):
        for path in page:
            links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text())
            missing = [link for link in links if not (path.parent / link).exists()]
            assert missing == [], f"{path.name} links to missing {missing}"


# A path the docs, comments and docstrings name: `dir/.../name.ext`, or a bare `name.py`/`.sh`.
NAMED_PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)+[\w.*-]*|[\w-]+\.(?:py|sh))(?![\w(/])")
NAMED_MODULE = re.compile(r"(?<![\w.])((?:homework|services)(?:\.\w+)+)")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return listed.stdout.split()


def module_exists(dotted: str) -> bool:
    """True if `homework.x.y...` names a module, or something a module holds."""
    import importlib
    import importlib.util

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            if importlib.util.find_spec(".".join(parts[:cut])) is None:
                continue
        except ModuleNotFoundError:  # a package on the way is missing
            continue
        if cut == len(parts):
            return True  # a module: not imported (its libraries may be an extra's)
        found = importlib.import_module(".".join(parts[:cut]))
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def test_every_file_the_docs_and_comments_name_exists() -> None:
    """The docs, the requirement files, the Makefile and every docstring or comment outside
    the tests name only files, folders and modules that exist (a path under one of the
    project's folders, a bare script name anywhere in it)."""
    files = tracked_files()
    known = {*files, *(str(parent) for name in files for parent in Path(name).parents)}
    runtime = {
        "data",
        "output",
    }  # folders the scripts fill: data/green_tripdata_... is no file of ours
    top = {name.split("/")[0] for name in files if "/" in name} - runtime
    wings = {
        name.split("/")[1] for name in files if name.startswith("homework/") and name.count("/") > 1
    }
    basenames = {Path(name).name for name in files}
    readers = [
        name
        for name in files
        if not name.startswith("tests/")
        and (name.endswith((".md", ".txt", ".toml", ".py", ".sh")) or name == "Makefile")
    ]
    wrong = []
    for name in readers:
        text = (ROOT / name).read_text()
        for found in NAMED_PATH.findall(text):
            path = found.rstrip(".,:;")
            if "/" not in path:
                exists = path in basenames
            elif "*" in path:
                exists = path.split("/")[0] not in top or any(ROOT.glob(path))
            elif {
                path.rstrip("/"),
                f"homework/{path.rstrip('/')}",
            } & known:  # docs name its modules so
                exists = True
            else:  # outside the project's folders (a URL, ~/.config/...), or missing
                exists = path.split("/")[0] not in top | wings - runtime
            if not exists:
                wrong.append(f"{name}: {path}")
        wrong += [f"{name}: {m}" for m in NAMED_MODULE.findall(text) if not module_exists(m)]
    assert wrong == [], "\n".join(wrong)
