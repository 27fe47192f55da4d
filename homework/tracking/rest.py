"""Plain REST calls to the tracking server, for readers that need no MLflow client.

The same requests MLflow's client makes, with its login (MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_TOKEN, or a user and password in the URI) and the
project's timeout, sent to the tracking server only. Importing requests takes milliseconds;
importing MLflow takes seconds.
"""

from __future__ import annotations

import os
from typing import Any

TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"  # MLflow's own setting, seconds


def get(tracking_uri: str, endpoint: str, **params: str) -> Any:
    """GET `endpoint` (e.g. "api/2.0/mlflow/registered-models/alias") of the tracking server;
    the response, raised for its status (requests.HTTPError)."""
    import requests

    user, password = (
        os.environ.get(f"MLFLOW_TRACKING_{name}") for name in ("USERNAME", "PASSWORD")
    )
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    response = requests.get(
        f"{tracking_uri.rstrip('/')}/{endpoint}",
        params=params,
        auth=(user, password) if user and password else None,
        headers={"Authorization": f"Bearer {token}"} if token else None,
        timeout=float(os.environ.get(TIMEOUT_VARIABLE) or 30),
    )
    response.raise_for_status()
    return response
