"""The scikit-learn-only baseline of the benchmark: the homework's model fits and predictions.

Fits train.py's forest and predicts the validation month; runs the same hyperopt
search as hpo.py (same space, seed and trials: each trial fits a forest and
predicts the validation month); then predicts the validation and test months
with the top-5 trial forests, as register_model.py does. No MLflow call is made.

Prints one JSON line on stdout: the seconds spent in fits and predictions only
(`fit_predict_s`; per homework stage in `stages_s`), the RMSEs, and a digest of
every prediction and of every fitted tree, so two runs with different
`--n_jobs` can be checked for bit-identical results.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import click
import numpy as np
from hyperopt import STATUS_OK, Trials
from sklearn.ensemble import RandomForestRegressor

from homework.config import DATA_PATH, NUM_TRIALS, SEED, TOP_N
from homework.data.pickles import Prepared
from homework.forest import fit_forest, rmse
from homework.search.hyperopt_tuner import minimize
from train import RF_PARAMS


class Stopwatch:
    """Adds up the seconds spent in fits and predictions per stage; hashes every prediction."""

    def __init__(self) -> None:
        self.stage = ""
        self.seconds: dict[str, float] = {}
        self.digest = hashlib.sha256()
        self.forests = hashlib.sha256()

    def add(self, start: float) -> None:
        elapsed = time.perf_counter() - start
        self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + elapsed

    def fit(self, X: Any, y: Any, n_jobs: int, **params: Any) -> RandomForestRegressor:
        start = time.perf_counter()
        model = fit_forest(X, y, n_jobs, **params)  # as the scripts do
        self.add(start)
        for tree in model.estimators_:  # the fitted trees, to compare fits across n_jobs
            for part in (tree.tree_.feature, tree.tree_.threshold, tree.tree_.value):
                self.forests.update(part.tobytes())
        return model

    def predict(self, model: RandomForestRegressor, X: Any) -> np.ndarray:
        start = time.perf_counter()
        y_pred = model.predict(X)
        self.add(start)
        self.digest.update(y_pred.tobytes())
        return y_pred


def run_baseline(data_path: str, n_jobs: int, num_trials: int, seed: int) -> dict[str, Any]:
    prepared = Prepared.read(data_path)
    data = {name: prepared.dataset(name) for name in ("train", "val", "test")}
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = data.values()
    watch = Stopwatch()

    watch.stage = "train.py"
    forest = watch.fit(X_train, y_train, n_jobs, **RF_PARAMS)
    train_rmse = rmse(y_val, watch.predict(forest, X_val))

    trial_models: list[tuple[float, RandomForestRegressor]] = []

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        model = watch.fit(X_train, y_train, n_jobs, **params)
        loss = rmse(y_val, watch.predict(model, X_val))
        trial_models.append((loss, model))  # only the best TOP_N stay in memory, as forests grow
        trial_models.sort(key=lambda pair: pair[0])
        del trial_models[TOP_N:]
        return {"loss": loss, "status": STATUS_OK}

    watch.stage = "hpo.py"
    minimize(objective, num_trials, seed, Trials(), show_progressbar=False)
    top = trial_models
    watch.stage = "register_model.py"
    test_rmses = []
    for _, model in top:
        watch.predict(model, X_val)
        test_rmses.append(rmse(y_test, watch.predict(model, X_test)))
    return {
        "fit_predict_s": sum(watch.seconds.values()),
        "stages_s": watch.seconds,
        "train_val_rmse": train_rmse,
        "best_val_rmse": top[0][0],
        "best_test_rmse": min(test_rmses),
        "predictions_sha256": watch.digest.hexdigest(),
        "forests_sha256": watch.forests.hexdigest(),
    }


@click.command()
@click.option("--data_path", default=DATA_PATH, show_default=True, help="Folder with the pickles.")
@click.option("--n_jobs", default=-1, show_default=True, help="n_jobs of every forest.")
@click.option("--num_trials", default=NUM_TRIALS, show_default=True, help="Hyperopt trials.")
@click.option("--seed", default=SEED, show_default=True, help="Hyperopt seed (as hpo.py).")
def main(data_path: str, n_jobs: int, num_trials: int, seed: int) -> None:
    """Time the homework's model fits and predictions with scikit-learn alone."""
    click.echo(json.dumps(run_baseline(data_path, n_jobs, num_trials, seed)))


if __name__ == "__main__":
    main()
