"""``chimein serve``: load the models once, open the ports, print how to connect, run until stopped."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import sys
from dataclasses import dataclass

from chimein.server.app import LiveServer, ServerConfig
from chimein.server.auth import KeyChecker, check_bind
from chimein.server.tls import ensure_certificate, server_ssl_context
from chimein.session.services import Services

CLOSE_TIMEOUT_S = 10.0
"""After the drain: how long connections may take to close before the process exits anyway."""


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8443
    plain_port: int | None = 8080
    api_keys: tuple[str, ...] = ()
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_judge: bool = True
    second_opinion: bool = True
    ledger: str | None = None
    log_level: str = "info"
    max_connection_s: float = 600.0
    end_of_turn: str = "smart_turn"
    drain_s: float = 30.0
    max_sessions: int = 12
    max_model_queue: int = 3


def client_snippet(host: str, port: int, cert: str, key: str | None) -> str:
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    api_key = key or "any-key"
    return f"""\
Connect with the google-genai SDK (it only speaks TLS; trust chimein's self-signed certificate):

    export SSL_CERT_FILE={cert}

    from google import genai
    from google.genai import types
    client = genai.Client(api_key="{api_key}",
                          http_options=types.HttpOptions(base_url="https://{shown_host}:{port}"))
    config = types.LiveConnectConfig(response_modalities=["AUDIO"],
                                     proactivity=types.ProactivityConfig(proactive_audio=True))
    async with client.aio.live.connect(model="gemini-2.5-flash-native-audio-preview-09-2025",
                                       config=config) as session: ...

or, without the environment variable:
    http_options=types.HttpOptions(base_url="https://{shown_host}:{port}",
        async_client_args={{"ssl": ssl.create_default_context(cafile="{cert}")}})
"""


async def serve_forever(options: ServeOptions) -> int:
    keys = options.api_keys or tuple(k for k in os.environ.get("CHIMEIN_API_KEYS", "").split(",") if k.strip())
    check_bind(options.host, KeyChecker(keys))
    cert, key = ensure_certificate(extra_hosts=(options.host,) if options.host not in ("127.0.0.1", "localhost") else ())
    workers = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="chimein")
    asyncio.get_running_loop().set_default_executor(workers)  # ours, so the shutdown can drop its backlog
    print("chimein: loading models (once per process)...", file=sys.stderr, flush=True)
    services = await asyncio.to_thread(
        Services.load,
        llm_url=options.llm_url,
        llm_model=options.llm_model,
        llm_api_key=options.llm_api_key,
        llm_judge=options.llm_judge,
        second_opinion=options.second_opinion,
        ledger_url=options.ledger,
    )
    from chimein.server.console import console_routes, console_url  # the browser console, served at /
    from chimein.server.metrics import InFlightModel
    from chimein.server.state import open_handle_store

    model = InFlightModel(services.llm)
    services.llm = model
    try:
        handles = await asyncio.to_thread(open_handle_store, options.ledger)
    except Exception as exc:  # the ledger opened, so this is the schema or permissions
        print(f"chimein: cannot keep resumption handles in the ledger database: {exc}", file=sys.stderr)
        return 2
    config = ServerConfig(
        host=options.host,
        port=options.port,
        plain_port=options.plain_port,
        api_keys=keys,
        ssl_context=server_ssl_context(cert, key),
        extra_http=console_routes(),
        max_connection_s=options.max_connection_s,
        end_of_turn=options.end_of_turn,
        max_sessions=options.max_sessions,
        max_model_queue=options.max_model_queue,
        model_in_flight=lambda: model.in_flight,
        handles=handles,
    )
    server = LiveServer(config, services)
    try:
        bound = await server.start()
    except OSError as exc:
        print(f"chimein: cannot listen on {options.host}: {exc.strerror or exc}. Is another server using the port? "
              "Pick another with --port/--plain-port.", file=sys.stderr)
        return 2
    tls_port = next(p for _, p, tls in bound if tls)
    print(client_snippet(options.host, tls_port, str(cert), keys[0] if keys else None), flush=True)
    urls = " ".join(f"{'wss' if tls else 'ws'}://{h}:{p}" for h, p, tls in bound)
    plain = next((p for _, p, tls in bound if not tls), None)
    print(f"console: open {console_url(options.host, plain, tls_port)} in a browser", flush=True)
    shared = " (shared with every replica using this database)" if not handles.by_reference else ""
    print(f"resumption handles: {'PostgreSQL' if not handles.by_reference else 'this process'}{shared}", flush=True)
    print(f"ready {urls}", flush=True)
    stop, force = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        (force if stop.is_set() else stop).set()  # a second signal ends the drain at once

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    await stop.wait()
    print(f"chimein: draining: no new sessions; goAway to {server.open_sessions} open sessions, "
          f"waiting up to {options.drain_s:.0f} s for them to leave (signal again to stop now)", file=sys.stderr, flush=True)
    took = await server.drain(options.drain_s, abort=force)
    print(f"chimein: drained in {took:.1f} s; shutting down", file=sys.stderr, flush=True)
    try:  # sessions still closing finish their ledger writes; bounded, so the drain time holds
        await asyncio.wait_for(server.close(), CLOSE_TIMEOUT_S)
    except TimeoutError:
        print(f"chimein: connections still closing after {CLOSE_TIMEOUT_S:.0f} s; exiting anyway", file=sys.stderr)
    # Work queued for the worker threads (audio of clients already gone) is dropped, not run.
    workers.shutdown(wait=False, cancel_futures=True)
    if services.ledger is not None:
        services.ledger.close()
    handles.close()
    print("chimein: stopped", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Exit now: a transcription still running for a client that has left would otherwise hold the
    # process (Python joins worker threads at exit) well past --drain-s. Usage is already committed.
    os._exit(0)


def run_serve(options: ServeOptions) -> int:
    logging.basicConfig(
        level=getattr(logging, options.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(serve_forever(options))
