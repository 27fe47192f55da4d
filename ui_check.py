"""Check in a real headless Chromium that the MLflow UI shows the homework's answers (Q3, Q5, Q6).

After `make all`, this opens the tracking server's web UI as a learner would and checks
what a person sees there:

- Q3: experiment `random-forest-train` -> the newest run -> its parameter `min_samples_split`;
- Q5: experiment `random-forest-hyperopt`, filtered to the newest search and sorted by `rmse`:
  every trial listed, the best first with its `rmse`; the chart view draws the trials;
- Q6: Models -> the registered model: the version with the alias `champion`, its tags and
  description; its source run shows the plots `predicted_vs_actual.png` and `residuals.png`,
  and the search's summary run shows `validation_rmse_per_trial.png`.

Every expected value is read from the tracking server (MlflowClient), never typed in. A
thing the UI does not show fails with one `Error:` line naming it, and a screenshot of the
page it failed on (`--failure_screenshot`). `--screenshots_dir` also writes the pictures of
docs/ui.md. Chromium comes from `make install-browser` (or `CHROMIUM=/path/to/chrome`);
Playwright drives it. The walk knows MLflow 2.x's UI (the pictures show 2.22.0).
With MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD set, the browser logs in with them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from homework.cli import model_name_option, reporting, tracking_uri_option
from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_ALIAS,
    CHAMPION_PLOTS,
    HPO_EXPERIMENT,
    SEARCH_TAG,
    SUMMARY_TAG,
    TRAIN_EXPERIMENT,
    TRIALS_PLOT,
)
from homework.errors import UserError, first_line
from homework.tracking import champion_version, connect, newest_search, train_run

CHROMIUM_VARIABLE = "CHROMIUM"  # the browser to drive, e.g. a local Google Chrome on macOS
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MACOS_CHROME = "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
# --no-sandbox: Chromium refuses to run as root without it. The rest keep it from calling home.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 20_000  # the longest wait for one thing to show (the UI loads a few MB of scripts)
FAILURE_SCREENSHOT = "ui-check-failure.png"
# The model page opens with a promotion dialog over the versions; a person closes it once.
PROMO_DISMISSED = "localStorage.setItem('_mlflow_model_registry_promo_modal_dismissed', 'true')"
PICTURES = {
    "q3": "ui-q3-train-run.png",
    "q5": "ui-q5-hyperopt-runs.png",
    "q5-chart": "ui-q5-chart-view.png",
    "q6": "ui-q6-registered-model.png",
}
PICTURE_COLOURS = 256  # screenshots of a flat UI lose nothing visible in a 256-colour palette


class NotShown(UserError):
    """The UI did not show something it should."""


# ---------------------------------------------------------------- the browser


def require_playwright() -> None:
    """A UserError unless Playwright, which drives the browser, is installed."""
    if importlib.util.find_spec("playwright") is None:
        raise UserError(
            "Playwright is not installed in this environment: run `make install-browser` "
            "(requirements-ui.txt)."
        )


def chromium_path() -> str:
    """The Chromium (or Chrome) to drive: $CHROMIUM, else the first one found on this machine."""
    chosen = os.environ.get(CHROMIUM_VARIABLE)
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise UserError(
                f"{CHROMIUM_VARIABLE}={chosen} is not an executable: point it at Chromium or "
                "Google Chrome, or unset it and run `make install-browser`."
            )
        return chosen
    found = [shutil.which(name) for name in CHROMIUM_NAMES]
    found.append(MACOS_CHROME if os.access(MACOS_CHROME, os.X_OK) else None)
    for path in found:
        if path:
            return path
    raise UserError(
        f"no Chromium found ({', '.join(CHROMIUM_NAMES)}): run `make install-browser`, "
        f"or set {CHROMIUM_VARIABLE}=/path/to/chrome."
    )


def ui_address(tracking_uri: str) -> tuple[str, dict[str, str] | None]:
    """The UI's base URL (no password in it) and the HTTP basic-auth login for the browser.

    The login comes from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, as MLflow's
    clients take it, or from a user:password@ in the tracking URI.
    """
    parts = urlsplit(tracking_uri)
    if not parts.scheme.startswith("http"):
        raise UserError(
            f"--tracking_uri {tracking_uri} is not an http(s) server: the UI check needs the "
            "server `make server` starts."
        )
    username = os.environ.get("MLFLOW_TRACKING_USERNAME") or parts.username
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or parts.password
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    base = origin + parts.path.rstrip("/")
    # The browser sends the login to this server only, whatever else a page asks for.
    login = {"username": username, "password": password or "", "origin": origin}
    return base, login if username else None


def check_ui_version(base: str, login: dict[str, str] | None) -> str:
    """The server's MLflow version; a UserError unless it is 2.x, whose UI the walk knows."""
    import requests

    auth = (login["username"], login["password"]) if login else None
    try:
        answer = requests.get(f"{base}/version", auth=auth, timeout=10)
    except requests.RequestException as exc:
        raise UserError(f"the server at {base} did not answer ({first_line(exc)})") from None
    if answer.status_code in (401, 403):
        raise UserError(
            f"the server at {base} refused the {'login' if login else 'anonymous visit'} "
            f"({answer.status_code}): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
        )
    if not answer.ok:
        raise UserError(f"the server at {base} answered /version with {answer.status_code}.")
    server_version = answer.text.strip()
    if not server_version.startswith("2."):
        raise UserError(
            f"the server at {base} runs MLflow {server_version}: the UI check walks MLflow "
            "2.x's UI (3.x's differs), so run it against a 2.22 server (`make server`)."
        )
    return server_version


