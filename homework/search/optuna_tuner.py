"""Optuna as a second tuner (`hpo.py --tuner optuna`): a seeded TPE over the same space, its
study kept in a database (study_storage.py), so several workers share a search and a stopped
one goes on.

Each trial is logged exactly as a hyperopt trial is, in the same parent run: the study
records the parent run's id and the search's plan, so a second `hpo.py` with the same
`--study_name` joins the search (with the same options and data, or it stops in one line),
and `--resume` finds the study of the newest unfinished Optuna search. Every worker counts
the trials of the whole study: none starts a trial past `--num_trials`, a crashed worker's
trial is run again once its heartbeat stops (study_storage.GRACE), and each worker returns
only once every trial is done, so the parent run finishes complete.
"""

from __future__ import annotations

from homework.interrupts import ctrl_c_let_through

import hashlib
import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
import optuna
from optuna.trial import TrialState

from homework.config import SEARCH_SPACE, TRIAL_RANDOM_STATE
from homework.errors import UserError
from homework.search.plan import Plan
from homework.search.progress import trial_bar
from homework.search.runs import Search, resumable
from homework.search.study_storage import missing, open_storage, shown

PARENT_ATTR = "parent_run_id"  # the study's user attribute naming the search's parent run
LIVE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)  # what the budget counts
WAIT = 2.0  # seconds between two looks at trials other workers run
JOIN_TIMEOUT = 60  # seconds a joining worker waits for the first to make the parent run


class TrialSeededTPE(optuna.samplers.BaseSampler):
    """Optuna's TPE, seeded afresh for each trial from (seed, the trial's rank).

    One TPESampler(seed) alone repeats its draws in every process: a resumed study or a
    second worker would try the same parameters again. The rank (the live trials numbered
    before this one) is what an uninterrupted study would have, so a resumed study draws
    what it would have drawn, and two workers never share a seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.tpe = optuna.samplers.TPESampler(seed=seed)

    def before_trial(self, study: Any, trial: Any) -> None:
        rank = sum(
            1 for t in study.get_trials(deepcopy=False, states=LIVE) if t.number < trial.number
        )
        digest = hashlib.sha256(f"{self.seed}:{rank}".encode()).digest()
        self.tpe = optuna.samplers.TPESampler(seed=int.from_bytes(digest[:4], "little"))
        self.tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
        return self.tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
        return self.tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
        return self.tpe.sample_independent(study, trial, name, distribution)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self.tpe.after_trial(study, trial, state, values)


def new_study_name() -> str:
    return f"hpo-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


@dataclass
class OptunaTuner:
    """Optuna's seeded TPE on a study in `storage`; several processes may share the search."""

    plan: Plan
    resume: bool = False
    study_name: str = ""  # "": a new study
    storage: str = ""
    verbose: bool = False
    study: Any = None

    def params(self) -> dict[str, str]:
        return {"study_name": self.study_name, "storage": shown(self.storage)}

    def continued(self, hpo_experiment_id: str, plan: Plan) -> str | None:
        """Open (or make) the study; the parent run of its search, None if it is new."""
        quiet_optuna(self.verbose)
        made_in = ""  # where the search to resume says its study is
        if self.resume and not self.study_name:
            parent = resumable(hpo_experiment_id, plan, shared=True)
            self.study_name = parent.data.params.get("study_name", "")
            made_in = parent.data.params.get("storage", "")
        self.study_name = self.study_name or new_study_name()
        click.echo(f"Optuna study {self.study_name} in {shown(self.storage)}", err=True)
        self.study, parent_id = open_study(
            self.storage, self.study_name, plan, self.resume, made_in
        )
        if parent_id:
            check_unfinished(parent_id, self.study_name)
        return parent_id

    def adopt(self, search: Search) -> None:
        self.study.set_user_attr(PARENT_ATTR, search.run_id)

    def minimize(self, objective: Callable[[dict[str, Any]], Any], search: Search) -> list[float]:
        """Run trials until the study holds `num_trials` complete ones; their values, in order."""
        return run_trials(self.study, objective, search)


