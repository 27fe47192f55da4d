"""The four pickles preprocess_data.py writes to the data folder, and how they are read back.

`dv.pkl` holds the fitted DictVectorizer, `train.pkl`, `val.pkl` and `test.pkl` each a
tuple `(X, y)`: a CSR matrix of the features and the durations in minutes, all finite.
They are written all four or none (`atomic_dir_write`), through a scratch folder
`.tmp-<pid>-*` that the next write removes if a killed process left it behind.

Unpickling runs code: these functions only ever read what preprocess_data.py wrote, and
the data folder is the user's own.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from homework.config import DATASET_FILES
from homework.errors import UserError, first_line

RUN_PREPROCESSING = "run preprocess_data.py first (make q2)"
RUN_AGAIN = "run preprocess_data.py again (make q2)"
SCRATCH_PREFIX = ".tmp-"  # `make clean` removes output/.tmp-* too


def dump_pickle(obj: Any, path: str | Path) -> None:
    with open(path, "wb") as f_out:
        pickle.dump(obj, f_out)


def load_pickle(path: str | Path) -> Any:
    with open(path, "rb") as f_in:
        return pickle.load(f_in)


def process_alive(pid: int) -> bool:
    """True if a process `pid` exists (signal 0 only asks; it sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_scratch(dest: Path) -> None:
    """Remove the scratch folders in `dest` whose writer is gone (killed halfway, say).

    A writer's folder is named after its pid: one still running (a second preprocessing
    at the same time) keeps its own.
    """
    for folder in dest.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-")[0]
        if folder.is_dir() and not (pid.isdigit() and process_alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir_write(dest: Path) -> Iterator[Path]:
    """Yield a scratch folder beside `dest`; move its files into `dest` only if the block succeeds.

    A failure halfway leaves what `dest` held before untouched (and no scratch folder).
    """
    dest.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(dest)
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=dest) as scratch:
        yield Path(scratch)
        for path in sorted(Path(scratch).iterdir()):
            os.replace(path, dest / path.name)


def write_outputs(results: dict[str, Any], dest_path: str | Path) -> list[Path]:
    """Write dv.pkl, train.pkl, val.pkl and test.pkl: all four or, on failure, none."""
    dest = Path(dest_path)
    try:
        with atomic_dir_write(dest) as scratch:
            for file_name in DATASET_FILES:
                dump_pickle(results[Path(file_name).stem], scratch / file_name)
    except OSError as exc:  # not writable, a file in the way, disk full, ...
        raise UserError(
            f"cannot write to {dest}/ ({exc.strerror or exc}): pick a writable --dest_path."
        ) from None
    return [dest / file_name for file_name in DATASET_FILES]


def check_outputs(data_path: str | Path, names: tuple[str, ...] = DATASET_FILES) -> None:
    """Fail with one clear line if preprocessing has not written its files yet."""
    data_path = Path(data_path)
    if not data_path.is_dir():
        raise UserError(f"{data_path}/ does not exist: {RUN_PREPROCESSING}.")
    missing = [name for name in names if not (data_path / name).is_file()]
    if missing:
        raise UserError(f"{data_path}/ lacks {', '.join(missing)}: {RUN_PREPROCESSING}.")


def load_checked(path: Path, looks_right: Any) -> Any:
    """Unpickle one of our files; a damaged or foreign one is a UserError naming it."""
    check_outputs(path.parent, (path.name,))
    try:
        obj = load_pickle(path)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise UserError(f"{path} is damaged ({first_line(exc)}): {RUN_AGAIN}.") from None
    if not looks_right(obj):
        raise UserError(
            f"{path} does not hold what preprocess_data.py writes ({type(obj).__name__}): "
            f"{RUN_AGAIN}."
        )
    return obj


def load_dataset(data_path: str | Path, name: str) -> tuple[Any, Any]:
    """Load one `(X, y)` pickle written by preprocess_data.py, e.g. name='train'.

    A NaN or infinite value, or a matrix whose columns are not dv.pkl's features (a pickle
    of another preprocessing run), is refused here, before any MLflow run starts: the
    forest would fail on it inside the run and leave a FAILED run behind.
    """
    import numpy as np
    import scipy.sparse as sp

    from homework.features import keep_sparse

    def is_x_y(obj: Any) -> bool:
        return (
            isinstance(obj, tuple)
            and len(obj) == 2
            and all(hasattr(part, "shape") for part in obj)
            and obj[0].shape[0] == obj[1].shape[0]
        )

    def all_finite(part: Any) -> bool:
        values = part.data if sp.issparse(part) else part  # a sparse matrix: its stored values
        try:
            return bool(np.isfinite(np.asarray(values, dtype=np.float64)).all())
        except (TypeError, ValueError):
            return False

    path = Path(data_path) / f"{name}.pkl"
    X, y = load_checked(path, is_x_y)
    X = keep_sparse(X) if sp.issparse(X) else X  # never made dense by accident (features.py)
    if not (all_finite(X) and all_finite(y)):
        raise UserError(f"{path} holds NaN, infinite or non-numeric values: {RUN_AGAIN}.")
    features = len(load_vectorizer(data_path).feature_names_)
    if len(X.shape) != 2 or X.shape[1] != features:
        raise UserError(
            f"{path} has {X.shape[-1]:,} feature columns but dv.pkl {features:,}: they come "
            f"from different preprocessing runs; {RUN_AGAIN}."
        )
    return X, y


def load_vectorizer(data_path: str | Path) -> Any:
    """The fitted DictVectorizer of `dv.pkl`, with the data months it records."""
    return load_checked(Path(data_path) / "dv.pkl", lambda obj: hasattr(obj, "trip_data_"))
