"""What a search is made with, its plan, and what a tuner does for the search's runs.

A search's plan (the tuner, its number of trials, its seed, the digests of the search space
and of the data) is recorded on its parent run, and on an Optuna study: a search resumed, or
joined by a second Optuna worker, must go on with the same plan (`Plan.check`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homework.config import SEARCH_SPACE, TRIAL_RANDOM_STATE
from homework.errors import UserError

History = list[tuple[dict[str, Any], float]]  # finished trials: their params and `rmse`


def space_digest() -> str:
    """A digest of the search space, the same for every tuner."""
    space = {"space": SEARCH_SPACE, "random_state": TRIAL_RANDOM_STATE}
    return hashlib.sha256(json.dumps(space, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Plan:
    """What a search is: resuming it, or joining it as a second worker, must not change it."""

    tuner: str
    num_trials: int
    seed: int
    space: str = field(default_factory=space_digest)
    data: str = ""  # the digests of the training and validation months

    def recorded(self) -> dict[str, str]:
        """The plan as the parent run's params (and an Optuna study's user attributes)."""
        return {
            "tuner": self.tuner,
            "num_trials": str(self.num_trials),
            "seed": str(self.seed),
            "search_space": self.space,
            "data_digest": self.data,
        }

    def check(self, recorded: Mapping[str, Any], what: str, fix: str) -> None:
        """Refuse, in one line, a search whose recorded plan differs from this one."""
        wanted = self.recorded()
        wrong = [key for key, value in wanted.items() if str(recorded.get(key)) != value]
        if wrong:
            was = ", ".join(f"{key} {recorded.get(key, '(none)')}" for key in wrong)
            asked = ", ".join(f"{key} {wanted[key]}" for key in wrong)
            raise UserError(f"{what} was made with {was}; this run has {asked}: {fix}.")


def data_digest(datasets: Mapping[str, Any]) -> str:
    """`train:<digest>,val:<digest>`: which months a search trains and validates on."""
    return ",".join(f"{name}:{data.digest}" for name, data in sorted(datasets.items()))
