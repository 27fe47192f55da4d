"""model/files.py: the forest as skops and the vectorizer as JSON give the same predictions,
and hold no pickle (the scanner the champion's tests use is checked here on real pickles);
trust/formats.py reads a skops forest trusting only the project's list."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io
from pickle_scan import pickles_in_folder

from homework.data.pickles import Prepared
from homework.data.trips import read_trips
from homework.forest import fit_forest
from homework.model.features import vectorize
from homework.model.files import (
    TRUSTED_TYPES,
    read_forest,
    read_vectorizer,
    write_forest,
    write_vectorizer,
)
from homework.trust.formats import load_forest


def test_the_forest_and_vectorizer_as_data_predict_the_same(
    prepared_dir: Path, tmp_path: Path
) -> None:
    X_train, y_train = Prepared.read(prepared_dir).dataset("train")
    forest = fit_forest(X_train, y_train, n_estimators=3, min_samples_leaf=2, random_state=1)
    dv = Prepared.read(prepared_dir).dv
    folder = tmp_path / "model"
    folder.mkdir()
    write_forest(forest, folder / "forest.skops")
    write_vectorizer(dv, folder / "vectorizer.json")
    # What skops refuses in a forest is exactly what the project trusts: the trees' arrays.
    assert skops.io.get_untrusted_types(file=folder / "forest.skops") == TRUSTED_TYPES
    with pytest.raises(skops.io.exceptions.UntrustedTypesFoundException):
        skops.io.load(folder / "forest.skops")

    trips = read_trips(prepared_dir.parent / "data" / "green_tripdata_2023-03.parquet")
    trips.loc[0, "PULocationID"] = 999  # a zone pair the vectorizer never saw
    expected = forest.predict(vectorize(trips, dv))
    again = read_forest(folder / "forest.skops").predict(
        vectorize(trips, read_vectorizer(folder / "vectorizer.json"))
    )
    assert np.array_equal(again, expected)  # bit-identical
    assert pickles_in_folder(folder) == (2, [])
    assert pickles_in_folder(prepared_dir)[1]  # the preprocessing's four are pickles


def test_a_vectorizer_file_of_another_kind_is_refused(prepared_dir: Path, tmp_path: Path) -> None:
    dv = Prepared.read(prepared_dir).dv
    dv.vocabulary_ = {name: index + 1 for name, index in dv.vocabulary_.items()}
    with pytest.raises(ValueError, match="not the column of each feature name"):
        write_vectorizer(dv, tmp_path / "shifted.json")
    (tmp_path / "other.json").write_text(json.dumps({"feature_names": ["a"]}))
    with pytest.raises(ValueError, match="is not a mlflow-homework DictVectorizer 1 file"):
        read_vectorizer(tmp_path / "other.json")


def test_the_scanner_finds_every_kind_of_pickle(tmp_path: Path) -> None:
    """So that finding none in a model means something."""
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        (tmp_path / f"p{protocol}.bin").write_bytes(pickle.dumps({"a": [1.5]}, protocol))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "model.skops", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", "{}")
        archive.writestr("inner.bin", pickle.dumps([1], 0))
    np.save(tmp_path / "floats.npy", np.ones(3))
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    count, found = pickles_in_folder(tmp_path)
    assert count == 10
    assert sorted(found) == sorted(
        [f"p{protocol}.bin" for protocol in range(6)]
        + ["objects.npy (an array of objects)", "model.skops!inner.bin"]
    )


def test_a_skops_file_with_another_type_is_refused_whatever_its_mlmodel_trusts(
    tmp_path: Path,
) -> None:
    """A planted forest, loaded with --trust_unsigned: skops refuses the function it names
    (loading it would call os.system), although the MLmodel claims to trust it."""
    from mlflow.exceptions import MlflowException
    from sklearn.preprocessing import FunctionTransformer

    folder = tmp_path / "model"
    folder.mkdir()
    skops.io.dump(FunctionTransformer(func=os.system), folder / "model.skops")
    (folder / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    serialization_format: skops\n"
        "    pickled_model: model.skops\n    skops_trusted_types: [posix.system]\n"
    )
    untrusted = "model.skops is not a forest skops reads trusting sklearn.tree._tree.Tree"
    with pytest.raises(MlflowException, match=untrusted):
        load_forest(str(folder))
