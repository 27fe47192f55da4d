"""Publishing the best candidate: the raw-trip model, signed, judged by the gate, registered.

The best candidate's run keeps its bare forest as `model` (the course's `runs:/<id>/model`)
and gets, beside it, the self-contained pyfunc `trip_duration_model` (trip_model.py: the
DictVectorizer from `dv.pkl` and the forest; raw trips in, minutes out), a model from code
with no pickle in it, checked on the raw test month, signed (trust/), and the plots of that
month. The promotion gate (gate.py) then evaluates it against the current champion,
and it is registered with its card (registry.py) under the alias the gate gives it.
"""

from __future__ import annotations

from homework.interrupts import scratch_folder

import hashlib
from typing import Any

from homework.config import CHAMPION_ALIAS, CHAMPION_PLOTS, PYFUNC_ARTIFACT, SIGNED_MANIFEST
from homework.data.pickles import Prepared
from homework.models import model_name, pinned_requirements
from homework.publish import evaluations
from homework.publish.candidates import Candidate
from homework.publish.gate import Baseline, Decision, Policy, gate
from homework.publish.registry import description, register, release_hold, version_tags
from homework.trust.signing import sign_logged_model

EXAMPLE_TRIPS = 5


def log_trip_model(model: Any, example: Any) -> Any:
    """Log the raw-trip pyfunc in the active run from code, with its signature and an example."""
    import mlflow.pyfunc

    from homework.model.predictor import raw_trips
    from homework.model.trip_model import REQUIREMENTS, model_parts, signature

    with model_parts(model.dv, model.forest) as parts:
        return mlflow.pyfunc.log_model(
            **model_name(PYFUNC_ARTIFACT),
            **parts,
            signature=signature(),
            input_example=raw_trips(example),
            pip_requirements=pinned_requirements(*REQUIREMENTS),
        )


def publish(
    candidate: Candidate,
    forest: Any,
    data: Prepared,
    trips: Any,
    policy: Policy,
    baseline: Baseline,
) -> tuple[str, Decision]:
    """Log the candidate's raw-trip pyfunc and plots, register it, alias it by the gate.

    `forest` is the candidate's forest as register_model.py scored and logged it (loaded
    once its signature checked out: not loaded again here); `trips` are the raw trips of the
    test month (Prepared.test_trips), `baseline` the champion to compare with
    (incumbent.choose_baseline). Returns the new version and the gate's
    decision (@champion or @challenger).
    """
    import mlflow

    from homework import plots
    from homework.model.features import RAW_COLUMNS
    from homework.model.trip_model import REQUIREMENTS, TripDurationModel

    model = TripDurationModel(data.dv, forest)
    _, y_test = data.dataset("test")  # the same trips as `trips` (Prepared.test_trips)
    predicted = candidate.test_predictions
    test_month = data.months("test")["test"]
    figures = (plots.predicted_vs_actual_figure, plots.residuals_figure)
    with scratch_folder("signed-") as kept, mlflow.start_run(run_id=candidate.run_id):
        model_info = log_trip_model(model, trips[RAW_COLUMNS].head(EXAMPLE_TRIPS))
        signed = sign_logged_model(model_info, into=kept)  # nobody loads a model planted
        for figure, file_name in zip(figures, CHAMPION_PLOTS, strict=True):
            plots.log_figure(figure(y_test, predicted), file_name)
        decision = gate(
            model_info.model_uri, candidate.test_rmse, trips, test_month, policy, baseline
        )
        libraries = pinned_requirements(*REQUIREMENTS)
        tags = {**version_tags(candidate, data.trip_data, libraries), **decision.tags()}
        card = description(
            candidate,
            data.trip_data,
            f"{decision.status}, registered as @{decision.alias}: {decision.reason()}",
        )
        version = register(model_info.model_uri, policy.model_name, tags, card, decision.alias)
        # The next run's gate compares with this version: its evaluation need not be redone.
        manifest = hashlib.sha256((signed / SIGNED_MANIFEST).read_bytes()).hexdigest()
        key = (mlflow.get_tracking_uri(), policy.model_name, version, manifest)
        evaluations.keep(*key, test_month.digest, decision.metrics)
        if baseline.held and decision.alias == CHAMPION_ALIAS:
            release_hold(policy.model_name)  # --promote always moved @champion on
    return version, decision
