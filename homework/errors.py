"""The exception the homework's own code raises for a mistake the user can fix."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing step: its message names the file, option or server and the fix.

    The Click commands print it as one `Error: ...` line (see cli.py); nothing else needs
    to know about Click.
    """


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
