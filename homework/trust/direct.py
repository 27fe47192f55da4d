"""A registered trip model fetched over REST, verified, and read by this project's own code.

Loading the champion through MLflow means importing it (seconds) and letting it run the
model's code, for what is, for this project's own champions, two data files and the code in
homework/model/. So predict.py and answers.py (Q6) first try this: ask the tracking server
which version the alias (or number) names now, fetch that version's signed manifest and every
file it lists (plain REST calls to the tracking server only), check them as every download is
checked (manifest.check_folder: each file's digest, the signature, by a key trusted now), and,
if the model's code is file for file this project's homework/model/ (so reading its files here
predicts what running its code would), read its forest and vectorizer into a TripPredictor.
The model is fetched and checked on every call: a moved alias, a changed file or a key no
longer trusted is noticed every time. Only the forest of a verified file is kept, as this
machine's own pickle named after the file's digest (`verified_forest`): reading it with skops
costs seconds, most of a one-trip prediction.

Anything else (a local store, an older or foreign champion, a failed request, a refusal) is
None: the caller then loads the model through MLflow as before (loading.load_trip_model),
which says in one line what is wrong, if anything is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from homework.config import SIGNED_MANIFEST
from homework.errors import UserError
from homework.model import files as model_files
from homework.trust.manifest import Signed, Untrusted, check_folder

if TYPE_CHECKING:
    from homework.model.predictor import TripPredictor

REGISTERED = re.compile(r"models:/([^/@]+)(?:@([^/@]+)|/(\d+))")  # by alias, or by number
CODE = Path("code", "homework", "model")  # where a champion holds the code it runs


class Fetched(NamedTuple):
    """A verified copy of a registered version: its folder, its record (as the REST API gives
    it, tags as a dict), its signature and the SHA-256 of its signed manifest."""

    folder: Path
    version: dict[str, Any]
    signed: Signed
    manifest_sha256: str


def fetch_verified(model_uri: str, tracking_uri: str, folder: Path) -> Fetched | None:
    """Fetch the registered version `model_uri` names into `folder` and check it; None if it
    is not a registered version on an HTTP tracking server, or anything fails or is refused."""
    import hashlib

    from homework.tracking.rest import Rest

    registered = REGISTERED.fullmatch(model_uri)
    if not (registered and tracking_uri.startswith(("http://", "https://"))):
        return None
    name, alias, number = registered.groups()
    try:
        server = Rest(tracking_uri)
        version = server.version_by_alias(name, alias) if alias else server.version(name, number)
        if version is None:
            return None

        def fetch(path: str) -> bytes:
            where = {"name": name, "version": version["version"], "path": path}
            return server.content("/model-versions/get-artifact", where)

        manifest = fetch(SIGNED_MANIFEST)
        for path in json.loads(manifest)["files"]:
            target = (folder / path).resolve()
            if not target.is_relative_to(folder.resolve()):
                return None  # a name that climbs out of the folder is no file of a model
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(fetch(path))
        (folder / SIGNED_MANIFEST).write_bytes(manifest)
        signed = check_folder(folder)  # every file as signed, by a key trusted now
    except (UserError, OSError, ValueError, KeyError, TypeError, Untrusted):
        return None
    return Fetched(folder, version, signed, hashlib.sha256(manifest).hexdigest())


def same_code(model: Path) -> bool:
    """True if the model's code is this project's homework/model/, file for file."""
    ours = Path(model_files.__file__).parent
    theirs = model / CODE
    shipped = {path.name for path in theirs.glob("*.py")} if theirs.is_dir() else set()
    return shipped == set(model_files.SHIPPED_FILES) and all(
        (theirs / name).read_bytes() == (ours / name).read_bytes() for name in shipped
    )


def load_direct(
    model_uri: str, tracking_uri: str, folder: Path
) -> tuple[TripPredictor, Fetched] | None:
    """The registered trip model `model_uri` as a TripPredictor, read without MLflow from its
    verified copy in `folder` (see the module's docstring); None if it cannot be."""
    from homework.model.files import ARTIFACT_FILES, FOREST, VECTORIZER, read_vectorizer
    from homework.model.predictor import TripPredictor

    fetched = fetch_verified(model_uri, tracking_uri, folder)
    if fetched is None or not same_code(folder):
        return None
    artifacts = folder / "artifacts"
    try:
        dv = read_vectorizer(artifacts / ARTIFACT_FILES[VECTORIZER])
        return TripPredictor(dv, verified_forest(artifacts / ARTIFACT_FILES[FOREST])), fetched
    except (OSError, ValueError, UserError):
        return None


def verified_forest(skops_file: Path) -> Any:
    """The forest of a verified skops file: from this machine's pickle of it, kept under the
    file's SHA-256 when it was first read, else read with skops (and kept).

    Reading a skops file audits every array it holds and costs the import of skops, seconds
    for one trip; the kept pickle is the project's own file, made from a file whose signature
    checked out, in a folder only you (or root) can change (check_safe), named after both
    digests: a file that is not what was written is read with skops again.
    """
    import hashlib
    import pickle

    from homework.model.files import read_forest
    from homework.trust.keys import cache_dir, check_safe

    digest = hashlib.sha256(skops_file.read_bytes()).hexdigest()
    kept_folder = cache_dir() / "forests"
    for kept in kept_folder.glob(f"{digest}-*.pkl"):
        data = kept.read_bytes()
        with contextlib.suppress(UserError, pickle.UnpicklingError, EOFError, AttributeError):
            check_safe(kept)
            if kept.name == f"{digest}-{hashlib.sha256(data).hexdigest()[:16]}.pkl":
                return pickle.loads(data)
            kept.unlink()  # not what was written (a write cut short): read the skops file again
    forest = read_forest(skops_file)
    data = pickle.dumps(forest, protocol=pickle.HIGHEST_PROTOCOL)
    with contextlib.suppress(OSError, UserError):
        kept_folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_safe(kept_folder)
        scratch = kept_folder / f".{digest}.{os.getpid()}"
        scratch.write_bytes(data)
        os.replace(scratch, kept_folder / f"{digest}-{hashlib.sha256(data).hexdigest()[:16]}.pkl")
    return forest
