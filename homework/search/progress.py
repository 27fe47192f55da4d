"""The one progress bar of a search: trials done, the best RMSE so far, the time left.

Every way of searching draws the same bar on stderr: hyperopt in this process or on Spark
(its fmin drives the bar, see `hyperopt_bar`) and Optuna (`trial_bar`, moved by its
callback). A resumed search starts the bar at the trials already done, and the time left is
estimated from the trials done since.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

FORMAT = "{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} trials [{elapsed}<{remaining}{postfix}]"


class TrialBar:
    """The bar of one search; `show` moves it to a number of trials done and the best RMSE."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def show(self, done: int, best: float | None) -> None:
        if best is not None:
            self.bar.set_postfix_str(f"best RMSE {best:.4f}", refresh=False)
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        else:
            self.bar.refresh()


@contextlib.contextmanager
def trial_bar(done: int, total: int, best: float | None = None) -> Iterator[TrialBar]:
    """A bar of `total` trials starting at `done`, on stderr whatever stands in for it."""
    from tqdm import tqdm

    with tqdm(
        total=total, initial=done, file=sys.stderr, dynamic_ncols=True, bar_format=FORMAT
    ) as bar:
        shown = TrialBar(bar)
        shown.show(done, best)
        yield shown


class HyperoptProgress:
    """What hyperopt's fmin drives: `update(n)` and `postfix = "best loss: <loss>"`."""

    def __init__(self, bar: TrialBar, best: float | None) -> None:
        self.trial_bar, self.best = bar, best

    def update(self, n: int) -> None:
        self.trial_bar.show(self.trial_bar.bar.n + n, self.best)

    @property
    def postfix(self) -> str:
        return f"best loss: {self.best}"

    @postfix.setter
    def postfix(self, text: str) -> None:
        self.best = float(text.rsplit(" ", 1)[-1])  # fmin's "best loss: 5.33..."
        self.trial_bar.show(self.trial_bar.bar.n, self.best)


def hyperopt_bar(best: float | None = None) -> Callable[[int, int], Any]:
    """The `show_progressbar` of hyperopt's fmin: the trial bar, `best` the RMSE so far."""

    @contextlib.contextmanager
    def progress(initial: int, total: int) -> Iterator[HyperoptProgress]:
        with trial_bar(initial, total, best) as bar:
            yield HyperoptProgress(bar, best)

    return progress
