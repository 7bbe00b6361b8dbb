"""The live runner: the scene streamed in real time through the google-genai SDK to ``chimein serve``.

This is the truth for latency: a separate server process, TLS, the SDK's own framing, and the
microphone's pace. Each 100 ms chunk is sent when a real microphone would have it (at the end of
the 100 ms it covers), and every server message is stamped on arrival with a monotonic clock
whose zero is the start of the stream, so "speech end -> first audio byte" is measured exactly
as a client would feel it. SDK clients never see chimein's decision events, so live results
carry no decision explanations; the fast runner has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chimein.bench.builder import REPO_ROOT, RenderedScene
from chimein.bench.configs import MODEL, RunConfig, live_connect_config
from chimein.bench.mixer import InputMixer
from chimein.bench.trace import RunTrace, usage_from_wire
from chimein.perception.audio import float_to_pcm16
from chimein.server.launch import launch_server

CHUNK_S = 0.1
CHUNK_SAMPLES = 1600
SERVER_START_TIMEOUT_S = 300.0
AFTER_STREAM_S = 0.5  # keep receiving this long after the last chunk


@dataclass
class ServerHandle:
    """A reachable chimein server (started by the bench, or given with --server)."""

    base_url: str
    cert: Path | None
    api_key: str = "bench"
    process: subprocess.Popen[str] | None = None
    home: Path | None = None
    output: list[str] = field(default_factory=list)
    end_of_turn: str = "smart_turn"

    @property
    def ledger_path(self) -> Path | None:
        return self.home / "ledger.sqlite3" if self.home else None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux /proc), None if unknown."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            return (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            return None

    def peak_rss_mib(self) -> float | None:
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(home: Path, *, end_of_turn: str = "smart_turn", timeout_s: float = SERVER_START_TIMEOUT_S) -> ServerHandle:
    """Start ``chimein serve`` on free ports with its own home; wait for its 'ready' line."""
    extra = ["--log-level", "warning"] + (["--end-of-turn", end_of_turn] if end_of_turn != "smart_turn" else [])
    launched = launch_server(home, *extra, timeout_s=timeout_s, cwd=REPO_ROOT)
    return ServerHandle(f"https://127.0.0.1:{launched.tls_port}", launched.cert, process=launched.process, home=home,
                        output=launched.output, end_of_turn=end_of_turn)


class LiveRunner:
    """Streams scenes to one server, one at a time, through the SDK."""

    def __init__(self, server: ServerHandle) -> None:
        self.server = server

    def run(self, scene: RenderedScene, config: RunConfig) -> RunTrace:
        started = time.perf_counter()
        trace = RunTrace(scenario_id=scene.scenario.id, config=config.name, runner="live")
        try:
            with self._enrolled(scene):
                asyncio.run(self._run(scene, config, trace))
        except Exception as exc:  # one broken scene must not end the benchmark
            trace.error = f"{type(exc).__name__}: {exc}"
        trace.wall_s = time.perf_counter() - started
        return trace

    @contextlib.contextmanager
    def _enrolled(self, scene: RenderedScene) -> Iterator[None]:
        """Enrol the scene's participants as `chimein voices add` would (the server reads them per session)."""
        if not scene.enrolments:
            yield
            return
        if self.server.home is None:
            raise RuntimeError("this scene enrols voices, which needs a server started by the bench (not --server)")
        from chimein.perception.speakers import SpeakerEmbedder, VoiceBook

        book = VoiceBook(self.server.home / "voices")
        for name, audio in scene.enrolments.items():
            book.add(name, audio, SpeakerEmbedder.shared())
        try:
            yield
        finally:
            for name in scene.enrolments:
                book.remove(name)

    def _client(self) -> Any:
        from google import genai
        from google.genai import types

        ctx = ssl.create_default_context(cafile=str(self.server.cert)) if self.server.cert else ssl.create_default_context()
        options = types.HttpOptions(base_url=self.server.base_url, async_client_args={"ssl": ctx})
        return genai.Client(api_key=self.server.api_key, http_options=options)

    async def _run(self, scene: RenderedScene, config: RunConfig, trace: RunTrace) -> None:
        from google.genai import types

        client = self._client()
        mixer = InputMixer(scene)
        connect = live_connect_config(scene.scenario.setup, config)
        async with client.aio.live.connect(model=MODEL, config=connect) as session:
            trace.add(0.0, "setup_complete")
            session_id = getattr(session, "session_id", None)
            t0 = time.monotonic()

            def clock() -> float:
                return time.monotonic() - t0

            async def receive() -> None:
                async for message in every_message(session):
                    record_sdk_message(trace, mixer, clock(), message)

            receiver = asyncio.create_task(receive())
            try:
                scene_chunks = math.ceil(mixer.total / CHUNK_SAMPLES)
                i = 0
                while i < scene_chunks or mixer.lingering(clock()):  # the mic stays open while it answers
                    i += 1
                    delay = i * CHUNK_S - clock()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    audio = mixer.next_chunk(CHUNK_SAMPLES)
                    if not len(audio):
                        break
                    trace.sent_samples += len(audio)
                    blob = types.Blob(data=float_to_pcm16(audio), mime_type="audio/pcm;rate=16000")
                    await session.send_realtime_input(audio=blob)
                    mixer.tick(clock())
                    if receiver.done():
                        receiver.result()  # the connection failed: raise it here
                await asyncio.sleep(AFTER_STREAM_S)
            finally:
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
                mixer.finish()
                trace.placed = mixer.placed
        trace.session_id = session_id

    def read_ledger(self, traces: list[RunTrace]) -> None:
        """Fill each trace's ledger totals from the server's own ledger (servers the bench started)."""
        path = self.server.ledger_path
        if path is None or not path.is_file():
            return
        from chimein.usage.ledger import SQLiteLedger

        time.sleep(0.5)  # the server records a session's last listening usage as it closes it
        ledger = SQLiteLedger(path, create=False)
        try:
            for t in traces:
                if not t.session_id:
                    continue
                events = ledger.events(session_id=t.session_id)
                t.ledger = {
                    "prompt_audio": sum(e.prompt_audio_tokens for e in events),
                    "response_audio": sum(e.response_audio_tokens for e in events),
                    "turns": len(events),
                }
        finally:
            ledger.close()