@contextlib.contextmanager
def open_page(chromium: str, login: dict[str, str] | None) -> Iterator[Any]:
    """A fresh headless Chromium page, 1280x800, logged in with `login` if given."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        except Error as exc:
            raise UserError(
                f"cannot start {chromium}: {first_line(exc)[:300]} "
                f"(run `make install-browser`, or set {CHROMIUM_VARIABLE}=...)."
            ) from None
        try:
            context = browser.new_context(viewport=VIEWPORT, http_credentials=login)
            context.add_init_script(PROMO_DISMISSED)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def expecting(what: str, fix: str = "") -> Iterator[None]:
    """Turn a wait for the UI that runs out into NotShown naming `what` (and the fix)."""
    from playwright.sync_api import Error

    try:
        yield
    except (AssertionError, Error):
        raise NotShown(f"does not show {what}{fix}") from None


def save_picture(page: Any, folder: Path | None, key: str) -> None:
    """With a folder, write the page as docs/ui.md's picture `key`: a small palette PNG."""
    if folder is None:
        return
    import io

    from PIL import Image

    path = folder / PICTURES[key]
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # two runs never share one
    with Image.open(io.BytesIO(page.screenshot(type="png"))) as shot:
        shot.convert("RGB").quantize(PICTURE_COLOURS).save(scratch, format="PNG", optimize=True)
    scratch.replace(path)  # whole or not at all
    click.echo(f"Wrote {path} ({path.stat().st_size // 1024} KB)", err=True)


# ---------------------------------------------------------------- the walk, one question each


def open_experiment(page: Any, base: str, name: str) -> None:
    """The UI's experiment list, then a click on the experiment `name`."""
    page.goto(f"{base}/#/")
    link = page.get_by_role("link", name=name, exact=True)
    with expecting(f"the experiment {name!r} in its experiment list", ": run `make all` first"):
        link.click()
        page.get_by_role("heading", name=name).wait_for()


def check_train_run(page: Any, base: str, pictures: Path | None) -> str:
    """Q3: the newest run of random-forest-train shows its min_samples_split."""
    from playwright.sync_api import expect

    open_experiment(page, base, TRAIN_EXPERIMENT)
    run = train_run()
    name, value = run.info.run_name, run.data.params["min_samples_split"]
    with expecting(f"the run {name} in the experiment {TRAIN_EXPERIMENT!r}"):
        page.get_by_role("link", name=name, exact=True).first.click()
        expect(page).to_have_url(re.compile(f"/runs/{run.info.run_id}"))
    with expecting(f"the parameter min_samples_split = {value} of the run {name}"):
        page.get_by_placeholder("Search parameters").fill("min_samples_split")
        cell = page.get_by_role("cell", name="min_samples_split", exact=True)
        row = page.get_by_role("row").filter(has=cell)
        expect(row.get_by_role("cell").nth(1)).to_have_text(value)
        row.scroll_into_view_if_needed()
    save_picture(page, pictures, "q3")
    return f"Q3  {TRAIN_EXPERIMENT}: run {name} shows min_samples_split = {value}"


