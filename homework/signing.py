"""Model signing: the user's Ed25519 key, and a signed manifest of a model folder's files.

Loading an MLflow model unpickles it, and unpickling runs code: anyone who can write to the
tracking server or the artifact store could plant a model. So register_model.py signs the
folder of the champion it logs (`sign_folder`: the SHA-256 digest of every file, signed
with the user's private key, written as `signed-manifest.json` inside the folder), and
everything that loads a model checks the downloaded folder first (`check_folder`): signed by
a key this machine trusts, and no file changed, added or missing.

The keys live in the user's config folder (`~/.config/mlflow-homework`, or
$MLFLOW_HOMEWORK_KEY_DIR), made on first use and readable by its owner only. Trusted are
the public key of the private key there and any public key (`*.pub`, OpenSSH format) in its
`trusted-keys/` folder: a reviewer puts the team's public key there. A key is named by its
fingerprint, as `ssh-keygen -lf signing-key.pub` shows it. The cryptography is the
`cryptography` package's; nothing here imports MLflow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from homework.config import (
    KEY_DIR,
    KEY_DIR_VARIABLE,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SIGNED_MANIFEST,
    TRUSTED_KEYS_DIR,
)
from homework.errors import UserError, first_line

MANIFEST_FORMAT = "mlflow-homework signed manifest 1"
SHOWN_FILES = 3  # how many changed, added or missing files a refusal names


class Untrusted(Exception):
    """A model folder that is not signed by a trusted key, or whose files changed: why."""


def key_dir() -> Path:
    """The folder with the user's signing key and the trusted public keys."""
    if os.environ.get(KEY_DIR_VARIABLE):
        return Path(os.environ[KEY_DIR_VARIABLE]).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / KEY_DIR


# ---------------------------------------------------------------- keys


def fingerprint(public_key: Any) -> str:
    """`SHA256:...` of an Ed25519 public key, the same as `ssh-keygen -lf` prints."""
    blob = base64.b64decode(public_key_line(public_key).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def write_new_file(path: Path, data: bytes, mode: int) -> bool:
    """Write `path` with `mode` unless it exists; False if it did (another process won the race).

    The bytes go to a scratch file first, which is then linked into place: nobody ever
    reads a half-written key, and two first uses at once end with one key.
    """
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.link(scratch, path)
        return True
    except FileExistsError:
        return False
    finally:
        scratch.unlink(missing_ok=True)


def create_key(folder: Path) -> None:
    """A new Ed25519 key pair in `folder` (made readable by its owner only), if none is there."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_new_file(folder / PRIVATE_KEY_FILE, private, 0o600)


def public_key_line(key: Any) -> bytes:
    """The OpenSSH line of a public key, as in signing-key.pub (`ssh-ed25519 AAAA... comment`)."""
    from cryptography.hazmat.primitives import serialization

    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return line + b" mlflow-homework\n"


def signing_key() -> tuple[Any, bool]:
    """The user's private key, made on first use; and whether it was made just now.

    Its public key is written beside it as signing-key.pub, the file a team shares.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = key_dir() / PRIVATE_KEY_FILE
    created = not path.exists()
    try:
        if created:
            create_key(path.parent)
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise UserError(f"the signing key {path} is readable by others: chmod 600 {path}")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise UserError(f"the signing key {path} is not an Ed25519 key: move it away.")
        public = path.with_name(PUBLIC_KEY_FILE)
        if not public.is_file():
            public.write_bytes(public_key_line(key.public_key()))
        return key, created
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(
            f"cannot use the signing key {path} ({first_line(exc)}): fix it, or move it away "
            f"and register again to make a new one (set {KEY_DIR_VARIABLE} for another folder)."
        ) from None


def read_public_key(path: Path) -> Any:
    """An Ed25519 public key from a `.pub` file (OpenSSH format, as signing-key.pub)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_ssh_public_key(path.read_bytes().strip())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the public key {path} ({first_line(exc)}).") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"{path} is not an Ed25519 public key (ssh-ed25519 ...).")
    return key


def trusted_keys() -> dict[str, Any]:
    """The public keys this machine trusts, by fingerprint: its own and those in trusted-keys/."""
    from cryptography.hazmat.primitives import serialization

    folder = key_dir()
    keys = []
    own = folder / PRIVATE_KEY_FILE
    if own.is_file():
        try:
            keys.append(serialization.load_pem_private_key(own.read_bytes(), None).public_key())
        except (OSError, ValueError, TypeError) as exc:
            raise UserError(f"cannot read the signing key {own} ({first_line(exc)}).") from None
    keys += [read_public_key(path) for path in sorted((folder / TRUSTED_KEYS_DIR).glob("*.pub"))]
    return {fingerprint(key): key for key in keys}


# ---------------------------------------------------------------- manifests


def file_digests(folder: Path) -> dict[str, str]:
    """`relative/path: sha256 hex` of every file under `folder`, but the signed manifest."""
    digests = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent, name)
            relative = path.relative_to(folder).as_posix()
            if relative != SIGNED_MANIFEST:
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


def check_folder(folder: Path) -> tuple[str, int]:
    """Check a downloaded model folder before anything in it is loaded.

    Returns the signer's fingerprint and the number of files checked. Raises Untrusted
    (with why) unless a trusted key signed the manifest and every file is as signed.
    """
    from cryptography.exceptions import InvalidSignature

    key_id, files, signature = read_manifest(folder)
    key = trusted_keys().get(key_id)
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
    return key_id, len(files)
