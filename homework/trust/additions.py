"""The files plain MLflow and Python add to a model folder, told apart from planted ones.

Used the way MLflow's tutorials use it, a registered model gains files in the artifact store
itself when that store is a local folder (the default server's `./artifacts`, with the client
on the same machine), because MLflow then loads and serves the model in place:

- `mlflow.pyfunc.load_model("models:/<name>@champion")`, `mlflow.artifacts.download_artifacts`
  of a `models:/` URI and `mlflow models serve -m models:/...` write `registered_model_meta`
  beside `MLmodel`: two YAML lines, the model's name and version
  (ModelsArtifactRepository.download_artifacts, MLflow 2.x and 3.x);
- Python writes the byte code of the model's `.py` files into `__pycache__/` beside them.

No signature covers them, and none ever should: a manifest must not depend on who loaded the
model before it was signed. `drop_additions` removes exactly these from a local copy before
it is checked, and leaves everything else, which the check then refuses as added. Removing
them, rather than accepting them, means none of them is ever read or imported: a planted
`.pyc`, which Python would import in place of the signed `.py`, cannot run.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Collection
from pathlib import Path

META_FILE = "registered_model_meta"  # MLflow's, beside MLmodel
MAX_META_BYTES = 1024
# What MLflow's yaml.dump writes: the name as one plain or quoted scalar (no YAML tag, anchor
# or block), the version a quoted number (a registered version) or null (an MLflow 3 model).
META_SHAPE = re.compile(
    rb"model_name: (?![!&*|>%@`])[^\n]{1,600}\nmodel_version: (?:'[0-9]{1,9}'|null)\n"
)
BYTE_CODE_CACHE = "__pycache__"
# <module>.<implementation>-<version>[.opt-N].pyc, e.g. features.cpython-311.pyc
BYTE_CODE = re.compile(r"(?P<module>\w+)\.[a-z]+-\d+(?:\.opt-\d+)?\.pyc")


def is_mlflow_meta(path: Path) -> bool:
    """Whether `path` is a `registered_model_meta` as MLflow writes it: a small regular file
    of exactly its two lines. Read, never parsed."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_META_BYTES:
        return False
    return META_SHAPE.fullmatch(path.read_bytes()) is not None


def is_byte_code_cache(cache: Path) -> bool:
    """Whether `cache` is a `__pycache__` folder as Python writes it: a real folder holding
    only regular `<module>.<tag>.pyc` files, each for a `<module>.py` beside the folder."""
    if not stat.S_ISDIR(os.lstat(cache).st_mode):
        return False
    for entry in os.scandir(cache):
        found = BYTE_CODE.fullmatch(entry.name)
        if not (found and entry.is_file(follow_symlinks=False)):
            return False
        if not (cache.parent / f"{found['module']}.py").is_file():
            return False
    return True


def drop_additions(folder: Path, listed: Collection[str] = ()) -> list[str]:
    """Remove from a local copy of a model the files plain MLflow and Python add to it.

    `listed` are the files a manifest names, which are never removed. Returns the relative
    paths removed.
    """
    dropped = []
    meta = folder / META_FILE
    if META_FILE not in listed and is_mlflow_meta(meta):
        meta.unlink()
        dropped.append(META_FILE)
    for parent, names, _ in os.walk(folder):
        if BYTE_CODE_CACHE in names:
            cache = Path(parent, BYTE_CODE_CACHE)
            relative = cache.relative_to(folder).as_posix()
            inside = [name for name in listed if name.startswith(relative + "/")]
            if not inside and is_byte_code_cache(cache):
                shutil.rmtree(cache)
                names.remove(BYTE_CODE_CACHE)
                dropped.append(relative)
    return dropped
