"""Serve the registered champion over HTTP and follow its alias (`make serve-model`).

Loads `--model_uri` (default `models:/nyc-green-taxi-duration-rf@champion`) through the
checks predict.py makes: the version behind the alias, its files checked against the
signature register_model.py made, loaded, asked for one trip. Then it answers what `mlflow
models serve` answers (POST /invocations with raw trips, /ping, /health, /version, with
MLflow's own scoring code), plus GET /model (which version answers, its signer, when it was
loaded, the refusals) and an `X-Model-Version` header on every reply.

It follows the alias: every `--follow_s` seconds it asks the registry which version has it,
and on MLflow 3 the tracking server also calls it when the alias moves (a webhook with a
secret, removed when the server stops). A new version is loaded in the background and swapped
in only once it passed every check; until then the old one answers every request. A version
that fails a check is never served: one line says why and GET /model counts it. `--pin`
serves the version loaded at the start only. Ctrl-C (or SIGTERM) stops it.
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import re

import click

from homework.options import connection_options, model_uri_option, trust_unsigned_option
from homework.reporting import reporting
from homework.tracking.connection import Connection

HOST = "127.0.0.1"
FOLLOW_S = 5.0
TRIP = '{"dataframe_records": [{"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}]}'


def parse_model_uri(model_uri: str) -> tuple[str, str | None]:
    """The model's name and its alias (None for a version number), from
    models:/<name>@<alias> or models:/<name>/<number>."""
    found = re.fullmatch(r"models:/([^/@]+)(?:@([^/@]+)|/(\d+))", model_uri)
    if not found:
        raise click.BadParameter(
            f"{model_uri!r}: serve a registered model, models:/<name>@<alias> (followed) or "
            "models:/<name>/<number>.",
            param_hint="--model_uri",
        )
    return found.group(1), found.group(2)


def announce(model_uri: str, version: str, url: str, following: str) -> None:
    click.echo(
        f"Serving {model_uri} (version {version}) at {url}/invocations, {following} "
        f"(Ctrl-C stops it). Try:\n"
        f"  curl -s {url}/invocations -H 'Content-Type: application/json' -d '{TRIP}'\n"
        f"  curl -s {url}/model",
        err=True,
    )


@click.command()
@model_uri_option("Registered model to serve: models:/<name>@<alias> (followed) or .../<number>.")
@click.option("--host", default=HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@click.option(
    "--follow_s",
    "--follow-s",
    type=click.FloatRange(min=0.1),
    default=FOLLOW_S,
    show_default=True,
    help="Seconds between two looks at the alias.",
)
@click.option("--pin", is_flag=True, help="Serve the version loaded at the start; never follow.")
@click.option(
    "--webhook/--no_webhook",
    " /--no-webhook",
    default=True,
    show_default=True,
    help="On MLflow 3, have the tracking server call this server when the alias moves.",
)
@trust_unsigned_option
@connection_options
def run_serve_model(
    model_uri: str,
    host: str,
    port: int,
    follow_s: float,
    pin: bool,
    webhook: bool,
    trust_unsigned: bool,
    connection: Connection,
) -> None:
    """Serve a registered model over HTTP, following its alias."""
    from homework.serving.app import create_app
    from homework.serving.holder import say
    from homework.serving.live import LiveModel
    from homework.serving.server import Stopped, bind, quiet, run

    name, alias = parse_model_uri(model_uri)
    with reporting(connection):
        sock = bind(host, port)  # before anything else: a taken port is one line at once
        try:
            connection.connect()
            quiet(connection.verbose)
            follow = None if pin else alias
            live = LiveModel(name, model_uri, follow, follow_s, trust_unsigned, webhook)
            version = live.holder.served.version
            bound = sock.getsockname()
            url = f"http://{f'[{bound[0]}]' if ':' in bound[0] else bound[0]}:{bound[1]}"
            announce(model_uri, version, url, live.following)
            app = create_app(live.holder, live.describe, live.receiver)
            try:
                run(app, sock, lambda: live.start_following(url, bound[1], model_uri))
            except Stopped as signal_name:
                say(f"Stopped ({signal_name}); version {live.holder.served.version} answered last.")
            finally:
                live.close()
        finally:
            sock.close()


if __name__ == "__main__":
    run_serve_model()
