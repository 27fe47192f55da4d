"""rollback.py (`make rollback`): which version it puts back, and what it refuses.

The rollback of a served champion, the tags on both versions and the gate afterwards run
against a following server in tests/test_serve_model.py.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import TEST_MODEL_NAME, assert_one_line_error, plant_champion
from mlflow.tracking import MlflowClient

from homework.config import CHAMPION_ALIAS, GATE_STATUS_TAG
from homework.errors import UserError
from homework.publish.gate import BASELINE_VERSION_TAG, HELD, decide
from homework.publish.rollback import previous_champion
from rollback import run_rollback


def version(number: str, **tags: str) -> SimpleNamespace:
    return SimpleNamespace(version=number, tags=tags)


@pytest.mark.parametrize("status", ["promoted", "forced"])
def test_the_previous_champion_is_the_one_the_gate_replaced(status: str) -> None:
    champion = version("3", **{GATE_STATUS_TAG: status, BASELINE_VERSION_TAG: "2"})
    assert previous_champion(champion) == "2"


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ({GATE_STATUS_TAG: "first", BASELINE_VERSION_TAG: "none"}, "it was the first champion"),
        ({GATE_STATUS_TAG: "unverified", BASELINE_VERSION_TAG: "1"}, "the gate could not load"),
        ({}, "the gate did not register it"),
        ({GATE_STATUS_TAG: "rejected", BASELINE_VERSION_TAG: "1"}, "its validation.status is"),
    ],
)
def test_no_recorded_previous_champion_asks_for_a_version(tags: dict, why: str) -> None:
    with pytest.raises(UserError, match=rf"\(version 4\) records no champion before it \({why}"):
        previous_champion(version("4", **tags))


def evaluation(rmse: float) -> SimpleNamespace:
    return SimpleNamespace(metrics={"root_mean_squared_error": rmse})


@pytest.mark.parametrize(
    ("candidate", "promote", "status"),
    [(5.0, "gate", HELD), (6.0, "gate", "rejected"), (5.0, "always", "promoted")],
)
def test_a_held_champion_stays_unless_promote_always(
    candidate: float, promote: str, status: str
) -> None:
    held = "rolled back by ann at 2026-01-01T00:00:00Z: 'slow'"
    decision = decide(evaluation(candidate), evaluation(5.5), "1", promote, held=held)
    assert decision.status == status
    assert decision.alias == ("champion" if status == "promoted" else "challenger")
    if status == HELD:
        assert decision.reason().startswith(f"@champion is held at version 1 ({held})")


def test_refuses_what_it_cannot_put_back(mlflow_server, tmp_path: Path) -> None:
    """No champion; an empty reason; a version that is not signed; the champion itself."""
    args = ["--model_name", TEST_MODEL_NAME, "--reason"]
    assert_one_line_error(CliRunner().invoke(run_rollback, [*args, "x"]), "no version", "make q6")
    planted = plant_champion(mlflow_server.uri, tmp_path, tmp_path / "marker", TEST_MODEL_NAME)
    assert_one_line_error(CliRunner().invoke(run_rollback, [*args, " "]), "--reason is empty")
    unsigned = plant_champion(mlflow_server.uri, tmp_path, tmp_path / "marker", TEST_MODEL_NAME)
    done = CliRunner().invoke(run_rollback, [*args, "x", "--version", planted])
    refusal = f"refusing to roll back {TEST_MODEL_NAME} to version {planted}: it is unsigned"
    assert_one_line_error(done, refusal, "VERSION=N")
    done = CliRunner().invoke(run_rollback, [*args, "x", "--version", unsigned])
    assert_one_line_error(done, f"version {unsigned} of {TEST_MODEL_NAME} is @champion already")
    done = CliRunner().invoke(run_rollback, [*args, "x", "--version", "99"])
    assert_one_line_error(done, f"refusing to roll back {TEST_MODEL_NAME} to version 99")
    champion = MlflowClient().get_model_version_by_alias(TEST_MODEL_NAME, CHAMPION_ALIAS)
    assert champion.version == unsigned and not (tmp_path / "marker").exists()
