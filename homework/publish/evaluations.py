"""The evaluation of a registered version on a test month, kept on this machine.

The promotion gate compares every new version with the champion on the same test month. The
champion's evaluation does not change while the champion and the month do not, so it is kept
(in ~/.cache/mlflow-homework/evaluations, or $MLFLOW_HOMEWORK_CACHE_DIR) under what makes it
that evaluation: the tracking server, the model and version, the SHA-256 of the version's
signed manifest (so its files) and the month's digest. register_model.py keeps the new
version's own evaluation as it registers it: the next run's champion is usually that version.
The folder is the user's own, checked as the key folder is; a folder others could change is
not used (the gate then evaluates the champion again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from homework.errors import UserError
from homework.trust.keys import cache_dir, check_safe


def kept_path(tracking_uri: str, name: str, version: str, manifest: str, month: str) -> Path:
    """Where the evaluation of that version, with that manifest, on that month is kept."""
    parts = urlsplit(tracking_uri)
    server = f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path.rstrip('/')}"  # no login
    key = "\n".join((server, name, version, manifest, month))
    return cache_dir() / "evaluations" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def kept(tracking_uri: str, name: str, version: str, manifest: str, month: str) -> dict | None:
    """The kept metrics of that evaluation, or None."""
    path = kept_path(tracking_uri, name, version, manifest, month)
    try:
        check_safe(path)
        return json.loads(path.read_text())
    except (OSError, ValueError, UserError):
        return None


def keep(tracking_uri: str, name: str, version: str, manifest: str, month: str, metrics: dict):
    """Keep that evaluation's metrics (a cache that cannot be written costs time only)."""
    path = kept_path(tracking_uri, name, version, manifest, month)
    with contextlib.suppress(OSError, UserError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_safe(path.parent)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(metrics) + "\n")
        os.replace(scratch, path)
