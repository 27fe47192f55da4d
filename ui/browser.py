"""A headless Chromium driven by Playwright, logged in to the tracking server's UI if need be.

Chromium comes from `make install-browser` (or `CHROMIUM=/path/to/chrome`); Playwright
drives it, never its own browser download. With MLFLOW_TRACKING_USERNAME /
MLFLOW_TRACKING_PASSWORD set, the browser logs in with them, on the server's origin only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from homework.errors import UserError, first_line

CHROMIUM_VARIABLE = "CHROMIUM"  # the browser to drive, e.g. a local Google Chrome on macOS
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MACOS_CHROME = "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
# --no-sandbox: Chromium refuses to run as root without it. The rest keep it from calling home.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
WAIT_MS = 20_000  # the longest wait for one thing to show (the UI loads a few MB of scripts)
PICTURE_COLOURS = 256  # screenshots of a flat UI lose nothing visible in a 256-colour palette


class NotShown(UserError):
    """The UI did not show something it should."""


def require_playwright() -> None:
    """A UserError unless Playwright, which drives the browser, is installed."""
    if importlib.util.find_spec("playwright") is None:
        raise UserError(
            "Playwright is not installed in this environment: run `make install-browser` "
            "(requirements-ui.txt)."
        )


def chromium_path() -> str:
    """The Chromium (or Chrome) to drive: $CHROMIUM, else the first one found on this machine."""
    chosen = os.environ.get(CHROMIUM_VARIABLE)
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise UserError(
                f"{CHROMIUM_VARIABLE}={chosen} is not an executable: point it at Chromium or "
                "Google Chrome, or unset it and run `make install-browser`."
            )
        return chosen
    found = [shutil.which(name) for name in CHROMIUM_NAMES]
    found.append(MACOS_CHROME if os.access(MACOS_CHROME, os.X_OK) else None)
    for path in found:
        if path:
            return path
    raise UserError(
        f"no Chromium found ({', '.join(CHROMIUM_NAMES)}): run `make install-browser`, "
        f"or set {CHROMIUM_VARIABLE}=/path/to/chrome."
    )


def ui_address(tracking_uri: str) -> tuple[str, dict[str, str] | None]:
    """The UI's base URL (no password in it) and the HTTP basic-auth login for the browser.

    The login comes from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, as MLflow's
    clients take it, or from a user:password@ in the tracking URI.
    """
    parts = urlsplit(tracking_uri)
    if not parts.scheme.startswith("http"):
        raise UserError(
            f"--tracking_uri {tracking_uri} is not an http(s) server: the UI check needs the "
            "server `make server` starts."
        )
    username = os.environ.get("MLFLOW_TRACKING_USERNAME") or parts.username
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or parts.password
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    base = origin + parts.path.rstrip("/")
    # The browser sends the login to this server only, whatever else a page asks for.
    login = {"username": username, "password": password or "", "origin": origin}
    return base, login if username else None


def check_ui_version(base: str, login: dict[str, str] | None) -> str:
    """The server's MLflow version (its UI's, too); a UserError if it does not answer."""
    import requests

    auth = (login["username"], login["password"]) if login else None
    try:
        answer = requests.get(f"{base}/version", auth=auth, timeout=10)
    except requests.RequestException as exc:
        raise UserError(f"the server at {base} did not answer ({first_line(exc)})") from None
    if answer.status_code in (401, 403):
        raise UserError(
            f"the server at {base} refused the {'login' if login else 'anonymous visit'} "
            f"({answer.status_code}): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
        )
    if not answer.ok:
        raise UserError(f"the server at {base} answered /version with {answer.status_code}.")
    return answer.text.strip()


@contextlib.contextmanager
def open_page(chromium: str, login: dict[str, str] | None, init_script: str) -> Iterator[Any]:
    """A fresh headless Chromium page, 1280x800, logged in with `login` if given, that runs
    `init_script` before each page's own scripts (profiles.Profile.init_script)."""
    from playwright.sync_api import Error, expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # its own default is 5 s, too short behind a login
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        except Error as exc:
            raise UserError(
                f"cannot start {chromium}: {first_line(exc)[:300]} "
                f"(run `make install-browser`, or set {CHROMIUM_VARIABLE}=...)."
            ) from None
        try:
            context = browser.new_context(viewport=VIEWPORT, http_credentials=login)
            context.add_init_script(init_script)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def expecting(what: str, fix: str = "") -> Iterator[None]:
    """Turn a wait for the UI that runs out into NotShown naming `what` (and the fix)."""
    from playwright.sync_api import Error

    try:
        yield
    except (AssertionError, Error):
        raise NotShown(f"does not show {what}{fix}") from None


def save_picture(page: Any, folder: Path | None, name: str) -> None:
    """With a folder, write the page as docs/ui.md's picture `name`: a small palette PNG."""
    if folder is None:
        return
    import io

    from PIL import Image

    path = folder / name
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # two runs never share one
    with Image.open(io.BytesIO(page.screenshot(type="png"))) as shot:
        shot.convert("RGB").quantize(PICTURE_COLOURS).save(scratch, format="PNG", optimize=True)
    scratch.replace(path)  # whole or not at all
    click.echo(f"Wrote {path} ({path.stat().st_size // 1024} KB)", err=True)
