"""The WebSocket server: TLS and plain ports, Live API paths, keys, limits, close codes.

Each connection gets its own :class:`~chimein.session.live.LiveSession`; a bad frame closes
only that connection, with a 1007/1008 code and a reason the SDK shows in ``APIError``. An
unexpected failure is logged with its traceback here and reported to the client as 1011 with
a short reason, never as a traceback on the wire and never as a JSON ``error`` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from chimein import __version__
from chimein.home import chimein_home
from chimein.perception.speakers import VoiceBook
from chimein.protocol import server_messages as out
from chimein.protocol.messages import (
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    ProtocolError,
    parse_client_message,
    parse_json_frame,
    parse_setup,
)
from chimein.protocol.models import resolve_model
from chimein.server.auth import KeyChecker, presented_key
from chimein.session.live import LiveSession, SessionOptions
from chimein.session.outbox import Disconnected
from chimein.session.resumption import ResumptionStore
from chimein.session.services import Services
from chimein.usage.ledger import api_key_id

log = logging.getLogger("chimein.server")

# Live API paths: Gemini API (v1, v1beta, v1alpha; Constrained for ephemeral tokens) and Vertex AI.
_GEMINI = re.compile(r"^/ws/google\.ai\.generativelanguage\.(v1|v1beta|v1alpha)\.GenerativeService\.BidiGenerateContent(Constrained)?$")
_VERTEX = re.compile(r"^/ws/google\.cloud\.aiplatform\.(v1|v1beta1)\.LlmBidiService/BidiGenerateContent$")
SETUP_TIMEOUT_S = 30.0


def route(path: str) -> str | None:
    """'gemini', 'vertex' or None for a request path (query dropped, leading slashes normalised)."""
    bare = "/" + path.split("?", 1)[0].lstrip("/")
    if _GEMINI.match(bare):
        return "gemini"
    if _VERTEX.match(bare):
        return "vertex"
    return None


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    plain_port: int | None = 8080
    api_keys: tuple[str, ...] = ()
    max_frame_bytes: int = 16 * 1024 * 1024
    output_lead_s: float = 0.25
    ssl_context: ssl.SSLContext | None = None
    on_session_event: Callable[[dict[str, Any]], None] | None = None
    extra_http: dict[str, Callable[[Request], Response | None]] = field(default_factory=dict)
    end_of_turn: str = "smart_turn"  # "silence": the benchmark's plain silence-threshold baseline
    max_connection_s: float | None = 600.0
    """A connection is closed after this long, like the Live API's ~10 minutes (None: no limit)."""
    go_away_warning_s: float = 10.0
    """``goAway{timeLeft}`` is sent this long before that close."""
    voices_dir: Path | None = None
    """Enrolled participants (``chimein voices``); default ``$CHIMEIN_HOME/voices``."""


