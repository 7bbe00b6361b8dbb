"""Plain-HTTP routes served beside the Live API: the landing page at ``/``."""

from __future__ import annotations

import http
from collections.abc import Callable

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from chimein import __version__

_LANDING = f"""<!doctype html><meta charset="utf-8"><title>chimein</title>
<h1>chimein {__version__}</h1>
<p>A self-hosted, offline Live API server with Proactive Audio. Connect with the google-genai SDK
(see the command line where <code>chimein serve</code> printed the snippet).</p>
"""


def _html(body: str) -> Response:
    data = body.encode()
    headers = Headers([("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))])
    return Response(http.HTTPStatus.OK.value, "OK", headers, data)


def console_routes() -> dict[str, Callable[[Request], Response | None]]:
    return {"/": lambda request: _html(_LANDING)}
