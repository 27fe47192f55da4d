"""The four pickles preprocess_data.py writes to the data folder, and how they are read back.

`dv.pkl` holds the fitted DictVectorizer, `train.pkl`, `val.pkl` and `test.pkl` each a
tuple `(X, y)`: a CSR matrix of the features and the durations in minutes, all finite.
They are written all four or none (`atomic_dir_write`), through a scratch folder
`.tmp-<pid>-*` that the next write removes if a killed process left it behind. The set is
one: `dv.pkl` records the SHA-256 of the other three (`dv.outputs_`) and is moved in last,
with Ctrl-C held back while the four are moved, and a reader refuses a file that is not the
one recorded (a set left mixed by a killed process, or a file copied in from elsewhere)
before unpickling it.

A command reads the set once (`Prepared.read`): dv.pkl is unpickled once, and each data set
the first time it is asked for; what the scripts pass down is that value, not the path.
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
from dataclasses import dataclass, field
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


def load_vectorizer(data_path: str | Path) -> Any:
    """The fitted DictVectorizer of `dv.pkl`, with the data months it records."""
    return load_checked(Path(data_path) / VECTORIZER_FILE, lambda obj: hasattr(obj, "trip_data_"))


@dataclass
class Prepared:
    """The four pickles of one data folder: the vectorizer, what it records, the data sets."""

    path: Path
    dv: Any  # the fitted DictVectorizer, with `trip_data_` and `outputs_`
    loaded: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, data_path: str | Path) -> Prepared:
        """The data folder `data_path`, once preprocess_data.py has written all four files."""
        check_outputs(data_path)
        return cls(Path(data_path), load_vectorizer(data_path))

    @property
    def trip_data(self) -> dict[str, str]:
        """dv.pkl's record of its data: the dataset, each month, its raw file and digest."""
        return self.dv.trip_data_

    def dataset(self, name: str) -> tuple[Any, Any]:
        """The `(X, y)` of one data set ('train', 'val' or 'test'), loaded once and checked.

        A file that is not the one dv.pkl recorded, a NaN or infinite value, or a matrix
        whose columns are not dv.pkl's features is refused here, before any MLflow run
        starts: the forest would fail on it inside the run and leave a FAILED run behind.
        """
        if name not in self.loaded:
            self.loaded[name] = self.load(name)
        return self.loaded[name]

    def load(self, name: str) -> tuple[Any, Any]:
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
            values = part.data if sp.issparse(part) else part  # a sparse matrix: its values
            try:
                return bool(np.isfinite(np.asarray(values, dtype=np.float64)).all())
            except (TypeError, ValueError):
                return False

        path = self.path / f"{name}.pkl"
        check_outputs(self.path, (path.name,))
        check_recorded(path, self.dv)
        X, y = load_checked(path, is_x_y)
        X = keep_sparse(X) if sp.issparse(X) else X  # never made dense by accident (features.py)
        if not (all_finite(X) and all_finite(y)):
            raise UserError(f"{path} holds NaN, infinite or non-numeric values: {RUN_AGAIN}.")
        features = len(self.dv.feature_names_)
        if len(X.shape) != 2 or X.shape[1] != features:
            raise UserError(
                f"{path} has {X.shape[-1]:,} feature columns but {VECTORIZER_FILE} "
                f"{features:,}: they come from different preprocessing runs; {RUN_AGAIN}."
            )
        return X, y

    def months(self, *names: str) -> dict[str, Any]:
        """The MetaDataset of each month in `names` ('train', 'val', 'test'), as recorded."""
        from homework.data.lineage import month_datasets

        return month_datasets(self.trip_data, names, self.path)

    def written_files(self) -> list[str]:
        """The files preprocess_data.py wrote here, as dv.pkl records them, each checked to be
        the one it wrote: Q2's answer is how many."""
        recorded = getattr(self.dv, "outputs_", {}) or dict.fromkeys(DATA_FILES)
        for name in recorded:
            check_outputs(self.path, (name,))
            check_recorded(self.path / name, self.dv)
        return [VECTORIZER_FILE, *recorded]

    def test_trips(self, raw_data_path: str | Path) -> Any:
        """The raw trips of the test month, from the very file dv.pkl was made from: the
        trips of test.pkl, in its order."""
        from homework.data.trips import read_trips, tripdata_path

        import numpy as np

        from homework.model.features import TARGET

        dataset = self.trip_data["dataset"]
        path = tripdata_path(raw_data_path, dataset, self.trip_data["test_month"])
        self.check_raw_file(path, "test")
        trips = read_trips(path, dataset)
        if not np.array_equal(trips[TARGET].to_numpy(), self.dataset("test")[1]):
            raise UserError(
                f"the trips of {path} are not those of {self.path / 'test.pkl'}: another version "
                f"of preprocess_data.py made the pickles; {RUN_AGAIN}."
            )
        return trips

    def check_raw_file(self, path: Path, name: str) -> None:
        """Refuse a raw month file that is missing or is not the one dv.pkl recorded for `name`."""
        vectorizer = self.path / VECTORIZER_FILE
        if not path.is_file():
            raise UserError(f"missing {path}, a month of {vectorizer}: pass --raw_data_path (make data).")
        recorded = self.trip_data[f"{name}_digest"]  # the first hex digits of its SHA-256
        digest = file_sha256(path)[: len(recorded)]
        if digest != recorded:
            raise UserError(
                f"{path} is not the file {vectorizer} was made from (digest {digest}, not "
                f"{recorded}): pass the --raw_data_path of that preprocessing, or run "
                "preprocess_data.py again (make q2)."
            )
