"""The user's Ed25519 signing key and the public keys this machine trusts.

The keys live in the user's config folder (`~/.config/mlflow-homework`, or
$MLFLOW_HOMEWORK_KEY_DIR), made on first use and readable by its owner only. Trusted are
the public key of the private key there and any public key (`*.pub`, OpenSSH format) in its
`trusted-keys/` folder: a reviewer puts the team's public key there. A key is named by its
fingerprint, as `ssh-keygen -lf signing-key.pub` shows it. The cryptography is the
`cryptography` package's; nothing here imports MLflow.

A key decides which code is run, so a key file is used only if nobody but its owner (you,
or root) can change it or any folder above it, up to your home folder (or `/`), as ssh's
StrictModes has it (`check_safe`). As in Debian's ssh, a group that has its owner as only
member may write; and a folder such as /tmp, owned by root with the sticky bit, passes,
since nobody else can replace your entries in it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from homework.config import (
    CACHE_DIR,
    CACHE_DIR_VARIABLE,
    KEY_DIR,
    KEY_DIR_VARIABLE,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    TRUSTED_KEYS_DIR,
)
from homework.errors import UserError, first_line


def private_group(info: os.stat_result) -> bool:
    """True if the file's group has exactly one member, its owner (a user's own group, which
    a umask of 002 makes group-writable): Debian's rule for ssh's StrictModes."""
    import grp
    import pwd

    try:
        group, owner = grp.getgrgid(info.st_gid), pwd.getpwuid(info.st_uid)
    except KeyError:
        return False
    primary = [user.pw_uid for user in pwd.getpwall() if user.pw_gid == info.st_gid]
    return (
        set(primary) <= {owner.pw_uid}
        and set(group.gr_mem) <= {owner.pw_name}
        and (bool(primary) or bool(group.gr_mem))
    )


def unsafe(path: str, info: os.stat_result, kind: str) -> str | None:
    """Why someone other than you or root could change `path`, or None."""
    if info.st_uid not in (0, os.getuid()):
        return f"the {kind} {path} is owned by another user (uid {info.st_uid}): chown it to you"
    sticky_root_folder = kind == "folder" and info.st_uid == 0 and info.st_mode & stat.S_ISVTX
    group_may_write = info.st_mode & 0o020 and private_group(info)
    writable = info.st_mode & (0o002 if group_may_write else 0o022)
    if writable and not sticky_root_folder:
        mode = f"{stat.S_IMODE(info.st_mode):o}"
        return f"the {kind} {path} can be changed by other users (mode {mode}): chmod go-w {path}"
    return None


def check_safe(path: Path) -> None:
    """UserError unless only you (or root) can change `path` and every folder above it, up to
    your home folder if it is inside it, else up to `/` (ssh's StrictModes)."""
    real = os.path.realpath(path)
    home = os.path.realpath(Path.home())
    top = home if real.startswith(home.rstrip("/") + "/") else "/"
    kind = "folder" if os.path.isdir(real) else "key file"
    current = real
    while True:
        why = unsafe(current, os.stat(current), kind)
        if why:
            raise UserError(f"{why} (a key decides which models are loaded; {path} is not used).")
        if current in (top, "/"):
            return
        current, kind = os.path.dirname(current), "folder"


def key_dir() -> Path:
    """The folder with the user's signing key and the trusted public keys."""
    if os.environ.get(KEY_DIR_VARIABLE):
        return Path(os.environ[KEY_DIR_VARIABLE]).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / KEY_DIR


def cache_dir() -> Path:
    """The folder of what this machine keeps between runs (the gate's evaluations, the
    verified forests), used only once check_safe passes on what is read from it."""
    if os.environ.get(CACHE_DIR_VARIABLE):
        return Path(os.environ[CACHE_DIR_VARIABLE]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / CACHE_DIR


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
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = key_dir() / PRIVATE_KEY_FILE
    created = not path.exists()
    try:
        if created:
            create_key(path.parent)
        check_safe(path)
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise UserError(f"the signing key {path} is readable by others: chmod 600 {path}")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise UserError(f"the signing key {path} is not an Ed25519 key: move it away.")
        public = path.with_name(PUBLIC_KEY_FILE)
        if not public.is_file():
            public.write_bytes(public_key_line(key.public_key()))
        return key, created
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UserError(
            f"cannot use the signing key {path} ({first_line(exc)}): fix it, or move it away "
            f"and register again to make a new one (set {KEY_DIR_VARIABLE} for another folder)."
        ) from None


def read_public_key(path: Path) -> Any:
    """An Ed25519 public key from a `.pub` file (OpenSSH format, as signing-key.pub)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    check_safe(path)
    try:
        key = serialization.load_ssh_public_key(path.read_bytes().strip())
    except (OSError, ValueError, UnsupportedAlgorithm) as exc:
        raise UserError(f"cannot read the public key {path} ({first_line(exc)}).") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"{path} is not an Ed25519 public key (ssh-ed25519 ...).")
    return key


def trusted_keys() -> dict[str, tuple[Any, str]]:
    """The public keys this machine trusts, by fingerprint, each with whose it is: its own
    ("your key") and those in trusted-keys/ (by file name)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    folder = key_dir()
    keys = {}
    own = folder / PRIVATE_KEY_FILE
    if own.is_file():
        check_safe(own)
        try:
            public = serialization.load_pem_private_key(own.read_bytes(), None).public_key()
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise UserError(f"cannot read the signing key {own} ({first_line(exc)}).") from None
        keys[fingerprint(public)] = (public, "your key")
    trusted = folder / TRUSTED_KEYS_DIR
    if trusted.is_dir():
        check_safe(trusted)
        for path in sorted(trusted.glob("*.pub")):
            public = read_public_key(path)
            keys.setdefault(fingerprint(public), (public, f"{TRUSTED_KEYS_DIR}/{path.name}"))
    return keys
