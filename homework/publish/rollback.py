"""Moving @champion back: to the champion it replaced, as the gate recorded, or to a version.

The previous champion is the one the promotion gate compared the current champion with when
it promoted it (its tags `validation.status` promoted or forced, `validation.baseline_version`):
so a second rollback goes one champion further back. `plan` says which; rollback.py then
loads that version as a following server would (signature, load, one trip) and `apply` moves
the alias, tags both versions with who moved it, when and why, and records on the registered
model the hold that keeps the gate from moving @champion on its own (see gate.py).
"""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass
from typing import Any

from homework.config import (
    CHAMPION_ALIAS,
    GATE_STATUS_TAG,
    ROLLBACK_AT_TAG,
    ROLLBACK_BY_TAG,
    ROLLBACK_FROM_TAG,
    ROLLBACK_HOLD_TAG,
    ROLLBACK_REASON_TAG,
    ROLLBACK_TO_TAG,
)
from homework.errors import UserError
from homework.publish.gate import BASELINE_VERSION_TAG, FORCED, PROMOTED
from homework.publish.registry import champion_version
from homework.trust.loading import UntrustedModel

NAME_A_VERSION = "name the version to roll back to with --version N (make rollback VERSION=N)"


@dataclass(frozen=True)
class Rollback:
    """A move of @champion back: from which version to which, by whom, when, why."""

    model_name: str
    from_version: str
    to_version: str
    by: str
    at: str
    reason: str


def who() -> str:
    """Who moves the alias: the tracking server's login if there is one, else this user."""
    return os.environ.get("MLFLOW_TRACKING_USERNAME") or getpass.getuser()


def previous_champion(champion: Any) -> str:
    """The version `champion` replaced when the gate made it @champion; UserError if none."""
    status = champion.tags.get(GATE_STATUS_TAG)
    baseline = champion.tags.get(BASELINE_VERSION_TAG, "")
    if status in (PROMOTED, FORCED) and baseline.isdigit():
        return baseline
    recorded = f"its {GATE_STATUS_TAG} is {status}" if status else "the gate did not register it"
    return_why = {
        "first": "it was the first champion",
        "unverified": f"the gate could not load the champion it replaced (version {baseline})",
    }.get(status or "", recorded)
    raise UserError(
        f"@{CHAMPION_ALIAS} (version {champion.version}) records no champion before it "
        f"({return_why}): {NAME_A_VERSION}."
    )


def plan(model_name: str, version: str | None, reason: str) -> Rollback:
    """The move of @champion of `model_name` back to `version` (None: the previous champion),
    not done yet: the caller checks the version first (rollback.py loads it as a following
    server would), then `apply`."""
    if not reason.strip():
        raise UserError("--reason is empty: say why @champion moves back (make: REASON=...).")
    champion = champion_version(model_name)
    target = version or previous_champion(champion)
    if target == str(champion.version):
        raise UserError(f"version {target} of {model_name} is @{CHAMPION_ALIAS} already.")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    why = " ".join(reason.split())[:500]
    return Rollback(model_name, str(champion.version), target, who(), when, why)


def refused(rollback: Rollback, error: UserError) -> UserError:
    """One line for a version that cannot be put back (it failed a check when loaded)."""
    why = error.why if isinstance(error, UntrustedModel) else str(error)
    return UserError(
        f"refusing to roll back {rollback.model_name} to version {rollback.to_version}: {why}; "
        f"{NAME_A_VERSION} of one that passes."
    )


def apply(rollback: Rollback) -> None:
    """Move @champion, tag both versions with who, when and why, hold @champion there."""
    from mlflow.tracking import MlflowClient

    client, name, target = MlflowClient(), rollback.model_name, rollback.to_version
    client.set_registered_model_alias(name, CHAMPION_ALIAS, target)
    record = {
        ROLLBACK_BY_TAG: rollback.by,
        ROLLBACK_AT_TAG: rollback.at,
        ROLLBACK_REASON_TAG: rollback.reason,
    }
    for number, other in (
        (target, {ROLLBACK_FROM_TAG: rollback.from_version}),
        (rollback.from_version, {ROLLBACK_TO_TAG: target}),
    ):
        for key, value in {**record, **other}.items():
            client.set_model_version_tag(name, number, key, value)
    client.set_registered_model_tag(name, ROLLBACK_HOLD_TAG, target)