def sort_runs(page: Any, metric: str) -> None:
    """The runs table's Sort menu: by `metric`, lowest first."""
    sort_button = page.get_by_role("button", name=re.compile("^Sort"))
    sort_button.click()
    page.get_by_role("menuitemcheckbox", name=metric, exact=True).click()
    sort_button.click()
    page.get_by_role("button", name="Sort ascending").click()
    page.keyboard.press("Escape")


def check_hpo_runs(page: Any, base: str, pictures: Path | None) -> str:
    """Q5: the newest search's trials, sorted by rmse, the best first; the chart view."""
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import expect

    open_experiment(page, base, HPO_EXPERIMENT)
    newest = newest_search()
    hpo_experiment_id, search = newest.experiment_id, newest.trials_filter
    trials = MlflowClient().search_runs([hpo_experiment_id], search, order_by=["metrics.rmse ASC"])
    best, best_rmse = trials[0].info.run_name, trials[0].data.metrics["rmse"]
    with expecting(f"the {len(trials)} trials of the newest search (filter: {search})"):
        # Room for the rmse column, which sorting adds at the right of the table.
        page.get_by_role("button", name="Hide experiment list").click()
        page.get_by_placeholder(re.compile("metrics.rmse")).fill(search)
        page.keyboard.press("Enter")
        expect(page.get_by_text(f"{len(trials)} matching runs", exact=True)).to_be_visible()
    # ag-grid draws each row in two parts (pinned name, scrolling columns): both are row 0.
    first_row = page.locator(".ag-row[row-index='0']")
    with expecting(f"the best trial {best} first when sorted by rmse"):
        sort_runs(page, "rmse")
        expect(first_row.get_by_role("link", name=best, exact=True)).to_be_visible()
    with expecting(f"the rmse of the best trial {best}"):
        shown = first_row.locator("[col-id='metrics.`rmse`']").inner_text()
    if not re.fullmatch(r"\d+(\.\d+)?", shown) or f"{float(shown):.3f}" != f"{best_rmse:.3f}":
        raise NotShown(
            f"does not show the rmse {best_rmse:.3f} of the best trial {best} ({shown!r})"
        )
    save_picture(page, pictures, "q5")
    with expecting(f"the chart view's rmse bars (the best: {best_rmse:.2f})"):
        page.locator("label", has=page.locator("input[value='CHART']")).click()
        expect(page.locator(".js-plotly-plot").first).to_contain_text(f"{best_rmse:.2f}")
    save_picture(page, pictures, "q5-chart")
    return (
        f"Q5  {HPO_EXPERIMENT}: {len(trials)} trials, sorted by rmse: {best} first "
        f"with {best_rmse:.3f}; the chart view draws them"
    )


def see_plot(page: Any, name: str, run_name: str) -> None:
    """Click the artifact `name` in the open run's artifact tree; its image must load."""
    shown_before = page.evaluate("() => [...document.images].map(image => image.src)")
    with expecting(f"the plot {name} among the artifacts of the run {run_name}"):
        page.get_by_label(name, exact=True).click()
        page.wait_for_function(
            """before => [...document.images].some(image => image.src.startsWith('blob:')
                && !before.includes(image.src) && image.complete && image.naturalWidth > 0)""",
            arg=shown_before,
        )


def check_champion(page: Any, base: str, model_name: str, pictures: Path | None) -> str:
    """Q6: the version with @champion, its tags and description; its run's two plots."""
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import expect

    page.goto(f"{base}/#/")
    with expecting(f"the registered model {model_name!r} under Models", ": run `make all` first"):
        page.get_by_role("link", name="Models", exact=True).click()
        page.get_by_role("link", name=model_name, exact=True).click()
    version = champion_version(model_name)
    version_link = page.get_by_role("link", name=f"Version {version.version}", exact=True)
    row = page.get_by_role("row").filter(has=version_link)
    with expecting(f"version {version.version} of {model_name} with the alias @{CHAMPION_ALIAS}"):
        expect(row).to_contain_text(f"@ {CHAMPION_ALIAS}")
    for key, value in version.tags.items():
        with expecting(f"the tag {key}: {value} of version {version.version}"):
            expect(row).to_contain_text(f"{key}: {value}")
    save_picture(page, pictures, "q6")
    with expecting(f"the description of version {version.version} of {model_name}"):
        version_link.click()
        expect(page.get_by_text(version.description.strip())).to_be_visible()
    run_name = MlflowClient().get_run(version.run_id).info.run_name
    with expecting(f"the source run {run_name} of version {version.version}"):
        page.get_by_role("link", name=run_name, exact=True).click()
        page.get_by_role("tab", name="Artifacts").click()
    for plot in CHAMPION_PLOTS:
        see_plot(page, plot, run_name)
    return (
        f"Q6  {model_name}: version {version.version} @{CHAMPION_ALIAS}, its "
        f"{len(version.tags)} tags and description; {', '.join(CHAMPION_PLOTS)} in run {run_name} "
        f"({BEST_MODELS_EXPERIMENT})"
    )


