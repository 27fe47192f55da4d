"""Where Optuna keeps its studies: a database of its own, beside MLflow's, never inside it.

The default storage (`hpo.py --storage`, else $OPTUNA_STORAGE) sits beside the tracking
server's backend store as make passes it ($BACKEND_STORE_URI): for `sqlite:///mlflow.db`
the file optuna.db in the same folder; for a PostgreSQL database the schema `optuna` of that
same database, so workers on other machines share the study through the team's server.
Without either, optuna.db in the current folder. MLflow's own tables are never used: both
keep an `alembic_version` table, and Optuna refuses such a database with a misleading error.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from homework.config import OPTUNA_STORAGE_FILE
from homework.errors import UserError, first_line

SCHEMA = "optuna"  # in the team's PostgreSQL database
SEARCH_PATH = f"options=-csearch_path%3D{SCHEMA}"  # libpq's options: Optuna's tables in SCHEMA
HEARTBEAT = 5  # seconds between the heartbeats of a running trial
GRACE = 20  # seconds without one before the trial counts as crashed (and is run again)
ATTEMPTS = 4  # tries to open a storage (see open_storage)
PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")


def shown(url: str) -> str:
    """`url` with its password masked, for messages and the parent run's params."""
    return PASSWORD.sub(r"\1:***@", url)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def default_storage(env: Mapping[str, str] = os.environ) -> str:
    """A database of Optuna's beside the tracking server's, $BACKEND_STORE_URI (see above)."""
    backend = env.get("BACKEND_STORE_URI", "")
    if backend.startswith("sqlite:///"):
        return sqlite_url(Path(backend.removeprefix("sqlite:///")).parent / OPTUNA_STORAGE_FILE)
    if backend.startswith("postgresql"):
        return f"{backend}{'&' if '?' in backend else '?'}{SEARCH_PATH}"
    return sqlite_url(Path(OPTUNA_STORAGE_FILE))


def missing(url: str) -> bool:
    """True if `url` is a SQLite file that does not exist (opening it would make it)."""
    parts = urlsplit(url)
    return parts.scheme == "sqlite" and not Path(parts.path.removeprefix("/")).exists()


def prepare(url: str) -> None:
    """Create the PostgreSQL schema of a default storage; refuse MLflow's own database."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            if SEARCH_PATH in url:
                connection.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            tables = set(sqlalchemy.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    if {"experiments", "runs"} <= tables:
        raise UserError(
            f"--storage {shown(url)} is MLflow's own database: Optuna needs one of its own "
            f"(both keep an alembic_version table), e.g. {sqlite_url(Path(OPTUNA_STORAGE_FILE))}."
        )


def rdb_storage(url: str) -> Any:
    """Optuna's storage at `url`, with heartbeats: a crashed worker's trial is run again."""
    import optuna

    prepare(url)
    sqlite = urlsplit(url).scheme == "sqlite"
    return optuna.storages.RDBStorage(
        url,
        engine_kwargs={"connect_args": {"timeout": 60}} if sqlite else {},
        heartbeat_interval=HEARTBEAT,
        grace_period=GRACE,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(1),
    )


def open_storage(url: str) -> Any:
    """rdb_storage(url), or one line saying why it cannot be opened."""
    import optuna
    import sqlalchemy.exc

    try:
        for attempt in range(1, ATTEMPTS):
            # Workers opening a fresh database at once race to create its tables ("already
            # exists", a duplicate key): the one that lost tries again.
            with contextlib.suppress(
                sqlalchemy.exc.IntegrityError,
                sqlalchemy.exc.OperationalError,
                sqlalchemy.exc.ProgrammingError,
            ):
                return rdb_storage(url)
            time.sleep(0.5 * attempt)
        return rdb_storage(url)
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        raise UserError(
            f"cannot open the Optuna storage {shown(url)} ({shown(first_line(exc))[:200]}): "
            "check --storage (or $OPTUNA_STORAGE)."
        ) from None
