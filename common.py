"""What the homework scripts share: pickle I/O, RMSE and the tracking-server settings.

Everything that differs between MLflow versions is decided here, once, so the
scripts themselves never check a version.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import scipy.sparse as sp

# Fail fast when the tracking server is down: a couple of quick retries, not minutes of back-off.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
DATASET_FILES = ("dv.pkl", "train.pkl", "val.pkl", "test.pkl")
HPO_EXPERIMENT_NAME = "random-forest-hyperopt"
SEARCH_TAG = "hpo.search_id"
MODEL_ARTIFACT = "model"
# The one place that knows which MLflow is installed (2.22 by default, 3.x with `MLFLOW=3`).
MLFLOW_3 = int(version("mlflow").split(".")[0]) >= 3


# ---------------------------------------------------------------- pickles


def dump_pickle(obj: Any, path: str | Path) -> None:
    with open(path, "wb") as f_out:
        pickle.dump(obj, f_out)


def load_pickle(path: str | Path) -> Any:
    # Only ever called on the files preprocess_data.py wrote: unpickling runs code,
    # so never point these scripts at pickles from somewhere else.
    with open(path, "rb") as f_in:
        return pickle.load(f_in)


def check_outputs(data_path: str | Path, names: tuple[str, ...] = DATASET_FILES) -> None:
    """Fail with one clear line if preprocessing has not written its files yet."""
    data_path = Path(data_path)
    if not data_path.is_dir():
        raise click.ClickException(
            f"{data_path}/ does not exist: run preprocess_data.py first (make q2)."
        )
    missing = [name for name in names if not (data_path / name).is_file()]
    if missing:
        raise click.ClickException(
            f"{data_path}/ lacks {', '.join(missing)}: run preprocess_data.py first (make q2)."
        )


def load_dataset(data_path: str | Path, name: str) -> tuple[Any, Any]:
    """Load one `(X, y)` pickle written by preprocess_data.py, e.g. name='train'."""
    check_outputs(data_path, (f"{name}.pkl",))
    path = Path(data_path) / f"{name}.pkl"
    try:
        X, y = load_pickle(path)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise click.ClickException(
            f"{path} is damaged ({exc}): run preprocess_data.py again (make q2)."
        ) from None
    return X, y


@contextlib.contextmanager
def atomic_dir_write(dest: Path) -> Iterator[Path]:
    """Yield a scratch folder beside `dest`; move its files into `dest` only if the block succeeds.

    A failure halfway leaves what `dest` held before untouched.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=dest) as scratch:
        yield Path(scratch)
        for path in sorted(Path(scratch).iterdir()):
            os.replace(path, dest / path.name)


