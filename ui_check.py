"""Check in a real headless Chromium that the MLflow UI shows the homework's answers (Q3, Q5, Q6).

After `make all`, this opens the tracking server's web UI as a learner would and checks
what a person sees there (ui/walk.py): Q3's parameter, Q5's best trial of the
newest search, Q6's champion with its tags, description and plots. Every expected value
is read from the tracking server, never typed in. A thing the UI does not show fails with
one `Error:` line naming it, and a screenshot of the page it failed on
(`--failure_screenshot`). `--screenshots_dir` also writes the pictures of docs/ui.md.
The walk knows MLflow 2.x's UI and 3.x's (ui/profiles.py), and picks the one the
server runs.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import time
from pathlib import Path

import click

from homework.options import PathOption, connection_options, model_name_option
from homework.reporting import reporting
from homework.tracking.connection import Connection
from ui.browser import (
    check_ui_version,
    chromium_path,
    open_page,
    require_playwright,
    ui_address,
)
from ui.profiles import profile_for
from ui.walk import checked_walk

FAILURE_SCREENSHOT = "ui-check-failure.png"


@click.command()
@click.option(
    "--screenshots_dir",
    "--screenshots-dir",
    type=PathOption(file_okay=False, path_type=Path),
    default=None,
    help="Also write the pictures of docs/ui.md (ui-*.png) into this folder.",
)
@click.option(
    "--failure_screenshot",
    "--failure-screenshot",
    type=PathOption(dir_okay=False, path_type=Path),
    default=FAILURE_SCREENSHOT,
    show_default=True,
    help="Where a failed check saves a screenshot of the page it failed on.",
)
@model_name_option("Registered model name (Q6).")
@connection_options
def run_ui_check(
    screenshots_dir: Path | None, failure_screenshot: Path, model_name: str, connection: Connection
) -> None:
    """Check in headless Chromium that the MLflow UI shows the answers of Q3, Q5 and Q6."""
    start = time.perf_counter()
    with reporting(connection):
        require_playwright()
        chromium = chromium_path()
        base, login = ui_address(connection.uri)
        connection.connect()
        server_version = check_ui_version(base, login)
        profile = profile_for(server_version, base)
        click.echo(f"Checking the MLflow {server_version} UI at {base} with {chromium}", err=True)
        failure_screenshot.unlink(missing_ok=True)  # only the last failure's page is kept
        if screenshots_dir:
            screenshots_dir.mkdir(parents=True, exist_ok=True)
        with open_page(chromium, login, profile.init_script) as page:
            seen = checked_walk(
                page, base, model_name, profile, screenshots_dir, failure_screenshot
            )
    for line in seen:
        click.echo(line)
    click.echo(f"The MLflow UI shows every answer ({time.perf_counter() - start:.1f} s)", err=True)


if __name__ == "__main__":
    run_ui_check()
