"""The ``chimein`` command line: serve, demo, models, usage, bench, voices."""

from __future__ import annotations

import argparse
import sys

from chimein import __version__

DESCRIPTION = """\
chimein: a self-hosted, offline Live API server with Proactive Audio.

The unmodified google-genai SDK connects to `chimein serve` and holds a spoken conversation
with local models (Silero VAD, Smart Turn v3, Whisper, SmolLM2 or your own OpenAI-compatible
LLM, Piper/hibari voices). With proactive audio on, the assistant listens to people talking and
answers only when its system instruction says it should.
"""

EPILOG = """\
examples:
  chimein demo                               the Proactive Audio guide's cooking dialogue, end to end
  chimein serve                              wss://127.0.0.1:8443 (SDK) and ws://127.0.0.1:8080 (browsers)
  chimein serve --llm-url http://127.0.0.1:11434/v1 --llm-model llama3.2   use Ollama for answers
  chimein serve --ledger postgresql://chimein@db/chimein --plain-port 8081   a replica behind HAProxy
                                             (deploy/README.md: several replicas, drain, /readyz, /metrics)
  chimein load --url https://127.0.0.1:8443 --sessions 8   N concurrent SDK sessions: latency, per replica
  chimein models                             the model names clients may ask for
  chimein usage --since 2026-01-01           tokens and cost from the usage ledger
  chimein bench --quick --out bench-out      the benchmark: chimein vs baselines, report.md + plots
  chimein voices add alice alice.wav         enrol a participant's voice (optional; others are learned)

State (TLS certificate, ledger, prices) lives in $CHIMEIN_HOME (default ~/.chimein).
"""


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {value}")
    return number


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0 picks a free one), got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chimein", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"chimein {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the Live API server", description="Run the Live API WebSocket server. "
                           "It prints a copy-paste client snippet, then a line starting with 'ready' once it accepts connections.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --api-key)")
    serve.add_argument("--port", type=_port, default=8443, help="TLS (wss://) port for the SDK (default 8443; 0 = any free)")
    serve.add_argument("--plain-port", type=_port, default=8080,
                       help="plain ws:// port for browsers and tools (default 8080; --no-plain disables it)")
    serve.add_argument("--no-plain", action="store_true", help="serve TLS only")
    serve.add_argument("--api-key", action="append", default=[], metavar="KEY",
                       help="accept this API key (repeatable; or CHIMEIN_API_KEYS=k1,k2). Without keys only loopback binds are allowed")
    serve.add_argument("--llm-url", help="OpenAI-compatible endpoint for answers, e.g. http://127.0.0.1:11434/v1 "
                       "(default: the embedded SmolLM2-135M)")
    serve.add_argument("--llm-model", help="model name to request from --llm-url")
    serve.add_argument("--llm-api-key", help="API key for --llm-url")
    serve.add_argument("--no-llm-judge", action="store_true",
                       help="keep every proactive-audio decision embedded. By default, with --llm-url, that model also "
                       "judges the borderline topic turns (about one in six; the decision's reason says so)")
    serve.add_argument("--no-second-opinion", action="store_true",
                       help="never give a declined turn a second hearing. By default, under an instruction that names "
                       "the assistant or gives it a wake phrase, a turn declined because nobody called it is heard "
                       "again by Whisper base while the recognisers are idle (about 0.25 s of a core), and answered "
                       "if that hears the call (\"Juno, ...\" heard first as \"Do you know ...\")")
    serve.add_argument("--ledger", help="usage ledger: sqlite:///path or postgresql://... (default $CHIMEIN_HOME/ledger.sqlite3). "
                       "With PostgreSQL, session resumption handles live there too, so replicas sharing the "
                       "database resume each other's conversations")
    serve.add_argument("--max-connection-s", type=float, default=600.0, metavar="SECONDS",
                       help="close a connection after this long, with a goAway 10 s before (default 600, like the "
                       "Live API); clients continue with session resumption")
    serve.add_argument("--drain-s", type=_seconds, default=30.0, metavar="SECONDS",
                       help="on SIGTERM: refuse new sessions, send goAway{timeLeft} to open ones and wait this long "
                       "at most for them to resume elsewhere, then exit 0 (default 30; a second signal stops at once)")
    serve.add_argument("--max-sessions", type=_positive, default=12, metavar="N",
                       help="capacity: GET /readyz answers 503 (take no new sessions) once N are open (default 12, "
                       "about what a 2-core machine holds); sessions over it are still served")
    serve.add_argument("--max-model-queue", type=_positive, default=3, metavar="N",
                       help="GET /readyz answers 503 while more than N answers wait for the language model (default 3)")
    serve.add_argument("--end-of-turn", choices=["smart_turn", "silence"], default="smart_turn",
                       help="how a turn ends: Smart Turn v3 at pauses with a silence fallback (default), or silence "
                       "only (the benchmark's baseline)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    demo = sub.add_parser("demo", help="run the Proactive Audio guide's dialogue through the SDK",
                          description="Synthesise a dialogue with distinct voices, stream it in real time through the "
                          "google-genai SDK to a chimein server started in this process, and print a live timeline.")
    demo.add_argument("--instruction", default=None, help="system instruction (default: the guide's Italian-cooking one)")
    demo.add_argument("--script", help="dialogue file: one 'SPEAKER: text' or 'SPEAKER: @recording.wav' per line")
    demo.add_argument("--no-proactive", action="store_true", help="proactive audio off: answer every turn")
    demo.add_argument("--voice", default=None, help="assistant voice, a Gemini prebuilt name (Puck, Kore, ...)")
    demo.add_argument("--out", default="chimein-demo.wav", help="where to save the conversation (default chimein-demo.wav)")
    demo.add_argument("--json", help="also write the machine-readable timeline here")
    demo.add_argument("--max-connection-s", type=_seconds, default=600.0, metavar="SECONDS",
                      help="end each connection after this long with a goAway, as the Live API does (default 600); "
                      "the demo resumes on a new connection with its session handle (try 30)")

    sub.add_parser("models", help="list the model names clients may ask for")
    sub.add_parser("usage", help="tokens, sessions and cost from the usage ledger", add_help=False)
    sub.add_parser("load", help="open N concurrent SDK sessions streaming audio: latency and sessions per replica",
                   add_help=False)
    sub.add_parser("bench", help="measure decisions, latency, robustness and cost against baselines", add_help=False)
    sub.add_parser("voices", help="enrol participants' voices (known from the first word; strangers ignored)",
                   add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["usage"]:
        from chimein.usage.report import usage_main

        return usage_main(argv[1:])
    if argv[:1] == ["voices"]:
        from chimein.perception.voices_cli import voices_main

        return voices_main(argv[1:])
    if argv[:1] == ["load"]:
        from chimein.bench.load import load_main

        return load_main(argv[1:])
    if argv[:1] == ["bench"]:
        from chimein.bench.cli import bench_main

        return bench_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "models":
        from chimein.protocol.models import format_model_table

        print(format_model_table())
        return 0
    if args.command == "serve":
        from chimein.server.run import ServeOptions, run_serve

        plain = None if args.no_plain else args.plain_port
        return run_serve(ServeOptions(
            host=args.host, port=args.port, plain_port=plain, api_keys=tuple(args.api_key),
            llm_url=args.llm_url, llm_model=args.llm_model, llm_api_key=args.llm_api_key,
            llm_judge=not args.no_llm_judge, second_opinion=not args.no_second_opinion, ledger=args.ledger, log_level=args.log_level, max_connection_s=args.max_connection_s,
            end_of_turn=args.end_of_turn, drain_s=args.drain_s, max_sessions=args.max_sessions,
            max_model_queue=args.max_model_queue,
        ))
    if args.command == "demo":
        from chimein.demo import GUIDE_INSTRUCTION, demo_main

        args.instruction = args.instruction or GUIDE_INSTRUCTION
        return demo_main(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