async def every_message(session: Any) -> AsyncIterator[Any]:
    """Every server message of a google-genai live session: its receive() ends at each turnComplete."""
    while True:
        async for message in session.receive():
            yield message


def record_sdk_message(trace: RunTrace, mixer: InputMixer | None, t: float, message: Any) -> None:
    """The SDK's LiveServerMessage reduced into the trace, as record_wire_message does for JSON."""
    if mixer is not None:
        mixer.on_message(t)
    content = message.server_content
    if content is None:
        return
    if content.model_turn and content.model_turn.parts:
        for part in content.model_turn.parts:
            if part.inline_data is not None and part.inline_data.data:
                pcm = part.inline_data.data
                trace.add(t, "audio", samples=len(pcm) // 2)
                if mixer is not None:
                    mixer.on_audio(t, pcm)
            elif part.text:
                trace.add(t, "output_text", text=part.text)
    if content.input_transcription and content.input_transcription.text:
        trace.add(t, "input_text", text=content.input_transcription.text)
    if content.output_transcription and content.output_transcription.text:
        trace.add(t, "output_text", text=content.output_transcription.text)
    if content.interrupted:
        trace.add(t, "interrupted")
        if mixer is not None:
            mixer.on_interrupted(t)
    if content.generation_complete:
        trace.add(t, "generation_complete")
    if content.turn_complete:
        usage = message.usage_metadata.model_dump(exclude_none=True) if message.usage_metadata else None
        reason = content.turn_complete_reason
        trace.add(t, "turn_complete", reason=getattr(reason, "value", reason), usage=usage_from_wire(usage))
        if mixer is not None:
            mixer.on_turn_complete(t)
