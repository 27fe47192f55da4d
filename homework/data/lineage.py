"""Data lineage: which raw trip files each run used, logged with `mlflow.data` as metadata only.

preprocess_data.py records in dv.pkl, for each of its three months, the raw file it read
and a digest of that file (`raw_files`). The runs log the months they used with
`mlflow.log_input`: train.py's run and each hyperopt trial their training and validation
months, each run of register_model.py its validation and test months. Each month is an
MLflow `MetaDataset`: the file's name (`green_tripdata_2023-01`), its source (the file's
path), the digest and the schema of the columns the homework reads from it, with the
context (`training`, `validation`, `test`) on the run's input. No row of data is logged.

The digest is the first 16 hex digits of the SHA-256 of the whole file, as `sha256sum`
prints it: any changed byte changes it, unlike a digest of the parquet footer alone, and
hashing runs at about 1 GB/s (5 ms for a real month, well under a second for 50 times one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homework.errors import UserError

CONTEXTS = {"train": "training", "val": "validation", "test": "test"}
DIGEST_LENGTH = 16  # hex digits; MLflow keeps at most 36
ALLOW_UNORDERED = "--allow_unordered_months"


@dataclass(frozen=True)
class Months:
    """The training, validation and test months (YYYY-MM), and whether any order is allowed."""

    train: str
    val: str
    test: str
    unordered: bool = False  # experiments only: a test month seen in training is no test

    def checked(self) -> dict[str, str]:
        """{'train': ..., 'val': ..., 'test': ...}, refused unless distinct and in that order.

        A test month seen in training (or before it) would make the test RMSE a lie.
        """
        if not (self.unordered or self.train < self.val < self.test):
            raise UserError(
                f"the months must be distinct and in order, train < val < test, not train "
                f"{self.train}, val {self.val}, test {self.test}: pick other months (or pass "
                f"{ALLOW_UNORDERED} to experiment)."
            )
        return {"train": self.train, "val": self.val, "test": self.test}


def file_digest(path: str | Path) -> str:
    """The first DIGEST_LENGTH hex digits of the SHA-256 of the file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:DIGEST_LENGTH]


def trip_record(dataset: str, months: dict[str, str], paths: dict[str, Path]) -> dict[str, str]:
    """What dv.pkl records of its data: the dataset, and each month with its file and digest.

    `{"dataset": "green", "train_month": "2023-01", "train_file": ..., "train_digest": ...}`
    """
    recorded = {"dataset": dataset}
    for name, path in paths.items():
        recorded[f"{name}_month"] = months[name]
        recorded[f"{name}_file"] = str(Path(path).resolve())
        recorded[f"{name}_digest"] = file_digest(path)
    return recorded


def month_datasets(trip_data: dict[str, str], names: tuple[str, ...], data_path: Any) -> dict:
    """The MetaDataset of each month in `names` ('train', 'val', 'test'), from dv.pkl's record.

    `trip_data` is the record of `data_path`/dv.pkl (its vectorizer's `trip_data_`).
    """
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource

    missing = [name for name in names if f"{name}_digest" not in trip_data]
    if missing:
        raise UserError(
            f"{Path(data_path) / 'dv.pkl'} does not record the raw files it was made from: "
            "run preprocess_data.py again (make q2)."
        )
    return {
        name: MetaDataset(
            LocalArtifactDatasetSource(trip_data[f"{name}_file"]),
            name=Path(trip_data[f"{name}_file"]).stem,
            digest=trip_data[f"{name}_digest"],
            schema=trip_schema(trip_data["dataset"]),
        )
        for name in names
    }


def trip_schema(dataset: str) -> Any:
    """The columns the homework reads from a trip file, with the types it reads them as."""
    from mlflow.types import ColSpec, Schema

    from homework.model.features import RAW_DTYPES
    from homework.model.trip_model import MLFLOW_TYPES
    from homework.data.trips import timestamp_columns

    return Schema(
        [ColSpec("datetime", name) for name in timestamp_columns(dataset)]
        + [ColSpec(MLFLOW_TYPES[dtype], name) for name, dtype in RAW_DTYPES.items()]
    )


def log_datasets(datasets: dict[str, Any]) -> None:
    """Log each month as an input of the active run, with its context: in one request, with
    what `mlflow.log_input` logs of each (MLflow 2.22 has no batch of its own)."""
    import mlflow
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    inputs = [
        DatasetInput(
            dataset._to_mlflow_entity(),  # what mlflow.log_input logs of a dataset
            tags=[InputTag(MLFLOW_DATASET_CONTEXT, CONTEXTS[name])],
        )
        for name, dataset in datasets.items()
    ]
    mlflow.MlflowClient().log_inputs(mlflow.active_run().info.run_id, datasets=inputs)


def logged_datasets(run: Any) -> set[tuple[str, str, str]]:
    """(context, name, digest) of each dataset input of a run."""
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    return {
        (
            next((tag.value for tag in input.tags if tag.key == MLFLOW_DATASET_CONTEXT), ""),
            input.dataset.name,
            input.dataset.digest,
        )
        for input in run.inputs.dataset_inputs
    }


def recorded_datasets(trip_data: dict[str, str], names: tuple[str, ...]) -> set[tuple[str, str, str]]:
    """(context, name, digest) of the months `names` of a dv.pkl record, as log_datasets logs
    their MetaDatasets (month_datasets)."""
    return {
        (CONTEXTS[name], Path(trip_data[f"{name}_file"]).stem, trip_data[f"{name}_digest"])
        for name in names
    }


def check_same_data(run: Any, trip_data: dict[str, str], search: str, data_path: Any) -> None:
    """Refuse pickles made from other data than the run (a search's parent) recorded: the
    training and validation months of `trip_data`, dv.pkl's record."""
    expected, logged = recorded_datasets(trip_data, ("train", "val")), logged_datasets(run)
    if logged != expected:
        raise UserError(
            f"{data_path}/ holds pickles of {describe(expected)}, but hyperopt search "
            f"{search} was trained on {describe(logged)}: pass the --data_path that search "
            "used, or run hpo.py on these pickles (make q5)."
        )


def describe(logged: set[tuple[str, str, str]]) -> str:
    """`green_tripdata_2023-01 (training, digest 9f0e03dd...)`, ... for a one-line message."""
    parts = [f"{name} ({context}, digest {digest})" for context, name, digest in sorted(logged)]
    return ", ".join(parts) or "no recorded data"
