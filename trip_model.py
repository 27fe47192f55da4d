"""The champion as a self-contained MLflow model: raw trips in, durations in minutes out.

The hyperopt forest takes the vectorised matrix, so on its own it needs `output/dv.pkl`
from the machine that preprocessed the data. `TripDurationModel` is a pyfunc that holds
the fitted DictVectorizer and the forest and builds the features itself with
`preprocess_data.vectorize`, the code that built the training matrices.

Design: register_model.py keeps logging the bare forest as `model` in every run of
`random-forest-best-models` (the course's `runs:/<id>/model` still loads a scikit-learn
forest), and logs this pyfunc beside it, in the champion's run, as `trip_duration_model`;
that one is registered. Its own code (`trip_model.py`, `preprocess_data.py`, `common.py`) is
logged with it (`code_paths`), so it loads anywhere the tracking server is reachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from common import model_name, sklearn_requirements
from preprocess_data import LOCATION_COLUMNS, NUMERICAL, vectorize

PYFUNC_ARTIFACT = "trip_duration_model"
RAW_COLUMNS = [*LOCATION_COLUMNS, NUMERICAL]
RAW_DTYPES = {"PULocationID": "int64", "DOLocationID": "int64", NUMERICAL: "float64"}
CODE_PATHS = [
    str(Path(__file__).with_name(name))
    for name in ("trip_model.py", "preprocess_data.py", "common.py")
]
EXTRA_PACKAGES = ("pandas", "pyarrow", "click")


class TripDurationModel(mlflow.pyfunc.PythonModel):
    """Predict trip durations (minutes) from PULocationID, DOLocationID and trip_distance."""

    def __init__(self, dv: Any, forest: Any) -> None:
        self.dv = dv
        self.forest = forest

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self.forest.predict(vectorize(raw_trips(model_input), self.dv))


def raw_trips(df: pd.DataFrame) -> pd.DataFrame:
    """Just the three raw input columns, with the types of the model's signature."""
    return df[RAW_COLUMNS].astype(RAW_DTYPES)


def log_trip_model(model: TripDurationModel, example: pd.DataFrame) -> Any:
    """Log the pyfunc in the active run with signature and input example; return its ModelInfo."""
    from mlflow.models import infer_signature

    example = raw_trips(example)
    signature = infer_signature(example, model.predict(None, example))
    return mlflow.pyfunc.log_model(
        **model_name(PYFUNC_ARTIFACT),
        python_model=model,
        code_paths=CODE_PATHS,
        signature=signature,
        input_example=example,
        pip_requirements=sklearn_requirements(*EXTRA_PACKAGES),
    )
