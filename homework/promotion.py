"""The champion/challenger gate: MLflow's standard evaluation and the promotion decision.

The new model is evaluated with `mlflow.models.evaluate` (`model_type="regressor"`) on the
raw trips of the test month, in its run of `random-forest-best-models`: MLflow's regressor
metrics (`root_mean_squared_error`, `mean_absolute_error`, `r2_score`, `max_error`, ...)
land beside `val_rmse` and `test_rmse`, and its RMSE must be the one of test.pkl.

If a version has the alias `@champion`, the champion is evaluated the same way on the same
trips, in a run nested under the candidate's, and `mlflow.validate_evaluation_results`
checks with a `MetricThreshold` that the candidate's RMSE is not worse than the champion's
by more than `max_regression` minutes. The `Decision` says which alias the new version gets
and is recorded on it (tags and a sentence of its description):

- `first`: there is no champion yet; the new version becomes `@champion`.
- `promoted`: it passed the gate (an equal RMSE passes); `@champion` moves to it.
- `rejected`: it failed the gate; it gets `@challenger` and `@champion` stays.
- `forced`: it failed the gate but `--promote always` moved `@champion` to it anyway.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from homework.config import CHALLENGER_ALIAS, CHAMPION_ALIAS, MODEL_NAME
from homework.lineage import log_datasets
from homework.registry import find_champion
from homework.trust.loading import load_pyfunc

RMSE_METRIC = "root_mean_squared_error"  # of MLflow's regressor evaluation: what the gate compares
GATE, ALWAYS = "gate", "always"  # the choices of --promote
FIRST, PROMOTED, REJECTED, FORCED = "first", "promoted", "rejected", "forced"
STATUS_TAG = "validation.status"
BASELINE_VERSION_TAG = "validation.baseline_version"
BASELINE_RMSE_TAG = "validation.baseline_rmse"
CANDIDATE_RMSE_TAG = "validation.candidate_rmse"
NO_BASELINE = "none"  # the baseline tags of the first version


@dataclass(frozen=True)
class Policy:
    """How register_model.py registers: under which name, and how the gate decides."""

    model_name: str = MODEL_NAME
    promote: str = GATE  # or ALWAYS: @champion moves to the new version whatever its RMSE
    max_regression: float = 0.0  # minutes of test RMSE a new champion may lose
    trust_unsigned: bool = False  # score a champion not signed by a trusted key, with a warning


@dataclass
class Decision:
    """What the gate decided for a new version, and the numbers it decided on."""

    status: str
    candidate_rmse: float
    max_regression: float
    baseline_version: str = ""  # the champion it was compared with; "" if there was none
    baseline_rmse: float = float("nan")

    @property
    def alias(self) -> str:
        return CHALLENGER_ALIAS if self.status == REJECTED else CHAMPION_ALIAS

    def tags(self) -> dict[str, str]:
        baseline = bool(self.baseline_version)
        return {
            STATUS_TAG: self.status,
            BASELINE_VERSION_TAG: self.baseline_version if baseline else NO_BASELINE,
            BASELINE_RMSE_TAG: f"{self.baseline_rmse:.6f}" if baseline else NO_BASELINE,
            CANDIDATE_RMSE_TAG: f"{self.candidate_rmse:.6f}",
        }

    def reason(self) -> str:
        """Why the version got its alias, with both RMSEs (minutes, on the same test trips)."""
        candidate = f"test RMSE {self.candidate_rmse:.4f}"
        champion = f"champion version {self.baseline_version}'s {self.baseline_rmse:.4f}"
        allowed = f"--max_regression {self.max_regression:g}"
        if self.status == FIRST:
            return f"there was no champion yet ({candidate})"
        if self.status == PROMOTED:
            return f"{candidate} is not worse than {champion} by more than {allowed}"
        regression = self.candidate_rmse - self.baseline_rmse
        worse = f"worse than {champion} by {regression:.4f} minutes"
        if self.status == REJECTED:
            return (
                f"{candidate} is {worse}, more than {allowed}; @{CHAMPION_ALIAS} stays "
                f"version {self.baseline_version} (--promote always would replace it)"
            )
        return f"--promote always, although {candidate} is {worse}"


def gate(model_uri: str, test_rmse: float, trips: Any, test_month: Any, policy: Policy) -> Decision:
    """Evaluate the logged pyfunc in the active run, and the champion if any; decide.

    The pyfunc is loaded back from the server as any user would load it, and MLflow's RMSE
    of it must be `test_rmse`, the forest's on test.pkl. The champion is scored on the same
    trips.
    """
    evaluation = evaluate(load_pyfunc(model_uri), trips, test_month)
    evaluated = evaluation.metrics[RMSE_METRIC]
    if abs(evaluated - test_rmse) > 1e-9:
        raise RuntimeError(
            f"mlflow.models.evaluate gives the logged model RMSE {evaluated} on the raw test "
            f"month, but its forest gives {test_rmse} on test.pkl"
        )
    champion = find_champion(policy.model_name)
    if champion is None:
        return decide(evaluation, None, "", policy.promote, policy.max_regression)
    baseline = evaluate_champion(
        policy.model_name, champion.version, trips, test_month, policy.trust_unsigned
    )
    return decide(evaluation, baseline, champion.version, policy.promote, policy.max_regression)


def evaluate(model: Any, trips: Any, test_month: Any) -> Any:
    """MLflow's regressor evaluation of a pyfunc on the raw test trips, logged in the active run.

    `test_month` is the month's MetaDataset (lineage.py): the trips are evaluated as a
    dataset of the same name, source and digest, so the run's input stays that one month.
    """
    import mlflow

    from homework.features import RAW_COLUMNS, TARGET

    frame = trips[[*RAW_COLUMNS, TARGET]]
    with warnings.catch_warnings():
        # MLflow warns that integer columns cannot hold missing values: the zone ids cannot
        # be missing here, and the model takes integers.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        data = mlflow.data.from_pandas(
            frame,
            source=test_month.source,
            targets=TARGET,
            name=test_month.name,
            digest=test_month.digest,
        )
        # What MLflow would infer, declared: its inference visits every value in Python,
        # seconds per million trips. (A cached_property: writing it is allowed.)
        data.schema = frame_schema(frame)
        return mlflow.models.evaluate(
            model,
            data,
            model_type="regressor",
            evaluators=["default"],
            evaluator_config={"default": {"log_model_explainability": False}},
        )


def frame_schema(frame: Any) -> Any:
    """The schema MLflow infers of a frame of numbers, from its dtypes and missing values."""
    from mlflow.types import ColSpec, Schema

    from homework.trip_model import MLFLOW_TYPES

    return Schema(
        [
            ColSpec(MLFLOW_TYPES[str(dtype)], str(name), required=not frame[name].isna().any())
            for name, dtype in frame.dtypes.items()
        ]
    )


def evaluate_champion(
    model_name: str, version: str, trips: Any, test_month: Any, trust_unsigned: bool = False
) -> Any:
    """Evaluate the champion's version on the same trips, in a run nested under the active one.

    It is loaded by version number, not by alias: what it scores is what it is compared with;
    and only if its signature checks out, unless `trust_unsigned` (models.load_pyfunc).
    """
    import mlflow

    model = load_pyfunc(f"models:/{model_name}/{version}", trust_unsigned)
    with mlflow.start_run(run_name=f"champion-v{version}-baseline", nested=True):
        log_datasets({"test": test_month})
        return evaluate(model, trips, test_month)


def decide(
    candidate: Any,
    champion: Any,
    champion_version: str,
    promote: str = GATE,
    max_regression: float = 0.0,
) -> Decision:
    """Compare two evaluation results (`champion` None: there is no champion yet)."""
    import mlflow
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    candidate_rmse = float(candidate.metrics[RMSE_METRIC])
    if champion is None:
        return Decision(FIRST, candidate_rmse, max_regression)
    baseline_rmse = float(champion.metrics[RMSE_METRIC])
    # Lower is better: pass if the candidate's RMSE <= the champion's + max_regression.
    threshold = MetricThreshold(threshold=baseline_rmse + max_regression, greater_is_better=False)
    try:
        mlflow.validate_evaluation_results({RMSE_METRIC: threshold}, candidate, champion)
        status = PROMOTED
    except ModelValidationFailedException:
        status = FORCED if promote == ALWAYS else REJECTED
    return Decision(status, candidate_rmse, max_regression, champion_version, baseline_rmse)
