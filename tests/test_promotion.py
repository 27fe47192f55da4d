"""publish/gate.py: the gate's decision, from MLflow evaluation results (no server needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mlflow.models import EvaluationResult

from homework.config import CHALLENGER_ALIAS, CHAMPION_ALIAS
from homework.publish.gate import (
    ALWAYS,
    BASELINE_RMSE_TAG,
    BASELINE_VERSION_TAG,
    CANDIDATE_RMSE_TAG,
    FIRST,
    FORCED,
    GATE,
    PROMOTED,
    REJECTED,
    RMSE_METRIC,
    STATUS_TAG,
    UNTRUSTED_TAG,
    UNVERIFIED,
    decide,
)
from homework.publish.incumbent import seen_test_month


def result(rmse: float) -> EvaluationResult:
    return EvaluationResult(metrics={RMSE_METRIC: rmse, "r2_score": 0.6}, artifacts={})


def test_first_version_is_the_champion() -> None:
    decision = decide(result(5.6), None, "")
    assert (decision.status, decision.alias) == (FIRST, CHAMPION_ALIAS)
    assert decision.tags() == {
        STATUS_TAG: FIRST,
        BASELINE_VERSION_TAG: "none",
        BASELINE_RMSE_TAG: "none",
        CANDIDATE_RMSE_TAG: "5.600000",
    }
    assert "no champion yet" in decision.reason()


@pytest.mark.parametrize(
    ("candidate", "champion", "max_regression", "status"),
    [
        (5.5, 5.6, 0.0, PROMOTED),  # better
        (5.5674, 5.5674, 0.0, PROMOTED),  # equal passes: `make all` twice moves @champion
        (5.6001, 5.6, 0.0, REJECTED),  # worse, by a hair
        (5.64, 5.6, 0.05, PROMOTED),  # worse, within --max_regression
        (5.66, 5.6, 0.05, REJECTED),  # worse, beyond it
    ],
)
def test_gate_compares_the_rmse_with_the_champions(
    candidate: float, champion: float, max_regression: float, status: str
) -> None:
    decision = decide(result(candidate), result(champion), "3", GATE, max_regression)
    assert decision.status == status
    assert decision.alias == (CHALLENGER_ALIAS if status == REJECTED else CHAMPION_ALIAS)
    assert decision.tags() == {
        STATUS_TAG: status,
        BASELINE_VERSION_TAG: "3",
        BASELINE_RMSE_TAG: f"{champion:.6f}",
        CANDIDATE_RMSE_TAG: f"{candidate:.6f}",
    }
    reason = decision.reason()
    assert f"{candidate:.4f}" in reason and f"{champion:.4f}" in reason
    assert "champion version 3" in reason


def test_rejected_says_why_and_how_to_override() -> None:
    reason = decide(result(5.7642), result(5.5674), "1").reason()
    assert reason == (
        "test RMSE 5.7642 is worse than champion version 1's 5.5674 by 0.1968 minutes, "
        "more than --max_regression 0; @champion stays version 1 "
        "(--promote always would replace it)"
    )


def test_promote_always_forces_a_worse_model_in() -> None:
    decision = decide(result(5.7642), result(5.5674), "1", ALWAYS)
    assert (decision.status, decision.alias) == (FORCED, CHAMPION_ALIAS)
    assert "--promote always" in decision.reason()
    # A better model needs no force: the gate's own verdict is recorded.
    assert decide(result(5.5), result(5.5674), "1", ALWAYS).status == PROMOTED


def test_numpy_metrics_are_accepted() -> None:
    """MLflow returns some metrics as numpy floats; MetricThreshold wants a Python number."""
    decision = decide(result(np.float64(5.5)), result(np.float64(5.6)), "1")
    assert decision.status == PROMOTED and not math.isnan(decision.baseline_rmse)


def test_an_infinite_tolerance_is_a_forced_promotion() -> None:
    """--max_regression inf lets any version in, as --promote always does: a worse one is
    `forced`, never `promoted`; a better one passes the gate on its own."""
    worse = decide(result(5.7642), result(5.5674), "1", GATE, math.inf)
    assert (worse.status, worse.alias) == (FORCED, CHAMPION_ALIAS)
    assert worse.reason().startswith("--max_regression inf, although test RMSE 5.7642 is worse")
    assert decide(result(5.5), result(5.5674), "1", GATE, math.inf).status == PROMOTED


def test_a_champion_that_fails_the_check_is_no_baseline() -> None:
    decision = decide(result(5.6), None, "2", untrusted="it is unsigned (it has no x)")
    assert (decision.status, decision.alias) == (UNVERIFIED, CHAMPION_ALIAS)
    assert decision.tags() == {
        STATUS_TAG: UNVERIFIED,
        BASELINE_VERSION_TAG: "2",
        BASELINE_RMSE_TAG: "none",
        CANDIDATE_RMSE_TAG: "5.600000",
        UNTRUSTED_TAG: "it is unsigned (it has no x)",
    }
    assert decision.reason() == (
        "champion version 2 was not loaded, as it is unsigned (it has no x), so there was "
        "nothing to compare with (test RMSE 5.6000)"
    )


TRIP_DATA = {"dataset": "green", "train_month": "2023-01", "val_month": "2023-02"}


@pytest.mark.parametrize(
    ("test_month", "champion", "seen"),
    [
        ("2023-03", {"data.dataset": "green", "data.train_month": "2023-01"}, None),
        ("2023-01", {}, "the new model trained on"),
        ("2023-02", {}, "the new model validated on"),
        (
            "2023-04",
            {"data.dataset": "green", "data.train_month": "2023-04"},
            "@champion trained on",
        ),
        (
            "2023-04",
            {"data.dataset": "green", "data.val_month": "2023-04"},
            "@champion validated on",
        ),
        ("2023-04", {"data.dataset": "yellow", "data.train_month": "2023-04"}, None),
    ],
)
def test_a_test_month_either_model_trained_or_validated_on_is_seen(
    test_month: str, champion: dict, seen: str | None
) -> None:
    assert seen_test_month({**TRIP_DATA, "test_month": test_month}, champion) == seen
