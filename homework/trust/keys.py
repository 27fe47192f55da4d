"""The user's Ed25519 signing key and the public keys this machine trusts.

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
import os
import stat
from pathlib import Path
from typing import Any

from homework.errors import UserError, first_line

KEY_DIR_VARIABLE = "MLFLOW_HOMEWORK_KEY_DIR"  # overrides KEY_DIR (the tests use a temporary one)
KEY_DIR = "mlflow-homework"  # in $XDG_CONFIG_HOME, else ~/.config
PRIVATE_KEY_FILE = "signing-key.pem"  # readable by its owner only; never leaves the machine
PUBLIC_KEY_FILE = "signing-key.pub"  # what a team shares
TRUSTED_KEYS_DIR = "trusted-keys"  # other public keys (*.pub) this machine trusts


def key_dir() -> Path:
    """The folder with the user's signing key and the trusted public keys."""
    if os.environ.get(KEY_DIR_VARIABLE):
        return Path(os.environ[KEY_DIR_VARIABLE]).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / KEY_DIR


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
