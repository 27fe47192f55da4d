"""What the MLflow 3 tracking server needs to call serve_model.py's webhook on this machine.

MLflow 3 keeps each webhook's secret encrypted with MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY; unset,
each of the server's worker processes makes a key of its own, so a secret stored by one is
unreadable to the others (and to the server after a restart): the key is kept in a file of its
own beside the pid file, readable by its owner only, made on the first start. MLflow also calls
only https URLs of public addresses by default; a server that listens on loopback only (no one
else can reach it) may call http URLs on this machine, where `make serve-model` listens. And
each worker keeps the list of webhooks for 60 s: a webhook made meanwhile would not be called
for up to a minute, so the list is kept 5 s.
MLflow 2.22 has no webhooks and ignores these settings. The user's own settings win.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path

from homework.tracking.sources import is_loopback

KEY_FILE = "mlflow-webhook.key"  # beside the server's pid file; `make clean` removes it
KEY_VARIABLE = "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY"
LOCAL_CALLS = {
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
}
CACHE_TTL = {"MLFLOW_WEBHOOK_CACHE_TTL": "5"}  # seconds a worker keeps the list of webhooks


def webhook_key(path: Path) -> str:
    """The Fernet key in `path` (32 random bytes, urlsafe base64), made if missing (mode 600)."""
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(base64.urlsafe_b64encode(os.urandom(32)).decode() + "\n")
    except FileExistsError:
        pass
    return path.read_text().strip()


def webhook_settings(env: Mapping[str, str], host: str, pid_file: Path) -> dict[str, str]:
    """The server's environment additions for webhooks (none the user set already)."""
    settings = {KEY_VARIABLE: env.get(KEY_VARIABLE) or webhook_key(pid_file.with_name(KEY_FILE))}
    defaults = {**CACHE_TTL, **(LOCAL_CALLS if is_loopback(host) else {})}
    return {**settings, **{name: env.get(name) or value for name, value in defaults.items()}}
