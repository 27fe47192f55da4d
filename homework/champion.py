"""Publishing the best candidate: the raw-trip model, signed, judged by the gate, registered.

The best candidate's run keeps its bare forest as `model` (the course's `runs:/<id>/model`)
and gets, beside it, the self-contained pyfunc `trip_duration_model` (trip_model.py: the
DictVectorizer from `dv.pkl` and the forest; raw trips in, minutes out), a model from code
with no pickle in it, checked on the raw test month, signed (trust/), and the plots of that
month. The promotion gate (promotion.py) then evaluates it against the current champion,
and it is registered with its card (registry.py) under the alias the gate gives it.
"""

from __future__ import annotations

from typing import Any

from homework.config import CHAMPION_ALIAS, CHAMPION_PLOTS, PYFUNC_ARTIFACT
from homework.errors import UserError
from homework.forest import rmse
from homework.lineage import check_raw_file, pickled_months
from homework.models import model_name, pinned_requirements
from homework.pickles import load_vectorizer
from homework.promotion import Baseline, Decision, Policy, gate
from homework.registry import Candidate, description, register, release_hold, version_tags
from homework.trust.loading import sign_logged_model

EXAMPLE_TRIPS = 5


def read_test_trips(data_path: str, raw_data_path: str) -> Any:
    """The raw trips of the test month, from the very file dv.pkl was made from."""
    from homework.trips import read_trips, tripdata_path

    trip_data = load_vectorizer(data_path).trip_data_
    path = tripdata_path(raw_data_path, trip_data["dataset"], trip_data["test_month"])
    check_raw_file(path, pickled_months(data_path, ("test",))["test"], data_path)
    return read_trips(path, trip_data["dataset"])


def log_trip_model(model: Any, example: Any) -> Any:
    """Log the raw-trip pyfunc in the active run from code, with its signature and an example."""
    import mlflow.pyfunc

    from homework.trip_model import REQUIREMENTS, model_parts, raw_trips, signature

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
    data_path: str,
    trips: Any,
    policy: Policy,
    baseline: Baseline,
) -> tuple[str, Decision]:
    """Log the candidate's raw-trip pyfunc and plots, register it, alias it by the gate.

    `forest` is the candidate's forest as register_model.py scored and logged it (loaded
    once its signature checked out: not loaded again here); `trips` are the raw trips of the
    test month (read_test_trips), `baseline` the champion to compare with
    (promotion.choose_baseline). Returns the new version and the gate's
    decision (@champion or @challenger).
    """
    import mlflow

    from homework import plots
    from homework.features import RAW_COLUMNS, TARGET
    from homework.trip_model import REQUIREMENTS, TripDurationModel

    dv = load_vectorizer(data_path)
    model = TripDurationModel(dv, forest)
    predicted = model.predict(None, trips)
    raw_rmse = rmse(trips[TARGET], predicted)
    if abs(raw_rmse - candidate.test_rmse) > 1e-9:
        raise UserError(
            f"the raw test month gives RMSE {raw_rmse:.4f} but test.pkl {candidate.test_rmse:.4f}:"
            " the pickles were made from other files than --raw_data_path holds;"
            " run preprocess_data.py again (make q2)."
        )
    test_month = pickled_months(data_path, ("test",))["test"]
    figures = (plots.predicted_vs_actual_figure, plots.residuals_figure)
    with mlflow.start_run(run_id=candidate.run_id):
        model_info = log_trip_model(model, trips[RAW_COLUMNS].head(EXAMPLE_TRIPS))
        sign_logged_model(model_info)  # nobody loads a model planted in its place
        for figure, file_name in zip(figures, CHAMPION_PLOTS, strict=True):
            plots.log_figure(figure(trips[TARGET], predicted), file_name)
        decision = gate(
            model_info.model_uri, candidate.test_rmse, trips, test_month, policy, baseline
        )
    libraries = pinned_requirements(*REQUIREMENTS)
    tags = {**version_tags(candidate, dv.trip_data_, libraries), **decision.tags()}
    card = description(
        candidate,
        dv.trip_data_,
        f"{decision.status}, registered as @{decision.alias}: {decision.reason()}",
    )
    version = register(model_info.model_uri, policy.model_name, tags, card, decision.alias)
    if baseline.held and decision.alias == CHAMPION_ALIAS:
        release_hold(policy.model_name)  # --promote always moved @champion on
    return version, decision
