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
- `unverified`: the champion fails the signature check (trust/), so it is never loaded and
  there is nothing to compare with; the new version becomes `@champion`.
- `promoted`: it passed the gate (an equal RMSE passes); `@champion` moves to it.
- `rejected`: it failed the gate; it gets `@challenger` and `@champion` stays.
- `forced`: it failed the gate but `--promote always` (or `--max_regression inf`) moved
  `@champion` to it anyway.
- `held`: it passed (or `--max_regression inf` let it in), but a rollback (rollback.py)
  holds `@champion` where it put it: the new version gets `@challenger`. `--promote always`
  moves `@champion` anyway, which ends the hold.

Which champion that is, and whether it can be used at all, incumbent.py decides.
"""

from __future__ import annotations

from homework.interrupts import scratch_folder

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homework.config import CHALLENGER_ALIAS, CHAMPION_ALIAS, MODEL_NAME
from homework.config import GATE_REJECTED as REJECTED
from homework.config import GATE_STATUS_TAG as STATUS_TAG
from homework.data.lineage import log_datasets
from homework.publish import evaluations
from homework.publish.incumbent import NOT_LOADED, Baseline, untrusted
from homework.trust.direct import fetch_verified
from homework.trust.loading import load_pyfunc, say_verified

RMSE_METRIC = "root_mean_squared_error"  # of MLflow's regressor evaluation: what the gate compares
GATE, ALWAYS = "gate", "always"  # the choices of --promote
FIRST, UNVERIFIED, PROMOTED, FORCED = "first", "unverified", "promoted", "forced"
HELD = "held"  # it would have been @champion, but a rollback holds @champion where it is
BASELINE_VERSION_TAG = "validation.baseline_version"
BASELINE_RMSE_TAG = "validation.baseline_rmse"
CANDIDATE_RMSE_TAG = "validation.candidate_rmse"
UNTRUSTED_TAG = "validation.baseline_untrusted"  # why the champion was not loaded
NO_BASELINE = "none"  # the baseline tags of the first version


@dataclass(frozen=True)
class Policy:
    """How register_model.py registers: under which name, and how the gate decides."""

    model_name: str = MODEL_NAME
    promote: str = GATE  # or ALWAYS: @champion moves to the new version whatever its RMSE
    max_regression: float = 0.0  # minutes of test RMSE a new champion may lose
    trust_unsigned: bool = False  # load trials' forests not signed by a trusted key (warned)

    @property
    def promotes_always(self) -> bool:
        return self.promote == ALWAYS


@dataclass
class Decision:
    """What the gate decided for a new version, and the numbers it decided on."""

    status: str
    candidate_rmse: float
    max_regression: float
    baseline_version: str = ""  # the champion it was compared with; "" if there was none
    baseline_rmse: float = float("nan")
    untrusted: str = ""  # why the champion was not loaded (status unverified)
    held: str = ""  # who held the champion with a rollback, when, why (registry.rollback_hold)
    metrics: dict[str, float] = field(default_factory=dict)  # the new version's evaluation

    @property
    def alias(self) -> str:
        return CHALLENGER_ALIAS if self.status in (REJECTED, HELD) else CHAMPION_ALIAS

    def tags(self) -> dict[str, str]:
        compared = self.status not in (FIRST, UNVERIFIED)
        tags = {
            STATUS_TAG: self.status,
            BASELINE_VERSION_TAG: self.baseline_version or NO_BASELINE,
            BASELINE_RMSE_TAG: f"{self.baseline_rmse:.6f}" if compared else NO_BASELINE,
            CANDIDATE_RMSE_TAG: f"{self.candidate_rmse:.6f}",
        }
        return {**tags, UNTRUSTED_TAG: self.untrusted[:1000]} if self.untrusted else tags

    def reason(self) -> str:
        """Why the version got its alias, with both RMSEs (minutes, on the same test trips)."""
        candidate = f"test RMSE {self.candidate_rmse:.4f}"
        champion = f"champion version {self.baseline_version}'s {self.baseline_rmse:.4f}"
        allowed = f"--max_regression {self.max_regression:g}"
        if self.status == FIRST:
            return f"there was no champion yet ({candidate})"
        if self.status == UNVERIFIED:
            return (
                f"champion version {self.baseline_version} was not loaded, as {self.untrusted}, "
                f"so there was nothing to compare with ({candidate})"
            )
        hold = f"@{CHAMPION_ALIAS} is held at version {self.baseline_version} ({self.held})"
        if self.status == HELD:
            return f"{hold}, although {candidate} would replace it; --promote always replaces it"
        ended = f"; this ends the hold ({hold})" if self.held else ""
        if self.status == PROMOTED:
            return f"{candidate} is not worse than {champion} by more than {allowed}{ended}"
        regression = self.candidate_rmse - self.baseline_rmse
        worse = f"worse than {champion} by {regression:.4f} minutes"
        if self.status == REJECTED:
            return (
                f"{candidate} is {worse}, more than {allowed}; @{CHAMPION_ALIAS} stays "
                f"version {self.baseline_version} (--promote always would replace it)"
            )
        forced_by = allowed if math.isinf(self.max_regression) else "--promote always"
        return f"{forced_by}, although {candidate} is {worse}{ended}"


def gate(
    model_uri: str,
    test_rmse: float,
    trips: Any,
    test_month: Any,
    policy: Policy,
    baseline: Baseline,
) -> Decision:
    """Evaluate the logged pyfunc in the active run, and the champion of `baseline` if any;
    decide.

    The pyfunc is loaded back from the server as any user would load it, and MLflow's RMSE
    of it must be `test_rmse`, the forest's on test.pkl. The champion is scored on the same
    trips, loaded by its version number and only once its signature checks out; or, when
    this machine has evaluated that very version on that very month before (its signed
    manifest and month are the key: publish/evaluations.py), its kept metrics are logged
    instead.
    """
    import mlflow

    evaluation = evaluate(load_pyfunc(model_uri), trips, test_month)
    evaluated = evaluation.metrics[RMSE_METRIC]
    if abs(evaluated - test_rmse) > 1e-9:
        raise RuntimeError(
            f"mlflow.models.evaluate gives the logged model RMSE {evaluated} on the raw test "
            f"month, but its forest gives {test_rmse} on test.pkl"
        )
    champion = None
    if baseline.version and not baseline.untrusted:
        champion_uri = f"models:/{policy.model_name}/{baseline.version}"
        tracking_uri = mlflow.get_tracking_uri()
        with scratch_folder("champion-") as folder:  # its manifest says what was evaluated
            fetched = fetch_verified(champion_uri, tracking_uri, Path(folder))
        key = (tracking_uri, policy.model_name, baseline.version)
        month = test_month.digest
        kept = fetched and evaluations.kept(*key, fetched.manifest_sha256, month)
        if kept:  # this machine evaluated this very version on this very month before
            say_verified(champion_uri, fetched.signed)
            champion = logged_evaluation(kept, baseline.version, test_month)
        else:
            try:
                model = load_pyfunc(champion_uri)
            except NOT_LOADED as refused:
                baseline = untrusted(baseline.version, refused)
            else:
                champion = evaluate_champion(model, baseline.version, trips, test_month)
                if fetched:
                    evaluations.keep(*key, fetched.manifest_sha256, month, champion.metrics)
    return decide(
        evaluation,
        champion,
        baseline.version,
        policy.promote,
        policy.max_regression,
        baseline.untrusted,
        baseline.held,
    )


def evaluate(model: Any, trips: Any, test_month: Any) -> Any:
    """MLflow's regressor evaluation of a pyfunc on the raw test trips, logged in the active run.

    `test_month` is the month's MetaDataset (lineage.py): the trips are evaluated as a
    dataset of the same name, source and digest, so the run's input stays that one month.
    """
    import mlflow

    from homework.model.features import RAW_COLUMNS, TARGET

    with warnings.catch_warnings():
        # MLflow infers a schema from the trips and warns that integer columns cannot hold
        # missing values: the zone ids cannot be missing here, and the model takes integers.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        data = mlflow.data.from_pandas(
            trips[[*RAW_COLUMNS, TARGET]],
            source=test_month.source,
            targets=TARGET,
            name=test_month.name,
            digest=test_month.digest,
        )
        return mlflow.models.evaluate(
            model,
            data,
            model_type="regressor",
            evaluators=["default"],
            evaluator_config={"default": {"log_model_explainability": False}},
        )


def logged_evaluation(metrics: dict[str, float], version: str, test_month: Any) -> Any:
    """The champion's kept evaluation, logged as evaluate_champion logs a new one."""
    import mlflow
    from mlflow.models import EvaluationResult

    with mlflow.start_run(run_name=f"champion-v{version}-baseline", nested=True):
        log_datasets({"test": test_month})
        mlflow.log_metrics(metrics)
    return EvaluationResult(metrics=metrics, artifacts={})


