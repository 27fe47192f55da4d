"""What every command's output is: quiet, passwords masked, one line per error.

`reporting` wraps a command's work: MLflow's chatter stays off stdout (which carries only
results), every known failure becomes one `Error:` line, and Ctrl-C ends it with Click's
`Aborted!` whenever it comes (see interrupts.on_ctrl_c). A long loop draws one progress bar
on stderr (`progress`; a search's bar, with its best RMSE, is search/progress.py's), with
tqdm, the one progress-bar library. Importing this module also makes the command's exit
quick: the heap is frozen before Python tears its modules down (see below).
"""

from __future__ import annotations

from homework.interrupts import on_ctrl_c

import atexit
import contextlib
import gc
import io
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO, TypeVar

import click

from homework.errors import UserError
from homework.tracking.connection import Connection
from homework.tracking.failures import describe_failure, redact

DEBUG_VARIABLE = "HOMEWORK_DEBUG"  # set to 1 for the whole traceback of an error
BAR_FORMAT = "{desc}  {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"
Item = TypeVar("Item")

# On exit Python clears its modules one by one, collecting garbage as it goes: with MLflow,
# pandas and scikit-learn loaded, that walks a heap of about 150,000 objects again and again.
# Nothing of ours needs those collections (files are closed by their `with`, scratch folders
# by their own cleanup, and every exit hook, MLflow's too, still runs), so the heap is frozen
# first and the process ends at once.
atexit.register(gc.freeze)


class Chatter(io.TextIOBase):
    """Stands in for stdout or stderr: writes to `target` with passwords masked, or nowhere.

    A terminal stays a terminal (`isatty`, `fileno`), so progress bars still draw.
    """

    def __init__(self, target: TextIO | None, tracking_uri: str) -> None:
        self.target = target
        self.tracking_uri = tracking_uri

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.target is not None:
            self.target.write(redact(text, self.tracking_uri))
        return len(text)

    def flush(self) -> None:
        if self.target is not None:
            self.target.flush()

    def isatty(self) -> bool:
        return self.target is not None and self.target.isatty()

    def fileno(self) -> int:
        if self.target is None:
            raise io.UnsupportedOperation("fileno")
        return self.target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.target, "encoding", None) or "utf-8"


@contextlib.contextmanager
def masked_output(tracking_uri: str, verbose: bool) -> Iterator[None]:
    """Passwords masked in all that is printed meanwhile; MLflow's stdout chatter hidden.

    MLflow prints "View run ..." links on stdout: they go to stderr with `verbose`, else
    nowhere. Everything on stderr (our progress, MLflow's log lines and warnings, which it
    writes to whatever sys.stderr is) passes with the password of `tracking_uri` masked.
    """
    stderr = sys.stderr
    with (
        contextlib.redirect_stderr(Chatter(stderr, tracking_uri)),
        contextlib.redirect_stdout(Chatter(stderr if verbose else None, tracking_uri)),
    ):
        yield


@contextlib.contextmanager
def ctrl_c_handled() -> Iterator[None]:
    """Run the block with on_ctrl_c as the SIGINT handler.

    Not in another thread (signals belong to the main thread), and an ignored Ctrl-C (as
    under nohup) stays ignored.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not in_main_thread or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def reporting(connection: Connection | None = None) -> Iterator[None]:
    """Run a command's work with its output masked and quiet, and errors as one line.

    Output as `masked_output` leaves it. A UserError, or an error of MLflow or the tracking
    server of `connection` (told by its cause, see tracking/failures.py), becomes one
    `Error: ...` line, the server's password masked; HOMEWORK_DEBUG=1 shows the whole
    traceback instead.
    """
    tracking_uri = connection.uri if connection else ""
    try:
        with ctrl_c_handled(), masked_output(tracking_uri, bool(connection and connection.verbose)):
            yield
    except Exception as exc:
        message = explain(exc, tracking_uri)
        if message is None:
            raise
        raise click.ClickException(message) from None


def explain(exc: Exception, tracking_uri: str = "") -> str | None:
    """The one line for a failure the user can act on, password masked: a UserError, or an
    error of MLflow or of the tracking server at `tracking_uri` (by its cause); None for any
    other failure, and for every one with HOMEWORK_DEBUG=1 (the traceback is wanted)."""
    if isinstance(exc, UserError):
        message = str(exc)
    else:
        message = describe_failure(exc, tracking_uri) if tracking_uri else None
    if message is None or os.environ.get(DEBUG_VARIABLE):
        return None
    return redact(message, tracking_uri)


def progress(items: Sequence[Item], label: str) -> Iterable[Item]:
    """`items` one by one, with a progress bar on stderr: `label`, how many done, time left.

    The bar closes when the loop ends, whichever way it ends.
    """
    from tqdm import tqdm

    return tqdm(items, desc=label, file=sys.stderr, dynamic_ncols=True, bar_format=BAR_FORMAT)
