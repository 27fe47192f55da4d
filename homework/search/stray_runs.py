"""Trials a dead server or process left RUNNING in the search experiment: marked FAILED once
they are old enough that no live search can own them. (Runs other scripts logged there, the
course's own hpo.py's among them, are sorted out where searches are read back: results.py.)
"""

from __future__ import annotations

import time

from homework.config import PARENT_TAG

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
