"""The login of `make server AUTH=1`: MLflow's basic-auth app, prepared before the server starts.

In AUTH_DIR (default mlflow-auth/, mode 700): basic_auth.ini (mode 600), the config that holds
the admin's password, handed to mlflow as MLFLOW_AUTH_CONFIG_PATH; flask-secret-key (mode
600), made once, the same for every worker; and the users database basic_auth.db (mode 600;
AUTH_DATABASE_URI for another). Secrets go through the environment and files only its owner
reads, never a command line. The admin `admin` gets the password of
MLFLOW_AUTH_ADMIN_PASSWORD at every start, in a new users database or an existing one.

On MLflow 2.22 the config's `authorization_function` is authorization.py's, which closes
the gaps of 2.22's basic-auth app (the server gets this project on its PYTHONPATH for it);
on another MLflow it stays basic-auth's own.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from homework.config import AUTH_ADMIN as ADMIN
from services.service import ServerError, mask

AUTH_DIR = "mlflow-auth"
PASSWORD_VARIABLE = "MLFLOW_AUTH_ADMIN_PASSWORD"
MLFLOW_DEFAULT_ADMIN_PASSWORD = "password1234"  # what MLflow's own basic_auth.ini ships
MIN_LENGTH = 12  # MLflow's own rule for every user's password
CONFIG = """[mlflow]
default_permission = NO_PERMISSIONS
database_uri = {database}
admin_username = {admin}
admin_password = {password}
authorization_function = {function}
"""
OURS = "services.authorization:authenticate"  # written for MLflow 2.22 (authorization.py)
STOCK = "mlflow.server.auth:authenticate_request_basic_auth"
# What the server's environment has: Flask-WTF (basic-auth needs it) and which MLflow.
PROBE = "import flask_wtf; from importlib.metadata import version; print(version('mlflow'))"

# Run by the server's Python: MLflow creates the admin only in a new users database, so an
# existing admin's password is set here too (read from the config, not the command line).
SYNC_ADMIN = """
from mlflow.server.auth.config import read_auth_config
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

config = read_auth_config()
store = SqlAlchemyStore()
store.init_db(config.database_uri)
if store.has_user(config.admin_username):
    store.update_user(config.admin_username, password=config.admin_password, is_admin=True)
else:
    store.create_user(config.admin_username, config.admin_password, is_admin=True)
"""


def check_password(password: str) -> None:
    """ServerError unless `password` may be the admin's."""
    if not password or password == MLFLOW_DEFAULT_ADMIN_PASSWORD:
        raise ServerError(
            f"AUTH=1 needs the admin's password in {PASSWORD_VARIABLE}, and not MLflow's "
            f"default: `export {PASSWORD_VARIABLE}=<a password of your own, 12+ characters>`, "
            "then start again."
        )
    control = any(unicodedata.category(char) == "Cc" for char in password)
    if len(password) < MIN_LENGTH or control or password != password.strip():
        raise ServerError(
            f"{PASSWORD_VARIABLE} must have 12 or more characters (as MLflow asks of every "
            "user), no control characters and no leading or trailing space: set another one."
        )


def write_private(path: Path, text: str) -> None:
    """Write `path` readable by its owner only, from its first byte on."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as file:
        file.write(text)
    path.chmod(0o600)


@dataclass
class Login:
    """The basic-auth settings of one server."""

    folder: Path
    database_uri: str
    password: str
    python: Path  # the server's environment, which runs the users-database sync

    @classmethod
    def from_env(cls, env: Mapping[str, str], python: Path) -> Login:
        folder = Path(env.get("AUTH_DIR") or AUTH_DIR)
        return cls(folder, env.get("AUTH_DATABASE_URI", ""), env.get(PASSWORD_VARIABLE, ""), python)

    def prepare(self, server_env: Mapping[str, str]) -> dict[str, str]:
        """Check the password, write the config and key, sync the admin: the variables the
        server needs (MLFLOW_AUTH_CONFIG_PATH, MLFLOW_FLASK_SERVER_SECRET_KEY)."""
        check_password(self.password)
        probe = subprocess.run([str(self.python), "-c", PROBE], capture_output=True, text=True)
        if probe.returncode:
            raise ServerError(
                f"AUTH=1 needs Flask-WTF in {self.python.parent}: run `make install-team`."
            )
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        folder = self.folder.resolve()
        database = self.database_uri or f"sqlite:///{folder}/basic_auth.db"
        key_file = folder / "flask-secret-key"
        if not key_file.is_file() or not key_file.read_text().strip():
            write_private(key_file, secrets.token_hex(32) + "\n")
        key_file.chmod(0o600)
        # configparser reads % as interpolation: written as %%.
        config = CONFIG.format(
            database=database.replace("%", "%%"),
            admin=ADMIN,
            password=self.password.replace("%", "%%"),
            function=OURS if probe.stdout.startswith("2.22.") else STOCK,
        )
        draft = folder / "basic_auth.ini.tmp"
        write_private(draft, config)
        draft.replace(folder / "basic_auth.ini")
        env = {
            "MLFLOW_AUTH_CONFIG_PATH": str(folder / "basic_auth.ini"),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": key_file.read_text().strip(),
        }
        self.sync_admin({**server_env, **env}, database)
        return env

    def sync_admin(self, env: dict[str, str], database: str) -> None:
        """Make the admin's password in the users database the one of the config."""
        done = subprocess.run(
            [str(self.python), "-c", SYNC_ADMIN],
            env=env,
            capture_output=True,
            text=True,
            umask=0o077,  # the users database (password hashes) is for its owner only
        )
        if done.returncode != 0:
            lines = (done.stdout + done.stderr).splitlines()[-5:]
            raise ServerError(
                f"could not set the admin's password in the users database {database}:",
                [mask(line, [self.password]) for line in lines],
            )
