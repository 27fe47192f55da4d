"""Which hyperopt runs answer Q5 and feed register_model.py, read back over REST.

Two kinds of search count in `random-forest-hyperopt`:

- hpo.py's: a parent run tagged `hpo.search`, its trials nested in it (runs.py); a result
  once the parent run FINISHED. One stopped halfway (KILLED) or still running is never used.
- the course's own hpo.py's: flat runs, no parent, each FINISHED with the parameters of the
  search space and an `rmse`. They are one search of the course's kind, all of them, as the
  course's register_model.py takes them.

The newest finished search of hpo.py's is used, unless runs of the course's kind ended after
it: then those. What is not used is said in one line each (a newer search that did not
finish, the course's runs when older, runs of any other kind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from homework.config import HPO_EXPERIMENT, PARENT_TAG, SEARCH_TAG, TRIAL_PARAMS
from homework.data.lineage import check_same_data
from homework.data.pickles import Prepared
from homework.errors import UserError
from homework.tracking.rest import Rest, Run

RUN_HPO = "run hpo.py first (make q5)"
COURSE_RUNS = "the course's hpo.py runs"


@dataclass
class Trials:
    """The trials Q5 and register_model.py use: those of a finished search of hpo.py's, or
    the runs of the course's own hpo.py (no parent run)."""

    name: str  # "search 1a2b3c4d", or COURSE_RUNS
    runs: list[Run]  # finished, with an `rmse`, lowest first
    parent: Run | None = None  # hpo.py's parent run; None for the course's runs
    notes: list[str] = field(default_factory=list)  # what was not used, and why

    @property
    def of_the_course(self) -> bool:
        return self.parent is None

    def top(self, n: int) -> list[Run]:
        """The `n` trials with the lowest `rmse`, best first."""
        if not self.runs:  # possible only if someone deleted them
            raise UserError(f"hyperopt {self.name} has no finished trials left: run hpo.py again.")
        return self.runs[:n]

    def best(self, n: int, data: Prepared) -> list[Run]:
        """The top `n` trials, once they are known to be of `data`'s months (the course's
        runs record none: they are refitted on `data`)."""
        if self.parent is not None:
            check_same_data(self.parent.datasets, data.trip_data, self.name, data.path)
        return self.top(n)


def usable_rmse(run: Run) -> bool:
    value = run.data.metrics.get("rmse")
    return run.info.status == "FINISHED" and value is not None and math.isfinite(value)


def by_rmse(runs: list[Run]) -> list[Run]:
    """Lowest `rmse` first; ties as MLflow orders them (newest first, then by id)."""
    return sorted(
        runs, key=lambda run: (run.data.metrics["rmse"], -run.info.start_time, run.info.run_id)
    )


def whole_number(value: str | None) -> bool:
    try:
        return value is not None and float(value).is_integer()
    except ValueError:
        return False


def of_the_course(run: Run) -> bool:
    """A finished run of the course's own hpo.py: flat, with an `rmse` and the forest's
    params (the search space's and random_state, whole numbers: it can be fitted again)."""
    flat = PARENT_TAG not in run.data.tags and SEARCH_TAG not in run.data.tags
    params = all(whole_number(run.data.params.get(name)) for name in TRIAL_PARAMS)
    return flat and params and usable_rmse(run)


def counted(runs: list[Any], what: str) -> str:
    return f"1 {what}" if len(runs) == 1 else f"{len(runs)} {what}s"


