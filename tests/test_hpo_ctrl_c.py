"""hpo.py and Ctrl-C: pressed at any point of a trial, the search stops in one line, KILLED.

The search runs in this process, and a real SIGINT is sent to it from a `sys.settrace` hook
at one point of its trials at a time. The points come from a whole search traced first:

- every statement of the trials' own code, and every call it makes after a statement's
  first (that one starts where the statement does), the first time a trial reaches it;
  for Optuna: hpo.py's objective, the search's runs and the tuner; for hyperopt, whose
  trials run the same objective and runs, its own tuner and progress bar;
- in each stretch where Ctrl-C is held back, its first point, once for each point where
  such a stretch ends: pressed anywhere in it, Ctrl-C acts there, at the release.

Between two of those points the trial's code only computes (a KeyboardInterrupt there is
the one at the next point), and the code it calls is either held back whole or runs no
`except` or `finally` of its own that matters: the traced search checks that none of
Optuna's, SQLAlchemy's or (Optuna's) progress bar's code, and no opening or ending of an
MLflow run, ever starts or is returned to with Ctrl-C acting. Cut there, a KeyboardInterrupt
leaves a trial RUNNING, a heartbeat thread the process waits for forever, or an
UnboundLocalError in its place.

Each stop is then resumed by the next search (`--resume`), itself stopped at the next
point; every few points a search is let finish. Every stop must end in the documented line
with its parent run KILLED (or, once the parent run had FINISHED, in `Aborted!`), no trial
RUNNING in MLflow or Optuna, also when Ctrl-C is pressed a second time as the search stops;
every finished search must find what the uninterrupted one found.
"""

from __future__ import annotations

from homework.interrupts import HeldCtrlC

import ast
import functools
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, assert_one_line_error, extra
from mlflow.tracking import MlflowClient

from homework.config import HPO_EXPERIMENT, SEARCH_TAG
from homework.search import hyperopt_tuner, runs
from homework.search.runs import PARENT_TAG
from hpo import run_optimization

SEARCH = "homework/search/"
SHARED = ("hpo.py", SEARCH + "runs.py")
SWEPT = {  # the trials' own code, by tuner
    "optuna": (*SHARED, SEARCH + "optuna_tuner.py"),
    "hyperopt": (SEARCH + "hyperopt_tuner.py", SEARCH + "progress.py"),
}
HELD = {"optuna": ("optuna", "sqlalchemy", "tqdm"), "hyperopt": ()}  # run with Ctrl-C held
HELD_MLFLOW = {"start_run", "end_run"}  # mlflow/tracking/fluent.py: a run's opening, its end
SEGMENT = 20  # stops in a row, each resumed by the next search, before one is let finish
Point = tuple[tuple, int]  # (what, file, line[, callee]) and the how-manieth time


def held() -> bool:
    return isinstance(getattr(signal.getsignal(signal.SIGINT), "__self__", None), HeldCtrlC)


def ours(frame: FrameType) -> bool:
    name = frame.f_code.co_filename
    return name.startswith(str(ROOT) + os.sep) and not name.startswith(str(ROOT / ".venv"))


@functools.cache
def statements(filename: str) -> frozenset[int]:
    """The lines where a statement of the file starts (a call over several lines is one)."""
    tree = ast.parse(Path(filename).read_text())
    return frozenset(node.lineno for node in ast.walk(tree) if isinstance(node, ast.stmt))


def press_ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


