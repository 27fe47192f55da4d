"""The hyperopt search: the course's space and the one `fmin` call.

hpo.py runs it with MLflow around each trial, bench/baseline.py with scikit-learn alone;
both call `minimize`, so the benchmark compares the same search. spark.py runs it with
hyperopt's SparkTrials.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from hyperopt import Trials, fmin, hp, tpe
from hyperopt.pyll import scope
from tqdm import tqdm

SEARCH_SPACE = {
    "max_depth": scope.int(hp.quniform("max_depth", 1, 20, 1)),
    "n_estimators": scope.int(hp.quniform("n_estimators", 10, 50, 1)),
    "min_samples_split": scope.int(hp.quniform("min_samples_split", 2, 10, 1)),
    "min_samples_leaf": scope.int(hp.quniform("min_samples_leaf", 1, 4, 1)),
    "random_state": 42,
}


@contextlib.contextmanager
def progress_bar(initial: int, total: int) -> Iterator[tqdm]:
    """hyperopt's trial bar, on stderr whatever stands in for stdout meanwhile."""
    with tqdm(
        total=total,
        initial=initial,
        unit="trial",
        postfix={"best loss": "?"},
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        yield bar


def minimize(
    objective: Callable[[dict[str, Any]], Any],
    num_trials: int,
    seed: int,
    trials: Trials | None = None,
    show_progressbar: bool = True,
) -> list[float]:
    """Run TPE over SEARCH_SPACE for `num_trials` trials; return each trial's loss, in order.

    `objective` returns a trial's validation RMSE. Every trial is recorded in `trials`,
    failed ones too: a search whose trials all failed still returns, so the caller can
    report them.
    """
    trials = Trials() if trials is None else trials
    # A failed trial stops the search and becomes the command's one `Error:` line (or its
    # traceback with HOMEWORK_DEBUG=1); hyperopt's own "job exception" line would repeat it.
    logging.getLogger("hyperopt").setLevel(logging.CRITICAL)
    fmin(
        fn=objective,
        space=SEARCH_SPACE,
        algo=tpe.suggest,
        max_evals=num_trials,
        trials=trials,
        rstate=np.random.default_rng(seed),
        return_argmin=False,
        show_progressbar=progress_bar if show_progressbar else False,
    )
    return trials.losses()
