"""The documentation stays true: docs/cli.md is each script's --help, the README stays short."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

README_LIMIT = 8000  # bytes: a learner's first ten minutes


def test_cli_reference_matches_the_scripts_help(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/cli_docs.py"), "--write", str(fresh)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (ROOT / "docs/cli.md").read_text() == fresh.read_text(), "stale: run `make docs`"


def test_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) <= README_LIMIT, f"README.md is {len(readme)} bytes"
    for page in ROOT.glob("*.md"), ROOT.glob("docs/*.md"):
        for path in page:
            links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text())
            missing = [link for link in links if not (path.parent / link).exists()]
            assert missing == [], f"{path.name} links to missing {missing}"
