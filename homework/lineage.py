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
from pathlib import Path
from typing import Any

from homework.errors import UserError

CONTEXTS = {"train": "training", "val": "validation", "test": "test"}
DIGEST_LENGTH = 16  # hex digits; MLflow keeps at most 36


def file_digest(path: str | Path) -> str:
    """The first DIGEST_LENGTH hex digits of the SHA-256 of the file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:DIGEST_LENGTH]


def raw_files(paths: dict[str, Path]) -> dict[str, str]:
    """What dv.pkl records of each month's raw file: `train_file`, `train_digest`, ..."""
    recorded = {}
    for name, path in paths.items():
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

    from homework.features import RAW_DTYPES
    from homework.trip_model import MLFLOW_TYPES
    from homework.trips import timestamp_columns

    return Schema(
        [ColSpec("datetime", name) for name in timestamp_columns(dataset)]
        + [ColSpec(MLFLOW_TYPES[dtype], name) for name, dtype in RAW_DTYPES.items()]
    )


def log_datasets(datasets: dict[str, Any]) -> None:
    """Log each month as an input of the active run, with its context."""
    import mlflow

    for name, dataset in datasets.items():
        mlflow.log_input(dataset, context=CONTEXTS[name])


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


def expected_datasets(datasets: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(context, name, digest) of `datasets` as log_datasets logs them."""
    return {(CONTEXTS[name], data.name, data.digest) for name, data in datasets.items()}


def describe(logged: set[tuple[str, str, str]]) -> str:
    """`green_tripdata_2023-01 (training, digest 9f0e03dd...)`, ... for a one-line message."""
    parts = [f"{name} ({context}, digest {digest})" for context, name, digest in sorted(logged)]
    return ", ".join(parts) or "no recorded data"