@dataclass
class Trace:
    """A sys.settrace hook over a search's trials: records their points, or presses Ctrl-C
    for real at `press`, and once more as the search then stops."""

    tuner: str
    press: Point | None = None
    events: list[tuple[tuple, int, bool]] = field(default_factory=list)  # point, is held
    cut: list[str] = field(default_factory=list)  # held code entered with Ctrl-C acting
    counts: dict[tuple, int] = field(default_factory=dict)
    calls: dict[FrameType, int] = field(default_factory=dict)  # since the statement began
    pressed: int = 0

    def __post_init__(self) -> None:
        self.swept = {str(ROOT / name) for name in SWEPT[self.tuner]}

    def search(self, monkeypatch: pytest.MonkeyPatch, data: Path, storage: str, *extra: str):
        """hpo.py in this process, 2 trials, traced while it runs them."""
        with monkeypatch.context() as patch:
            if self.tuner == "optuna":  # an extra: imported only where it is there
                from homework.search import optuna_tuner

                patch.setattr(optuna_tuner, "run_trials", self.around(optuna_tuner.run_trials))
            minimize = hyperopt_tuner.HyperoptTuner.minimize
            patch.setattr(hyperopt_tuner.HyperoptTuner, "minimize", self.around(minimize))
            patch.setattr(runs, "finished_trials", self.again(runs.finished_trials))
            args = ["--data_path", str(data), "--num_trials", "2", "--tuner", self.tuner]
            if self.tuner == "optuna":
                args += ["--storage", storage]
            return CliRunner().invoke(run_optimization, [*args, *extra])

    def around(self, function: Callable) -> Callable:
        def traced(*args: Any, **kwargs: Any) -> Any:
            if self.pressed:
                return function(*args, **kwargs)
            sys.settrace(self)
            try:
                return function(*args, **kwargs)
            finally:
                sys.settrace(None)

        return traced

    def again(self, stopped: Callable) -> Callable:
        """runs.finished_trials, with Ctrl-C pressed a second time as the stopped search
        first calls it (to count its trials for the documented line)."""

        def finished_trials(*args: Any) -> Any:
            if self.pressed == 1:
                self.pressed = 2
                press_ctrl_c()
            return stopped(*args)

        return finished_trials

    def point(self, key: tuple) -> None:
        count = self.counts[key] = self.counts.get(key, 0) + 1
        if self.press is None:
            self.events.append((key, count, held()))
        elif (key, count) == self.press:
            self.pressed = 1
            sys.settrace(None)
            press_ctrl_c()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        code = frame.f_code
        if code.co_filename in self.swept:
            if self.press is None:
                self.check_held(frame, frame.f_back)
            return self.statement
        caller = frame.f_back
        if caller is not None and caller.f_code.co_filename in self.swept:
            self.calls[caller] = calls = self.calls.get(caller, 0) + 1
            if calls > 1 and code.co_name != "__del__":  # not a garbage collection
                self.point(("call", caller.f_code.co_filename, caller.f_lineno, code.co_qualname))
        if self.press is None and code.co_name != "__del__":
            self.check_held(frame, caller)
            if ours(frame):
                frame.f_trace_lines = False
                return self.returns
        return None

    def check_held(self, frame: FrameType, coming_from: FrameType | None) -> None:
        """Code that must not be cut, entered from ours (not by a garbage collection) or
        returned to from ours (a callback), runs with Ctrl-C held back."""
        name = frame.f_globals.get("__name__", "")
        if not (
            name.split(".")[0] in HELD[self.tuner]
            or (name == "mlflow.tracking.fluent" and frame.f_code.co_name in HELD_MLFLOW)
        ):
            return
        if coming_from is not None and ours(coming_from) and not held():
            self.cut.append(f"{name}: {frame.f_code.co_qualname}")

    def returns(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        if event == "return" and frame.f_back is not None:
            self.check_held(frame.f_back, frame)
        return self.returns

    def statement(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        if event == "line" and frame.f_lineno in statements(frame.f_code.co_filename):
            self.calls[frame] = 0
            self.point(("line", frame.f_code.co_filename, frame.f_lineno))
        elif event == "return":
            self.calls.pop(frame, None)
            if self.press is None:
                self.returns(frame, event, arg)
        return self.statement

    def points(self) -> list[Point]:
        """Each point reached with Ctrl-C acting, the first time; in each held stretch its
        first point, once for each point where such a stretch ends."""
        chosen: dict[Any, Point] = {}
        start = None
        for key, count, is_held in self.events:
            if is_held and start is None:
                start = (key, count)
            if not is_held:
                if start is not None:
                    chosen.setdefault(("held until", key), start)
                    start = None
                chosen.setdefault(key, (key, count))
        if start is not None:
            chosen.setdefault(("held until", "the end"), start)
        return list(chosen.values())


def stopped(result, client: MlflowClient, storage: str, tuner: str) -> bool:
    """Whether the search stopped incomplete: the documented line, its parent run KILLED
    (True); or, its parent run FINISHED already, Click's `Aborted!` (False). No trial is
    left RUNNING, in MLflow or in Optuna."""
    experiment = client.get_experiment_by_name(HPO_EXPERIMENT).experiment_id
    searches = client.search_runs(
        [experiment], f"tags.`{SEARCH_TAG}` = '{tuner}'", order_by=["attributes.start_time DESC"]
    )
    if searches[0].info.status == "FINISHED":
        assert (result.exit_code, result.output.splitlines()[-1]) == (1, "Aborted!")
        assert "Traceback" not in result.output and "Error" not in result.output
    else:
        assert searches[0].info.status == "KILLED"
        assert_one_line_error(result, "interrupted after", "of 2 trials", "--resume")
    for parent in searches:
        trials = client.search_runs([experiment], f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'")
        assert "RUNNING" not in {trial.info.status for trial in trials}
    if tuner == "optuna":
        import optuna

        for name in optuna.get_all_study_names(storage):
            study = optuna.load_study(study_name=name, storage=storage)
            assert "RUNNING" not in {trial.state.name for trial in study.trials}
    return searches[0].info.status == "KILLED"


@pytest.mark.parametrize("tuner", ["optuna", "hyperopt"])
def test_ctrl_c_at_every_point_of_a_trial(
    tuner: str, prepared_dir: Path, mlflow_server, tmp_path: Path, ctrl_c, monkeypatch
) -> None:
    if tuner == "optuna":
        extra("optuna", "install-optuna")
    client = MlflowClient(mlflow_server.uri)
    whole = Trace(tuner)
    reference = whole.search(monkeypatch, prepared_dir, f"sqlite:///{tmp_path}/whole.db")
    assert reference.exit_code == 0, reference.output
    assert whole.cut == []
    points = whole.points()
    storage = f"sqlite:///{tmp_path}/optuna.db"
    resume: tuple[str, ...] = ()
    again = 0
    for number, point in enumerate(points, start=1):
        trace = Trace(tuner, point)
        result = trace.search(monkeypatch, prepared_dir, storage, *resume)
        if not trace.pressed and resume:  # the stops before logged all its trials
            assert result.exit_code == 0, result.output
            trace = Trace(tuner, point)
            result = trace.search(monkeypatch, prepared_dir, storage)
        assert trace.pressed, (point, result.output)
        again += trace.pressed == 2
        try:
            resume = ("--resume",) if stopped(result, client, storage, tuner) else ()
        except AssertionError as failed:
            raise AssertionError(f"Ctrl-C at {point}") from failed
        if number % SEGMENT == 0 or number == len(points):
            done = Trace(tuner).search(monkeypatch, prepared_dir, storage, *resume)
            assert (done.exit_code, done.stdout) == (0, reference.stdout), done.output
            resume = ()
    assert again > len(points) / 2  # most stops were pressed twice
