"""Moving @champion back: to the champion it replaced, as the gate recorded, or to a version.

The previous champion is the one the promotion gate compared the current champion with when
it promoted it (its tags `validation.status` promoted or forced, `validation.baseline_version`):
so a second rollback goes one champion further back. The version put back must still pass
the signature check (nothing of it is loaded); then the alias moves, both versions get tags
saying who moved it, when and why, and the registered model records the hold that keeps the
gate from moving @champion on its own (see gate.py).
"""

from __future__ import annotations

from homework.interrupts import scratch_folder

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
from homework.tracking.sources import ForeignSource
from homework.trust.loading import MissingModel, UntrustedModel, download_verified

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
        "unverified": f"the champion it replaced (version {baseline}) failed the signature check",
    }.get(status or "", recorded)
    raise UserError(
        f"@{CHAMPION_ALIAS} (version {champion.version}) records no champion before it "
        f"({return_why}): {NAME_A_VERSION}."
    )


def check_target(model_name: str, version: str) -> None:
    """Refuse, in one line, a version that fails the signature check (nothing is loaded)."""
    with scratch_folder("rollback-") as folder:
        try:
            download_verified(f"models:/{model_name}/{version}", folder)
        except UntrustedModel as refused:
            raise UserError(
                f"refusing to roll back to version {version} of {model_name}: {refused.why}; "
                f"{NAME_A_VERSION} of one signed by a key you trust."
            ) from None
        except (ForeignSource, MissingModel) as refused:
            raise UserError(f"cannot roll back to version {version}: {refused}") from None


def roll_back(model_name: str, version: str | None, reason: str) -> Rollback:
    """Move @champion of `model_name` to `version` (None: the previous champion), once it
    passes the signature check; tag both versions and hold @champion there."""
    from mlflow.tracking import MlflowClient

    if not reason.strip():
        raise UserError("--reason is empty: say why @champion moves back (make: REASON=...).")
    champion = champion_version(model_name)
    target = version or previous_champion(champion)
    if target == str(champion.version):
        raise UserError(f"version {target} of {model_name} is @{CHAMPION_ALIAS} already.")
    check_target(model_name, target)
    done = Rollback(
        model_name,
        str(champion.version),
        target,
        who(),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        " ".join(reason.split())[:500],
    )
    client = MlflowClient()
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, target)
    record = {ROLLBACK_BY_TAG: done.by, ROLLBACK_AT_TAG: done.at, ROLLBACK_REASON_TAG: done.reason}
    for number, other in (
        (target, {ROLLBACK_FROM_TAG: done.from_version}),
        (done.from_version, {ROLLBACK_TO_TAG: target}),
    ):
        for key, value in {**record, **other}.items():
            client.set_model_version_tag(model_name, number, key, value)
    client.set_registered_model_tag(model_name, ROLLBACK_HOLD_TAG, target)
    return done
