"""Ctrl-C at any moment of a command: one `Aborted!` line, exit code 1, no scratch folder left.

Every command imports this module first, before Click or anything else (pyproject.toml gives
it an import section of its own, `ctrl-c`, that ruff keeps at the top), and importing it
installs `on_ctrl_c` as the SIGINT handler: from the command's first import on, Ctrl-C never
ends in a traceback. `reporting.reporting` installs the same handler again for the command's
work.

The scratch folders a command makes (a model's checked copy, the files being signed) come
from `scratch_folder`, which removes them on every way out: a normal end, an error, Ctrl-C,
and the immediate exit on_ctrl_c makes during an import.
"""

from __future__ import annotations

# Only modules Python has loaded before any script runs, so that the handler is in place
# within microseconds: `_signal` is the C module behind `signal`, which would take 5 ms more
# (it imports enum); typing would take 20. The others are imported where they are used.
import _signal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from types import FrameType
    from typing import Any

LIVE_SCRATCH: set[str] = set()  # the scratch folders in use, removed on an immediate exit


def importing(frame: FrameType | None) -> bool:
    """True if `frame` runs inside an import (the import system's frames are on its stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: a KeyboardInterrupt, which Click turns into `Aborted!` and exit code 1.

    Except while a module loads: a KeyboardInterrupt inside a C extension's import comes
    out as an ImportError traceback, or is swallowed and the script goes on with a
    half-loaded library. Then the process ends at once, with the same line and exit code,
    once its scratch folders are removed.
    """
    if importing(frame):
        remove_scratch()
        sys.stderr.write("Aborted!\n")
        sys.stderr.flush()
        os._exit(1)
    raise KeyboardInterrupt


def install() -> None:
    """on_ctrl_c as the SIGINT handler, unless Ctrl-C is ignored (nohup) or someone else
    already handles it; nothing outside the main thread, where signals do not go."""
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        try:  # noqa: SIM105 (contextlib.suppress: one more import before the handler)
            _signal.signal(_signal.SIGINT, on_ctrl_c)
        except ValueError:  # not the main thread
            pass


install()


def scratch_folder(prefix: str, parent: str | os.PathLike | None = None) -> AbstractContextManager:
    """A new private folder (mode 700) for a `with` block, removed whatever way it ends."""
    import contextlib
    import tempfile

    @contextlib.contextmanager
    def folder() -> Iterator[str]:
        with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as path:
            LIVE_SCRATCH.add(path)
            try:
                yield path
            finally:
                LIVE_SCRATCH.discard(path)

    return folder()


class HeldCtrlC:
    """Ctrl-C held back from `hold()` to `release()`: pressed meanwhile, it acts at the release,
    as the handler before would have (a KeyboardInterrupt; inside a longer hold, held on).

    The one way the project keeps a stretch whole: moving the pickles in, launching and
    recording a server, a search (from its parent run's opening to its end, but where its
    tuner lets Ctrl-C through: ctrl_c_let_through). Only the main thread gets signals, and a
    Ctrl-C that is ignored (nohup) stays ignored: there, nothing is held.
    """

    def __init__(self) -> None:
        self.previous: Any = None
        self.pressed = False
        self.through = False  # in a ctrl_c_let_through block: Ctrl-C acts at once

    def hold(self) -> None:
        if self.previous is not None or _signal.getsignal(_signal.SIGINT) == _signal.SIG_IGN:
            return
        try:
            self.previous = _signal.signal(_signal.SIGINT, self.press)
        except ValueError:  # not the main thread
            self.previous = None

    def press(self, signum: int, frame: FrameType | None) -> None:
        """Ctrl-C: held; let through, a KeyboardInterrupt (but inside an import, which it
        would break: there, held), and held again from here on, however the block ends."""
        if self.through and not importing(frame):
            self.through = False
            raise KeyboardInterrupt
        self.pressed = True

    def let_through(self) -> None:
        """From now on Ctrl-C acts at once; one pressed before acts now."""
        if self.pressed:
            self.pressed = False
            raise KeyboardInterrupt
        self.through = True

    def release(self, act: bool = True) -> None:
        """Restore the handler; then, if Ctrl-C was pressed and `act`, do what it would have."""
        previous, self.previous, self.through = self.previous, None, False
        if previous is None:
            return
        _signal.signal(_signal.SIGINT, previous)
        pressed, self.pressed = self.pressed, False
        if pressed and act:
            if not callable(previous):  # SIG_DFL: the process would end; this ends the command
                raise KeyboardInterrupt
            previous(_signal.SIGINT, None)


class LetThrough:
    """ctrl_c_let_through's block: lets through the hold in force as it starts, if any."""

    def __enter__(self) -> None:
        holder = getattr(_signal.getsignal(_signal.SIGINT), "__self__", None)
        self.held = holder if isinstance(holder, HeldCtrlC) else None
        if self.held is not None:
            self.held.let_through()

    def __exit__(self, *exc: object) -> None:
        if self.held is not None:
            self.held.through = False


def ctrl_c_let_through() -> LetThrough:
    """Inside a block that holds Ctrl-C back, a block where it acts at once (pressed before,
    it acts as the block starts); held back again after it, however it ends. Where nothing
    is held (another thread, a Spark worker, nohup), it changes nothing."""
    return LetThrough()


def ctrl_c_held_back() -> AbstractContextManager:
    """A `with` block (a short one) that Ctrl-C does not cut in two: pressed meanwhile, it acts
    as soon as the block ends (not when the block fails: that ends the command anyway)."""
    import contextlib

    @contextlib.contextmanager
    def held_back() -> Iterator[None]:
        held = HeldCtrlC()
        held.hold()
        try:
            yield
        except BaseException:
            held.release(act=False)
            raise
        held.release()

    return held_back()


def remove_scratch() -> None:
    """Remove every scratch folder still in use (before an immediate exit)."""
    import shutil

    for folder in list(LIVE_SCRATCH):
        shutil.rmtree(folder, ignore_errors=True)
