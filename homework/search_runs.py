"""A hyperparameter search as MLflow runs: one parent run, one nested child run per trial.

This is MLflow's own convention (its `examples/hyperparam`): the parent run in
`random-forest-hyperopt` stands for the search. It is tagged `hpo.search` with the tuner's
name, records the months the search trained and validated on and, once the last trial is
done, `best_val_rmse` and the plot of the trials. Each trial is a child run (MLflow's
`mlflow.parentRunId` tag) with its parameters, the validation `rmse`, its signed forest and
the same months.

A search is complete when its parent run FINISHED. Q5 and register_model.py use only the
newest complete search (`newest_search`): one stopped by Ctrl-C ends KILLED, one whose server
or process died stays RUNNING, and neither is ever a result.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from homework.config import HPO_EXPERIMENT, SEARCH_TAG, TRIALS_PLOT
from homework.errors import UserError
from homework.lineage import check_same_data, log_datasets, month_datasets
from homework.models import log_sklearn_model
from homework.pickles import load_vectorizer
from homework.tracking import experiment_id, set_experiment

PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag on a nested run
ORPHAN_AGE_MINUTES = 10  # a trial still RUNNING after this long was left by a crash
RUN_HPO_AGAIN = "run hpo.py again (make q5)"


@dataclass
class Search:
    """One search: its parent run, and the months each of its trials logs."""

    experiment_id: str
    run_id: str
    datasets: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # one line for the user when a newer search did not finish

    @property
    def name(self) -> str:
        return self.run_id[:8]

    def log_trial(self, params: dict[str, Any], val_rmse: float, model: Any) -> str:
        """Record one finished trial as a child run: params, `rmse`, the forest, the months.

        The run is opened only once the trial is done, so a crash never leaves one RUNNING
        for long. It names its parent and experiment itself: on a Spark worker no run is
        active. Returns the run id.
        """
        import mlflow

        with mlflow.start_run(
            experiment_id=self.experiment_id, parent_run_id=self.run_id, nested=True
        ) as run:
            mlflow.log_params(params)
            mlflow.log_metric("rmse", val_rmse)
            log_sklearn_model(model)
            log_datasets(self.datasets)
        return run.info.run_id

    def finish(self, losses: Sequence[float]) -> None:
        """Record the result on the parent run: the best RMSE and the plot of every trial."""
        import mlflow

        from homework import plots

        mlflow.log_metric("best_val_rmse", min(losses))
        plots.log_figure(plots.trial_rmse_figure(losses), TRIALS_PLOT)


@contextlib.contextmanager
def start_search(data_path: str, num_trials: int, tuner: str = "hyperopt") -> Iterator[Search]:
    """Open the parent run of a new search in `random-forest-hyperopt` for the block.

    The run FINISHES when the block ends normally: the search is then complete. Ctrl-C ends
    it KILLED with one line saying so; any other failure ends it FAILED.
    """
    import mlflow

    datasets = month_datasets(load_vectorizer(data_path).trip_data_, ("train", "val"), data_path)
    experiment = set_experiment(HPO_EXPERIMENT)
    fail_orphaned_trials(experiment.experiment_id)
    with mlflow.start_run(run_name=f"{tuner}-search", tags={SEARCH_TAG: tuner}) as parent:
        mlflow.log_params({"tuner": tuner, "num_trials": num_trials})
        log_datasets(datasets)
        search = Search(experiment.experiment_id, parent.info.run_id, datasets)
        try:
            yield search
        except KeyboardInterrupt:
            mlflow.end_run("KILLED")
            done = len(finished_trials(search))
            raise UserError(
                f"interrupted after {done} of {num_trials} trials: search {search.name} is "
                f"incomplete, so register_model.py and Q5 will not use it; {RUN_HPO_AGAIN}."
            ) from None


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


# ---------------------------------------------------------------- reading searches back


def newest_parent(
    hpo_experiment_id: str, filter_string: str = "", order: str = "start_time"
) -> Any:
    """The newest (by `order`) undeleted parent run of our searches that passes the filter."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    ours = f"tags.`{SEARCH_TAG}` != ''"
    runs = MlflowClient().search_runs(
        [hpo_experiment_id],
        filter_string=f"{ours} and {filter_string}" if filter_string else ours,
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=[f"attributes.{order} DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def newest_search() -> Search:
    """The newest complete search (its parent run finished last), whose trials Q5 and
    register_model.py use; its `note` says so when a newer search did not finish, and how
    many runs of the experiment are not part of any search of ours (they are ignored)."""
    hpo_experiment_id = experiment_id(HPO_EXPERIMENT)
    if hpo_experiment_id is None:
        raise UserError(f"no experiment {HPO_EXPERIMENT!r} yet: run hpo.py first (make q5).")
    others = other_runs(hpo_experiment_id)
    parent = newest_parent(hpo_experiment_id, "attributes.status = 'FINISHED'", order="end_time")
    if parent is None:
        newest = newest_parent(hpo_experiment_id)
        which = f"the newest, {newest.info.run_id[:8]}, " if newest else ""
        raise UserError(
            f"no hyperopt search in {HPO_EXPERIMENT!r} has finished ({which}was stopped or is "
            f"still running, or none ran{f'; {others}' if others else ''}): {RUN_HPO_AGAIN}."
        )
    search = Search(hpo_experiment_id, parent.info.run_id)
    started_after = f"attributes.start_time > {parent.info.start_time}"
    newer = newest_parent(hpo_experiment_id, f"attributes.status != 'FINISHED' and {started_after}")
    notes = [f"{others}."] if others else []
    if newer:
        notes.append(
            f"The newest hyperopt search ({newer.info.run_id[:8]}) did not finish (stopped, "
            f"or still running): using the newest complete one ({search.name})."
        )
    search.note = "\n".join(notes)
    return search


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


def finished_trials(search: Search, n: int | None = None) -> list[Any]:
    """The finished, undeleted trials of `search` with an `rmse`, lowest first (the best `n`)."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    return MlflowClient().search_runs(
        [search.experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{search.run_id}' "
        "and attributes.status = 'FINISHED' and metrics.rmse >= 0",
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["metrics.rmse ASC"],
        max_results=n or 50_000,
    )


def best_trials(search: Search, n: int, datasets: dict[str, Any], data_path: str) -> list[Any]:
    """The `n` trials of `search` with the lowest validation `rmse`, best first.

    The search must have trained on the months `datasets` names (those of the pickles in
    `data_path`): trials of other data would be scored on data they never saw.
    """
    from mlflow.tracking import MlflowClient

    check_same_data(MlflowClient().get_run(search.run_id), datasets, search.name, data_path)
    trials = finished_trials(search, n)
    if not trials:  # possible only if someone deleted them
        raise UserError(
            f"hyperopt search {search.name} has no finished trials left: {RUN_HPO_AGAIN}."
        )
    return trials
