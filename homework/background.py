"""Work done in the background, one job at a time: a trial is logged while the next one fits.

`Background.submit` runs a job on a thread of its own and returns at once; it first waits
for the job before it, so jobs run one at a time, in order, and the caller holds at most
the data of one job waiting and one running (two forests, in a search). A job that fails
fails the caller: its exception is raised in the caller's thread by the next `submit`,
`check` or `wait`, as if the job had run there, and no job runs after it. The thread is a
daemon: Ctrl-C and exit never wait for it (a trial it was logging stays unfinished, as
when the process is killed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Background:
    """One job at a time on a background thread; its failure is the caller's."""

    def __init__(self, name: str = "background") -> None:
        self.name = name
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Run `job(*args)` in the background, once the job before it is done."""
        self.wait()

        def run() -> None:
            try:
                job(*args)
            except BaseException as exc:  # raised again in the caller's thread (wait)
                self.error = exc

        self.thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.thread.start()

    def check(self) -> None:
        """Raise the exception of the job in the background if it has failed already."""
        if self.thread is not None and not self.thread.is_alive():
            self.wait()

    def wait(self) -> None:
        """Wait until the job in the background is done; raise its exception if it failed."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error
