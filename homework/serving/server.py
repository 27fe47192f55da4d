"""uvicorn on a socket bound before anything loads, stopped by Ctrl-C or SIGTERM.

The port is bound first, so a taken one is one line at once, and nothing can take it
between a check and the start. uvicorn stops gracefully on Ctrl-C and SIGTERM (requests in
flight are answered), then raises the signal again, which ends `run` with Stopped: the
caller removes its webhook and stops its follower on the way out.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from homework.errors import UserError

GRACE_S = 10  # seconds requests in flight get to finish when the server stops
STARTED_WAIT = 0.05
# Loggers that speak once per request or per retry: a client's odd request or a tracking
# server that is down would fill the log. --verbose lets them speak.
PER_REQUEST_LOGGERS = ("urllib3", "mlflow.pyfunc.scoring_server", "mlflow.models.utils")


class Stopped(Exception):
    """The server stopped on a signal (Ctrl-C or SIGTERM): a normal end."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0: a free port); one line if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, as getaddrinfo would: asyncio turns Nagle's algorithm off (TCP_NODELAY)
    # only on sockets that say they are TCP, and with it on, each reply on a kept-alive
    # connection waits 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT: no sharing
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pick another MODEL_PORT, or "
            "leave it empty for a free one."
        ) from None
    return sock


def quiet(verbose: bool) -> None:
    """The server's log: our lines only, unless `verbose` (see PER_REQUEST_LOGGERS)."""
    for name in PER_REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.ERROR)


def stop_on(signum: int, frame: Any) -> None:
    raise Stopped(signal.Signals(signum).name)


def run(app: Any, sock: socket.socket, when_started: Callable[[], None]) -> None:
    """Serve `app` on `sock` until Ctrl-C or SIGTERM (then Stopped); `when_started` runs in a
    thread of its own once uvicorn answers."""
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=GRACE_S
    )
    server = uvicorn.Server(config)

    def after_start() -> None:
        while not server.started and not server.should_exit:
            time.sleep(STARTED_WAIT)
        if server.started:
            when_started()

    threading.Thread(target=after_start, name="after-start", daemon=True).start()
    previous = {sig: signal.signal(sig, stop_on) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])  # uvicorn raises the signal again when it has stopped
    except KeyboardInterrupt:
        raise Stopped("SIGINT") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
