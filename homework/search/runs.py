"""A hyperparameter search as MLflow runs: one parent run, one nested child run per trial.

This is MLflow's own convention (its `examples/hyperparam`): the parent run in
`random-forest-hyperopt` stands for the search. It is tagged `hpo.search` with the tuner's
name, records the search's plan (tuner, trials, seed, the digests of the search space and of
the data) and the months the search trained and validated on and, once the last trial is
done, `best_val_rmse` and the plot of the trials. Each trial is a child run (MLflow's
`mlflow.parentRunId` tag) with its parameters, the validation `rmse`, its signed forest and
the same months.

A search is complete when its parent run FINISHED. Q5 and register_model.py use only the
newest complete search (results.py): one stopped by Ctrl-C ends KILLED, one whose server
or process died stays RUNNING, and neither is ever a result. `hpo.py --resume` reopens the
newest unfinished search of its tuner (`resumable`): its finished trials are the record the
tuner goes on from, and the search then finishes like any other.
"""

from __future__ import annotations

from homework.interrupts import ctrl_c_held_back

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import click

from homework.config import HPO_EXPERIMENT, PARENT_TAG, SEARCH_TAG, TRIALS_PLOT
from homework.data.lineage import log_datasets
from homework.data.pickles import Prepared
from homework.errors import UserError
from homework.models import log_sklearn_model
from homework.processes import alive_here, this_process
from homework.search.plan import History, Plan, data_digest
from homework.search.stray_runs import fail_orphaned_trials
from homework.tracking.experiments import set_experiment

PROCESS_TAG = "hpo.process"  # on a parent run: host, pid and start time of who works on it
RUN_HPO_AGAIN = "run hpo.py again (make q5)"


@dataclass
class Search:
    """One search: its parent run, its plan, its trials so far, and the months they log."""

    experiment_id: str
    run_id: str
    datasets: dict[str, Any] = field(default_factory=dict)
    plan: Plan | None = None
    done: History = field(default_factory=list)  # the trials finished before this process

    @property
    def name(self) -> str:
        return self.run_id[:8]

    def log_trial(self, params: dict[str, Any], val_rmse: float, model: Any) -> str:
        """Record one finished trial as a child run: params, `rmse`, the forest, the months.

        The run is opened only once the trial is done, so a crash never leaves one RUNNING
        for long, and Ctrl-C is held back until it has ended. It names its parent and
        experiment itself: on a Spark worker no run is active. Returns the run id.
        """
        import mlflow

        start = {"experiment_id": self.experiment_id, "parent_run_id": self.run_id}
        with ctrl_c_held_back(), mlflow.start_run(**start, nested=True) as run:
            mlflow.log_params(params)
            mlflow.log_metric("rmse", val_rmse)
            log_sklearn_model(model)
            log_datasets(self.datasets)
        return run.info.run_id

    def logged_rmse(self, params: dict[str, Any]) -> float | None:
        """The `rmse` of a finished trial of this search with `params`, if one is logged."""
        from mlflow.tracking import MlflowClient

        same = " and ".join(f"params.{name} = '{value}'" for name, value in params.items())
        runs = MlflowClient().search_runs(
            [self.experiment_id],
            f"tags.`{PARENT_TAG}` = '{self.run_id}' and attributes.status = 'FINISHED' "
            f"and metrics.rmse >= 0 and {same}",
            max_results=1,
        )
        return runs[0].data.metrics["rmse"] if runs else None

    def finish(self, losses: Sequence[float]) -> None:
        """Record the result on the parent run: the best RMSE and the plot of every trial."""
        import mlflow

        from homework import plots

        mlflow.log_metric("best_val_rmse", min(losses))
        plots.log_figure(plots.trial_rmse_figure(losses), TRIALS_PLOT)


class Tuner(Protocol):
    """What start_search needs of a tuner (HyperoptTuner, OptunaTuner)."""

    plan: Plan

    def continued(self, hpo_experiment_id: str, plan: Plan) -> str | None:
        """The parent run of the search to go on with, or None for a new search."""

    def adopt(self, search: Search) -> None:
        """A new search's parent run exists: remember it (Optuna: in the study)."""

    def params(self) -> dict[str, str]:
        """What the parent run records of the tuner beyond the plan."""

    def minimize(self, objective: Callable[[dict[str, Any]], Any], search: Search) -> Any:
        """Run the trials `search` still needs; the losses of all its trials, in order."""


