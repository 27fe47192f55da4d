"""The four pickles preprocess_data.py writes to the data folder, and how they are read back.

`dv.pkl` holds the fitted DictVectorizer, `train.pkl`, `val.pkl` and `test.pkl` each a
tuple `(X, y)`: a CSR matrix of the features and the durations in minutes, all finite.
They are written all four or none (`atomic_dir_write`), through a scratch folder
`.tmp-<pid>-*` that the next write removes if a killed process left it behind. The set is
one: `dv.pkl` records the SHA-256 of the other three (`dv.outputs_`) and is moved in last,
with Ctrl-C held back while the four are moved, and a reader refuses a file that is not the
one recorded (a set left mixed by a killed process, or a file copied in from elsewhere)
before unpickling it. Q2 counts the files `dv.pkl` records (`written_files`).

Unpickling runs code: these functions only ever read what preprocess_data.py wrote, and
the data folder is the user's own.
"""

from __future__ import annotations

from homework.interrupts import ctrl_c_held_back, scratch_folder

import contextlib
import hashlib
import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from homework.config import DATASET_FILES
from homework.errors import UserError, first_line

RUN_PREPROCESSING = "run preprocess_data.py first (make q2)"
RUN_AGAIN = "run preprocess_data.py again (make q2)"
SCRATCH_PREFIX = ".tmp-"  # `make clean` removes output/.tmp-* too
VECTORIZER_FILE = DATASET_FILES[0]  # dv.pkl: written last, it records the others
DATA_FILES = DATASET_FILES[1:]  # train.pkl, val.pkl, test.pkl


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


def file_sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


@contextlib.contextmanager
def atomic_dir_write(dest: Path, order: tuple[str, ...]) -> Iterator[Path]:
    """Yield a scratch folder beside `dest`; move its files `order` into `dest`, in that order,
    only if the block succeeds.

    A failure halfway leaves what `dest` held before untouched (and no scratch folder). Ctrl-C
    is held back while the files are moved (microseconds), and acts right after.
    """
    dest.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(dest)
    with scratch_folder(f"{SCRATCH_PREFIX}{os.getpid()}-", dest) as scratch:
        yield Path(scratch)
        with ctrl_c_held_back():
            for name in order:
                os.replace(Path(scratch, name), dest / name)


def write_outputs(results: dict[str, Any], dest_path: str | Path) -> list[Path]:
    """Write dv.pkl, train.pkl, val.pkl and test.pkl: all four or, on failure, none.

    dv.pkl, written last, records the digest of each of the other three.
    """
    dest = Path(dest_path)
    try:
        with atomic_dir_write(dest, (*DATA_FILES, VECTORIZER_FILE)) as scratch:
            for file_name in DATA_FILES:
                dump_pickle(results[Path(file_name).stem], scratch / file_name)
            dv = results["dv"]
            dv.outputs_ = {name: file_sha256(scratch / name) for name in DATA_FILES}
            dump_pickle(dv, scratch / VECTORIZER_FILE)
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

    from homework.model.features import keep_sparse

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
    check_outputs(data_path, (path.name,))
    check_recorded(path, load_vectorizer(data_path))
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


def check_recorded(path: Path, dv: Any) -> None:
    """Refuse a data file that is not the one dv.pkl recorded beside it (before unpickling)."""
    recorded = getattr(dv, "outputs_", {}).get(path.name)
    if recorded is None:
        raise UserError(
            f"{path.parent / VECTORIZER_FILE} does not record {path.name} (an older "
            f"preprocess_data.py wrote it): {RUN_AGAIN}."
        )
    if file_sha256(path) != recorded:
        raise UserError(
            f"{path} is not the file preprocess_data.py wrote beside "
            f"{path.parent / VECTORIZER_FILE} (the set is mixed, or the file was replaced): "
            f"{RUN_AGAIN}."
        )


def written_files(data_path: str | Path) -> list[str]:
    """The files preprocess_data.py wrote to `data_path`, as dv.pkl records them, each checked
    to be the one it wrote: Q2's answer is how many."""
    dv = load_vectorizer(data_path)
    for name in getattr(dv, "outputs_", {}) or DATA_FILES:
        check_outputs(data_path, (name,))
        check_recorded(Path(data_path) / name, dv)
    return [VECTORIZER_FILE, *dv.outputs_]


def load_vectorizer(data_path: str | Path) -> Any:
    """The fitted DictVectorizer of `dv.pkl`, with the data months it records."""
    return load_checked(Path(data_path) / "dv.pkl", lambda obj: hasattr(obj, "trip_data_"))
