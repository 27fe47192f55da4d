"""What a verified model folder holds, read from its MLmodel: pickles, or files that are data.

Called only on a folder whose signature checked out (loading.py). A forest that MLflow 3
saved with skops is read here with the project's own list of trusted types
(model/files.py's TRUSTED_TYPES), never the list its MLmodel declares, and without MLflow's
loader, which `MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false` refuses even for skops. A pickled
forest (MLflow 2.x, train.py's, or logged before) is left to MLflow's loader. A champion
registered before the champion was a model from code is a pickled pyfunc: `pickled_pyfunc`
tells it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SKOPS = "skops"  # MLflow 3's serialization_format for scikit-learn models without pickle


def flavors(folder: str) -> dict[str, Any]:
    """The flavors of the MLmodel in `folder`."""
    from mlflow.models import Model

    return Model.load(folder).flavors


def load_forest(folder: str) -> Any:
    """The scikit-learn model in a verified folder: a skops file read by skops, else MLflow's.

    A skops file that holds a type the project does not trust, or no forest at all, is an
    MlflowException (what loading.loading reports as a model that cannot be loaded).
    """
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    from homework.model.files import read_forest

    sklearn = flavors(folder).get("sklearn", {})
    if sklearn.get("serialization_format") != SKOPS:
        return mlflow.sklearn.load_model(folder)
    try:
        return read_forest(Path(folder, sklearn["pickled_model"]))
    except ValueError as refused:  # a type the project does not trust, or no skops file
        raise MlflowException(str(refused)) from None


def pickled_pyfunc(folder: str) -> bool:
    """True for a pyfunc whose model object is a pickle (`python_model.pkl`), not code."""
    pyfunc = flavors(folder).get("python_function", {})
    return "python_model" in pyfunc and "model_code_path" not in pyfunc
