"""The walk through MLflow's UI: where a learner finds Q3, Q5 and Q6, checked one by one.

- Q3: experiment `random-forest-train` -> the newest run -> its parameter `min_samples_split`;
- Q5: experiment `random-forest-hyperopt`, filtered to the newest search's trials and sorted
  by `rmse`: every trial listed, the best first with its `rmse`; the chart view draws them;
- Q6: Models -> the registered model: the version with the alias `champion`, its tags and
  description; its source run shows the plots `predicted_vs_actual.png` and `residuals.png`,
  and the search's parent run shows `validation_rmse_per_trial.png`.

Every expected value is read from the tracking server (MlflowClient), never typed in. The
walk is the same in MLflow 2.x's UI and 3.x's; what differs is in the UI's profile
(profiles.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from homework.config import (
    BEST_MODELS_EXPERIMENT,
    CHAMPION_ALIAS,
    CHAMPION_PLOTS,
    HPO_EXPERIMENT,
    TRAIN_EXPERIMENT,
    TRIALS_PLOT,
)
from homework.errors import UserError, first_line
from homework.publish.registry import champion_version
from homework.search.runs import PARENT_TAG, finished_trials, newest_search
from homework.tracking.experiments import newest_run
from ui.browser import NotShown, expecting, save_picture
from ui.profiles import Profile


def open_experiment(page: Any, base: str, profile: Profile, name: str) -> None:
    """The UI's experiment list, then a click on the experiment `name`."""
    page.goto(base + profile.experiments_url)
    link = page.get_by_role("link", name=name, exact=True)
    with expecting(f"the experiment {name!r} in its experiment list", ": run `make all` first"):
        link.click()
        page.get_by_role("heading", name=profile.experiment_heading or name).wait_for()


def check_train_run(page: Any, base: str, profile: Profile, pictures: Path | None) -> str:
    """Q3: the newest run of random-forest-train shows its min_samples_split."""
    from playwright.sync_api import expect

    open_experiment(page, base, profile, TRAIN_EXPERIMENT)
    run = newest_run(TRAIN_EXPERIMENT, "train.py (make q3)")
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
    save_picture(page, pictures, profile.picture("q3"))
    return f"Q3  {TRAIN_EXPERIMENT}: run {name} shows min_samples_split = {value}"


def sort_runs(page: Any, metric: str) -> None:
    """The runs table's Sort menu: by `metric`, lowest first."""
    from playwright.sync_api import expect

    sort_button = page.get_by_role("button", name=re.compile("^Sort"))
    sort_button.click()
    page.get_by_role("menuitemcheckbox", name=metric, exact=True).click()
    sort_button.click()
    page.get_by_role("button", name="Sort ascending").click()
    page.keyboard.press("Escape")
    expect(sort_button).to_have_text(re.compile(f"Sort: {re.escape(metric)}"))


