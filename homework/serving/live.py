"""The served model with what keeps it current: holder, follower, webhook, as one value.

`LiveModel` is what serve_model.py runs: it loads the first version, starts following once
the server answers (the webhook first, on MLflow 3, since the tracking server's test call
needs the server up), answers GET /model, and on the way out stops the follower and deletes
the webhook.
"""

from __future__ import annotations

from homework.interrupts import remove_scratch

import secrets
from typing import Any

from homework.errors import first_line
from homework.serving import webhook
from homework.serving.follower import Follower
from homework.serving.holder import Holder, say
from homework.serving.loader import load_version
from homework.tracking.connection import MLFLOW_3


class LiveModel:
    """`model_uri` (a version of `model_name`) served, following `alias` unless it is None."""

    def __init__(
        self,
        model_name: str,
        model_uri: str,
        alias: str | None,
        every_s: float,
        trust_unsigned: bool = False,
        use_webhook: bool = True,
    ) -> None:
        self.holder = Holder(model_name, load_version(model_uri, trust_unsigned))
        self.follower = alias and Follower(self.holder, alias, every_s, trust_unsigned)
        self.receiver: webhook.Receiver | None = None
        self.webhook_id: str | None = None
        self.webhook_state = "off: pinned" if not self.follower else "off"
        if self.follower and use_webhook and MLFLOW_3:
            secret = secrets.token_urlsafe(32)  # in memory and the tracking server's store only
            self.receiver = webhook.Receiver(secret, model_name, alias, self.follower.wake)
            self.webhook_state = "pending: made once the server answers"

    @property
    def following(self) -> str:
        """How the server learns of a move, for its first line."""
        if not self.follower:
            return "pinned to it"
        every = f"{self.follower.every_s:g}"
        return f"following @{self.follower.alias}: the registry is asked every {every} s"

    def start_following(self, url: str, port: int, model_uri: str) -> None:
        """Create the webhook (MLflow 3), then start polling; run once the server answers."""
        if self.receiver is not None:
            try:
                self.webhook_id = webhook.create(
                    f"{url}/webhook", port, model_uri, self.receiver.secret
                )
            except Exception as exc:  # a 2.x-style store, a URL it may not call, a failed test
                why = first_line(exc)[:300]
                self.receiver = None
                self.webhook_state = f"off: {why}"
                say(f"No webhook ({why}): polling only.")
            else:
                self.webhook_state = f"on ({webhook.webhook_name(port)})"
                say(
                    f"Webhook {webhook.webhook_name(port)} created: the tracking server calls "
                    f"{url}/webhook when @{self.follower.alias} moves (polling stays, in case a "
                    "call is lost)."
                )
        if self.follower:
            self.follower.start()

    def describe(self) -> dict[str, Any]:
        """What GET /model answers."""
        described = self.holder.describe()
        if self.follower:
            described["following"] = self.follower.describe()
            described["alias_version"] = described["following"].pop("alias_version")
        else:
            described["following"] = None
        described["webhook"] = {"state": self.webhook_state}
        if self.receiver is not None:
            described["webhook"].update(self.receiver.describe())
        return described

    def close(self) -> None:
        """Stop following and delete the webhook; say it if the tracking server is gone."""
        if self.follower:
            self.follower.stop()
        remove_scratch()  # a version the follower was loading when the server stopped
        if self.webhook_id is not None:
            try:
                webhook.remove(self.webhook_id)
            except Exception as exc:
                say(
                    f"could not delete webhook {self.webhook_id} ({first_line(exc)[:200]}): "
                    "the next serve_model.py on this port removes it."
                )
            self.webhook_id = None