@contextlib.contextmanager
def start_search(data: Prepared, tuner: Tuner) -> Iterator[Search]:
    """Open the parent run of the search for the block: a new one, or the one `tuner` goes
    on with (`--resume`, or a second Optuna worker).

    The run FINISHES when the block ends normally: the search is then complete. Ctrl-C ends
    it KILLED with one line saying so; any other failure ends it FAILED. Ctrl-C is held back
    from the run's opening to its end, and acts only where the tuner lets it through
    (interrupts.ctrl_c_let_through): so nothing of the record is ever cut in two.
    """
    import mlflow

    datasets = data.months("train", "val")
    plan = replace(tuner.plan, data=data_digest(datasets))
    experiment = set_experiment(HPO_EXPERIMENT)
    fail_orphaned_trials(experiment.experiment_id)
    parent_id = tuner.continued(experiment.experiment_id, plan)
    tags = {SEARCH_TAG: plan.tuner, PROCESS_TAG: this_process()}  # who works on it now
    with (
        ctrl_c_held_back(),
        mlflow.start_run(run_id=parent_id, run_name=f"{plan.tuner}-search", tags=tags) as parent,
    ):
        search = Search(experiment.experiment_id, parent.info.run_id, datasets, plan=plan)
        if parent_id:
            search.done = history(search)
            click.echo(
                f"Going on with search {search.name}: {len(search.done)} of {plan.num_trials} "
                "trials done",
                err=True,
            )
        else:
            mlflow.log_params({**plan.recorded(), **tuner.params()})
            log_datasets(datasets)
            tuner.adopt(search)
        try:
            yield search
        except KeyboardInterrupt:
            mlflow.end_run("KILLED")
            done = len(finished_trials(search))
            raise UserError(
                f"interrupted after {done} of {plan.num_trials} trials: search {search.name} "
                "is incomplete, so register_model.py and Q5 will not use it; run hpo.py "
                "again with --resume to go on with it (make q5 RESUME=1)."
            ) from None


def still_running(parent: Any) -> int | None:
    """The pid of the process on this machine that works on the search `parent`, if it runs."""
    running = parent.info.status == "RUNNING"
    return alive_here(parent.data.tags.get(PROCESS_TAG, "")) if running else None


def resumable(hpo_experiment_id: str, plan: Plan, shared: bool = False) -> Any:
    """The parent run of the newest unfinished search of `plan.tuner`, made with `plan`.

    Refused in one line when there is none, when its plan differs, and (unless several
    processes may share it, as Optuna's workers do: `shared`) while its process still runs.
    """
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    unfinished = MlflowClient().search_runs(
        [hpo_experiment_id],
        f"tags.`{SEARCH_TAG}` = '{plan.tuner}' and attributes.status != 'FINISHED'",
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["attributes.start_time DESC"],
    )
    # A run another tool tagged, with no plan recorded, is no search of hpo.py's to go on with.
    planned = [run for run in unfinished if set(plan.recorded()) <= set(run.data.params)]
    parent = planned[0] if planned else None
    skipped = unfinished[: unfinished.index(parent)] if parent else unfinished
    if skipped:
        names = ", ".join(run.info.run_id[:8] for run in skipped)
        click.echo(
            f"Skipping {len(skipped)} unfinished run(s) tagged {SEARCH_TAG} with no plan of "
            f"hpo.py's ({names}): another tool made them.",
            err=True,
        )
    if parent is None:
        raise UserError(
            f"--resume: no unfinished {plan.tuner} search in {HPO_EXPERIMENT!r} to go on "
            "with: leave out --resume to start one."
        )
    name = parent.info.run_id[:8]
    fix = "pass the options and --data_path it was made with, or leave out --resume"
    plan.check(parent.data.params, f"--resume: {plan.tuner} search {name}", fix)
    pid = None if shared else still_running(parent)
    if pid:
        raise UserError(
            f"--resume: {plan.tuner} search {name} is still running (pid {pid} on this "
            "machine): wait for it, or stop it (Ctrl-C) and run --resume again."
        )
    return parent


def history(search: Search) -> History:
    """The finished trials of `search` as (params, rmse), in the order they started."""
    trials = sorted(finished_trials(search), key=lambda run: run.info.start_time)
    return [(dict(run.data.params), run.data.metrics["rmse"]) for run in trials]


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
