"""Where a model's files may be fetched from, decided before any request is made.

Whoever may create a model version (anyone who reaches the default server; a user with EDIT on
the team's) chooses its `source`, and whoever may create an experiment chooses where its runs'
artifacts go. MLflow fetches from, and uploads to, whatever host such a URI names, with the
client's login (MLFLOW_TRACKING_USERNAME and PASSWORD, or a token) attached to every request.
So before any request, a model's source and an experiment's artifact location are checked
against the client's own tracking URI, and nothing the server or a planter says:

- `mlflow-artifacts:/path`, without a host: the tracking server's proxied artifacts;
- `http(s)://` the tracking server's own scheme, host and port, under its
  `/api/2.0/mlflow-artifacts/artifacts/` endpoint, with no login in the URI;
- a local path (or `file:`) when the tracking server runs on this machine (a loopback
  address) or the tracking URI is a store the client writes itself (a database or folder):
  nothing leaves the machine;
- anything else is refused: another host, another scheme (s3, gs, ftp, ...), a
  `mlflow-artifacts://host/...`, a path with `..`, a malformed URI.
"""

from __future__ import annotations

import ipaddress
import posixpath
import urllib.parse

from homework.errors import UserError

ARTIFACT_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"


class ForeignSource(UserError):
    """A model or experiment whose files are not on the tracking server: why, in one line."""


def fully_unquoted(text: str) -> str:
    """`text` percent-decoded until nothing changes (`%252e` is `.` too)."""
    while (decoded := urllib.parse.unquote(text)) != text:
        text = decoded
    return text


def has_dot_segment(path: str) -> bool:
    return any(part in (".", "..") for part in fully_unquoted(path).split("/"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint(parts: urllib.parse.SplitResult) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}[scheme]


def on_this_machine(tracking_uri: str) -> bool:
    """True if a local path is where the tracking server keeps artifacts too: a server on a
    loopback address, or a store the client writes itself (a database, a folder)."""
    parts = urllib.parse.urlsplit(tracking_uri)
    if parts.scheme in ("http", "https"):
        return is_loopback((parts.hostname or "").lower())
    return True


def why_foreign(uri: str, tracking_uri: str) -> str | None:
    """Why `uri` is not where the tracking server keeps artifacts, or None if it is."""
    parts, tracking = urllib.parse.urlsplit(uri), urllib.parse.urlsplit(tracking_uri)
    scheme, served = parts.scheme.lower(), tracking.scheme in ("http", "https")
    if has_dot_segment(parts.path) or "\x00" in uri:
        return "its path has '.' or '..' in it"
    if scheme == "mlflow-artifacts":
        if parts.netloc:
            return f"it names another host ({parts.netloc})"
        return None if served else "it needs an HTTP tracking server"
    if scheme in ("http", "https"):
        if not served or endpoint(parts) != endpoint(tracking) or "@" in parts.netloc:
            return f"it is on another server ({scheme}://{parts.netloc})"
        route = tracking.path.rstrip("/") + ARTIFACT_ROUTE + "/"
        under = posixpath.normpath(fully_unquoted(parts.path)) + "/"
        return None if under.startswith(route) else "it is not under the server's artifacts"
    if scheme in ("", "file") and parts.netloc in ("", "localhost"):
        return None if on_this_machine(tracking_uri) else "a local path on another machine"
    return f"it is a {scheme or 'host'}: location, not the tracking server"


def check_source(uri: str, tracking_uri: str, what: str) -> str:
    """`uri` if its files are where the tracking server keeps artifacts; else ForeignSource,
    before any request: `what` names the model or experiment in the message."""
    try:
        why = why_foreign(uri, tracking_uri)
    except (ValueError, KeyError) as exc:  # urlsplit: "Invalid IPv6 URL", a bad port
        why = f"it is not a valid URI ({exc})"
    if why:
        raise ForeignSource(
            f"refusing {what}: its files are at {uri}, and {why}; only the tracking server "
            f"{tracking_uri} (or this machine's artifact folder) is asked for files, so your "
            "login goes nowhere else. Ask whoever runs the server to remove it."
        )
    return uri
