"""The model's files: the forest and the DictVectorizer as data, not pickles, and its code.

Unpickling runs whatever code the file names, so the champion holds no pickle: its forest is
a skops file (skops.io: the trees' arrays and a JSON schema in a zip) and its vectorizer a
JSON list of its feature names. Reading a skops file builds only the types it is told to
trust: scikit-learn's and numpy's plain ones, plus `TRUSTED_TYPES`, the trees' node arrays,
which skops 0.15+ does not trust by default (scikit-learn does not bounds-check them, so a
crafted file could make predict() read out of bounds). The project trusts them only in files
whose signature checked out (trust/), and never takes the list from the file itself.

Shipped with the registered model (trip_model.py); it imports neither Click nor MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]  # a RandomForestRegressor's one untrusted type
VECTORIZER_FORMAT = "mlflow-homework DictVectorizer 1"
FOREST, VECTORIZER = "forest", "vectorizer"  # the model's two artifacts, and their files
ARTIFACT_FILES = {FOREST: "forest.skops", VECTORIZER: "vectorizer.json"}
# The code it runs: this folder but model_code.py (which MLflow keeps as the model file).
SHIPPED_FILES = ("__init__.py", "features.py", "files.py", "predictor.py", "trip_model.py")


def write_forest(forest: Any, path: Path) -> None:
    """Write a fitted forest as a skops file, compressed to about a third of its size (level
    1, the quickest: the file hardly bigger than at the default level, docs/performance.md)."""
    import zipfile

    import skops.io

    skops.io.dump(forest, path, compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def read_forest(path: Path) -> Any:
    """A forest from a skops file, trusting TRUSTED_TYPES beside skops' own safe types.

    A file that names any other type (a planted one: os.system, say), or is no skops file, is
    a ValueError of one line: nothing it names is built.
    """
    import zipfile

    import skops.io

    try:
        return skops.io.load(path, trusted=TRUSTED_TYPES)
    except (TypeError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # untrusted: TypeError
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(
            f"{Path(path).name} is not a forest skops reads trusting "
            f"{', '.join(TRUSTED_TYPES)} ({why})"
        ) from None


def write_vectorizer(dv: Any, path: Path) -> None:
    """Write a fitted DictVectorizer as JSON: its feature names, in column order.

    Its vocabulary is the column of each name (`features.fit_vectorizer` and scikit-learn's
    fit both make it so), which read_vectorizer rebuilds.
    """
    names = list(dv.feature_names_)
    if dv.vocabulary_ != {name: index for index, name in enumerate(names)}:
        raise ValueError("the vectorizer's vocabulary is not the column of each feature name")
    Path(path).write_text(json.dumps({"format": VECTORIZER_FORMAT, "feature_names": names}))


def read_vectorizer(path: Path) -> Any:
    """The DictVectorizer write_vectorizer wrote: what features.vectorize needs of it."""
    from sklearn.feature_extraction import DictVectorizer

    data = json.loads(Path(path).read_text())
    if data.get("format") != VECTORIZER_FORMAT:
        raise ValueError(f"{path} is not a {VECTORIZER_FORMAT} file")
    dv = DictVectorizer()
    dv.feature_names_ = data["feature_names"]
    dv.vocabulary_ = {name: index for index, name in enumerate(dv.feature_names_)}
    return dv