def quiet_optuna(verbose: bool) -> None:
    """Optuna's log lines (a failed trial is the command's one Error: line) and its warnings
    about experimental features only when `verbose`."""
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    if not verbose:
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_study(
    storage_url: str, name: str, plan: Plan, existing: bool, made_in: str = ""
) -> tuple[Any, str | None]:
    """The study `name` and its search's parent run id (None: this worker made the study).

    Making the study is the claim: of workers started together exactly one makes it, and
    records the plan; the others wait for its parent run, then check the plan is theirs.
    `existing`: the study must be there already (`--resume`; `made_in` says where it was).
    """
    where = f"Optuna study {name!r} in {shown(storage_url)}"
    was = f" (its search recorded {made_in})" if made_in else ""
    no_study = f"--resume: no {where}{was}: pass the --storage it was made in (or $OPTUNA_STORAGE)."
    if existing and missing(storage_url):
        raise UserError(no_study)
    storage = open_storage(storage_url)
    sampler = TrialSeededTPE(plan.seed)
    if not existing:
        try:
            study = optuna.create_study(study_name=name, storage=storage, sampler=sampler)
        except optuna.exceptions.DuplicatedStudyError:
            pass  # another worker made it: join its search
        else:
            for key, value in plan.recorded().items():
                study.set_user_attr(key, value)
            return study, None
    try:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except KeyError:
        raise UserError(no_study) from None
    deadline = time.monotonic() + JOIN_TIMEOUT
    while PARENT_ATTR not in study.user_attrs:
        if time.monotonic() > deadline:
            raise UserError(f"{where} belongs to no search of hpo.py: pass another --study_name.")
        time.sleep(0.5)
    fix = "start every worker with the same options and data, or pass another --study_name"
    plan.check(study.user_attrs, where, fix)
    return study, study.user_attrs[PARENT_ATTR]


def check_unfinished(parent_id: str, study_name: str) -> None:
    """Refuse to add trials to a search that is complete (its parent run FINISHED)."""
    from mlflow.tracking import MlflowClient

    if MlflowClient().get_run(parent_id).info.status == "FINISHED":
        raise UserError(
            f"the search of Optuna study {study_name!r} ({parent_id[:8]}) is complete: pass "
            "another --study_name, or leave it out for a new study."
        )


def run_trials(
    study: Any, objective: Callable[[dict[str, Any]], Any], search: Search
) -> list[float]:
    """This worker's share of the search's trials; every complete value, in order.

    Returns once the study holds `num_trials` complete trials, waiting for those other
    workers run (and running again one whose worker died). The search's runs are the record:
    parameters already logged in it (a trial whose worker stopped before Optuna recorded
    it) are not fitted and logged again.

    The search holds Ctrl-C back (runs.start_search): it acts only in a trial's own work
    (`objective`) and while this worker waits. Cut anywhere in Optuna's bookkeeping (asking
    for a trial, its heartbeat thread, recording it), Optuna 5.1 leaves the trial RUNNING, a
    heartbeat thread the process waits for forever, or an UnboundLocalError in place of the
    KeyboardInterrupt.
    """
    budget = search.plan.num_trials

    def trial_objective(trial: Any) -> float:
        ahead = study.get_trials(deepcopy=False, states=LIVE)
        if sum(1 for t in ahead if t.number < trial.number) >= budget:
            study.stop()  # another worker runs the last trial
            raise optuna.TrialPruned("the search has all its trials")
        params = {
            name: trial.suggest_int(name, low, high) for name, (low, high) in SEARCH_SPACE.items()
        }
        params["random_state"] = TRIAL_RANDOM_STATE
        logged = search.logged_rmse(params)
        if logged is not None:
            return logged
        with ctrl_c_let_through():
            return objective(params)

    done, best = standing(study)
    with trial_bar(done, budget, best) as bar:

        def after_trial(study: Any, trial: Any) -> None:
            bar.show(*standing(study))
            if len(study.get_trials(deepcopy=False, states=LIVE)) >= budget:
                study.stop()

        while True:
            optuna.storages.fail_stale_trials(study)  # a dead worker's trial waits to run again
            trials = study.get_trials(deepcopy=False)
            bar.show(*standing(study))
            complete = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=number)
            if len(complete) >= budget:
                return [t.value for t in complete[:budget]]
            waiting = any(t.state == TrialState.WAITING for t in trials)
            if waiting or sum(1 for t in trials if t.state in LIVE) < budget:
                study.optimize(trial_objective, n_trials=budget, callbacks=[after_trial])
            else:
                with ctrl_c_let_through():
                    time.sleep(WAIT)  # the last trials run in other workers


def number(trial: Any) -> int:
    return trial.number


def standing(study: Any) -> tuple[int, float | None]:
    """The study's complete trials so far, and their best value."""
    values = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return len(values), min(values, default=None)
