"""The experiments the scripts log to: set safely, looked up by name, their newest run."""

from __future__ import annotations

from typing import Any

from homework.errors import UserError
from homework.tracking.sources import check_source


def set_experiment(name: str) -> Any:
    """`mlflow.set_experiment(name)`, safe when two clients create the experiment at once,
    and only if its runs' artifacts go to the tracking server (tracking/sources.py).

    When another client creates the experiment between MLflow's lookup and its create,
    `mlflow.set_experiment` (2.22) returns the experiment without making it the active
    one, and the runs land in "Default". Setting it again by id always makes it active.
    Whoever creates an experiment chooses where its artifacts go, and MLflow would send the
    client's login there with every upload: another host is refused before any run starts.
    """
    import mlflow

    experiment = mlflow.set_experiment(name)
    where = f"to log to the experiment {name!r}"
    check_source(experiment.artifact_location, mlflow.get_tracking_uri(), where)
    return mlflow.set_experiment(experiment_id=experiment.experiment_id)


def experiment_id(name: str) -> str | None:
    """The id of the experiment `name`, or None if nobody has logged to it yet."""
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient().get_experiment_by_name(name)
    return experiment.experiment_id if experiment else None


def newest_run(experiment: str, script: str) -> Any:
    """The newest run of `experiment` (train.py's, for Q3), or a UserError saying what to run."""
    from mlflow.tracking import MlflowClient

    found = experiment_id(experiment)
    runs = found and MlflowClient().search_runs(
        [found], order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        raise UserError(f"no run in {experiment!r}: run {script}.")
    return runs[0]
