"""The fast runner: the real LiveSession, in process, on a clock that skips idle time.

No network and no SDK: the runner builds the same setup a client would send, creates a
:class:`~chimein.session.live.LiveSession` on the shared models, feeds it the scene in 100 ms
chunks and records what it sends. Time is virtual but honest about compute:

* while any model call is in flight (VAD, Smart Turn, Whisper, relevance, LLM, TTS: all run in
  the loop's default executor, which counts them), virtual time runs at the speed of the wall
  clock, so a 400 ms transcription costs 400 ms of latency, as it would live;
* while nothing is in flight and the session is only waiting (for more audio, or for its own
  output pacing), the clock jumps ahead in 10 ms steps instead of sleeping.

So a scene of mostly listening runs several times faster than real time. Where its figures
differ from the live runner's: no network or JSON/base64 cost, no SDK, and no second process
competing for the CPU; timers may fire up to 10 ms late. The session's pacing, Smart Turn
waits and silence timeouts are all on this clock, exactly as in the server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from chimein.bench.builder import RenderedScene
from chimein.bench.configs import RunConfig, setup_wire
from chimein.bench.mixer import InputMixer
from chimein.bench.trace import RunTrace, usage_from_wire
from chimein.perception.audio import float_to_pcm16

CHUNK_S = 0.1
CHUNK_SAMPLES = 1600
JUMP_S = 0.01
DRAIN_LIMIT_S = 60.0


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that knows how many jobs are queued or running."""

    def __init__(self, max_workers: int = 4) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="bench-worker")
        self._count = 0
        self._count_lock = threading.Lock()
        self.on_idle: Callable[[], None] | None = None  # called (from a worker thread) when the count drops to 0

    @property
    def in_flight(self) -> int:
        return self._count

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._count_lock:
            self._count += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            with self._count_lock:
                self._count -= 1
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._count_lock:
            self._count -= 1
            idle = self._count == 0
        if idle and self.on_idle is not None:
            self.on_idle()


class SkipIdleLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` can be moved forward (never back)."""

    def __init__(self) -> None:
        super().__init__()
        self._offset = 0.0

    def time(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._offset += seconds


def end_of_turn_supported() -> bool:
    """Whether this chimein's SessionOptions has the ``end_of_turn`` switch the silence baseline needs."""
    from chimein.session.live import SessionOptions

    return any(f.name == "end_of_turn" for f in dataclasses.fields(SessionOptions))


class FastRunner:
    """Runs scenes one after another on one set of shared models."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.loop = SkipIdleLoop()
        self.executor = CountingExecutor()
        self.loop.set_default_executor(self.executor)
        self.loop.answer_executor = self.executor  # type: ignore[attr-defined]  # answers count as model work too
        self.ledger = services.ledger
        self._idle = asyncio.Event()
        self.executor.on_idle = lambda: self.loop.call_soon_threadsafe(self._idle.set)

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()

    def run(self, scene: RenderedScene, config: RunConfig) -> RunTrace:
        started = time.perf_counter()
        trace = RunTrace(scenario_id=scene.scenario.id, config=config.name, runner="fast")
        try:
            self.loop.run_until_complete(self._run(scene, config, trace))
        except Exception as exc:  # one broken scene must not end the benchmark
            trace.error = f"{type(exc).__name__}: {exc}"
        trace.wall_s = time.perf_counter() - started
        return trace

    # ------------------------------------------------------------------ the run

    async def _run(self, scene: RenderedScene, config: RunConfig, trace: RunTrace) -> None:
        from chimein.protocol.messages import AudioChunk, parse_setup
        from chimein.protocol.models import resolve_model
        from chimein.session.live import LiveSession, SessionOptions

        loop = self.loop
        t0 = loop.time()

        def clock() -> float:
            return loop.time() - t0

        mixer = InputMixer(scene)

        async def send(message: dict[str, Any]) -> None:
            record_wire_message(trace, mixer, clock(), message)

        def observe(event: dict[str, Any]) -> None:
            trace.events.append({**event, "t": round(clock(), 4)})

        options: dict[str, Any] = {"clock": clock, "observer": observe}
        if config.end_of_turn != "smart_turn":
            if not end_of_turn_supported():
                raise RuntimeError("this chimein has no SessionOptions.end_of_turn: the silence-threshold baseline cannot run")
            options["end_of_turn"] = config.end_of_turn
        if scene.enrolments:
            from chimein.perception.speakers import enrolled_voice

            options["enrolled_voices"] = tuple(
                enrolled_voice(name, audio, self.services.speakers) for name, audio in scene.enrolments.items()
            )
        setup = parse_setup(setup_wire(scene.scenario.setup, config))
        session = LiveSession(setup, resolve_model(setup.model), self.services, send, SessionOptions(**options))
        try:
            chunks = math.ceil(mixer.total / CHUNK_SAMPLES)
            for i in range(chunks):
                await self._wait_until(clock, (i + 1) * CHUNK_S)
                audio = mixer.next_chunk(CHUNK_SAMPLES)
                trace.sent_samples += len(audio)
                await session.handle(AudioChunk(pcm=float_to_pcm16(audio), rate=16000))
                mixer.tick(clock())
            i = chunks
            while True:  # the microphone stays open while the assistant finishes
                await self._settle()
                if self.executor.in_flight == 0 and not mixer.lingering(clock()):
                    break
                i += 1
                await self._wait_until(clock, i * CHUNK_S)
                audio = mixer.next_chunk(CHUNK_SAMPLES)
                if not len(audio):
                    break
                trace.sent_samples += len(audio)
                await session.handle(AudioChunk(pcm=float_to_pcm16(audio), rate=16000))
            await self._drain(clock)
        finally:
            mixer.finish()
            trace.placed = mixer.placed
            await session.close()
            await self._settle()
        trace.session_id = session.session_id
        trace.ledger = self._ledger_totals(session.session_id)

    async def _settle(self) -> None:
        for _ in range(4):
            await asyncio.sleep(0)

    async def _wait_until(self, clock: Callable[[], float], due: float) -> None:
        while (left := due - clock()) > 0:
            if self.executor.in_flight == 0:
                await self._settle()
                if self.executor.in_flight == 0:
                    self.loop.advance(min(JUMP_S, left))
                    await self._settle()
                    continue
            # Model work in flight: real time passes; wake when it is done or when due.
            self._idle.clear()
            if self.executor.in_flight == 0:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=left)

    async def _drain(self, clock: Callable[[], float]) -> None:
        """After the last chunk: let work in flight finish (real time), then stop."""
        deadline = clock() + DRAIN_LIMIT_S
        while clock() < deadline:
            await self._settle()
            if self.executor.in_flight == 0:
                return
            self._idle.clear()
            if self.executor.in_flight:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), timeout=0.5)

    def _ledger_totals(self, session_id: str) -> dict[str, int] | None:
        if self.ledger is None:
            return None
        events = self.ledger.events(session_id=session_id)
        return {
            "prompt_audio": sum(e.prompt_audio_tokens for e in events),
            "response_audio": sum(e.response_audio_tokens for e in events),
            "turns": len(events),
        }


def record_wire_message(trace: RunTrace, mixer: InputMixer | None, t: float, message: dict[str, Any]) -> None:
    """Reduce one server frame (wire JSON) into the trace, and tell the mixer what was heard."""
    if "setupComplete" in message:
        trace.add(t, "setup_complete")
        return
    if mixer is not None:
        mixer.on_message(t)
    content = message.get("serverContent")
    if not isinstance(content, dict):
        return
    for part in (content.get("modelTurn") or {}).get("parts") or []:
        inline = part.get("inlineData")
        if inline and inline.get("data"):
            pcm = base64.b64decode(inline["data"])
            trace.add(t, "audio", samples=len(pcm) // 2)
            if mixer is not None:
                mixer.on_audio(t, pcm)
        elif part.get("text"):
            trace.add(t, "output_text", text=part["text"])
    if content.get("inputTranscription"):
        trace.add(t, "input_text", text=content["inputTranscription"].get("text", ""))
    if content.get("outputTranscription"):
        trace.add(t, "output_text", text=content["outputTranscription"].get("text", ""))
    if content.get("interrupted"):
        trace.add(t, "interrupted")
        if mixer is not None:
            mixer.on_interrupted(t)
    if content.get("generationComplete"):
        trace.add(t, "generation_complete")
    if content.get("turnComplete"):
        trace.add(t, "turn_complete", reason=content.get("turnCompleteReason"),
                  usage=usage_from_wire(message.get("usageMetadata")))
        if mixer is not None:
            mixer.on_turn_complete(t)
