"""The version that answers now, swapped in one step, and the versions refused meanwhile.

A request reads `Holder.served` once and answers with that version to the end: a swap
replaces the reference, so no request waits for a load, fails during a swap or mixes two
versions. A version that failed a check is recorded (`refuse`) and never served.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import click


def say(text: str) -> None:
    """One line of the server's log on stderr, with the time of day."""
    click.echo(f"{time.strftime('%H:%M:%S')} {text}", err=True)


def timestamp(seconds: float) -> str:
    """A moment as ISO 8601 in UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass(frozen=True)
class Served:
    """A loaded version that passed every check: what answers requests."""

    model: Any  # the pyfunc
    version: str
    signer: str  # "SHA256:... (your key)", or "none (...)" with --trust_unsigned
    loaded_at: float  # time.time() when it was swapped in
    input_schema: Any = None  # the model's signature input, as MLflow's scoring code takes it


@dataclass(frozen=True)
class Refusal:
    """A version that failed a check: which, why, when."""

    version: str
    reason: str
    at: float


class Holder:
    """The model of `name` that answers now, and the refusals so far."""

    def __init__(self, name: str, served: Served) -> None:
        self.name = name
        self.served = served  # one reference: a request reads it once
        self.refusals = 0
        self.last_refusal: Refusal | None = None
        self._lock = threading.Lock()

    def swap(self, served: Served) -> Served:
        """Serve `served` from the next request on; the version it replaces."""
        with self._lock:
            previous, self.served = self.served, served
        return previous

    def refuse(self, version: str, reason: str) -> int:
        """Record a refused version; how many refusals there were so far."""
        with self._lock:
            self.refusals += 1
            self.last_refusal = Refusal(version, reason, time.time())
            return self.refusals

    def describe(self) -> dict[str, Any]:
        """What GET /model answers about the model and its refusals."""
        served, refusal = self.served, self.last_refusal
        return {
            "name": self.name,
            "version": served.version,
            "signer": served.signer,
            "loaded_at": timestamp(served.loaded_at),
            "refusals": self.refusals,
            "last_refusal": refusal
            and {"version": refusal.version, "reason": refusal.reason, "at": timestamp(refusal.at)},
        }