class LiveServer:
    """Accepts Live API connections and runs one session per connection."""

    def __init__(self, config: ServerConfig, services: Services) -> None:
        self.config = config
        self.services = services
        self.keys = KeyChecker(config.api_keys)
        self._servers: list[Server] = []
        self.active_sessions = 0
        self.voices = VoiceBook(config.voices_dir or chimein_home() / "voices")
        self.resumption = ResumptionStore()  # in-process: resume on the same server process (see its module)

    async def start(self) -> list[tuple[str, int, bool]]:
        """Bind the ports; returns (host, port, tls) for each listening socket."""
        bound = []
        common = dict(
            max_size=self.config.max_frame_bytes,
            process_request=self._process_request,
            ping_interval=20,
            ping_timeout=60,
            server_header=f"chimein/{__version__}",
        )
        if self.config.ssl_context is not None:
            tls = await serve(self._handle, self.config.host, self.config.port, ssl=self.config.ssl_context, **common)
            self._servers.append(tls)
            bound.append((self.config.host, _port_of(tls), True))
        if self.config.plain_port is not None:
            plain = await serve(self._handle, self.config.host, self.config.plain_port, **common)
            self._servers.append(plain)
            bound.append((self.config.host, _port_of(plain), False))
        return bound

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP (no Upgrade header) gets the console or a helpful 404; WebSocket paths are checked."""
        if "upgrade" not in request.headers.get("connection", "").lower():
            path = request.path.split("?", 1)[0]
            handler = self.config.extra_http.get(path)
            if handler is not None:
                return handler(request)
            if path == "/healthz":
                return _text(http.HTTPStatus.OK, "ok\n")
            return _text(http.HTTPStatus.NOT_FOUND, "chimein: this is a Live API WebSocket server; connect with the google-genai SDK\n")
        if route(request.path) is None:
            return _text(
                http.HTTPStatus.NOT_FOUND,
                "unknown Live API path; use /ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent "
                "or /ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent\n",
            )
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        flavour = route(request.path) or "gemini"
        key = presented_key(request.path, request.headers)
        session: LiveSession | None = None
        limit: asyncio.Task[None] | None = None
        try:
            session = await self._open_session(ws, flavour, key)
            if session is None:
                return
            limit = asyncio.create_task(self._limit_connection(ws))
            async for frame in ws:
                for event in parse_client_message(parse_json_frame(frame)):
                    await session.handle(event)
            await ws.wait_closed()
        except ProtocolError as exc:
            log.info("closing %s: %s %s", ws.remote_address, exc.code, exc.reason)
            await ws.close(exc.code, exc.close_reason)
        except (ConnectionClosed, Disconnected):  # the client hung up: a normal end
            pass
        except Exception:
            log.exception("session failed")
            await ws.close(CLOSE_INTERNAL, "internal server error; see the chimein server log")
        finally:
            if limit is not None:
                limit.cancel()
            if session is not None:
                self.active_sessions -= 1
                await session.close()

    async def _open_session(self, ws: ServerConnection, flavour: str, key: str | None) -> LiveSession | None:
        try:
            first = await asyncio.wait_for(ws.recv(), SETUP_TIMEOUT_S)
        except TimeoutError:
            raise ProtocolError(CLOSE_POLICY, f"no setup message within {SETUP_TIMEOUT_S:.0f}s of connecting") from None
        # The key is checked after the first frame arrives, not at the handshake: a client that sends
        # its setup and then reads (the SDK does) sees a clean close with the reason, not a broken pipe.
        if not self.keys.allows(key):
            raise ProtocolError(CLOSE_POLICY, "API key not valid: pass a key the server was started with (--api-key)")
        message = parse_json_frame(first)
        body = message.get("setup")
        if body is None:
            raise ProtocolError(CLOSE_POLICY, "the first frame must be {\"setup\": {...}}; got " + (", ".join(sorted(message)[:3]) or "{}"))
        setup = parse_setup(body)
        model = resolve_model(setup.model)
        async def send(message: dict[str, Any]) -> None:
            try:
                await ws.send(json.dumps(message, separators=(",", ":")))
            except ConnectionClosed as exc:  # the client hung up (e.g. while an answer plays): a normal end
                raise Disconnected(str(exc)) from None

        enrolled = await asyncio.to_thread(self.voices.voices)  # a few small files, read off the event loop
        options = SessionOptions(
            api_key_id=api_key_id(key),
            vertex=flavour == "vertex",
            output_lead_s=self.config.output_lead_s,
            end_of_turn=self.config.end_of_turn,  # type: ignore[arg-type]
            observer=self._observer(ws, send),
            resumption=self.resumption,
            enrolled_voices=tuple(enrolled),
        )

        session = LiveSession(setup, model, self.services, send, options)
        self.active_sessions += 1
        log.info(
            "session %s opened: model=%s voice=%s proactive=%s from %s",
            session.session_id, model.name, session.voice_id, setup.proactive_audio, ws.remote_address,
        )
        await send(out.setup_complete(session.session_id))
        await session.after_setup()  # the first sessionResumptionUpdate, when the setup asked for one
        return session

    async def _limit_connection(self, ws: ServerConnection) -> None:
        """``goAway`` shortly before the connection's maximum duration, then close it.

        The client keeps its conversation by reconnecting with its latest resumption handle.
        """
        limit = self.config.max_connection_s
        if limit is None:
            return
        warning = min(self.config.go_away_warning_s, limit)
        await asyncio.sleep(limit - warning)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(out.go_away(warning), separators=(",", ":")))
            log.info("goAway to %s: %.0f s left on this connection", ws.remote_address, warning)
            await asyncio.sleep(warning)
            await ws.close(1000, f"connection reached its maximum duration ({limit:.0f} s); resume with a session handle")


    def _observer(self, ws: ServerConnection, send: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
        """The session's event stream: to the server's subscriber, and to the client if it asked.

        A client opts in with ``?chimein_events=1`` on the WebSocket URL and then also receives
        ``{"chimeinEvent": {...}}`` frames (decisions, transcripts, interruptions); SDK clients never
        ask, so they never see a frame they do not know.
        """
        assert ws.request is not None
        wants_events = parse_qs(urlsplit(ws.request.path).query).get("chimein_events", ["0"])[0] in ("1", "true")
        loop = asyncio.get_running_loop()
        subscriber = self.config.on_session_event

        def observe(event: dict[str, Any]) -> None:
            if subscriber is not None:
                subscriber(event)
            if wants_events:
                loop.create_task(_send_quietly(send, {"chimeinEvent": event}))

        return observe


async def _send_quietly(send: Callable[[dict[str, Any]], Any], message: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionClosed, Disconnected):
        await send(message)


def _port_of(server: Server) -> int:
    return next(iter(server.sockets)).getsockname()[1]


def _text(status: http.HTTPStatus, body: str) -> Response:
    headers = Headers([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body.encode())))])
    return Response(status.value, status.phrase, headers, body.encode())
