"""A signed manifest of a model folder: every file's SHA-256, signed with the user's key.

Loading an MLflow model unpickles it or runs its code: anyone who can write to the tracking
server or the artifact store could plant a model. So every model the project logs is signed
(`sign_folder`: the digest of every file, signed with the user's private key, written as
`signed-manifest.json` inside the folder), and everything that loads a model checks the
downloaded folder first (`check_folder`): signed by a key this machine trusts (keys.py), and
no file changed, added or missing, once the files plain MLflow and Python add to a model
folder are removed from the copy (additions.py). Nothing here imports MLflow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

from homework.config import SIGNED_MANIFEST, TRUSTED_KEYS_DIR
from homework.trust.additions import drop_additions
from homework.trust.keys import fingerprint, key_dir, signing_key, trusted_keys

MANIFEST_FORMAT = "mlflow-homework signed manifest 1"
SHOWN_FILES = 3  # how many changed, added or missing files a refusal names
LINK = "symbolic link"  # the "digest" of a link: a downloaded copy never holds one


class Signed(NamedTuple):
    """What check_folder found: the signing key's fingerprint, whose key it is ("your key",
    "trusted-keys/team.pub") and how many files it signed."""

    key_id: str
    owner: str
    files: int


class Untrusted(Exception):
    """A model folder that is not signed by a trusted key, or whose files changed: why."""


def file_digests(folder: Path) -> dict[str, str]:
    """`relative/path: sha256 hex` of every file under `folder`, but the signed manifest.

    A symbolic link (to a file or a folder) is listed as such, never followed: it is never
    signed, so it shows as added.
    """
    digests = {}
    for parent, folders, names in os.walk(folder):
        for name in [*names, *folders]:
            path = Path(parent, name)
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                digests[relative] = LINK
            elif relative != SIGNED_MANIFEST and name in names:
                with open(path, "rb") as file:
                    digests[relative] = hashlib.file_digest(file, "sha256").hexdigest()
    return dict(sorted(digests.items()))


def signed_bytes(key_id: str, files: dict[str, str]) -> bytes:
    """What the signature covers: the format, the key's fingerprint and every file's digest."""
    payload = {"format": MANIFEST_FORMAT, "key": key_id, "files": files}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign_folder(folder: Path) -> tuple[str, bool]:
    """Sign every file of a model folder into `folder/signed-manifest.json`.

    Returns the key's fingerprint and whether the key was made just now.
    """
    key, created = signing_key()
    key_id = fingerprint(key.public_key())
    drop_additions(folder)  # never signed: see additions.py
    files = file_digests(folder)
    signature = base64.b64encode(key.sign(signed_bytes(key_id, files))).decode()
    manifest = {"format": MANIFEST_FORMAT, "key": key_id, "files": files, "signature": signature}
    (folder / SIGNED_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return key_id, created


def read_manifest(folder: Path) -> tuple[str, dict[str, str], bytes]:
    """The key fingerprint, file digests and signature of `folder`'s manifest, or Untrusted."""
    path = folder / SIGNED_MANIFEST
    if not path.is_file():
        raise Untrusted(f"it is unsigned (it has no {SIGNED_MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
        key_id, files = manifest["key"], manifest["files"]
        signature = base64.b64decode(manifest["signature"], validate=True)
        if not (isinstance(key_id, str) and isinstance(files, dict)):
            raise TypeError("wrong field types")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise Untrusted(f"its {SIGNED_MANIFEST} is not a signed manifest") from None
    return key_id, files, signature


def differences(signed: dict[str, str], actual: dict[str, str]) -> str:
    """The files changed, added or missing since signing, as `changed a, b; missing c`."""
    kinds = {
        "changed": [name for name in signed if name in actual and actual[name] != signed[name]],
        "added": [name for name in actual if name not in signed],
        "missing": [name for name in signed if name not in actual],
    }
    parts = []
    for kind, names in kinds.items():
        if names:
            more = f" (and {len(names) - SHOWN_FILES} more)" if len(names) > SHOWN_FILES else ""
            parts.append(f"{kind} {', '.join(names[:SHOWN_FILES])}{more}")
    return "; ".join(parts)


def check_folder(folder: Path) -> Signed:
    """Check a downloaded model folder (a local copy) before anything in it is loaded.

    First removes from it what plain MLflow and Python add to a model folder and no manifest
    lists (additions.drop_additions). Raises Untrusted (with why) unless a trusted key signed
    the manifest and every file is as signed.
    """
    from cryptography.exceptions import InvalidSignature

    key_id, files, signature = read_manifest(folder)
    drop_additions(folder, files)
    key, owner = trusted_keys().get(key_id, (None, ""))
    if key is None:
        raise Untrusted(
            f"it is signed by another key ({key_id}), not one this machine trusts "
            f"(its own in {key_dir()}, or a *.pub in {key_dir() / TRUSTED_KEYS_DIR})"
        )
    try:
        key.verify(signature, signed_bytes(key_id, files))
    except InvalidSignature:
        raise Untrusted(
            f"its {SIGNED_MANIFEST} was changed after signing (the signature does not match)"
        ) from None
    changed = differences(files, file_digests(folder))
    if changed:
        raise Untrusted(f"its files are not the signed ones: {changed}")
    return Signed(key_id, owner, len(files))
