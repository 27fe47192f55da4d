"""hpo.py's options: which tuner, resuming a search, Optuna's study and storage, and Spark.

`--tuner`, `--resume`, `--study_name` and `--storage` reach hpo.py as one `Tuning`, whose
`tuner` is the one call that picks hyperopt's TPE (the course's) or Optuna's;
`--spark_parallelism` and `--spark_master` as one `SparkSettings` (spark.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from homework.config import TUNERS
from homework.options import grouped
from homework.search.plan import Plan
from homework.search.spark import DEFAULT_SPARK_MASTER, SparkSettings


@dataclass(frozen=True)
class Tuning:
    """How a search runs: its tuner, whether it goes on with an unfinished one, Optuna's study."""

    tuner: str = TUNERS[0]
    resume: bool = False
    study_name: str = ""
    storage: str = ""

    def __post_init__(self) -> None:
        if self.tuner != "optuna" and (self.study_name or self.storage):
            raise click.UsageError("--study_name and --storage are for --tuner optuna.")

    def __str__(self) -> str:
        return self.tuner.capitalize()

    def check(self, spark: SparkSettings) -> None:
        """Refuse a combination hpo.py cannot run, before anything runs."""
        if spark.parallelism and self.tuner != "hyperopt":
            raise click.UsageError(
                "--spark_parallelism spreads hyperopt's trials over Spark; Optuna's spread over "
                "workers of their own: start several with one --study_name (make q5-optuna "
                "WORKERS=N)."
            )

    def tuner_for(self, num_trials: int, seed: int, verbose: bool = False) -> Any:
        """The tuner of a search of `num_trials` trials (search.runs.Tuner)."""
        plan = Plan(self.tuner, num_trials, seed)
        if self.tuner == "optuna":
            from homework.search.optuna_tuner import OptunaTuner
            from homework.search.study_storage import default_storage

            storage = self.storage or default_storage()
            return OptunaTuner(plan, self.resume, self.study_name, storage, verbose)
        from homework.search.hyperopt_tuner import HyperoptTuner

        return HyperoptTuner(plan, self.resume)


tuning_options = grouped(
    [
        click.option(
            "--tuner",
            type=click.Choice(TUNERS),
            default=TUNERS[0],
            show_default=True,
            help="hyperopt's TPE (the course's), or Optuna's seeded TPE with its study in a "
            "database (--storage).",
        ),
        click.option(
            "--resume",
            is_flag=True,
            help="Go on with the newest unfinished search of --tuner (stopped by Ctrl-C, a "
            "crash or a lost server): its finished trials count, the rest run.",
        ),
        click.option(
            "--study_name",
            "--study-name",
            default="",
            help="Optuna: the study to make, or to join (every worker started with the same "
            "name and options shares one search)  [default: a new study]",
        ),
        click.option(
            "--storage",
            envvar="OPTUNA_STORAGE",
            default="",
            help="Optuna: the study's database, e.g. sqlite:///optuna.db or postgresql://...  "
            "[default: $OPTUNA_STORAGE, else optuna.db beside the server's mlflow.db, or the "
            "schema optuna of its PostgreSQL database ($BACKEND_STORE_URI)]",
        ),
    ],
    ["tuner", "resume", "study_name", "storage"],
    Tuning,
    "tuning",
)


def spark_installed(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """Refuse a Spark search before anything runs when pyspark is not installed."""
    if value:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            raise click.BadParameter("needs pyspark: run `make install-spark`.") from None
    return value


spark_options = grouped(
    [
        click.option(
            "--spark_parallelism",
            "--spark-parallelism",
            default=0,
            show_default=True,
            type=click.IntRange(min=0),
            callback=spark_installed,
            help="Run up to N trials at a time on Spark (hyperopt's SparkTrials); 0: one by one "
            "here.",
        ),
        click.option(
            "--spark_master",
            "--spark-master",
            envvar="SPARK_MASTER",
            default=DEFAULT_SPARK_MASTER,
            show_default=f"$SPARK_MASTER or {DEFAULT_SPARK_MASTER}",
            help="Spark master URL for --spark_parallelism, e.g. spark://host:7077 (make "
            "spark-cluster starts one on 127.0.0.1).",
        ),
    ],
    ["spark_parallelism", "spark_master"],
    lambda spark_parallelism, spark_master: SparkSettings(spark_parallelism, spark_master),
    "spark",
)
