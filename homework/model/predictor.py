"""The trip model itself, without MLflow: the vectorizer and the forest, raw trips in, minutes out.

trip_model.TripDurationModel is this as an MLflow pyfunc (what the registry holds and MLflow
loads); a verified copy of a champion is read straight into it (trust/direct.py), so
predicting from it imports no MLflow. Shipped with the registered model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from homework.model.features import (
    RAW_COLUMNS,
    RAW_DTYPES,
    count_invalid,
    describe_invalid,
    invalid_trips,
    vectorize,
)
from homework.model.files import ARTIFACT_FILES, FOREST, VECTORIZER, read_forest, read_vectorizer


class InvalidTrips(ValueError):
    """Trips the model cannot predict: how many and why, in one line."""


@dataclass
class TripPredictor:
    """Predict trip durations (minutes) from PULocationID, DOLocationID and trip_distance."""

    dv: Any
    forest: Any

    @classmethod
    def read(cls, artifacts: Path) -> TripPredictor:
        """The model from its two files in the folder `artifacts` (a ValueError if damaged)."""
        return cls(
            read_vectorizer(artifacts / ARTIFACT_FILES[VECTORIZER]),
            read_forest(artifacts / ARTIFACT_FILES[FOREST]),
        )

    def predict(self, trips: pd.DataFrame) -> np.ndarray:
        check_trips(trips)
        if trips.empty:
            return np.empty(0, dtype=np.float64)  # the forest refuses 0 rows; none to predict
        return self.forest.predict(vectorize(raw_trips(trips), self.dv))


def check_trips(df: pd.DataFrame) -> None:
    """Refuse, in one line, trips the model cannot predict (see features.invalid_trips)."""
    invalid = count_invalid(invalid_trips(df[RAW_COLUMNS]))
    if invalid:
        raise InvalidTrips(
            f"{sum(invalid.values()):,} of {len(df):,} trips cannot be predicted: "
            f"{describe_invalid(invalid)}. Send whole-number zone ids of 1 or more and a "
            "trip_distance of 0 or more."
        )


def raw_trips(df: pd.DataFrame) -> pd.DataFrame:
    """Just the three raw input columns, with the types of the model's signature."""
    return df[RAW_COLUMNS].astype(RAW_DTYPES)
