"""The candidates: the best trials of a search, each scored on the validation and test months
and logged as a run of its own in `random-forest-best-models`.

A trial of hpo.py's has its forest reused, not refitted: the same parameters and seed give
the same forest, and it is loaded only once its signature checks out (trust/). A run of the
course's own hpo.py holds no forest of ours: its forest is fitted again from its params, as
the course's register_model.py does. Each candidate's run records the trial it comes from
(`hpo_run_id`), its parameters, `val_rmse` and `test_rmse`, the forest, and the two months
it was scored on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from homework.config import HPO_RUN_TAG, MODEL_ARTIFACT, TRIAL_PARAMS
from homework.data.lineage import log_datasets
from homework.data.pickles import Prepared
from homework.forest import fit_forest, rmse
from homework.models import log_sklearn_model
from homework.trust.loading import load_sklearn


@dataclass
class Candidate:
    """A top trial scored on the validation and test months, logged as its own run."""

    hpo_run_id: str
    run_id: str
    val_rmse: float
    test_rmse: float
    params: dict[str, str]
    test_predictions: Any = field(repr=False, compare=False)  # for the champion's plots


def trial_forest(trial: Any, data: Prepared, refit: bool, trust_unsigned: bool) -> Any:
    """The trial's forest: its own, once its signature checks out; or, with `refit` (a run of
    the course's hpo.py), fitted again on the training set from the params it logged."""
    if not refit:
        return load_sklearn(f"runs:/{trial.info.run_id}/{MODEL_ARTIFACT}", trust_unsigned)
    X_train, y_train = data.dataset("train")
    params = {name: int(float(trial.data.params[name])) for name in TRIAL_PARAMS}
    return fit_forest(X_train, y_train, **params)


def score_and_log(
    trial: Any, data: Prepared, trust_unsigned: bool, refit: bool = False
) -> tuple[Candidate, Any]:
    """Score one trial's forest on the validation and test sets and log it as a new run of
    the active experiment; the candidate and its forest."""
    import mlflow

    forest = trial_forest(trial, data, refit, trust_unsigned)
    params = {name: trial.data.params[name] for name in TRIAL_PARAMS}
    with mlflow.start_run(tags={HPO_RUN_TAG: trial.info.run_id}) as run:
        mlflow.log_params(params)
        scores, predicted = {}, {}
        for name in ("val", "test"):
            X, y = data.dataset(name)
            predicted[name] = forest.predict(X)
            scores[name] = rmse(y, predicted[name])
        mlflow.log_metrics({f"{name}_rmse": value for name, value in scores.items()})
        log_sklearn_model(forest)
        log_datasets(data.months("val", "test"))  # the raw months behind val.pkl and test.pkl
    candidate = Candidate(
        trial.info.run_id, run.info.run_id, scores["val"], scores["test"], params, predicted["test"]
    )
    return candidate, forest
