"""The champion as a self-contained MLflow model: raw trips in, durations in minutes out.

The hyperopt forest takes the vectorised matrix, so on its own it needs `output/dv.pkl`
from the machine that preprocessed the data. `TripDurationModel` is a pyfunc that holds
the fitted DictVectorizer and the forest and builds the features itself with
`features.vectorize`, the code that built the training matrices.

register_model.py logs it in the champion's run as `trip_duration_model`, beside the bare
forest (`model`, the course's `runs:/<id>/model`), and registers it. It ships only the code
it runs, this file and features.py in a copy of this package (`shipped_code`), so it loads
anywhere the tracking server is reachable, and loading it imports nothing of the homework's
command-line side.

It refuses trips it cannot predict (features.invalid_trips: a missing zone id or distance,
a negative or infinite distance) with one MlflowException naming how many and why, which
`mlflow models serve` answers with HTTP 400 and that message, rather than a guess.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

from homework.features import (
    RAW_COLUMNS,
    RAW_DTYPES,
    count_invalid,
    describe_invalid,
    invalid_trips,
    vectorize,
)

SHIPPED_FILES = ("__init__.py", "features.py", "trip_model.py")  # all the model runs
REQUIREMENTS = ("pandas",)  # beside mlflow, scikit-learn, scipy, numpy and cloudpickle
MLFLOW_TYPES = {"int32": "integer", "int64": "long", "float64": "double"}  # MLflow's type names


class TripDurationModel(mlflow.pyfunc.PythonModel):
    """Predict trip durations (minutes) from PULocationID, DOLocationID and trip_distance."""

    def __init__(self, dv: Any, forest: Any) -> None:
        self.dv = dv
        self.forest = forest

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        check_trips(model_input)
        if model_input.empty:
            return np.empty(0, dtype=np.float64)  # the forest refuses 0 rows; none to predict
        return self.forest.predict(vectorize(raw_trips(model_input), self.dv))


@contextlib.contextmanager
def shipped_code() -> Iterator[list[str]]:
    """The model's `code_paths`: a copy of this package that holds only SHIPPED_FILES."""
    with tempfile.TemporaryDirectory(prefix="code-") as scratch:
        package = Path(scratch, __package__)
        package.mkdir()
        for name in SHIPPED_FILES:
            shutil.copy(Path(__file__).with_name(name), package / name)
        yield [str(package)]


def check_trips(df: pd.DataFrame) -> None:
    """Refuse, in one line, trips the model cannot predict (see features.invalid_trips)."""
    invalid = count_invalid(invalid_trips(df[RAW_COLUMNS]))
    if invalid:
        raise MlflowException(
            f"{sum(invalid.values()):,} of {len(df):,} trips cannot be predicted: "
            f"{describe_invalid(invalid)}. Send whole-number zone ids and a trip_distance "
            "of 0 or more.",
            error_code=INVALID_PARAMETER_VALUE,
        )


def raw_trips(df: pd.DataFrame) -> pd.DataFrame:
    """Just the three raw input columns, with the types of the model's signature."""
    return df[RAW_COLUMNS].astype(RAW_DTYPES)


def signature() -> Any:
    """Raw trips in (the zone ids as integers, the distance as a float), minutes out.

    Declared rather than inferred from an example: inference warns about integer columns.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs = Schema([ColSpec(MLFLOW_TYPES[RAW_DTYPES[name]], name) for name in RAW_COLUMNS])
    outputs = Schema([TensorSpec(np.dtype("float64"), (-1,))])
    return ModelSignature(inputs=inputs, outputs=outputs)
