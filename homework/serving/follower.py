"""Following the alias: learn that it moved, load the new version in the background, swap.

Every `every_s` seconds (and at once when a webhook call wakes it) the follower asks the
registry which version has the alias. A new one is loaded in the follower's own thread
(loader.load_version: signature, load, one trip) while the old one answers every request,
and swapped in only once it passed; a version that fails is refused in one line, counted,
and not tried again until the alias moves. A tracking server (or artifact store) that is down or
refuses us is said once, when it starts and when it ends; serving goes on meanwhile.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from homework.errors import first_line
from homework.publish.registry import aliased_version
from homework.serving.holder import Holder, say, timestamp
from homework.serving.loader import REFUSED, load_version, transient


class Follower:
    """The thread that follows `@alias` of the holder's model."""

    def __init__(
        self, holder: Holder, alias: str, every_s: float, trust_unsigned: bool = False
    ) -> None:
        self.holder = holder
        self.alias = alias
        self.every_s = every_s
        self.trust_unsigned = trust_unsigned
        self.alias_version = holder.served.version  # what the registry said last
        self.checked_at: float | None = None
        self.refused_version: str | None = None  # still under the alias: not tried again
        self.trouble: str | None = None  # the registry's problem while it lasts
        self.wakened = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="follower", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """Look at the alias now (a webhook said it moved)."""
        self.wakened.set()

    def stop(self, wait_s: float = 2.0) -> None:
        self.stopping.set()
        self.wakened.set()
        if self.thread.is_alive():
            self.thread.join(wait_s)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.wakened.wait(self.every_s)
            self.wakened.clear()
            if not self.stopping.is_set():
                self.check()

    def check(self) -> None:
        """One look at the alias; load and swap in a version that moved there."""
        name = self.holder.name
        try:
            found = aliased_version(name, self.alias)
        except Exception as exc:  # whatever the registry does, serving goes on
            self.troubled(f"cannot ask the registry for @{self.alias} ({first_line(exc)[:200]})")
            return
        self.checked_at = time.time()
        if found is None:
            self.troubled(f"no version of {name} has @{self.alias} now")
            return
        version = str(found.version)
        if version != self.refused_version:
            self.refused_version = None  # the alias moved: a version refused before is tried again
        self.alias_version = version
        if version in (self.holder.served.version, self.refused_version):
            self.settled()
        else:
            self.load(version)  # says whether the trouble, if any, is over

    def load(self, version: str) -> None:
        served = self.holder.served
        say(f"@{self.alias} moved to version {version}: loading it; {served.version} answers")
        started = time.monotonic()
        try:
            new = load_version(f"models:/{self.holder.name}/{version}", self.trust_unsigned)
        except Exception as exc:  # a model's bug must not stop the follower
            if transient(exc) and not isinstance(exc, REFUSED):
                self.troubled(f"cannot load version {version} ({first_line(exc)[:200]})")
                return
            self.settled()
            self.refused_version = version
            reason = first_line(exc).rstrip(".") + "."
            count = self.holder.refuse(version, reason)
            say(
                f"REFUSED version {version} ({count} so far): {reason} Still serving version "
                f"{self.holder.served.version}."
            )
            return
        self.settled()
        self.refused_version = None
        previous = self.holder.swap(new)
        say(
            f"Serving version {version} from now on (was {previous.version}; loaded and "
            f"checked in {time.monotonic() - started:.1f} s, signed by {new.signer})"
        )

    def troubled(self, problem: str) -> None:
        """Say a problem with the registry once, when it starts."""
        if self.trouble is None:
            say(f"{problem}: still serving version {self.holder.served.version}, trying again")
        self.trouble = problem

    def settled(self) -> None:
        if self.trouble is not None:
            say(f"the registry answers again (after: {self.trouble})")
        self.trouble = None

    def describe(self) -> dict[str, Any]:
        """What GET /model says about following."""
        checked = self.checked_at
        return {
            "alias": self.alias,
            "alias_version": self.alias_version,
            "polling_s": self.every_s,
            "checked_at": checked and timestamp(checked),
            "registry_problem": self.trouble,
        }