def evaluate_champion(model: Any, version: str, trips: Any, test_month: Any) -> Any:
    """Evaluate the champion's model on the same trips, in a run nested under the active one."""
    import mlflow

    with mlflow.start_run(run_name=f"champion-v{version}-baseline", nested=True):
        log_datasets({"test": test_month})
        return evaluate(model, trips, test_month)


def decide(
    candidate: Any,
    champion: Any,
    champion_version: str,
    promote: str = GATE,
    max_regression: float = 0.0,
    untrusted: str = "",
    held: str = "",
) -> Decision:
    """Compare two evaluation results (`champion` None: there is no champion yet, or, with
    `untrusted`, why it was not loaded).

    An infinite `max_regression` lets any version in, as `--promote always` does: a version
    worse than the champion is then `forced`, not `promoted`. A champion `held` by a rollback
    stays: a version that would replace it is `held` (@challenger), unless `--promote always`.
    """
    import mlflow
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    candidate_rmse = float(candidate.metrics[RMSE_METRIC])
    if champion is None:
        status = UNVERIFIED if untrusted else FIRST
        return Decision(
            status,
            candidate_rmse,
            max_regression,
            champion_version,
            untrusted=untrusted,
            metrics=dict(candidate.metrics),
        )
    baseline_rmse = float(champion.metrics[RMSE_METRIC])
    forced = promote == ALWAYS or math.isinf(max_regression)
    tolerance = 0.0 if math.isinf(max_regression) else max_regression
    # Lower is better: pass if the candidate's RMSE <= the champion's + the tolerance.
    threshold = MetricThreshold(threshold=baseline_rmse + tolerance, greater_is_better=False)
    try:
        mlflow.validate_evaluation_results({RMSE_METRIC: threshold}, candidate, champion)
        status = PROMOTED
    except ModelValidationFailedException:
        status = FORCED if forced else REJECTED
    if held and status != REJECTED and promote != ALWAYS:
        status = HELD
    return Decision(
        status,
        candidate_rmse,
        max_regression,
        champion_version,
        baseline_rmse,
        held=held,
        metrics=dict(candidate.metrics),
    )
