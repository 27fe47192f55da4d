"""The champion as a self-contained MLflow model: raw trips in, durations in minutes out.

The hyperopt forest takes the vectorised matrix, so on its own it needs `output/dv.pkl`
from the machine that preprocessed the data. `TripDurationModel` is a pyfunc that holds
the fitted DictVectorizer and the forest and builds the features itself with
`features.vectorize`, the code that built the training matrices.

register_model.py logs it in the champion's run as `trip_duration_model`, beside the bare
forest (`model`, the course's `runs:/<id>/model`), and registers it. It is a model from
code (MLflow's "models from code"): the model folder holds no pickle but the model file
model_code.py, which MLflow runs to load it, the code it runs, this folder (this file,
predictor.py, features.py and files.py) in a copy of the package (`model_parts`), and its two
artifacts as data (`FOREST`, a skops file, and `VECTORIZER`, JSON; see files.py), read by
`load_context`. So it loads anywhere the tracking server is reachable, and loading it
imports nothing of the homework's command-line side.

It refuses trips it cannot predict (features.invalid_trips: a missing zone id or distance,
a zone id below 1, a negative or infinite distance) with one MlflowException naming how many
and why, which `mlflow models serve` answers with HTTP 400 and that message, rather than a guess.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

from homework.model.features import RAW_COLUMNS, RAW_DTYPES
from homework.model.files import (
    ARTIFACT_FILES,
    FOREST,
    SHIPPED_FILES,
    VECTORIZER,
    read_forest,
    read_vectorizer,
    write_forest,
    write_vectorizer,
)
from homework.model.predictor import InvalidTrips, TripPredictor

MODEL_CODE = Path(__file__).with_name("model_code.py")  # what MLflow runs to load the model
REQUIREMENTS = ("pandas", "skops")  # beside mlflow, scikit-learn, scipy and numpy
MLFLOW_TYPES = {"int64": "long", "float64": "double"}


class TripDurationModel(mlflow.pyfunc.PythonModel):
    """The trip model (predictor.TripPredictor) as an MLflow pyfunc.

    Loaded by MLflow, it reads its forest and vectorizer in `load_context`; register_model.py
    gives them directly to check the model before logging it. Champions pickled before the
    model was defined from code hold this class too, with these two attributes.
    """

    def __init__(self, dv: Any = None, forest: Any = None) -> None:
        self.dv = dv
        self.forest = forest

    def load_context(self, context: Any) -> None:
        if self.forest is None:  # a pickled champion comes with both (and no artifacts)
            try:
                self.dv = read_vectorizer(context.artifacts[VECTORIZER])
                self.forest = read_forest(context.artifacts[FOREST])
            except (ValueError, KeyError) as refused:  # a planted type, a damaged file
                raise MlflowException(f"cannot load the trip model: {refused}") from None

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        """Minutes for each trip; trips it cannot take are one MlflowException (HTTP 400 when
        served), never a guess."""
        try:
            return TripPredictor(self.dv, self.forest).predict(model_input)
        except InvalidTrips as refused:
            raise MlflowException(str(refused), error_code=INVALID_PARAMETER_VALUE) from None


@contextlib.contextmanager
def model_parts(dv: Any, forest: Any) -> Iterator[dict[str, Any]]:
    """What `mlflow.pyfunc.log_model` needs to log the model from code, in a scratch folder.

    `python_model`: a copy of model_code.py; `code_paths`: a copy of the package holding only
    this folder's SHIPPED_FILES; `artifacts`: the forest and the vectorizer as files (files.py).
    Python writes no bytecode meanwhile: MLflow runs the model file while it logs (to check
    the input example), and the `__pycache__` beside it would be uploaded with the model.
    """
    with tempfile.TemporaryDirectory(prefix="model-") as scratch:
        top = Path(scratch, "code", "homework")  # the package, with only this wing in it
        package = top / "model"
        package.mkdir(parents=True)
        shutil.copy(Path(__file__).parents[1] / "__init__.py", top / "__init__.py")
        for name in SHIPPED_FILES:
            shutil.copy(Path(__file__).with_name(name), package / name)
        model_code = Path(scratch, MODEL_CODE.name)
        shutil.copy(MODEL_CODE, model_code)
        artifacts = {name: str(Path(scratch, file)) for name, file in ARTIFACT_FILES.items()}
        write_forest(forest, Path(artifacts[FOREST]))
        write_vectorizer(dv, Path(artifacts[VECTORIZER]))
        writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            yield {
                "python_model": str(model_code),
                "code_paths": [str(top)],
                "artifacts": artifacts,
            }
        finally:
            sys.dont_write_bytecode = writes_bytecode


def signature() -> Any:
    """Raw trips in (the zone ids as integers, the distance as a float), minutes out.

    Declared rather than inferred from an example: inference warns about integer columns.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs = Schema([ColSpec(MLFLOW_TYPES[RAW_DTYPES[name]], name) for name in RAW_COLUMNS])
    outputs = Schema([TensorSpec(np.dtype("float64"), (-1,))])
    return ModelSignature(inputs=inputs, outputs=outputs)
