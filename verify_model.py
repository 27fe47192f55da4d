"""Check a registered model's signature without loading it (what `make serve-model` serves).

Downloads `--model_uri` (default `models:/nyc-green-taxi-duration-rf@champion`) and checks
it against the keys this machine trusts (see homework/trust/): signed by one of them, and every
file as it was signed. Nothing of the model is unpickled or imported. Refuses an unsigned
or changed model in one line, unless `--trust_unsigned` (then a warning).

With `--dest`, the checked files stay in that folder and its path is printed on stdout:
plain `mlflow models serve -m DIR` then serves the checked copy (docs/serving.md).
"""

from __future__ import annotations

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import os
import tempfile
from pathlib import Path

import click

from homework.errors import UserError
from homework.options import (
    PathOption,
    model_uri_option,
    reader_connection_options,
    trust_unsigned_option,
)
from homework.reporting import reporting
from homework.tracking.connection import Connection
from homework.trust.loading import download_verified


def check_dest(dest: Path) -> None:
    """A folder that is new or empty: a file already there would count as added to the model."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"--dest {dest} is not an empty folder: pick a new or empty one.")


def verify_into(model_uri: str, dest: Path | None, trust_unsigned: bool) -> None:
    """Download and check the model in a scratch folder; move it to `dest` only if it passed."""
    parent = None if dest is None else dest.parent
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".model-", dir=parent) as scratch:
        local = download_verified(model_uri, scratch, trust_unsigned)
        if dest is not None:
            os.replace(local, dest)  # never a half-downloaded or refused model in --dest


@click.command()
@model_uri_option(
    "MLflow model to check: models:/<name>@<alias>, models:/<name>/<version> or runs:/..."
)
@click.option(
    "--dest",
    type=PathOption(file_okay=False, path_type=Path),
    help="Keep the checked model in this new or empty folder and print its path.",
)
@trust_unsigned_option
@reader_connection_options
def run_verify_model(
    model_uri: str, dest: Path | None, trust_unsigned: bool, connection: Connection
) -> None:
    """Download a model and check its signature; nothing of it is loaded."""
    with reporting(connection):
        if dest is not None:
            check_dest(dest)
        connection.connect()
        verify_into(model_uri, dest, trust_unsigned)
    if dest is not None:
        click.echo(dest.resolve())


if __name__ == "__main__":
    run_verify_model()
