"""Create a user who may read the homework and change nothing (used by `make user`).

    NAME=reviewer make user        # asks for the password; or PASSWORD=... in the environment

For a tracking server started with `make server AUTH=1` (docs/team.md). Logs in as the admin
(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, else `admin` with
MLFLOW_AUTH_ADMIN_PASSWORD), creates the user (or sets the password of an existing one) and
gives it READ on the homework's three experiments and its registered model, creating those
first if no run has made them yet, so the permission has something to hold on to.
The password is read from the environment or a prompt, never from the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import homework.interrupts  # noqa: F401 (first: Ctrl-C is one line from here on)

import os

import click

from homework.config import (
    AUTH_ADMIN,
    BEST_MODELS_EXPERIMENT,
    HPO_EXPERIMENT,
    MODEL_NAME,
    TRAIN_EXPERIMENT,
)
from homework.errors import UserError
from homework.options import connection_options
from homework.reporting import reporting
from homework.tracking.connection import Connection

EXPERIMENTS = (TRAIN_EXPERIMENT, HPO_EXPERIMENT, BEST_MODELS_EXPERIMENT)
PERMISSION = "READ"
PASSWORD_VARIABLE = "PASSWORD"


def log_in_as_admin() -> None:
    """MLflow's client logs in with MLFLOW_TRACKING_USERNAME/PASSWORD: the admin's by default."""
    if os.environ.get("MLFLOW_TRACKING_PASSWORD"):
        return
    password = os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD")
    if not password:
        raise UserError(
            "no admin login: set MLFLOW_AUTH_ADMIN_PASSWORD (the admin's password of "
            "`make server AUTH=1`), or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
        )
    os.environ["MLFLOW_TRACKING_USERNAME"] = AUTH_ADMIN
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password


def experiment_ids(names: tuple[str, ...]) -> dict[str, str]:
    """The id of each experiment, creating the ones that do not exist yet."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    ids = {}
    for name in names:
        experiment = client.get_experiment_by_name(name)
        ids[name] = experiment.experiment_id if experiment else client.create_experiment(name)
    return ids


def ensure_registered_model(name: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient().get_registered_model(name)
    except MlflowException as exc:
        if exc.get_http_status_code() != 404:
            raise
        MlflowClient().create_registered_model(name)


def save_user(auth: object, name: str, password: str) -> bool:
    """Create user `name`, or set its password if it exists; True if it was created."""
    from mlflow.exceptions import MlflowException

    try:
        auth.get_user(name)
    except MlflowException as exc:
        if exc.get_http_status_code() != 404:
            raise
        auth.create_user(name, password)
        return True
    auth.update_user_password(name, password)
    return False


def grant(create: object, update: object, resource: str, name: str) -> None:
    """Give `name` READ on `resource` with the client's create_/update_..._permission pair."""
    from mlflow.exceptions import MlflowException

    try:
        create(resource, name, PERMISSION)
    except MlflowException as exc:
        if "already exists" not in str(exc).lower():
            raise
        update(resource, name, PERMISSION)


@click.command()
@click.option("--name", required=True, help="The new user's name.")
@connection_options
def add_user(name: str, connection: Connection) -> None:
    """Create a user with READ on the homework's experiments and registered model."""
    with reporting(connection):
        if name == AUTH_ADMIN:
            raise UserError(f"{name!r} is the admin: pass NAME=<another user>.")
        password = os.environ.get(PASSWORD_VARIABLE) or click.prompt(
            f"Password for {name}", hide_input=True, confirmation_prompt=True
        )
        log_in_as_admin()
        connection.connect()
        from mlflow.server import get_app_client

        auth = get_app_client("basic-auth", tracking_uri=connection.uri)
        created = save_user(auth, name, password)
        ids = experiment_ids(EXPERIMENTS)
        ensure_registered_model(MODEL_NAME)
        for experiment_id in ids.values():
            grant(
                auth.create_experiment_permission,
                auth.update_experiment_permission,
                experiment_id,
                name,
            )
        grant(
            auth.create_registered_model_permission,
            auth.update_registered_model_permission,
            MODEL_NAME,
            name,
        )
    click.echo(
        f"User {name} {'created' if created else 'updated'}: {PERMISSION} on the experiments "
        f"{', '.join(EXPERIMENTS)} and the registered model {MODEL_NAME}."
    )


if __name__ == "__main__":
    add_user()
