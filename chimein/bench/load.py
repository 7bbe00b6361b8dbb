"""``chimein load``: N concurrent google-genai SDK sessions streaming real-time audio at a server or HAProxy.

Each simulated client is a microphone that never stops: 100 ms chunks at the real-time pace,
a spoken question (chimein's own voices) every ``--every-s`` seconds and silence between. It
measures what a client feels: the answer latency (end of the question's audio -> first answer
audio byte). With ``sessionResumption`` on, a client that gets ``goAway`` (or loses its
connection) reconnects with its newest handle, and the tool records how long that took
(goAway or drop -> the new connection's setupComplete) and whether the conversation came back.

``--metrics URL`` (repeatable: each replica's ``/metrics``) samples ``chimein_sessions_open``
per replica while the load runs: the sessions-per-replica figure behind a load balancer.
``--drain-pid PID --drain-after S`` sends SIGTERM to one replica mid-run and reports how long it
took to exit (its drain time) and how the clients resumed elsewhere.

Numbers depend on the machine and on everything else it runs: report them with that caveat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import statistics
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chimein.bench.live import every_message
from chimein.perception.audio import float_to_pcm16, resample

MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"
CHUNK_S = 0.1
QUESTIONS = (
    "What is a good way to cook pasta?",
    "How long should I boil an egg?",
    "What is the capital of France?",
    "Can you suggest a quick breakfast?",
)


@dataclass
class ClientStats:
    client: int
    connections: int = 0
    latencies_s: list[float] = field(default_factory=list)
    unanswered: int = 0
    resumptions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _speech(text: str) -> np.ndarray:
    from chimein.generation.tts import shared_synthesizer

    clip = shared_synthesizer("heart").synthesize(text)
    return resample(clip.pcm.astype(np.float32) / 32768.0, 24000, 16000)


class LoadClient:
    """One simulated user: a real-time microphone through the SDK, resuming after goAway or a drop."""

    def __init__(self, index: int, args: argparse.Namespace, questions: list[np.ndarray], deadline: float) -> None:
        self.stats = ClientStats(index)
        self.args = args
        self.questions = questions
        self.deadline = deadline
        self.handle: str | None = None

    def _client(self) -> Any:
        from google import genai
        from google.genai import types

        ctx = ssl.create_default_context(cafile=self.args.cert) if self.args.cert else ssl.create_default_context()
        return genai.Client(api_key=self.args.api_key,
                            http_options=types.HttpOptions(base_url=self.args.url, async_client_args={"ssl": ctx}))

    async def run(self) -> ClientStats:
        from google.genai import types

        client = self._client()
        await asyncio.sleep(self.stats.client * self.args.ramp_s)
        lost_at: float | None = None
        closed_s: float | None = None  # goAway -> the old connection closed
        cause = ""
        while time.monotonic() < self.deadline:
            config = types.LiveConnectConfig(
                response_modalities=["AUDIO"],
                session_resumption=types.SessionResumptionConfig(handle=self.handle),
            )
            try:
                async with client.aio.live.connect(model=MODEL, config=config) as session:
                    self.stats.connections += 1
                    if lost_at is not None:
                        self.stats.resumptions.append({
                            "after": cause, "took_s": round(time.monotonic() - lost_at, 3),
                            "old_closed_after_s": None if closed_s is None else round(closed_s, 3),
                            "with_handle": config.session_resumption.handle is not None})
                        lost_at = closed_s = None
                    went_away = await self._converse(session)
                if not went_away:
                    return self.stats
                lost_at, cause = went_away, "goAway"
                closed_s = time.monotonic() - went_away
            except Exception as exc:  # a dropped or refused connection: resume with the newest handle
                if lost_at is None:
                    lost_at, cause = time.monotonic(), type(exc).__name__
                self.stats.errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
                if len(self.stats.errors) > 20:
                    return self.stats
                await asyncio.sleep(0.2)
        return self.stats

    async def _converse(self, session: Any) -> float | None:
        """Stream until the deadline; returns when goAway arrived (its time), None at the deadline."""
        from google.genai import types

        state: dict[str, Any] = {"asked_at": None, "go_away": None}
        answered = asyncio.Event()

        async def receive() -> None:
            async for message in every_message(session):
                update = message.session_resumption_update
                if update and update.resumable and update.new_handle:
                    self.handle = update.new_handle
                if message.go_away is not None and state["go_away"] is None:
                    state["go_away"] = time.monotonic()
                content = message.server_content
                if content is None:
                    continue
                if content.model_turn and state["asked_at"] is not None:
                    self.stats.latencies_s.append(round(time.monotonic() - state["asked_at"], 3))
                    state["asked_at"] = None
                if content.turn_complete:
                    answered.set()

        receiver = asyncio.create_task(receive())
        step = int(16000 * CHUNK_S)
        silence = np.zeros(step, np.float32)
        pending: list[np.ndarray] = []
        next_question = time.monotonic() + 1.0
        started, n = time.monotonic(), 0
        try:
            while time.monotonic() < self.deadline and state["go_away"] is None:
                if receiver.done():
                    receiver.result()  # the connection failed: raise it here
                if not pending and time.monotonic() >= next_question:
                    if state["asked_at"] is not None:
                        self.stats.unanswered += 1
                    audio = self.questions[(self.stats.client + len(self.stats.latencies_s)) % len(self.questions)]
                    pending = [audio[i:i + step] for i in range(0, len(audio), step)]
                    next_question = time.monotonic() + self.args.every_s
                    answered.clear()
                chunk = pending.pop(0) if pending else silence
                await session.send_realtime_input(audio=types.Blob(data=float_to_pcm16(chunk),
                                                                   mime_type="audio/pcm;rate=16000"))
                if chunk is not silence and not pending:
                    state["asked_at"] = time.monotonic()  # the question's last audio has been sent
                n += 1
                delay = started + n * CHUNK_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        return state["go_away"]


def _sessions_open(url: str) -> float | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("chimein_sessions_open "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


async def _sample_replicas(urls: list[str], samples: dict[str, list[float]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for url in urls:
            value = await asyncio.to_thread(_sessions_open, url)
            if value is not None:
                samples.setdefault(url, []).append(value)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def _drain(pid: int, after_s: float, result: dict[str, Any]) -> None:
    await asyncio.sleep(after_s)
    os.kill(pid, signal.SIGTERM)
    sent = time.monotonic()
    result["drain_signal_at_s"] = after_s
    while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
        await asyncio.sleep(0.05)
        if time.monotonic() - sent > 600:
            break
    result["drain_s"] = round(time.monotonic() - sent, 2)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(values, q)), 3)


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    questions = [await asyncio.to_thread(_speech, q) for q in QUESTIONS]
    deadline = time.monotonic() + args.duration_s
    clients = [LoadClient(i, args, questions, deadline) for i in range(args.sessions)]
    samples: dict[str, list[float]] = {}
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_replicas(args.metrics, samples, stop))
    drain: dict[str, Any] = {}
    drainer = asyncio.create_task(_drain(args.drain_pid, args.drain_after, drain)) if args.drain_pid else None
    started = time.monotonic()
    stats = await asyncio.gather(*(c.run() for c in clients))
    stop.set()
    await sampler
    if drainer is not None:
        await drainer
    latencies = [x for s in stats for x in s.latencies_s]
    resumptions = [r for s in stats for r in s.resumptions]
    return {
        "url": args.url,
        "sessions": args.sessions,
        "duration_s": round(time.monotonic() - started, 1),
        "answers": len(latencies),
        "unanswered_questions": sum(s.unanswered for s in stats),
        "answer_latency_s": {"p50": _pct(latencies, 50), "p90": _pct(latencies, 90), "max": _pct(latencies, 100)},
        "sessions_per_replica": {url: {"max": max(v), "mean": round(statistics.fmean(v), 2)} for url, v in samples.items()},
        "resumptions": len(resumptions),
        "resumption_s": {"p50": _pct([r["took_s"] for r in resumptions], 50),
                         "max": _pct([r["took_s"] for r in resumptions], 100),
                         "old_closed_p50": _pct([r["old_closed_after_s"] for r in resumptions
                                                 if r["old_closed_after_s"] is not None], 50)},
        "drain": drain or None,
        "errors": sorted({e for s in stats for e in s.errors})[:10],
        "clients": [asdict(s) for s in stats],
    }


def format_report(report: dict[str, Any]) -> str:
    lat = report["answer_latency_s"]
    lines = [
        f"{report['sessions']} sessions for {report['duration_s']} s at {report['url']}",
        f"answers: {report['answers']} (unanswered questions: {report['unanswered_questions']}); "
        f"latency p50 {lat['p50']} s, p90 {lat['p90']} s, max {lat['max']} s",
    ]
    for url, figures in report["sessions_per_replica"].items():
        lines.append(f"sessions open at {url}: max {figures['max']:.0f}, mean {figures['mean']}")
    if report["resumptions"]:
        r = report["resumption_s"]
        lines.append(f"resumptions: {report['resumptions']}, goAway or drop -> new setupComplete p50 {r['p50']} s, "
                     f"max {r['max']} s (of which closing the old connection p50 {r['old_closed_p50']} s)")
    if report["drain"]:
        lines.append(f"drain: SIGTERM at {report['drain']['drain_signal_at_s']} s, replica exited after "
                     f"{report['drain'].get('drain_s')} s")
    if report["errors"]:
        lines.append("errors: " + "; ".join(report["errors"]))
    return "\n".join(lines)


def load_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="chimein load", description=__doc__.split("\n\n")[0],
        epilog="example: chimein load --url https://127.0.0.1:8443 --cert ~/.chimein/tls/cert.pem --sessions 8 "
        "--metrics http://127.0.0.1:8081/metrics --metrics http://127.0.0.1:8082/metrics")
    parser.add_argument("--url", required=True, help="server or load balancer, https://HOST:PORT (the SDK's base_url)")
    parser.add_argument("--cert", help="CA file to trust (chimein's self-signed cert.pem); default: system CAs")
    parser.add_argument("--api-key", default="load", help="API key to present (default 'load')")
    parser.add_argument("--sessions", type=int, default=4, help="concurrent sessions (default 4)")
    parser.add_argument("--duration-s", type=float, default=60.0, help="how long each session streams (default 60)")
    parser.add_argument("--every-s", type=float, default=10.0, help="a spoken question this often per session (default 10)")
    parser.add_argument("--ramp-s", type=float, default=0.5, help="start the sessions this far apart (default 0.5)")
    parser.add_argument("--metrics", action="append", default=[], metavar="URL",
                        help="a replica's /metrics to sample sessions open from (repeatable)")
    parser.add_argument("--drain-pid", type=int, help="SIGTERM this replica process mid-run and time its drain")
    parser.add_argument("--drain-after", type=float, default=20.0, help="seconds into the run for --drain-pid (default 20)")
    parser.add_argument("--json", help="write the full report (every client's figures) here")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.duration_s <= 0 or args.every_s <= 0:
        parser.error("--sessions must be >= 1, --duration-s and --every-s > 0")
    if args.cert and not Path(args.cert).is_file():
        parser.error(f"--cert {args.cert}: no such file")
    report = asyncio.run(run_load(args))
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if report["answers"] else 1


if __name__ == "__main__":
    sys.exit(load_main(sys.argv[1:]))
