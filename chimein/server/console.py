"""The browser console, served over plain HTTP beside the Live API (``/`` and ``/console``).

Why it exists: Proactive Audio is easiest to understand by watching it decide. The page talks
the same Live API protocol as the SDK (setup, realtimeInput audio, clientContent) on the
server it was loaded from, and also asks for chimein's event stream (``?chimein_events=1``)
to draw the timeline. Everything ships in the package (``chimein/server/console/``): no build
step, no CDN, nothing fetched from elsewhere, so it works on an offline machine.

``/console/config.json`` gives the page the server's own tables (models, voices, prices) so
that the page never carries a second copy that could drift.
"""

from __future__ import annotations

import http
import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from chimein import __version__

__all__ = ["CONSOLE_PATHS", "console_config", "console_routes", "console_url"]

log = logging.getLogger("chimein.console")

CONSOLE_PATHS = ("/", "/console", "/console/")
"""Paths that serve the console page."""

_STATIC_PREFIX = "/console/"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
# The page only talks to the server it came from; transcripts are inserted as text, and this
# policy is the second fence should a future change forget that.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; media-src 'self' blob:; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

Handler = Callable[[Request], Response | None]


def console_url(host: str, plain_port: int | None, tls_port: int | None = None) -> str:
    """The address to print for people: the plain port on loopback, else the TLS port.

    Browsers grant the microphone only to secure contexts; ``http://127.0.0.1`` is one, any other
    ``http://`` host is not, so a non-loopback bind points at the TLS port.
    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost", "") else host
    loopback = shown == "::1" or shown.startswith("127.")
    if ":" in shown:
        shown = f"[{shown}]"
    if plain_port is not None and (loopback or tls_port is None):
        return f"http://{shown}:{plain_port}/"
    return f"https://{shown}:{tls_port}/"


def console_config() -> dict[str, Any]:
    """What the page needs from the server's own tables: models, voices, prices, version."""
    from chimein.generation.tts import DEFAULT_VOICE, VOICE_NAMES
    from chimein.protocol.models import MODELS

    models = [m.name for m in MODELS if not m.replacement]
    gemini_models = [m for m in models if not m.startswith("gemini-live-")]
    voices = [{"name": name.capitalize(), "voice": voice} for name, voice in VOICE_NAMES.items() if name not in ("joe", "heart")]
    # The page names a voice in every setup: the first Gemini name for the server's own default.
    default_voice = next((v["name"] for v in voices if v["voice"] == DEFAULT_VOICE), voices[0]["name"] if voices else "")
    return {
        "version": __version__,
        "models": models,
        "defaultModel": gemini_models[0] if gemini_models else (models[0] if models else ""),
        "voices": voices,
        "defaultVoice": default_voice,
        "defaultVoiceId": DEFAULT_VOICE,
        "prices": _prices(),
    }


def _prices() -> dict[str, Any] | None:
    """The operator's price table (or the shipped example one, marked as such)."""
    try:
        from chimein.usage.report import load_prices

        prices = load_prices()
    except Exception as exc:  # a broken prices.toml must not take the console down
        log.warning("console: no price table: %s", exc)
        return None
    return {
        "currency": prices.currency,
        "example": prices.example,
        "source": prices.source,
        "perMillionTokens": {
            "input": {"audio": float(prices.input_audio), "text": float(prices.input_text)},
            "output": {"audio": float(prices.output_audio), "text": float(prices.output_text)},
        },
    }


def _response(status: http.HTTPStatus, data: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", _CSP),
        ]
    )
    return Response(status.value, status.phrase, headers, data)


def _static_files() -> dict[str, tuple[bytes, str]]:
    """Every shipped console file, read once: path -> (bytes, content type)."""
    folder = resources.files("chimein.server").joinpath("console")
    files: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    if "index.html" not in files:
        raise FileNotFoundError("chimein/server/console/index.html is missing from the package")
    return files


def console_routes() -> dict[str, Handler]:
    """Plain-HTTP routes for :class:`~chimein.server.app.ServerConfig.extra_http`."""
    files = _static_files()
    page, page_type = files["index.html"]
    routes: dict[str, Handler] = {}
    for path in CONSOLE_PATHS:
        routes[path] = lambda request, data=page, kind=page_type: _response(http.HTTPStatus.OK, data, kind)
    for name, (data, kind) in files.items():
        routes[_STATIC_PREFIX + name] = lambda request, data=data, kind=kind: _response(http.HTTPStatus.OK, data, kind)

    def config(request: Request) -> Response:
        body = json.dumps(console_config(), separators=(",", ":")).encode()
        return _response(http.HTTPStatus.OK, body, _CONTENT_TYPES[".json"])

    routes[_STATIC_PREFIX + "config.json"] = config
    return routes
