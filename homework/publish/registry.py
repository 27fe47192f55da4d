"""The model registry: the version behind `@champion`, and registering a version with its card.

A registered version carries a card a reviewer can read in the UI: tags (validation and test
RMSE, the hyperopt trial it comes from, the data months with their files and digests, the
library versions, the gate's decision) and a description saying what it is, what it takes
and why it got its alias.
"""

from __future__ import annotations

import platform
import re
from typing import TYPE_CHECKING, Any

from homework.config import (
    CHAMPION_ALIAS,
    HPO_RUN_TAG,
    ROLLBACK_AT_TAG,
    ROLLBACK_BY_TAG,
    ROLLBACK_HOLD_TAG,
    ROLLBACK_REASON_TAG,
)
from homework.errors import UserError

if TYPE_CHECKING:
    from homework.publish.candidates import Candidate


def check_model_name(name: str) -> str:
    """A name the registry can load back: `models:/<name>@alias` breaks on '/' (and on '')."""
    if not re.fullmatch(r"[\w.-]+( [\w.-]+)*", name):
        raise UserError(
            f"{name!r} cannot be loaded back as models:/<name>: use letters, digits, '.', "
            "'_', '-' (and single spaces)."
        )
    return name


def find_champion(model_name: str) -> Any:
    """The registered version behind `@champion`, or None if there is none yet."""
    return aliased_version(model_name, CHAMPION_ALIAS)


def aliased_version(model_name: str, alias: str) -> Any:
    """The registered version behind `@alias`, or None if no version has it (or no model)."""
    from mlflow.exceptions import RestException
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient().get_model_version_by_alias(model_name, alias)
    except RestException as exc:
        # No such model is a 404, no such alias a 400 (INVALID_PARAMETER_VALUE) on 2.22.
        if exc.get_http_status_code() not in (400, 404):
            raise
        return None


def no_champion(model_name: str, others: list[str] = ()) -> UserError:
    """No version of `model_name` is @champion: what to run (and which models are others')."""
    besides = f" (the registry holds {', '.join(others)}: not this one)" if others else ""
    return UserError(
        f"no version of the registered model {model_name!r} has the alias "
        f"@{CHAMPION_ALIAS}{besides}: run register_model.py (make q6)."
    )


def champion_version(model_name: str) -> Any:
    """The registered version behind `@champion`, or a UserError saying how to make one."""
    champion = find_champion(model_name)
    if champion is None:
        raise no_champion(model_name)
    return champion


def rollback_hold(model_name: str, champion: Any) -> str:
    """Who held `champion` as @champion with a rollback, when and why; "" if no rollback holds it.

    The hold is the registered model's tag naming the version a rollback put back: it ends
    when @champion is anywhere else (or release_hold removes it).
    """
    from mlflow.tracking import MlflowClient

    tags = MlflowClient().get_registered_model(model_name).tags
    if tags.get(ROLLBACK_HOLD_TAG) != str(champion.version):
        return ""
    recorded = champion.tags
    return (
        f"rolled back by {recorded.get(ROLLBACK_BY_TAG, 'someone')} at "
        f"{recorded.get(ROLLBACK_AT_TAG, 'some time')}: {recorded.get(ROLLBACK_REASON_TAG, '')!r}"
    )


def release_hold(model_name: str) -> None:
    """@champion moved on: no rollback holds it any more."""
    from mlflow.tracking import MlflowClient

    MlflowClient().delete_registered_model_tag(model_name, ROLLBACK_HOLD_TAG)


def register(model_uri: str, name: str, tags: dict[str, str], description: str, alias: str) -> str:
    """Register `model_uri` as a new version of `name` with its card and alias; its number.

    MLflow's own two progress lines ("Successfully registered ...") are not printed: the
    caller says the same, with the alias.
    """
    import mlflow
    from mlflow.utils import logging_utils

    client = mlflow.MlflowClient()
    logging_utils.disable_logging()
    try:
        version = mlflow.register_model(model_uri, name, tags=tags).version
    finally:
        logging_utils.enable_logging()
    client.update_model_version(name, version, description=description)
    client.set_registered_model_alias(name, alias, version)
    return version


def version_tags(candidate: Candidate, trip_data: dict[str, str], libraries: list[str]) -> dict:
    """What a reviewer needs on the registered version: scores, origin, data, libraries."""
    pinned = (requirement.split("==") for requirement in libraries)
    return {
        "val_rmse": f"{candidate.val_rmse:.6f}",
        "test_rmse": f"{candidate.test_rmse:.6f}",
        HPO_RUN_TAG: candidate.hpo_run_id,
        **{f"data.{key}": value for key, value in trip_data.items()},
        "version.python": platform.python_version(),
        **{f"version.{name}": number for name, number in pinned},
    }


def description(candidate: Candidate, trip_data: dict[str, str], gate: str) -> str:
    """The registered version's description: what it is, what it takes, and the gate's word."""
    from homework.model.features import RAW_COLUMNS

    params = ", ".join(f"{name}={value}" for name, value in candidate.params.items())
    return (
        f"Random forest ({params}) from hyperopt run {candidate.hpo_run_id}, lowest test RMSE"
        f" ({candidate.test_rmse:.4f} on {trip_data['dataset']} trips of"
        f" {trip_data['test_month']}) of the top hyperopt runs. Input: a DataFrame of raw"
        f" trips ({', '.join(RAW_COLUMNS)}); the DictVectorizer is inside the model."
        f" Output: trip duration in minutes. Promotion gate: {gate}."
    )
