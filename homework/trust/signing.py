"""Signing a model just logged: every file as the store holds it, its manifest beside them."""

from __future__ import annotations

from homework.interrupts import scratch_folder

import contextlib
from pathlib import Path
from typing import Any

import click

from homework.config import SIGNED_MANIFEST
from homework.tracking.connection import MLFLOW_3
from homework.trust.keys import key_dir
from homework.trust.loading import model_source
from homework.trust.manifest import sign_folder


def sign_logged_model(model_info: Any, into: str | None = None) -> Path | None:
    """Sign a model just logged: every file as the store holds it (manifest.sign_folder).

    The signed manifest is uploaded into the model's own folder, so every copy of the
    model carries it. Says where the key is when it was made just now. With `into`, the
    signed copy (the model as the store now holds it) stays in that folder: its path.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    source = model_source(model_info.model_uri)  # runs:/<id>/<path> on 2.x
    with contextlib.ExitStack() as scratch:
        parent = into or scratch.enter_context(scratch_folder("sign-"))
        folder = Path(mlflow.artifacts.download_artifacts(source.uri, dst_path=parent))
        key_id, created = sign_folder(folder)
        manifest = str(folder / SIGNED_MANIFEST)
        if MLFLOW_3:  # a logged model's files are its own, not among its run's artifacts
            MlflowClient().log_model_artifact(model_info.model_id, manifest)
        else:
            MlflowClient().log_artifact(model_info.run_id, manifest, model_info.artifact_path)
    if created:
        click.echo(f"Signed the model with key {key_id} (made just now in {key_dir()})", err=True)
    return folder if into else None
