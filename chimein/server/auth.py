"""API keys: which requests may open a session.

Keys are checked on every place the SDK and other clients put them: ``x-goog-api-key``, a
``key=`` query parameter, and ``Authorization: Bearer|Token <key>``. With no key configured the
server accepts anyone, which is only allowed on a loopback bind (see :func:`check_bind`).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs, urlsplit


def presented_key(path: str, headers: Mapping[str, str]) -> str | None:
    """The API key a request carries, wherever it put it."""
    key = headers.get("x-goog-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    query = parse_qs(urlsplit(path).query)
    if query.get("key"):
        return query["key"][0]
    if query.get("access_token"):
        return query["access_token"][0]
    return None


class KeyChecker:
    """Constant-time comparison against the configured keys; empty means open (loopback only)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.strip() for k in keys if k and k.strip())

    @property
    def open(self) -> bool:
        return not self._keys

    def allows(self, key: str | None) -> bool:
        if self.open:
            return True
        if not key:
            return False
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in self._keys)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, checker: KeyChecker) -> None:
    """Refuse to expose an open server beyond this machine."""
    if checker.open and not is_loopback(host):
        raise SystemExit(
            f"refusing to listen on {host} without an API key: pass --api-key KEY (or set CHIMEIN_API_KEYS), "
            "or bind to 127.0.0.1"
        )
