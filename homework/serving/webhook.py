"""MLflow 3's registry webhook: a quicker word that the alias moved, never trusted alone.

On MLflow 3 with a SQL backend store the tracking server calls a webhook when an alias is
set (`model_version_alias.created`). serve_model.py creates one for itself, pointing at its
own `/webhook`, with a random secret that lives only in its memory and the tracking server's
store (never printed), asks the tracking server to send it a test call, and deletes it when
it stops. MLflow signs each call as Standard Webhooks do: HMAC-SHA256 with the secret over
`<delivery id>.<timestamp>.<body>`, base64, in `X-MLflow-Signature: v1,<signature>`.

A call counts only if that signature is right, its timestamp within MAX_AGE_S of our clock
and its delivery id new (a replayed call is refused); even then it only wakes the follower,
which asks the registry itself which version has the alias: the body is a hint, not a fact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from homework.serving.holder import say

SIGNATURE_HEADER = "X-MLflow-Signature"  # MLflow's names (mlflow.webhooks.constants, 3.x)
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
EVENT = "model_version_alias.created"
MAX_AGE_S = 300  # a call older (or newer) than this by our clock is refused
SEEN_DELIVERIES = 10_000  # delivery ids remembered against replays (a window of MAX_AGE_S)
NAME_PREFIX = "serve-model-"  # a webhook's name: letters, digits, '.', '_', '-', < 63 chars


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """MLflow's signature of a call: `v1,` and the base64 HMAC-SHA256 of id.timestamp.body."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


class Receiver:
    """Checks the calls to `/webhook` and wakes the follower on a move of the alias."""

    def __init__(self, secret: str, model_name: str, alias: str, on_move: Callable[[], None]):
        self.secret = secret
        self.model_name, self.alias = model_name, alias
        self.on_move = on_move
        self.accepted = 0
        self.rejected = 0
        self.last_rejection: str | None = None
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.lock = threading.Lock()

    def refusal(self, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
        """Why a call is not MLflow's with our secret, or a replay; None if it is good."""
        delivery = headers.get(DELIVERY_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        given = headers.get(SIGNATURE_HEADER, "")
        if not (delivery and stamp.isdigit() and given):
            return "no MLflow signature, timestamp and delivery id"
        if not hmac.compare_digest(given, signature(self.secret, delivery, stamp, body)):
            return "bad signature"
        if abs(now - int(stamp)) > MAX_AGE_S:
            return f"its timestamp is more than {MAX_AGE_S} s from now"
        if delivery in self.seen:
            return f"delivery {delivery[:40]} was received before (a replay)"
        return None

    def receive(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """Check a call; the HTTP status and one line to answer with."""
        now = time.time()
        with self.lock:
            why = self.refusal(headers, body, now)
            if why:
                self.rejected += 1
                self.last_rejection = why
            else:
                self.accepted += 1
                self.remember(headers[DELIVERY_HEADER], now)
        if why:
            say(f"refused a webhook call: {why} (nothing changes)")
            return 401, f"refused: {why}"
        if self.moves_our_alias(body):
            self.on_move()
        return 200, "ok"

    def remember(self, delivery: str, now: float) -> None:
        self.seen[delivery] = now
        while self.seen and (
            len(self.seen) > SEEN_DELIVERIES or next(iter(self.seen.values())) < now - 2 * MAX_AGE_S
        ):
            self.seen.popitem(last=False)

    def moves_our_alias(self, body: bytes) -> bool:
        """True if a signed call says our alias of our model was set (a hint to look)."""
        try:
            call = json.loads(body)
            data = call["data"]
            event = f"{call['entity']}.{call['action']}"
            return event == EVENT and (data["name"], data["alias"]) == (self.model_name, self.alias)
        except (ValueError, KeyError, TypeError):
            return False

    def describe(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "last_rejection": self.last_rejection,
        }


def webhook_name(port: int) -> str:
    return f"{NAME_PREFIX}{port}"


def create(url: str, port: int, model_uri: str, secret: str) -> str:
    """Create the webhook for the server at `url` and have MLflow test it; its id.

    A webhook of the same name and URL is a leftover of a server that died on this port
    (which we now hold): it is removed first. Raises RuntimeError with why when the tracking
    server cannot deliver to us (a file store, a URL it may not call, a failed test).
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    for old in client.list_webhooks(max_results=100):
        if old.name == webhook_name(port) and old.url == url:
            client.delete_webhook(old.webhook_id)
    webhook = client.create_webhook(
        name=webhook_name(port),
        url=url,
        events=[EVENT],
        description=f"serve_model.py following {model_uri}",
        secret=secret,
    )
    try:
        tested = client.test_webhook(webhook.webhook_id)
    except Exception:
        remove(webhook.webhook_id)
        raise
    if not tested.success:
        remove(webhook.webhook_id)
        why = tested.error_message or f"{url} answered HTTP {tested.response_status}"
        raise RuntimeError(f"the tracking server's test call failed: {why[:300]}")
    return webhook.webhook_id


def remove(webhook_id: str) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient().delete_webhook(webhook_id)
