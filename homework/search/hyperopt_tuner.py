"""The hyperopt search: the course's space, the one `fmin` call, and a search resumed.

hpo.py runs it with MLflow around each trial, bench/baseline.py with scikit-learn alone;
both call `minimize`, so the benchmark compares the same search. spark.py runs it with
hyperopt's SparkTrials. A resumed search (`hpo.py --resume`) hands fmin the trials it
finished as hyperopt's own documents and moves the seeded generator past them (`prefill`),
so it goes on as the uninterrupted search would have.
"""

from __future__ import annotations

from homework.interrupts import ctrl_c_let_through

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_DONE, STATUS_OK, Trials, base, fmin, hp, rand, tpe
from hyperopt.fmin import generate_trial
from hyperopt.pyll import scope
from hyperopt.utils import coarse_utcnow

from homework import config
from homework.search.plan import History, Plan
from homework.search.progress import hyperopt_bar
from homework.search.runs import Search, resumable

SEARCH_SPACE = {
    **{
        name: scope.int(hp.quniform(name, low, high, 1))
        for name, (low, high) in config.SEARCH_SPACE.items()
    },
    "random_state": config.TRIAL_RANDOM_STATE,
}
STARTUP_TRIALS = 20  # tpe.suggest's n_startup_jobs: its first 20 trials are random draws
Key = tuple[int, ...]  # a trial's parameters, in the order of config.SEARCH_SPACE


def minimize(
    objective: Callable[[dict[str, Any]], Any],
    num_trials: int,
    seed: int,
    trials: Trials | None = None,
    show_progressbar: bool = True,
    done: History = (),
) -> list[float]:
    """Run TPE over SEARCH_SPACE until `num_trials` trials are done; each trial's loss, in order.

    `objective` returns a trial's validation RMSE. `done` are trials finished before (a
    resumed search): they count, and TPE learns from them. Every trial is recorded in
    `trials`, failed ones too: a search whose trials all failed still returns, so the caller
    can report them.
    """
    trials = Trials() if trials is None else trials
    rstate = np.random.default_rng(seed)
    for _ in range(prefill(trials, done, seed)):
        rstate.integers(2**31 - 1)  # fmin draws one seed per trial it asks TPE for
    # A failed trial stops the search and becomes the command's one `Error:` line (or its
    # traceback with HOMEWORK_DEBUG=1); hyperopt's own "job exception" line would repeat it.
    logging.getLogger("hyperopt").setLevel(logging.CRITICAL)
    best = min((loss for _, loss in done), default=None)
    fmin(
        fn=objective,
        space=SEARCH_SPACE,
        algo=tpe.suggest,
        max_evals=num_trials,
        trials=trials,
        rstate=rstate,
        return_argmin=False,
        show_progressbar=hyperopt_bar(best) if show_progressbar else False,
    )
    return trials.losses()


def key(params: dict[str, Any]) -> Key:
    """A trial's parameters as whole numbers (MLflow's params are strings, hyperopt's floats)."""
    return tuple(int(float(params[name])) for name in config.SEARCH_SPACE)


def suggested(seed: int, count: int) -> list[Key]:
    """The parameters TPE draws with `seed` for trials 0 .. count-1 of its random start."""
    domain = base.Domain(lambda params: 0.0, SEARCH_SPACE)
    rstate = np.random.default_rng(seed)
    keys = []
    for tid in range(count):
        (doc,) = rand.suggest([tid], domain, Trials(), rstate.integers(2**31 - 1))
        keys.append(key({name: values[0] for name, values in doc["misc"]["vals"].items()}))
    return keys


def prefill(trials: Trials, done: History, seed: int) -> int:
    """Put the trials `done` into `trials` as hyperopt's DONE documents; return how many
    trials of the search they stand for (the seeds fmin drew for them).

    Each gets the trial id under which `seed` draws its parameters (TPE's first
    STARTUP_TRIALS are random draws, one seed per trial), so a search resumed after trials
    0-5 goes on with trial 6's draw. A trial lost in between (trials ran at once on Spark) is
    queued again; trials past the random start follow in the order they ran.
    """
    results: dict[Key, float] = {}
    for params, loss in done:
        results.setdefault(key(params), loss)  # a trial logged twice (a Spark retry) counts once
    if not results:
        return 0
    by_tid: dict[int, Key] = {}
    for tid, drawn in enumerate(suggested(seed, STARTUP_TRIALS)):
        if drawn in results and drawn not in by_tid.values():
            by_tid[tid] = drawn
    first_later = max(by_tid, default=-1) + 1
    later = [found for found in results if found not in by_tid.values()]
    by_tid.update(enumerate(later, start=first_later))
    drawn_before = suggested(seed, first_later)
    now = coarse_utcnow()
    docs = []
    for tid in range(first_later + len(later)):
        if tid not in by_tid:  # lost: run it again
            docs.append(generate_trial(tid, values(drawn_before[tid])))
            continue
        misc = {"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"), "workdir": None}
        raw = values(by_tid[tid])
        misc.update(idxs={name: [tid] for name in raw}, vals={k: [v] for k, v in raw.items()})
        result = {"loss": results[by_tid[tid]], "status": STATUS_OK}
        (doc,) = trials.new_trial_docs([tid], [None], [result], [misc])
        doc.update(state=JOB_STATE_DONE, book_time=now, refresh_time=now)
        docs.append(doc)
    trials.insert_trial_docs(docs)
    trials.refresh()
    return len(docs)


def values(drawn: Key) -> dict[str, float]:
    """A trial's raw values, as hyperopt records them (quniform gives floats)."""
    return {name: float(value) for name, value in zip(config.SEARCH_SPACE, drawn, strict=True)}


@dataclass
class HyperoptTuner:
    """hyperopt's TPE, the course's tuner: a search of one process (or of Spark's tasks)."""

    plan: Plan
    resume: bool = False

    def continued(self, hpo_experiment_id: str, plan: Plan) -> str | None:
        return resumable(hpo_experiment_id, plan).info.run_id if self.resume else None

    def adopt(self, search: Search) -> None:
        """Nothing to remember: the search's runs are hyperopt's whole record."""

    def params(self) -> dict[str, str]:
        return {}

    def minimize(
        self, objective: Callable[[dict[str, Any]], Any], search: Search, trials: Any = None
    ) -> Sequence[float]:
        """The search's trials, those `search.done` before included; every loss, in order.
        Ctrl-C acts anywhere in them (hyperopt's record is in memory) but where a trial's run
        is logged (Search.log_trial)."""
        plan = self.plan
        with ctrl_c_let_through():
            return minimize(objective, plan.num_trials, plan.seed, trials, done=search.done)
