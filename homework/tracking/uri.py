"""What a tracking URI must be before MLflow is given it, checked in seconds, in one line each.

- not empty;
- an http(s) URL that parses, with a host and a port that is a number (`http://[::1` would
  otherwise end in a ValueError traceback at the first request);
- a local store (file://, a plain path, sqlite:///) in a folder that exists: MLflow would
  create it without a word, and the next steps would not find the runs of the previous ones;
- a database (postgresql://, mysql://, ...) that answers within DATABASE_TIMEOUT seconds:
  MLflow itself tries ten times with growing pauses (about 100 s), then prints a long
  traceback, and waits forever on a server that accepts and never answers.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from homework.errors import UserError, first_line

DATABASE_TIMEOUT = 5  # seconds for the one connection attempt before MLflow's own
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql", "sqlite")


def local_store_folder(tracking_uri: str) -> Path | None:
    """The folder a local tracking URI keeps its runs in (file://, a plain path, sqlite:///)."""
    parts = urlsplit(tracking_uri)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    if parts.scheme == "sqlite":
        return Path(parts.path.removeprefix("/")).parent  # sqlite:///x.db is x.db, :////x.db /x.db
    if not parts.scheme and not tracking_uri.startswith("databricks"):
        return Path(tracking_uri)
    return None


def check_url(tracking_uri: str) -> None:
    """Refuse an http(s) tracking URI that does not parse, or has no host or a bad port."""
    try:
        parts = urlsplit(tracking_uri)
        parts.port  # noqa: B018 (reading it checks it: "Port out of range", "not an integer")
        if not parts.hostname:
            raise ValueError("no host")
    except ValueError as exc:
        raise UserError(
            f"--tracking_uri {tracking_uri} is not a valid URL ({exc}): pass one such as "
            "http://127.0.0.1:5000."
        ) from None


def check_local_store(tracking_uri: str) -> None:
    """Refuse a local tracking URI whose folder does not exist."""
    try:
        folder = local_store_folder(tracking_uri)
    except ValueError as exc:  # urlsplit: "Invalid IPv6 URL"
        raise UserError(f"--tracking_uri {tracking_uri} is not a valid URI ({exc}).") from None
    if folder is not None and not folder.is_dir():
        raise UserError(
            f"--tracking_uri {tracking_uri}: the folder {folder}/ does not exist; create it "
            "first to keep the runs there, or use the tracking server (`make server`, the default)."
        )


def is_database(tracking_uri: str) -> bool:
    return tracking_uri.split(":", 1)[0].split("+")[0] in DATABASE_SCHEMES


def check_database(tracking_uri: str) -> None:
    """Refuse a database tracking URI that does not answer within DATABASE_TIMEOUT seconds."""
    import sqlalchemy
    from sqlalchemy import exc
    from sqlalchemy.pool import NullPool

    os.environ.setdefault("PGCONNECT_TIMEOUT", str(DATABASE_TIMEOUT))  # MLflow's own attempts
    try:
        url = sqlalchemy.engine.make_url(tracking_uri)
        timeout = {"postgresql": "connect_timeout", "mysql": "connect_timeout"}
        name = timeout.get(url.get_backend_name())
        engine = sqlalchemy.create_engine(
            url, connect_args={name: DATABASE_TIMEOUT} if name else {}, poolclass=NullPool
        )
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
    except exc.DBAPIError as error:  # refused, timed out, wrong password, no such database
        fix = "is it running, and are the host, port, user and password right?"
        why = first_line(error.orig)
    except (exc.SQLAlchemyError, ValueError, ImportError) as error:  # a bad URL, no driver
        fix = "check the URL, and that its database driver is installed."
        why = first_line(error)
    else:
        return
    raise UserError(f"cannot reach the database of --tracking_uri {tracking_uri} ({why}): {fix}")


def check_tracking_uri(tracking_uri: str) -> None:
    """One line for a tracking URI MLflow cannot use, before MLflow is given it."""
    if not tracking_uri.strip():
        raise UserError("--tracking_uri is empty: leave it out to use the tracking server.")
    if tracking_uri.startswith(("http://", "https://")):
        check_url(tracking_uri)
    elif is_database(tracking_uri):
        check_local_store(tracking_uri)
        check_database(tracking_uri)
    else:
        check_local_store(tracking_uri)
