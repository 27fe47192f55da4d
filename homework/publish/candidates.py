"""The candidates: the best trials of a search, each scored on the validation and test months
and logged as a run of its own in `random-forest-best-models`.

A trial's forest is reused, not refitted: the same parameters and seed give the same forest,
and it is loaded only once its signature checks out (trust/). Each candidate's run records
the trial it comes from (`hpo_run_id`), its parameters, `val_rmse` and `test_rmse`, the
forest, and the two months it was scored on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homework.config import HPO_RUN_TAG, MODEL_ARTIFACT
from homework.data.lineage import log_datasets
from homework.data.pickles import Prepared
from homework.forest import rmse
from homework.models import log_sklearn_model
from homework.trust.loading import load_sklearn

# What a trial records of its forest, as the course's RF_PARAMS
RF_PARAM_NAMES = (
    "max_depth",
    "n_estimators",
    "min_samples_split",
    "min_samples_leaf",
    "random_state",
)


@dataclass
class Candidate:
    """A top trial scored on the validation and test months, logged as its own run."""

    hpo_run_id: str
    run_id: str
    val_rmse: float
    test_rmse: float
    params: dict[str, str]


def score_and_log(trial: Any, data: Prepared, trust_unsigned: bool) -> tuple[Candidate, Any]:
    """Score one trial's forest on the validation and test sets and log it as a new run of
    the active experiment; the candidate and its forest."""
    import mlflow

    forest = load_sklearn(f"runs:/{trial.info.run_id}/{MODEL_ARTIFACT}", trust_unsigned)
    params = {name: trial.data.params[name] for name in RF_PARAM_NAMES}
    with mlflow.start_run(tags={HPO_RUN_TAG: trial.info.run_id}) as run:
        mlflow.log_params(params)
        scores = {}
        for name in ("val", "test"):
            X, y = data.dataset(name)
            scores[name] = rmse(y, forest.predict(X))
        mlflow.log_metrics({f"{name}_rmse": value for name, value in scores.items()})
        log_sklearn_model(forest)
        log_datasets(data.months("val", "test"))  # the raw months behind val.pkl and test.pkl
    candidate = Candidate(trial.info.run_id, run.info.run_id, scores["val"], scores["test"], params)
    return candidate, forest