def filter_runs(page: Any, search: str) -> None:
    """Type a run filter and apply it, until the page's address shows it took.

    An Enter pressed while the table still re-renders is lost (seen behind a login).
    """
    from urllib.parse import quote_plus

    from playwright.sync_api import expect

    box = page.get_by_placeholder(re.compile("metrics.rmse"))
    box.fill(search)
    applied = re.compile("searchFilter=" + re.escape(quote_plus(search)))
    for attempt in range(3):
        box.press("Enter")
        try:
            expect(page).to_have_url(applied, timeout=5_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def check_hpo_runs(page: Any, base: str, profile: Profile, pictures: Path | None) -> str:
    """Q5: the newest search's trials, sorted by rmse, the best first; the chart view.

    The table shows each search as its parent run, the trials folded under it. Sorted by
    `rmse`, it lists the trials flat, best first; the filter on the parent's id keeps the
    newest search's trials only.
    """
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import expect

    open_experiment(page, base, profile, HPO_EXPERIMENT)
    newest = newest_search()
    parent = MlflowClient().get_run(newest.run_id).info.run_name
    search = f"tags.`{PARENT_TAG}` = '{newest.run_id}'"
    trials = finished_trials(newest)
    best, best_rmse = trials[0].info.run_name, trials[0].data.metrics["rmse"]
    with expecting(f"the newest search {parent} with its trials folded under it"):
        expect(page.get_by_role("link", name=parent, exact=True)).to_be_visible()
    # ag-grid draws each row in two parts (pinned name, scrolling columns): both are row 0.
    first_row = page.locator(".ag-row[row-index='0']")
    with expecting(f"the {len(trials)} trials of {parent} sorted by rmse (filter: {search})"):
        # Room for the rmse column, which sorting adds at the right of the table.
        page.get_by_role("button", name=profile.room_button).click()
        sort_runs(page, "rmse")
        filter_runs(page, search)
        # Counted once sorted: sorted by creation, the filter also lists the parent.
        expect(page.get_by_text(f"{len(trials)} matching runs", exact=True)).to_be_visible()
    with expecting(f"the best trial {best} first when sorted by rmse"):
        expect(first_row.get_by_role("link", name=best, exact=True)).to_be_visible()
    with expecting(f"the rmse of the best trial {best}"):
        shown = first_row.locator("[col-id='metrics.`rmse`']").inner_text()
    if not re.fullmatch(r"\d+(\.\d+)?", shown) or f"{float(shown):.3f}" != f"{best_rmse:.3f}":
        raise NotShown(
            f"does not show the rmse {best_rmse:.3f} of the best trial {best} ({shown!r})"
        )
    save_picture(page, pictures, profile.picture("q5"))
    with expecting(f"the chart view's rmse bars (the best: {best_rmse:.2f})"):
        page.locator("label", has=page.locator("input[value='CHART']")).click()
        expect(page.locator(".js-plotly-plot").first).to_contain_text(f"{best_rmse:.2f}")
    save_picture(page, pictures, profile.picture("q5-chart"))
    if profile.restore_room:  # the navigation back, for the registry's link
        page.get_by_role("button", name=profile.room_button).click()
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


def check_champion(
    page: Any, base: str, model_name: str, profile: Profile, pictures: Path | None
) -> str:
    """Q6: the version with @champion, its tags and description; its run's two plots."""
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import expect

    page.goto(base + profile.experiments_url)
    registry = profile.registry_link
    with expecting(
        f"the registered model {model_name!r} under {registry}", ": run `make all` first"
    ):
        page.get_by_role("link", name=registry, exact=True).click()
        page.get_by_role("link", name=model_name, exact=True).click()
    version = champion_version(model_name)
    version_link = page.get_by_role("link", name=f"Version {version.version}", exact=True)
    row = page.get_by_role("row").filter(has=version_link)
    with expecting(f"version {version.version} of {model_name} with the alias @{CHAMPION_ALIAS}"):
        expect(row).to_contain_text(f"@ {CHAMPION_ALIAS}")
    for key, value in version.tags.items():
        with expecting(f"the tag {key}: {value} of version {version.version}"):
            expect(row).to_contain_text(f"{key}: {value}")
    save_picture(page, pictures, profile.picture("q6"))
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
    """The newest search's parent run shows validation_rmse_per_trial.png."""
    from mlflow.tracking import MlflowClient

    newest = newest_search()
    parent = MlflowClient().get_run(newest.run_id)
    page.goto(f"{base}/#/experiments/{newest.experiment_id}/runs/{newest.run_id}/artifacts")
    see_plot(page, TRIALS_PLOT, parent.info.run_name)
    return f"    {TRIALS_PLOT} in run {parent.info.run_name} ({HPO_EXPERIMENT})"


def walk(page: Any, base: str, model_name: str, profile: Profile, pictures: Path | None) -> list:
    """The whole walk, Q3, Q5, Q6 and the plots; one line of what was seen for each."""
    return [
        check_train_run(page, base, profile, pictures),
        check_hpo_runs(page, base, profile, pictures),
        check_champion(page, base, model_name, profile, pictures),
        check_search_plot(page, base),
    ]


def checked_walk(
    page: Any,
    base: str,
    model_name: str,
    profile: Profile,
    pictures: Path | None,
    failure_screenshot: Path,
) -> list[str]:
    """The walk; a failure saves a screenshot of its page and becomes one UserError."""
    from playwright.sync_api import Error

    try:
        return walk(page, base, model_name, profile, pictures)
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
