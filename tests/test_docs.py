"""The documentation stays true: generated pages are fresh, the README stays short."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

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
