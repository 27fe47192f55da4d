"""The experiments the scripts log to: set safely; the newest run of one, read back."""

from __future__ import annotations

from typing import Any

from homework.errors import UserError
from homework.tracking.rest import Rest, Run
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


def newest_run(rest: Rest, experiment: str, script: str) -> Run:
    """The newest run of `experiment` (train.py's, for Q3), or a UserError saying what to run."""
    found = rest.experiment_id(experiment)
    runs = found and rest.search_runs(found, order_by=("attributes.start_time DESC",), limit=1)
    if not runs:
        raise UserError(f"no run in {experiment!r}: run {script}.")
    return runs[0]
