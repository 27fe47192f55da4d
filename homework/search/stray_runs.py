"""Runs in the search experiment that are no trial of a search of ours.

Two kinds: trials a dead server or process left RUNNING (marked FAILED once they are old
enough that no live search can own them), and runs other scripts logged there (the course's
own hpo.py logs plain runs): counted and named, never mistaken for an unfinished search.
"""

from __future__ import annotations

import time

from homework.config import HPO_EXPERIMENT, PARENT_TAG, SEARCH_TAG

ORPHAN_AGE_MINUTES = 10  # a trial still RUNNING after this long was left by a crash


def fail_orphaned_trials(hpo_experiment_id: str) -> int:
    """Mark trials left RUNNING (the server died while one was logged) as FAILED.

    A trial's run is open only while it is logged, seconds, so one older than
    ORPHAN_AGE_MINUTES is an orphan; a search running elsewhere right now is never touched.
    """
    import click
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    started_before = int((time.time() - ORPHAN_AGE_MINUTES * 60) * 1000)
    orphans = client.search_runs(
        [hpo_experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{PARENT_TAG}` != '' "
        f"and attributes.start_time < {started_before}",
    )
    for run in orphans:
        client.set_terminated(run.info.run_id, "FAILED")
    if orphans:
        click.echo(f"Marked {len(orphans)} trial(s) left RUNNING as FAILED", err=True)
    return len(orphans)


def other_runs(hpo_experiment_id: str) -> str:
    """How many runs of the experiment belong to no search of ours (runs another script,
    the course's own hpo.py say, logged there), said as a clause; "" if none."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    runs = MlflowClient().search_runs(
        [hpo_experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=50_000
    )
    parents = {run.info.run_id for run in runs if run.data.tags.get(SEARCH_TAG)}
    count = sum(
        run.info.run_id not in parents and run.data.tags.get(PARENT_TAG) not in parents
        for run in runs
    )
    if not count:
        return ""
    counted, verbs = (
        ("1 run", ("belongs", "is")) if count == 1 else (f"{count} runs", ("belong", "are"))
    )
    return (
        f"{counted} in {HPO_EXPERIMENT!r} {verbs[0]} to no search of ours (no parent run tagged "
        f"{SEARCH_TAG}: the course's own hpo.py logs such runs) and {verbs[1]} ignored"
    )
