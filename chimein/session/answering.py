"""Speaking one reply: language model -> clauses -> speech -> paced audio chunks.

The LLM streams in a worker thread, each clause is synthesised in a worker thread, and the audio
goes out in <= 100 ms chunks no faster than real time plus a small lead (session/pacing.py), so
an interruption stops it promptly and "what was heard" is known. Everything here acts on one
:class:`~chimein.session.speech.SpeechHandle`; it changes no turn state (it reports the first
audio through ``on_audible``).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chimein.generation.llm import ChatMessage, LanguageModel, ToolCall
from chimein.generation.scheduler import run_in_own_thread
from chimein.generation.text import ClauseSplitter
from chimein.generation.tts import OUTPUT_RATE, SpokenAudio
from chimein.memory.conversation import AnswerPlan
from chimein.perception.echo import EchoCanceller
from chimein.protocol import server_messages as out
from chimein.session.function_calls import MAX_ROUNDS
from chimein.session.pacing import CHUNK_SAMPLES, PlaybackTracker
from chimein.session.speech import SpeechHandle
from chimein.usage.tokens import UsageMeter

OnCalls = Callable[[SpeechHandle, list[ToolCall]], Awaitable[list[ChatMessage] | None]]

ONSET_HOLD_S = 0.3
"""The longest an answer's first audio waits for speech the VAD has begun to count to be confirmed
or dismissed (it needs a few 32 ms frames; input arrives in chunks of up to 100 ms)."""
ONSET_POLL_S = 0.02


@dataclass
class Playout:
    """What speaking needs from the session: the models, the meter, the echo canceller, the outbox."""

    llm: LanguageModel
    synthesizer: Callable[[], Any]  # the voice's synthesizer (loaded on first use)
    meter: UsageMeter
    echo: EchoCanceller
    input_clock_s: Callable[[], float]  # the input-audio clock (when the microphone will hear a chunk)
    clock: Callable[[], float]  # the session clock that paces output
    lead_s: float
    send: Callable[[dict[str, Any]], None]
    emit: Callable[..., None]
    on_audible: Callable[[SpeechHandle], None]
    max_tokens: int
    text_only: bool
    output_transcription: bool
    onset_pending: Callable[[], bool] = lambda: False  # speech begun but not yet confirmed by the VAD

    async def speak(self, handle: SpeechHandle, plan: AnswerPlan, *, extra: Sequence[ChatMessage] = (),
                    tools: Sequence[dict[str, Any]] = (), on_calls: OnCalls | None = None,
                    temperature: float | None = None) -> None:
        """Stream the reply; returns when all of it was sent (or raises the LLM's error).

        With ``tools`` the model may call functions: ``on_calls`` sends them and returns the messages
        that continue the reply from their results (None: the reply ends here, e.g. NON_BLOCKING calls).
        """
        clips: asyncio.Queue[SpokenAudio | None] = asyncio.Queue()
        player = None if self.text_only else asyncio.ensure_future(self._play(handle, clips))
        messages = [*plan.messages, *extra]
        try:
            for round_index in range(MAX_ROUNDS + 1):
                offer = list(tools) if plan.fixed_reply is None and round_index < MAX_ROUNDS else []
                calls = await self._round(handle, plan, messages, offer, temperature, clips)
                if not calls or on_calls is None:
                    break
                more = await on_calls(handle, calls)
                if more is None:
                    break
                messages += more
            await clips.put(None)
            if player is not None:
                await player
        finally:
            handle.cancel.set()
            if player is not None and not player.done():
                player.cancel()

    async def _round(self, handle: SpeechHandle, plan: AnswerPlan, messages: list[ChatMessage],
                     tools: list[dict[str, Any]], temperature: float | None,
                     clips: asyncio.Queue[SpokenAudio | None]) -> list[ToolCall]:
        """One LLM call: its clauses go to TTS (or text) as they come; returns the functions it called."""
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue[str | ToolCall | BaseException | None] = asyncio.Queue()
        stop = threading.Event()  # this call; handle.cancel stops the whole reply

        def produce() -> None:
            try:
                if plan.fixed_reply is not None:
                    items: Iterator[str | ToolCall] = plan.stream_reply(self.llm, max_tokens=self.max_tokens, cancel=stop)
                elif tools or (temperature is not None and hasattr(self.llm, "stream_turn")):
                    items = self.llm.stream_turn(messages, tools=tools, max_tokens=self.max_tokens,  # type: ignore[attr-defined]
                                                 cancel=stop, temperature=temperature)
                else:
                    items = self.llm.stream_reply(messages, max_tokens=self.max_tokens, cancel=stop,
                                                  conversation=plan.conversation)
                for item in items:
                    if handle.cancel.is_set():
                        break
                    loop.call_soon_threadsafe(deltas.put_nowait, item)
            except BaseException as exc:  # handed to the loop, re-raised there
                loop.call_soon_threadsafe(deltas.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(deltas.put_nowait, None)

        producer = run_in_own_thread(produce)  # never in the default pool that listening needs
        splitter = ClauseSplitter(max_sentences=2)
        calls: list[ToolCall] = []
        try:
            while True:
                item = await deltas.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, ToolCall):
                    calls.append(item)
                    continue
                self._stage(handle, "first_token")
                if splitter.done:
                    continue
                for clause in splitter.feed(item):
                    first = self._stage(handle, "first_clause", words=len(clause.split()))
                    await self._clause(handle, clause, clips, first=first)
                if splitter.done and not tools:
                    stop.set()
            for clause in splitter.flush():
                first = self._stage(handle, "first_clause", words=len(clause.split()))
                await self._clause(handle, clause, clips, first=first)
        finally:
            stop.set()
            await asyncio.shield(producer)
        return calls

    def _stage(self, handle: SpeechHandle, stage: str, **fields: Any) -> bool:
        """Where a reply's time goes (#12): each stage's event once per reply; True the first time."""
        if stage in handle.stages:
            return False
        handle.stages.add(stage)
        self.emit(stage, answer_id=handle.id, **fields)
        return True

    async def _clause(self, handle: SpeechHandle, clause: str, clips: asyncio.Queue[SpokenAudio | None], *,
                      first: bool = False) -> None:
        """``first``: the reply's first clause, the one the listener is waiting for."""
        if self.text_only:
            handle.spoken_text.append(clause)
            self.meter.add_output_text(self.llm.count_tokens(clause))
            self.send(out.model_text(clause + " "))
            self._audible(handle)
            return
        # Its own thread: a clause waiting for the shared voice must not hold a thread of the
        # default pool, which every session's listening needs (under load they all would).
        clip = await run_in_own_thread(functools.partial(self.synthesizer().synthesize, clause, first=first))
        await clips.put(clip)

    async def _play(self, handle: SpeechHandle, clips: asyncio.Queue[SpokenAudio | None]) -> None:
        """Send clips in <= 100 ms chunks, paced at real time plus a small lead."""
        tracker = PlaybackTracker(clock=self.clock, lead_s=self.lead_s)
        handle.playback = tracker
        while (clip := await clips.get()) is not None:
            if not len(clip.pcm):
                continue
            tracker.add_words(tracker.sent_s, clip.word_end_s)
            handle.spoken_text.append(clip.text)
            if self.output_transcription:
                self.send(out.output_transcription(clip.text + " "))
            pcm = clip.pcm.astype("<i2").tobytes()
            if not tracker.sent_samples:
                await self._before_first_audio()
            for start in range(0, len(clip.pcm), CHUNK_SAMPLES):
                await handle.may_send.wait()
                wait = tracker.wait_before_next()
                if wait > 0:
                    await asyncio.sleep(wait)
                    await handle.may_send.wait()
                if handle.finished:
                    return
                chunk = pcm[start * 2 : (start + CHUNK_SAMPLES) * 2]
                # The microphone will hear this chunk once it plays: tell the echo canceller when.
                self.echo.add_reference(clip.pcm[start : start + CHUNK_SAMPLES], OUTPUT_RATE,
                                        self.input_clock_s() + tracker.play_delay_s())
                self.send(out.model_audio(chunk))
                samples = len(chunk) // 2
                tracker.on_sent(samples)
                self.meter.add_output_audio(samples, OUTPUT_RATE)
                self._audible(handle)

    async def _before_first_audio(self) -> None:
        """Not a word while someone may be starting to speak: the VAD confirms speech ~0.2 s after it
        begins, and an answer heard in that window is cut by the speaker's own continuation (a pause
        in one line, the next phrase of a recording). Waits at most ``ONSET_HOLD_S``; if the speech is
        confirmed meanwhile, the turn goes on and this reply is dropped before it said anything."""
        waited = 0.0
        while self.onset_pending() and waited < ONSET_HOLD_S:
            await asyncio.sleep(ONSET_POLL_S)
            waited += ONSET_POLL_S

    def _audible(self, handle: SpeechHandle) -> None:
        if not handle.audible:
            handle.audible = True
            if not self.text_only:  # text replies have no first_audio event
                self.emit("first_audio", answer_id=handle.id)
            self.on_audible(handle)

    def heard_until_s(self, handle: SpeechHandle) -> float | None:
        """Where the reply's audio ends at the listener, on the input clock (None: nothing was sent)."""
        if handle.playback is None or not handle.playback.sent_samples:
            return None
        return self.input_clock_s() + handle.playback.play_delay_s()
