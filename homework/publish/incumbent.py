"""The champion a new version is compared with: found, checked, and fit for the comparison.

The promotion gate (gate.py) compares a new version with the version behind
`@champion`, but only with one it can trust: a champion that fails the signature check
(unsigned, another key, changed files, files on another host) is never loaded, whatever
`--trust_unsigned` says, and is no baseline at all. It never blocks the user's own signed
model, which becomes `@champion` with a tag saying why nothing was compared.

Before any run is logged (`choose_baseline`), the gate refuses to compare on a test month
that either model trained or validated on: an RMSE on training data says nothing.
"""

from __future__ import annotations

from homework.interrupts import scratch_folder

from dataclasses import dataclass
from typing import Any

import click

from homework.config import CHAMPION_ALIAS
from homework.errors import UserError
from homework.publish.registry import find_champion, rollback_hold
from homework.tracking.sources import ForeignSource
from homework.trust.loading import BrokenModel, MissingModel, UntrustedModel, download_verified

# A champion the gate cannot use.
NOT_LOADED = (UntrustedModel, ForeignSource, MissingModel, BrokenModel)


@dataclass
class Baseline:
    """The champion a new version is compared with: its version ("" if there is none), why
    it cannot be used, if it fails the signature check, and who held it with a rollback."""

    version: str = ""
    untrusted: str = ""
    held: str = ""  # registry.rollback_hold: the gate does not move @champion on its own


def choose_baseline(policy: Any, trip_data: dict[str, str]) -> Baseline:
    """The champion to compare with, checked before any run is logged.

    Refuses (UserError) to compare on a test month that the new model (`trip_data`, what its
    dv.pkl records) or the champion (its version tags) trained or validated on, unless
    `--promote always`.
    A champion whose tags say so is first checked against its signature: one that fails the
    check is no baseline at all, and never blocks a new version.
    """
    champion = find_champion(policy.model_name)
    if champion is None:
        return Baseline()
    held = rollback_hold(policy.model_name, champion)
    seen = seen_test_month(trip_data, champion.tags)
    if not seen:
        return Baseline(champion.version, held=held)
    baseline = verified(policy.model_name, champion.version, held)
    if baseline.untrusted:
        return baseline
    month = f"{trip_data['dataset']} trips of {trip_data['test_month']}"
    problem = f"{seen} {month}, the test month, so an RMSE on it says nothing"
    if not policy.promotes_always:
        raise UserError(
            f"cannot compare with @{CHAMPION_ALIAS} (version {champion.version}): {problem}; "
            "preprocess with a test month neither model trained or validated on (make q2), "
            "or pass --promote always."
        )
    click.echo(f"Note: {problem}; --promote always registers as @{CHAMPION_ALIAS}.", err=True)
    return baseline


def seen_test_month(trip_data: dict[str, str], champion_tags: dict[str, str]) -> str | None:
    """Which model trained or validated on the test month of `trip_data`, or None."""
    test = (trip_data["dataset"], trip_data["test_month"])
    models = {
        "the new model": lambda key: trip_data.get(key),
        f"@{CHAMPION_ALIAS}": lambda key: champion_tags.get(f"data.{key}"),
    }
    for who, recorded in models.items():
        for role, key in (("trained", "train_month"), ("validated", "val_month")):
            if (recorded("dataset"), recorded(key)) == test:
                return f"{who} {role} on"
    return None


def verified(model_name: str, version: str, held: str = "") -> Baseline:
    """The champion `version` as a baseline once its files check out (nothing is loaded)."""
    with scratch_folder("model-") as folder:
        try:
            download_verified(f"models:/{model_name}/{version}", folder)
        except NOT_LOADED as refused:
            return untrusted(version, refused)
    return Baseline(version, held=held)


def untrusted(version: str, refused: UserError) -> Baseline:
    """A champion the gate does not load: said in one line, recorded on the new version."""
    why = refused.why if isinstance(refused, UntrustedModel) else str(refused)
    click.echo(
        f"@{CHAMPION_ALIAS} (version {version}) is not loaded: {why}. The gate has nothing "
        "to compare with.",
        err=True,
    )
    return Baseline(version, why)
