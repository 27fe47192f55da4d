"""The command-line options the scripts share, with the course's names and dashed aliases.

`--data_path`, `--raw_data_path`, `--num_trials` and `--top_n` keep the course's names
(`--data-path` works too). Options that always travel together reach the command as one
object: `--tracking_uri` and `--verbose` as a Connection (`connection_options`),
register_model.py's `--model_name`, `--promote`, `--max_regression` and `--trust_unsigned`
as a gate.Policy (`policy_options`). hpo.py's own options are in search/options.py.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable
from typing import Any

import click

from homework.config import (
    CHAMPION_ALIAS,
    DATA_PATH,
    DATASET,
    DATASETS,
    MODEL_NAME,
    MONTHS,
    NUM_TRIALS,
    RAW_DATA_PATH,
    SEED,
    TOP_N,
    TRACKING_URI,
)
from homework.data.lineage import ALLOW_UNORDERED, Months
from homework.errors import UserError
from homework.publish.gate import ALWAYS, GATE, Policy
from homework.publish.registry import check_model_name
from homework.tracking.connection import Connection

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class PathOption(click.Path):
    """A path option that refuses an empty value: `--dest_path ""` would mean the current
    folder (and write the pickles there)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("is empty: give a path (an empty one means the current folder).", param, ctx)
        return super().convert(value, param, ctx)


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or TRACKING_URI


data_path_option = click.option(
    "--data_path",
    "--data-path",
    type=PathOption(),
    default=DATA_PATH,
    show_default=True,
    help="Folder with the pickles written by preprocess_data.py.",
)

num_trials_option = click.option(
    "--num_trials",
    "--num-trials",
    default=NUM_TRIALS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of parameter settings the search evaluates.",
)

seed_option = click.option(
    "--seed",
    default=SEED,
    show_default=True,
    type=int,
    help="Seed of the tuner's random generator (42 with hyperopt reproduces the course's answer).",
)

top_n_option = click.option(
    "--top_n",
    "--top-n",
    default=TOP_N,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many of the best hyperopt runs to evaluate on the test month.",
)

trust_unsigned_option = click.option(
    "--trust_unsigned",
    "--trust-unsigned",
    is_flag=True,
    help="Accept a model not signed by a key this machine trusts, with a warning instead of a "
    "refusal (loading it runs the code it holds).",
)


def raw_data_path_option(help: str, **settings: Any) -> Decorator:
    """The `--raw_data_path` option, with a help text saying what is read from it (and other
    settings: the benchmark's default is $TAXI_DATA_DIR)."""
    settings = {"default": RAW_DATA_PATH, "show_default": True, **settings}
    return click.option(
        "--raw_data_path", "--raw-data-path", type=PathOption(), help=help, **settings
    )


def model_name_option(help: str, **settings: Any) -> Decorator:
    """The `--model_name` option (the registered model), with its help text."""
    return click.option(
        "--model_name", "--model-name", default=MODEL_NAME, show_default=True, help=help, **settings
    )


def model_uri_option(help: str) -> Decorator:
    """The `--model_uri` option, default the registered champion."""
    return click.option(
        "--model_uri",
        "--model-uri",
        default=f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}",
        show_default=True,
        help=help,
    )


dest_path_option = click.option(
    "--dest_path",
    "--dest-path",
    type=PathOption(),
    default=DATA_PATH,
    show_default=True,
    help="Folder to write dv.pkl, train.pkl, val.pkl and test.pkl to.",
)

dataset_option = click.option(
    "--dataset",
    type=click.Choice(DATASETS),
    default=DATASET,
    show_default=True,
    help="Which TLC trip records: green or yellow taxis.",
)


def check_month(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f"{value!r} is not a month in the form YYYY-MM, e.g. 2023-01.")
    return value


def month_option(name: str, help: str) -> Decorator:
    """`--train_month`, `--val_month` or `--test_month` (YYYY-MM)."""
    return click.option(
        f"--{name}_month",
        f"--{name}-month",
        default=MONTHS[name],
        show_default=True,
        callback=check_month,
        help=help,
    )


def grouped(options: list[Decorator], names: list[str], make: Callable[..., Any], as_name: str):
    """A decorator adding `options` to a command, which gets their values as one object:
    `make(**values of names)` passed as the keyword `as_name`."""

    def decorator(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def with_object(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return command(*args, **{as_name: make(**values)}, **kwargs)

        for option in reversed(options):
            with_object = option(with_object)
        return with_object

    return decorator


connection_options = grouped(
    [
        click.option(
            "--tracking_uri",
            "--tracking-uri",
            default=default_tracking_uri,
            show_default="$MLFLOW_TRACKING_URI or " + TRACKING_URI,
            help="MLflow tracking server to log to.",
        ),
        click.option(
            "--verbose",
            is_flag=True,
            help="Also show MLflow's own log lines and run links (on stderr, passwords masked).",
        ),
    ],
    ["tracking_uri", "verbose"],
    lambda tracking_uri, verbose: Connection(tracking_uri, verbose),
    "connection",
)


def valid_model_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return check_model_name(value)
    except UserError as exc:
        raise click.BadParameter(str(exc)) from None


def minutes(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if math.isnan(value):
        raise click.BadParameter("nan is not a number of minutes: pass e.g. 0.05.")
    return value


months_options = grouped(
    [
        month_option("train", "Month to fit the vectorizer and model on (YYYY-MM)."),
        month_option("val", "Validation month (YYYY-MM)."),
        month_option("test", "Test month (YYYY-MM)."),
        click.option(
            ALLOW_UNORDERED,
            "--allow-unordered-months",
            is_flag=True,
            help="Accept months that are not distinct and in order train < val < test "
            "(experiments only: a test month seen in training makes the test RMSE meaningless).",
        ),
    ],
    ["train_month", "val_month", "test_month", "allow_unordered_months"],
    lambda train_month, val_month, test_month, allow_unordered_months: Months(
        train_month, val_month, test_month, allow_unordered_months
    ),
    "months",
)

policy_options = grouped(
    [
        model_name_option("Registered model name for the champion.", callback=valid_model_name),
        click.option(
            "--promote",
            type=click.Choice((GATE, ALWAYS)),
            default=GATE,
            show_default=True,
            help="gate: the new version becomes @champion only if its test RMSE is not worse "
            "than the champion's by more than --max_regression, else @challenger; always: "
            "@champion anyway.",
        ),
        click.option(
            "--max_regression",
            "--max-regression",
            default=0.0,
            show_default=True,
            type=click.FloatRange(min=0),
            callback=minutes,
            help="Minutes of test RMSE the new version may lose to the champion and still "
            "replace it.",
        ),
        trust_unsigned_option,
    ],
    ["model_name", "promote", "max_regression", "trust_unsigned"],
    Policy,
    "policy",
)