@dataclass
class Experiment:
    """The runs of the search experiment, sorted out by kind."""

    parents: list[Run]  # hpo.py's searches
    trials: list[Run]  # their trials
    course: list[Run]  # finished runs of the course's hpo.py
    others: list[Run]  # anything else: ignored

    @classmethod
    def of(cls, runs: list[Run]) -> Experiment:
        parents = {run.info.run_id for run in runs if run.data.tags.get(SEARCH_TAG)}
        kinds: dict[str, list[Run]] = {"parents": [], "trials": [], "course": [], "others": []}
        for run in runs:
            if run.info.run_id in parents:
                kinds["parents"].append(run)
            elif run.data.tags.get(PARENT_TAG) in parents:
                kinds["trials"].append(run)
            else:
                kinds["course" if of_the_course(run) else "others"].append(run)
        return cls(**kinds)

    def newest_finished(self) -> Run | None:
        """hpo.py's search whose parent run finished last, if any did."""
        finished = [run for run in self.parents if run.info.status == "FINISHED"]
        return max(finished, key=lambda run: run.info.end_time, default=None)

    def course_after(self, parent: Run) -> bool:
        """True if a run of the course's hpo.py ended after the search `parent`."""
        return any(run.info.end_time > parent.info.end_time for run in self.course)

    def unfinished_after(self, time: int) -> Run | None:
        """The newest of hpo.py's searches that did not finish, if it started after `time`."""
        unfinished = [run for run in self.parents if run.info.status != "FINISHED"]
        newest = max(unfinished, key=lambda run: run.info.start_time, default=None)
        return newest if newest and newest.info.start_time > time else None

    def ignored(self) -> str:
        """The runs of no search, said as a clause; "" if none."""
        if not self.others:
            return ""
        verb = "is" if len(self.others) == 1 else "are"
        return (
            f"{counted(self.others, 'run')} in {HPO_EXPERIMENT!r} {verb} of no search (no trial "
            "of hpo.py's, no finished run of the course's hpo.py with its params and rmse)"
        )

    def chosen(self) -> Trials:
        """The trials of the newest finished search of either kind, with the notes."""
        parent = self.newest_finished()
        ignored = self.ignored()
        notes = [f"{ignored}: ignored."] if ignored else []
        if parent and not self.course_after(parent):
            name = f"search {parent.info.run_id[:8]}"
            mine = [run for run in self.trials if run.data.tags[PARENT_TAG] == parent.info.run_id]
            trials = Trials(name, by_rmse(list(filter(usable_rmse, mine))), parent, notes)
            used, since = (
                f"the newest complete one ({parent.info.run_id[:8]})",
                parent.info.start_time,
            )
            if self.course:
                notes.append(
                    f"The {counted(self.course, 'run')} of the course's hpo.py ended before "
                    f"{name}: not used."
                )
        elif self.course:
            trials = Trials(COURSE_RUNS, by_rmse(self.course), None, notes)
            used, since = COURSE_RUNS, max(run.info.start_time for run in self.course)
            notes.append(
                f"Using {COURSE_RUNS}: {counted(self.course, 'flat run')} with params and rmse "
                f"in {HPO_EXPERIMENT!r}, no finished search of hpo.py's after them."
            )
        else:
            raise UserError(self.why_none(ignored))
        newer = self.unfinished_after(since)
        if newer:
            notes.append(
                f"The newest hyperopt search ({newer.info.run_id[:8]}) did not finish (stopped, "
                f"or still running): using {used}."
            )
        return trials

    def why_none(self, ignored: str) -> str:
        """Why no search can be used, and what to run."""
        besides = f" ({ignored}, ignored)" if ignored else ""
        newest = self.unfinished_after(0)
        if newest:
            return (
                f"no hyperopt search in {HPO_EXPERIMENT!r} has finished: the newest, "
                f"{newest.info.run_id[:8]}, was stopped or is still running{besides}: run "
                "hpo.py again, or with --resume to go on with it (make q5 RESUME=1)."
            )
        return f"no hyperopt search in {HPO_EXPERIMENT!r} yet{besides}: {RUN_HPO}."


def newest_trials(rest: Rest) -> Trials:
    """The trials of the newest finished search of either kind (see the module's docstring),
    with a note for each thing not used; a UserError saying what to run if there is none."""
    experiment = rest.experiment_id(HPO_EXPERIMENT)
    if experiment is None:
        raise UserError(f"no experiment {HPO_EXPERIMENT!r} yet: {RUN_HPO}.")
    return Experiment.of(rest.search_runs(experiment)).chosen()