def check_search_plot(page: Any, base: str) -> str:
    """The newest search's summary run shows validation_rmse_per_trial.png."""
    from mlflow.tracking import MlflowClient

    newest = newest_search()
    hpo_experiment_id, search_id = newest.experiment_id, newest.search_id
    summaries = MlflowClient().search_runs(
        [hpo_experiment_id],
        f"tags.`{SUMMARY_TAG}` = 'true' and tags.`{SEARCH_TAG}` = '{search_id}'",
        max_results=1,
    )
    if not summaries:
        raise UserError(
            f"the newest search in {HPO_EXPERIMENT!r} has no summary run with {TRIALS_PLOT}: "
            "run hpo.py again (make q5)."
        )
    summary = summaries[0]
    page.goto(f"{base}/#/experiments/{hpo_experiment_id}/runs/{summary.info.run_id}/artifacts")
    see_plot(page, TRIALS_PLOT, summary.info.run_name)
    return f"    {TRIALS_PLOT} in run {summary.info.run_name} ({HPO_EXPERIMENT})"


def walk(page: Any, base: str, model_name: str, pictures: Path | None) -> list[str]:
    """The whole walk, Q3, Q5, Q6 and the plots; one line of what was seen for each."""
    return [
        check_train_run(page, base, pictures),
        check_hpo_runs(page, base, pictures),
        check_champion(page, base, model_name, pictures),
        check_search_plot(page, base),
    ]


def checked_walk(
    page: Any, base: str, model_name: str, pictures: Path | None, failure_screenshot: Path
) -> list[str]:
    """The walk; a failure saves a screenshot of its page and becomes one UserError."""
    from playwright.sync_api import Error

    try:
        return walk(page, base, model_name, pictures)
    except NotShown as exc:
        message = f"the MLflow UI at {base} {exc}"
    except UserError as exc:  # the server lacks what the UI should show
        message = str(exc)
    except Error as exc:  # the browser itself: it crashed, or a page never came
        message = f"the browser failed on {page.url}: {first_line(exc)[:300]}"
    try:
        page.screenshot(path=str(failure_screenshot))
        saved = f"screenshot: {failure_screenshot}"
    except Error:
        saved = "no screenshot: the browser is gone"
    raise UserError(f"{message} ({saved})")


@click.command()
@click.option(
    "--screenshots_dir",
    "--screenshots-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the pictures of docs/ui.md (ui-*.png) into this folder.",
)
@click.option(
    "--failure_screenshot",
    "--failure-screenshot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=FAILURE_SCREENSHOT,
    show_default=True,
    help="Where a failed check saves a screenshot of the page it failed on.",
)
@model_name_option("Registered model name (Q6).")
@tracking_uri_option
def run_ui_check(
    screenshots_dir: Path | None, failure_screenshot: Path, model_name: str, tracking_uri: str
) -> None:
    """Check in headless Chromium that the MLflow UI shows the answers of Q3, Q5 and Q6."""
    start = time.perf_counter()
    with reporting(tracking_uri):
        require_playwright()
        chromium = chromium_path()
        base, login = ui_address(tracking_uri)
        connect(tracking_uri)
        server_version = check_ui_version(base, login)
        click.echo(f"Checking the MLflow {server_version} UI at {base} with {chromium}", err=True)
        failure_screenshot.unlink(missing_ok=True)  # only the last failure's page is kept
        if screenshots_dir:
            screenshots_dir.mkdir(parents=True, exist_ok=True)
        with open_page(chromium, login) as page:
            seen = checked_walk(page, base, model_name, screenshots_dir, failure_screenshot)
    for line in seen:
        click.echo(line)
    click.echo(f"The MLflow UI shows every answer ({time.perf_counter() - start:.1f} s)", err=True)


if __name__ == "__main__":
    run_ui_check()
