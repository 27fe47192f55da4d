"""The HTTP endpoints: `mlflow models serve`'s own, `/model`, and `/webhook`.

`/invocations` runs MLflow's own scoring code (mlflow.pyfunc.scoring_server.invocations: the
content types, the `dataframe_split`, `dataframe_records`, `instances` and `inputs` formats,
the schema checks and their error codes) on the version the holder serves when the request
arrives, and names that version in the reply's `X-Model-Version` header. `/ping`, `/health`
and `/version` answer as MLflow's scoring server does, on the same stack (FastAPI on uvicorn).

An error reply keeps MLflow's status and error code; its message is MLflow's on one line,
without the copy of the request's data MLflow puts in some and without a stack trace: never
a 500 for bad input. A request body larger than MAX_REQUEST_MB is refused (413) unread.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from homework.errors import first_line
from homework.serving.holder import Holder

VERSION_HEADER = "X-Model-Version"
MAX_REQUEST_MB = 256  # the whole March month as JSON records is about 6 MB
MESSAGE_CHARS = 1000
JSON = "application/json"
# Where MLflow's messages copy the request's data: the data frame, the body itself.
DATA_COPIES = (
    (re.compile(r"^Failed to predict data '.*'\. \nError: ", re.S), "Failed to predict: "),
    (re.compile(r" of data '.*?' with schema ", re.S), " with schema "),
    (re.compile(r"\s*Input: \n.*$", re.S), ""),
)


def one_line(message: str) -> str:
    """MLflow's error message without the data it copies, on one line, at most MESSAGE_CHARS."""
    for pattern, replacement in DATA_COPIES:
        message = pattern.sub(replacement, message, count=1)
    line = " ".join(message.split())
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 3] + "..."


def error_reply(error_code: str, message: str) -> str:
    return json.dumps({"error_code": error_code, "message": one_line(message)})


class TooLarge(Exception):
    """A request body over MAX_REQUEST_MB."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refusing (TooLarge) one over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    holder: Holder,
    describe: Callable[[], dict[str, Any]],
    webhook: Any = None,
    max_request_mb: float = MAX_REQUEST_MB,
) -> FastAPI:
    """The FastAPI app serving `holder`'s model; `describe` is what GET /model answers,
    `webhook` the Receiver of /webhook (None: no webhook, 404)."""
    from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server
    from mlflow.version import VERSION

    app = FastAPI()
    timeout = MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get()
    limit = int(max_request_mb * 2**20)

    @app.middleware("http")
    async def time_limit(request: Request, call_next: Any) -> Any:
        try:  # as MLflow's scoring server: 504 after MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
            return await asyncio.wait_for(call_next(request), timeout=timeout)
        except TimeoutError:
            return Response("Request processing time exceeded limit", 504, media_type=JSON)

    async def ping() -> Response:
        return Response("\n", 200, media_type=JSON)

    app.get("/ping")(ping)
    app.get("/health")(ping)

    @app.get("/version")
    async def version() -> Response:
        return Response(VERSION, 200, media_type=JSON)

    @app.get("/model")
    async def model() -> JSONResponse:
        return JSONResponse(describe())

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        served = holder.served  # this version answers the whole request
        header = {VERSION_HEADER: served.version}
        try:
            body = await read_body(request, limit)
        except TooLarge:
            message = f"The request is larger than {max_request_mb:g} MB: send fewer rows at once."
            return Response(error_reply("BAD_REQUEST", message), 413, header, JSON)
        content_type = request.headers.get("content-type") or ""  # MLflow: a 500 without one
        try:
            result = await asyncio.to_thread(
                scoring_server.invocations, body, content_type, served.model, served.input_schema
            )
        except MlflowException as exc:
            reply = error_reply(exc.error_code, exc.message)
            return Response(reply, exc.get_http_status_code(), header, JSON)
        except Exception as exc:  # MLflow's parsers raise a few plain errors on odd input
            reply = error_reply("BAD_REQUEST", f"Invalid input. {first_line(exc)}")
            return Response(reply, 400, header, JSON)
        return Response(result.response, result.status, header, result.mimetype)

    @app.post("/webhook")
    async def call(request: Request) -> Response:
        if webhook is None:
            return Response("no webhook: this server follows the alias by polling", 404)
        try:
            body = await read_body(request, 2**20)
        except TooLarge:
            return Response("refused: too large", 413)
        status, text = webhook.receive(request.headers, body)
        return Response(text, status, media_type="text/plain")

    return app
