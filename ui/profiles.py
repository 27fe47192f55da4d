"""What differs between MLflow 2.x's UI and 3.x's for the walk (walk.py): one profile each.

The two UIs share their run table, Sort menu, filter box, chart view, run page, artifact
tree and registry tables, so the walk is one. A profile holds only the differences: the
browser storage that keeps dialogs and side panels away, where the experiment list is and
what an experiment page's heading says, the link to the model registry, the button that
makes room for the `rmse` column, and the names of docs/ui.md's pictures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from homework.errors import UserError

PICTURE_NAMES = {  # docs/ui.md's pictures, by what they show
    "q3": "q3-train-run.png",
    "q5": "q5-hyperopt-runs.png",
    "q5-chart": "q5-chart-view.png",
    "q6": "q6-registered-model.png",
}
# MLflow 3.x keeps its UI state under versioned localStorage keys, holding JSON values.
MLFLOW_3_STORAGE = {
    "_mlflow_model_registry_promo_modal_dismissed_v1": "true",  # a dialog over #/models
    "mlflow.assistant.panelOpen_v1": "false",  # the MLflow Assistant panel on the right
    "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true",
    "mlflow.telemetry.info.alert.dismissed_v1": "true",  # a banner on the home page
    # The "Model training" workflow: only its sidebar has the "Model registry" link.
    "mlflow.workflowType_v1": '"machine_learning"',
}


@dataclass(frozen=True)
class Profile:
    """One MLflow UI, as the walk meets it."""

    major: int
    storage: dict[str, str]  # localStorage set before any page loads
    experiments_url: str  # the page with the experiment links
    experiment_heading: str | None  # an experiment page's heading; None: the experiment's name
    registry_link: str  # the navigation link to the registered models
    room_button: str  # hides the navigation beside the runs table, to show the rmse column
    restore_room: bool  # click room_button again after Q5 (3.x: its hidden sidebar is unnamed)
    picture_prefix: str  # docs/ui.md's pictures of this UI: <prefix><PICTURE_NAMES value>

    @property
    def init_script(self) -> str:
        """JavaScript that sets `storage` in every page before the UI reads it."""
        return "".join(
            f"localStorage.setItem({json.dumps(key)}, {json.dumps(value)});"
            for key, value in self.storage.items()
        )

    def picture(self, key: str) -> str:
        return self.picture_prefix + PICTURE_NAMES[key]


MLFLOW_2 = Profile(
    major=2,
    storage={"_mlflow_model_registry_promo_modal_dismissed": "true"},  # a dialog over a model
    experiments_url="/#/",
    experiment_heading=None,
    registry_link="Models",
    room_button="Hide experiment list",
    restore_room=False,
    picture_prefix="ui-",
)
MLFLOW_3 = Profile(
    major=3,
    storage=MLFLOW_3_STORAGE,
    experiments_url="/#/experiments",
    experiment_heading="Runs",
    registry_link="Model registry",
    room_button="Toggle sidebar",
    restore_room=True,
    picture_prefix="ui-mlflow3-",
)
PROFILES = {profile.major: profile for profile in (MLFLOW_2, MLFLOW_3)}


def profile_for(server_version: str, base: str) -> Profile:
    """The profile of the UI an MLflow `server_version` serves; a UserError for another."""
    major = server_version.split(".")[0]
    if not major.isdigit() or int(major) not in PROFILES:
        raise UserError(
            f"the server at {base} runs MLflow {server_version}: the UI check knows the UIs "
            f"of MLflow {' and '.join(f'{known}.x' for known in PROFILES)}."
        )
    return PROFILES[int(major)]
