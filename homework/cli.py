"""What every command shares: its options, its quiet output and its one-line errors.

The options keep the course's names (`--data_path`, `--raw_data_path`, `--num_trials`,
`--top_n`), with dashed aliases. `reporting` wraps a command's work: MLflow's chatter stays
off stdout (which carries only results), every known failure becomes one `Error:` line, and
Ctrl-C ends it with Click's `Aborted!` whenever it comes (see on_ctrl_c).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

import click

from homework.config import (
    CHAMPION_ALIAS,
    DATA_PATH,
    MODEL_NAME,
    NUM_TRIALS,
    RAW_DATA_PATH,
    TOP_N,
    TRACKING_URI,
)
from homework.errors import UserError
from homework.tracking import describe_failure, redact

DEBUG_VARIABLE = "HOMEWORK_DEBUG"  # set to 1 for the whole traceback of an error


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or TRACKING_URI


data_path_option = click.option(
    "--data_path",
    "--data-path",
    default=DATA_PATH,
    show_default=True,
    help="Folder with the pickles written by preprocess_data.py.",
)

num_trials_option = click.option(
    "--num_trials",
    "--num-trials",
    default=NUM_TRIALS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of parameter settings hyperopt evaluates.",
)

top_n_option = click.option(
    "--top_n",
    "--top-n",
    default=TOP_N,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many of the best hyperopt runs to evaluate on the test month.",
)

tracking_uri_option = click.option(
    "--tracking_uri",
    "--tracking-uri",
    default=default_tracking_uri,
    show_default="$MLFLOW_TRACKING_URI or " + TRACKING_URI,
    help="MLflow tracking server to log to.",
)

verbose_option = click.option(
    "--verbose",
    is_flag=True,
    help="Also show MLflow's own log lines and run links (on stderr, passwords masked).",
)


trust_unsigned_option = click.option(
    "--trust_unsigned",
    "--trust-unsigned",
    is_flag=True,
    help="Accept a model not signed by a key this machine trusts, with a warning instead of a "
    "refusal (loading it runs the code it holds).",
)


def model_name_option(help: str, **settings: Any) -> Callable[[Any], Any]:
    """The `--model_name` option (the registered model), with its help text."""
    return click.option(
        "--model_name", "--model-name", default=MODEL_NAME, show_default=True, help=help, **settings
    )


def model_uri_option(help: str) -> Callable[[Any], Any]:
    """The `--model_uri` option, default the registered champion."""
    return click.option(
        "--model_uri",
        "--model-uri",
        default=f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}",
        show_default=True,
        help=help,
    )


def raw_data_path_option(help: str) -> Callable[[Any], Any]:
    """The `--raw_data_path` option, with a help text saying what is read from it."""
    return click.option(
        "--raw_data_path", "--raw-data-path", default=RAW_DATA_PATH, show_default=True, help=help
    )


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
    half-loaded library. Then the process ends at once, with the same line and exit code.
    """
    if importing(frame):
        sys.stderr.write("Aborted!\n")
        sys.stderr.flush()
        os._exit(1)
    raise KeyboardInterrupt


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
def reporting(tracking_uri: str = "", verbose: bool = False) -> Iterator[None]:
    """Run a command's work with its output masked and quiet, and errors as one line.

    Output as `masked_output` leaves it. A UserError, or an error of MLflow or the tracking
    server (told by its cause, see tracking.describe_failure), becomes one `Error: ...`
    line, the password of `tracking_uri` masked; HOMEWORK_DEBUG=1 shows the whole
    traceback instead.
    """
    try:
        with ctrl_c_handled(), masked_output(tracking_uri, verbose):
            yield
    except Exception as exc:
        if isinstance(exc, UserError):
            message = str(exc)
        else:
            message = describe_failure(exc, tracking_uri) if tracking_uri else None
        if message is None or os.environ.get(DEBUG_VARIABLE):
            raise
        raise click.ClickException(redact(message, tracking_uri)) from None