# ---------------------------------------------------------------- metrics


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error; `mean_squared_error(squared=False)` is gone from scikit-learn."""
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y_true, y_pred))


def fit_forest(X: Any, y: Any, n_jobs: int = -1, **params: Any) -> Any:
    """Fit a RandomForestRegressor on every core, then leave it predicting on one.

    The fitted trees are the same whatever `n_jobs` (each tree has its own seed), but a
    parallel predict() adds the trees' outputs in the order its threads finish, so its
    results can differ in the last bit from run to run. Predicting on one thread keeps
    every RMSE and every logged model's predictions bit-identical; it is a small part of
    the work.
    """
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_jobs=n_jobs, **params).fit(X, y)
    return forest.set_params(n_jobs=1)


# ---------------------------------------------------------------- tracking


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


data_path_option = click.option(
    "--data_path",
    "--data-path",
    default="output",
    show_default=True,
    help="Folder with the pickles written by preprocess_data.py.",
)

num_trials_option = click.option(
    "--num_trials",
    "--num-trials",
    default=15,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of parameter settings hyperopt evaluates.",
)

top_n_option = click.option(
    "--top_n",
    "--top-n",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many of the best hyperopt runs to evaluate on the test month.",
)


def raw_data_path_option(help: str) -> Callable[[Any], Any]:
    """The `--raw_data_path` option (default `data`), with a help text saying what is read."""
    return click.option(
        "--raw_data_path", "--raw-data-path", default="data", show_default=True, help=help
    )


tracking_uri_option = click.option(
    "--tracking_uri",
    "--tracking-uri",
    default=default_tracking_uri,
    show_default="$MLFLOW_TRACKING_URI or " + DEFAULT_TRACKING_URI,
    help="MLflow tracking server to log to.",
)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def redact(text: str, uri: str) -> str:
    """`text` with the password of `uri` (as in http://user:password@host) replaced by ***."""
    password = urlsplit(uri).password
    return text.replace(f":{password}@", ":***@") if password else text


def connect(tracking_uri: str) -> None:
    """Point MLflow at the tracking server, failing in seconds with one line if it is not up."""
    import mlflow
    import requests

    mlflow.set_tracking_uri(tracking_uri)
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        requests.get(tracking_uri.rstrip("/") + "/health", timeout=5).raise_for_status()
    except requests.RequestException:
        message = (
            f"cannot reach the MLflow tracking server at {tracking_uri}: "
            "start it with `make server` (or pass --tracking_uri)."
        )
        raise click.ClickException(redact(message, tracking_uri)) from None


@contextlib.contextmanager
def tracking(tracking_uri: str) -> Iterator[None]:
    """Talk to the tracking server for the duration of the block.

    Connects first (one clear line if the server is down), sends MLflow's own
    "View run ..." chatter to stderr so stdout carries only results, and turns a
    server that stops answering mid-run into one clear line.
    """
    import requests
    from mlflow.exceptions import MlflowException

    connect(tracking_uri)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except (MlflowException, requests.RequestException) as exc:
        detail = redact(first_line(exc), tracking_uri)[:300]
        message = (
            f"the MLflow tracking server at {tracking_uri} failed: {detail} "
            "(is it still running? `make server`)"
        )
        raise click.ClickException(redact(message, tracking_uri)) from None


def set_experiment(name: str) -> Any:
    """`mlflow.set_experiment(name)`, safe when two clients create the experiment at once.

    When another client creates the experiment between MLflow's lookup and its create,
    `mlflow.set_experiment` (2.22) returns the experiment without making it the active
    one, and the runs land in "Default". Setting it again by id always makes it active.
    """
    import mlflow

    experiment = mlflow.set_experiment(name)
    return mlflow.set_experiment(experiment_id=experiment.experiment_id)


def get_experiment_id(name: str) -> str | None:
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient().get_experiment_by_name(name)
    return experiment.experiment_id if experiment else None


def newest_search() -> tuple[str, str]:
    """Experiment id and run filter for the trials of the newest hyperopt search.

    Only finished, undeleted runs with an `rmse` metric count. Runs of older searches
    stay out (they may be on other data): hpo.py tags each invocation's trials.
    """
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment_id = get_experiment_id(HPO_EXPERIMENT_NAME)
    finished = "attributes.status = 'FINISHED' and metrics.rmse >= 0"
    newest = experiment_id and client.search_runs(
        [experiment_id],
        filter_string=finished,
        run_view_type=ViewType.ACTIVE_ONLY,
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not newest:
        raise click.ClickException(
            f"experiment {HPO_EXPERIMENT_NAME!r} has no finished runs with an `rmse` metric: "
            "run hpo.py first (make q5)."
        )
    search_id = newest[0].data.tags.get(SEARCH_TAG)
    if search_id:
        finished += f" and tags.`{SEARCH_TAG}` = '{search_id}'"
    return experiment_id, finished


def log_sklearn_model(model: Any, **kwargs: Any) -> Any:
    """Log a scikit-learn model as `model` in the active run, without pip-requirement inference.

    Returns MLflow's ModelInfo. Load the model back by `runs:/<run_id>/model` or
    `model_info.model_uri`, never by artifact path: on MLflow 3 a model is not among
    its run's artifacts.
    """
    import mlflow.sklearn

    kwargs.setdefault("pip_requirements", sklearn_requirements())
    # MLflow 3's default format, skops, refuses a forest's tree types: cloudpickle, as 2.x
    # and autolog use.
    kwargs.setdefault("serialization_format", mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    return mlflow.sklearn.log_model(model, **model_name(MODEL_ARTIFACT), **kwargs)


def matrix_signature(X: Any, y: Any) -> Any:
    """The signature of a forest on the vectorised matrix (float64 tensors), from five rows."""
    from mlflow.models import infer_signature

    return infer_signature(X[:5], y[:5])


def model_name(name: str) -> dict[str, str]:
    """The keyword that names a logged model: MLflow 3 renamed `artifact_path=` to `name=`
    (and `name=` is a TypeError on 2.x)."""
    return {"name" if MLFLOW_3 else "artifact_path": name}


class SparseOnly(sp.csr_matrix):
    """A CSR matrix that refuses `toarray()`/`todense()`: see `keep_sparse`."""

    def toarray(self, order: Any = None, out: Any = None) -> Any:
        gigabytes = self.shape[0] * self.shape[1] * self.dtype.itemsize / 1e9
        raise TypeError(f"kept sparse on purpose: made dense it would take {gigabytes:.1f} GB")


def keep_sparse(X: Any) -> SparseOnly:
    """`X` (same arrays, no copy) as a matrix that cannot be made dense: fit with it under autolog.

    MLflow 3's sklearn autolog builds a dataset from the training matrix after every fit,
    whatever `log_datasets` says: `_log_posttraining_metadata` calls `_create_dataset(X, ...)`,
    which runs `X.toarray()` on a sparse X (3 GB for the 66k x 5.7k taxi matrix), only to tag
    the training metrics with the dataset; it catches any error there and goes on without it.
    So with this matrix autolog logs everything but the dataset, and memory stays small.
    scikit-learn never densifies it (the forest converts it to CSC/CSR float32 itself), and
    on MLflow 2.x, where `log_datasets=False` already skips that call, it changes nothing.
    """
    return SparseOnly(X)


def sklearn_requirements(*extra: str) -> list[str]:
    """Pinned requirements for a logged model, read from this environment (no slow inference)."""
    packages = ("mlflow", "scikit-learn", "scipy", "numpy", "cloudpickle", *extra)
    return [f"{name}=={installed_version(name)}" for name in packages]


@functools.cache
def installed_version(package: str) -> str:
    """The installed version of `package`, read once: each read parses its metadata files."""
    return version(package)
