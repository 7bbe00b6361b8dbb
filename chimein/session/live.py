"""One live conversation: the thin async runner around the turn controller.

The :class:`~chimein.session.controller.TurnController` owns turn state and decides; this class
carries out its actions on the models (in worker threads), feeds their results back as events,
and is the only part that talks to the client (through an ordered outbox). Client events come in
through :meth:`LiveSession.handle`; microphone audio goes through :class:`~chimein.session.hearing.Hearing`.

Path of a spoken turn: audio -> Hearing (echo, history, VAD) -> Started/Paused/Ended -> controller
-> EndTurn -> transcribe -> TurnTranscribed -> controller -> Respond (memory, policy) -> Decided
-> controller -> Generate -> Playout (LLM -> clauses -> TTS -> paced chunks) -> ReplyFinished.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from chimein.generation.llm import ChatMessage, LanguageModel, LanguageModelError, MalformedToolCall
from chimein.generation.scheduler import run_in_own_thread
from chimein.generation.tts import resolve_voice
from chimein.memory.conversation import Conversation
from chimein.perception.activity import TRAILING_PAD_S, ActivityConfig
from chimein.perception.audio import INPUT_RATE, pcm16_to_float
from chimein.perception.levels import speech_level_db
from chimein.perception.speakers import voiced_seconds
from chimein.policy.chatter import calls_assistant, overrules_level
from chimein.policy.endpointing import SMART_TURN_THRESHOLD
from chimein.policy.hints import second_opinion_calls, wants_second_opinion
from chimein.policy.instruction import answer_instruction, parse_instruction
from chimein.policy.proactivity import Decision, ProactivityPolicy, Turn
from chimein.protocol import server_messages as out
from chimein.protocol.messages import (
    CLOSE_INVALID_DATA,
    ActivityEnd,
    ActivityStart,
    AudioChunk,
    AudioStreamEnd,
    ClientContent,
    ClientEvent,
    ProtocolError,
    RealtimeText,
    Setup,
    ToolResponse,
)
from chimein.protocol.models import ModelEntry
from chimein.session import events as ev
from chimein.session.answering import Playout
from chimein.session.billing import Billing
from chimein.session.colistening import CoListener, restore
from chimein.session.controller import TurnController
from chimein.session.hearing import Hearing, SessionSenses
from chimein.session.options import SessionOptions, TurnOptions
from chimein.session.outbox import Outbox
from chimein.session.recognition import Recognition
from chimein.session.services import Services
from chimein.session.speech import Outcome, SpeechHandle
from chimein.session.tool_use import ToolUse
from chimein.usage.tokens import UsageMeter

__all__ = ["LiveSession", "SessionOptions"]

log = logging.getLogger("chimein.session")
Send = Callable[[dict[str, Any]], Awaitable[None]]


class LiveSession:
    """Drives one conversation from client events to server messages."""

    def __init__(self, setup: Setup, model: ModelEntry, services: Services, send: Send,
                 options: SessionOptions | None = None) -> None:
        self.setup, self.model, self.services = setup, model, services
        self.options = options or SessionOptions()
        self.session_id = uuid.uuid4().hex
        try:
            self.voice_id = resolve_voice(setup.voice_name)
        except ValueError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, str(exc)) from None
        try:
            self.activity_config = ActivityConfig.from_setup(setup.automatic_activity_detection)
        except ValueError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, f"automaticActivityDetection: {exc}") from None
        resumed = restore(setup, self.options)  # before any task starts: a bad handle refuses the setup
        self.turn_options = TurnOptions.resolve(setup, self.options, manual_activity=self.activity_config.disabled)
        self.llm: LanguageModel = services.llm
        self.meter = UsageMeter()
        self.tools = ToolUse.for_session(  # None without declared functions; refuses what the LLM cannot call
            setup.tools, self.llm, meter=self.meter, send=self._put, emit=self._emit, spawn=self._spawn,
            ask_for_answer=self._ask_for_answer, replying=lambda: self.controller.current is not None)
        self.policy = ProactivityPolicy(setup.system_instruction, embedder=services.embedder,
                                        judge=services.judge) if setup.proactive_audio else None
        self.answer_instruction = answer_instruction(setup.system_instruction)
        self.rules = self.policy.rules if self.policy is not None else parse_instruction(setup.system_instruction)
        # Whisper biased to the instruction's words; declined turns may get a second hearing (proactive audio on)
        self.recognition = Recognition(services, setup, self.rules, second_opinion=self.policy is not None)
        self.hearing = Hearing(services.vad.stream(), self.activity_config)
        self._handles: dict[str, SpeechHandle] = {}
        self.controller = TurnController(self.turn_options, SessionSenses(self.hearing, self._handles.get),
                                         enrolled=self.options.enrolled_voices)
        self.outbox = Outbox(send, self.session_id)
        self.billing = Billing(self.meter, services.ledger, session_id=self.session_id,
                               api_key_id=self.options.api_key_id, model=model.name)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._inbox: deque[ev.Event] = deque()
        self._feeding = False
        self._closed = False
        self._manual_audio: list[np.ndarray] | None = None  # activityStart..activityEnd in manual mode
        self._manual_clock_s = 0.0
        self._speech_lock = asyncio.Lock()  # one reply's audio at a time (NO_INTERRUPTION may queue one)
        self.memory = resumed.memory if resumed else Conversation()
        self.colistener = CoListener(
            setup=setup, options=self.options, llm=self.llm, vad=services.vad, memory=self.memory,
            conversation_id=resumed.conversation_id if resumed else self.session_id, session_id=self.session_id,
            meter=self.meter, history=self.hearing.history, input_clock_s=lambda: self.hearing.clock_s,
            emit=self._emit, send=self._put, spawn=self._spawn, replying=lambda: self.controller.current is not None,
            closed=lambda: self._closed)
        if resumed:
            self._emit("resumed", conversation_id=resumed.conversation_id, entries=len(self.memory.entries),
                       recordings=len(self.memory.heard.recordings))
        self.playout = Playout(
            llm=self.llm, synthesizer=lambda: services.synthesizer(self.voice_id), meter=self.meter, echo=self.hearing.echo,
            input_clock_s=lambda: self.hearing.clock_s, clock=self.options.clock, lead_s=self.options.output_lead_s,
            send=self._put, emit=self._emit, on_audible=lambda h: self._feed(ev.ReplyAudible(h.id)),
            max_tokens=self.turn_options.max_answer_tokens, text_only=self.turn_options.text_only,
            output_transcription=setup.output_transcription, onset_pending=lambda: self.hearing.onset_pending)
        self._spawn(self.billing.checkpoint_listening())
        prefill = getattr(self.llm, "prefill", None)
        if prefill is not None:  # pay the new instruction's prompt cost now, not on the first answer
            self._spawn(run_in_own_thread(lambda: prefill([ChatMessage("system", self.answer_instruction)])))

    # ---------------------------------------------------------------- client events in

    async def handle(self, event: ClientEvent) -> None:
        """Process one client event (called in order by the connection's receive loop)."""
        if isinstance(event, AudioChunk):
            await self._on_audio(event)
        elif isinstance(event, AudioStreamEnd):
            await self.hearing.end_now(lambda: True, self._heard)
        elif isinstance(event, ActivityStart):
            self._require_manual("activityStart")
            self._manual_audio = []
            self._feed(ev.ManualStart())
        elif isinstance(event, ActivityEnd):
            self._require_manual("activityEnd")
            chunks, self._manual_audio = self._manual_audio or [], None
            self._feed(ev.ManualEnd(np.concatenate(chunks) if chunks else np.zeros(0, np.float32)))
        elif isinstance(event, RealtimeText):
            self._feed(ev.TextTurn(event.text))
            if event.text.strip():
                self.meter.add_input_text(self.llm.count_tokens(event.text))
        elif isinstance(event, ClientContent):
            answer, text = await self.colistener.take_client_content(event)
            if answer:
                self._feed(ev.ContentTurn(text))
        elif isinstance(event, ToolResponse):
            if self.tools is None:
                raise ProtocolError(CLOSE_INVALID_DATA, "toolResponse without tools: no function was declared at setup")
            self.tools.on_response(event)

    async def after_setup(self) -> None:
        """Called by the server right after setupComplete: the first resumption handle."""
        self.colistener.send_resumption_update()

    def _require_manual(self, what: str) -> None:
        if not self.activity_config.disabled:
            raise ProtocolError(CLOSE_INVALID_DATA, f"{what} needs realtimeInputConfig.automaticActivityDetection.disabled: true")

    async def _on_audio(self, chunk: AudioChunk) -> None:
        self.meter.add_input_audio(len(chunk.pcm) // 2, chunk.rate)
        audio = pcm16_to_float(chunk.pcm)
        if not self.activity_config.disabled:
            await self.hearing.hear(audio, self._heard)
            return
        if self._manual_audio is not None:
            self._manual_audio.append(audio)
        self._manual_clock_s += len(audio) / INPUT_RATE
        self._feed(ev.Heard(self._manual_clock_s))

    def _heard(self, event: ev.Event) -> None:
        """Perception's events on their way to the controller; with explicitVadSignal also to the client."""
        if self.setup.explicit_vad_signal and isinstance(event, ev.Started | ev.Ended):
            for message in out.vad_signals(isinstance(event, ev.Started), event.at_s):
                self._put(message)
        if isinstance(event, ev.Started):
            self.colistener.warm_answer(self.answer_instruction)
        self._feed(event)

    # ---------------------------------------------------------------- the controller's actions

    def _feed(self, event: ev.Event) -> None:
        """Hand one event to the controller and carry out its actions, events strictly in order."""
        self._inbox.append(event)
        if self._feeding:
            return  # an action fed a result back: it is handled right after the current event
        self._feeding = True
        try:
            while self._inbox:
                for action in self.controller.handle(self._inbox.popleft()):
                    self._do(action)
        finally:
            self._feeding = False

    def _do(self, action: ev.Action) -> None:  # noqa: C901 - one branch per action type
        if isinstance(action, ev.Emit):
            self._emit(action.kind, **action.fields)
        elif isinstance(action, ev.PrefillPartial):
            self._prefill_partial(action)
        elif isinstance(action, ev.TranscribeEarly):
            self.recognition.speculate_early(action.utterance_id, action.at_s,
                                             self._turn_audio_so_far(action.audio, action.at_s, action.carry_start_s))
        elif isinstance(action, ev.ScorePause):
            self._spawn(self._score_pause(action))
        elif isinstance(action, ev.EndUtterance):
            self._spawn(self.hearing.end_now(lambda: self.controller.may_end_utterance(action), self._heard))
        elif isinstance(action, ev.EndTurn):
            self._end_turn(action)
        elif isinstance(action, ev.SendTranscription):
            self._put(self.recognition.transcription_message(action))
        elif isinstance(action, ev.WaitForInput):
            self._work(action.reply_id, self._complete(self._handle(action.reply_id), "listening",
                                                       reason="NEED_MORE_INPUT", waiting_for_input=True,
                                                       extra={"answer_id": action.reply_id}))
        elif isinstance(action, ev.Remember):
            self.memory.add_user(action.text)
        elif isinstance(action, ev.WaitGrace):
            self._work(action.reply_id, self._wait_grace(action))
        elif isinstance(action, ev.Respond):
            self._work(action.reply_id, self._respond(action, self._remember(action)))
        elif isinstance(action, ev.Generate):
            self._work(action.reply_id, self._generate(self._handle(action.reply_id), action.decision))
        elif isinstance(action, ev.Decline):
            self._work(action.reply_id, self._decline(self._handle(action.reply_id), action.decision))
        elif isinstance(action, ev.Hold):
            self._handle(action.reply_id).hold()
        elif isinstance(action, ev.Release):
            self._handle(action.reply_id).release()
        elif isinstance(action, ev.Drop):
            self._handle(action.reply_id).drop()
            if self.tools is not None:  # the turn goes on: its calls are made again if still wanted
                self.tools.cancel(action.reply_id)
        elif isinstance(action, ev.Interrupt):
            self._interrupt(self._handle(action.reply_id), action.reason)
        elif isinstance(action, ev.TranscribeOverlap):
            self._spawn(self._transcribe_overlap(action))
        elif isinstance(action, ev.CheckOverlapVoice):
            self._spawn(self._check_overlap_voice(action))
        elif isinstance(action, ev.CheckCall):
            self._spawn(self._check_call(action))
        else:  # pragma: no cover - a new action type without a runner
            raise TypeError(f"no runner for {action!r}")

    def _handle(self, reply_id: str) -> SpeechHandle:
        handle = self._handles.get(reply_id)
        if handle is None:
            handle = SpeechHandle(reply_id, allow_interruptions=self.turn_options.allow_interruptions)
            self._handles[reply_id] = handle
            handle.done.add_done_callback(lambda _: self._handles.pop(reply_id, None))
        return handle

    def _work(self, reply_id: str, coro: Awaitable[Any]) -> None:
        """Work for one reply: cancelled with it."""
        self._handle(reply_id).track(self._spawn(coro))

    def _prefill_partial(self, action: ev.PrefillPartial) -> None:
        """Put the words said so far into the answer's prompt ahead of time (#12); only where the
        prompt they would join is the one an answer gets (no function declarations, no heard
        recordings to ground it in), and only while the recogniser is idle."""
        if self.tools is not None or self.memory.heard.recordings or getattr(self.llm, "prefill", None) is None:
            return  # checked before transcribing: the words would only be dropped by warm_answer
        audio = self._turn_audio_so_far(self.hearing.utterance_audio(), action.at_s, action.carry_start_s)
        heard = self.recognition.words_so_far(audio) if len(audio) else None
        if heard is not None:
            self._spawn(self._warm_with_words(action.utterance_id, heard))

    async def _warm_with_words(self, utterance_id: int, heard: asyncio.Future[Any]) -> None:
        words = (await heard).text.split()[:-1]  # the last word may be cut off mid-way
        if not words or not self.controller.utterance_open or self.controller.utterance_id != utterance_id:
            return
        self.colistener.warm_answer(self.answer_instruction, " ".join(words))

    async def _score_pause(self, action: ev.ScorePause) -> None:
        speculative, heard = None, action.audio
        if action.speculative:  # transcribe the paused audio now; reused if the turn ends in this pause
            heard = self._turn_audio_so_far(action.audio, action.at_s, action.carry_start_s)
            speculative = self.recognition.speculate(action.pause_id, heard, early_key=(action.utterance_id, action.at_s))
        probability = await asyncio.to_thread(self.services.smart_turn.completion_probability, action.audio)
        ends = probability > SMART_TURN_THRESHOLD and action.pause_id == self.controller.pause_id
        self._feed(ev.PauseScored(action.utterance_id, action.pause_id, action.at_s, probability))
        if speculative is None or ends:
            return
        text = (await asyncio.shield(speculative)).text.strip()
        if not text or not self.controller.utterance_open or self.controller.utterance_id != action.utterance_id:
            return
        if self.setup.input_transcription:  # interimInputTranscription: the words so far
            self._put(out.input_transcription(text, finished=False, interim=True,
                                              start_s=action.at_s - len(heard) / INPUT_RATE,
                                              end_s=self.hearing.clock_s))
        self._feed(ev.PauseTranscribed(action.utterance_id, action.pause_id, text))  # a whole question ends it

    def _turn_audio_so_far(self, audio: np.ndarray, at_s: float, carry_start_s: float | None) -> np.ndarray:
        """The utterance's audio, or, when it continues an earlier turn, the continuous audio from
        that turn's start: one turn across a pause, not two clips spliced together."""
        if carry_start_s is None:
            return audio
        padding = self.activity_config.prefix_padding_ms / 1000
        joined = self.hearing.history.slice(carry_start_s - padding, at_s + TRAILING_PAD_S)
        return joined if len(joined) >= len(audio) else audio

    def _end_turn(self, action: ev.EndTurn) -> None:
        turn = action.turn
        assert turn.audio is not None
        if turn.carry_start_s is not None:
            turn.own_audio = turn.audio  # this utterance alone, should it prove a new turn (#11)
            turn.audio = self._turn_audio_so_far(turn.audio, turn.end_s, turn.carry_start_s)
        if not len(turn.audio) or (not turn.interrupting and not self.activity_config.disabled and self.colistener.keep_as_heard(
                turn.audio, turn.start_s, turn.end_s, prefix_padding_s=self.activity_config.prefix_padding_ms / 1000)):
            self._feed(ev.TurnSkipped(turn.id))  # nothing said, or a recording playing: kept as heard (#6)
            return
        self._work(action.reply_id, self._transcribe_turn(turn))

    async def _transcribe_turn(self, turn: ev.UserTurn) -> None:
        heard = await self.recognition.hear_turn(turn)
        audio, said = turn.audio, heard.transcription.text
        text = said.strip()
        assert audio is not None
        overrule = None
        if self.policy is not None and text:
            # Does it call the assistant (name, role, wake phrase) or ask on topic? Then its level
            # cannot make it background (#11). The embeddings are cached for the decision proper.
            context = [Turn(e.speaker, e.text) for e in self.memory.recent()]
            if heard.earlier_text and not (turn.earlier and turn.earlier.remembered):
                context.append(Turn("user", heard.earlier_text))
            decision = await asyncio.to_thread(functools.partial(self.policy.decide, text, context, consult_judge=False))
            if wants_second_opinion(self.rules, decision.answer):
                second = await self._second_opinion(turn, text, context)
                if second is not None:
                    said, decision = second
            overrule = decision.rule if overrules_level(decision.rule, decision.answer) else None
        self._feed(ev.TurnTranscribed(turn.id, said, speech_level_db(audio), voiced_seconds(audio),
                                      len(audio) / INPUT_RATE, heard.embedding, overrule=overrule, split=heard.split,
                                      earlier_text=heard.earlier_text, split_from=heard.split_from))

    async def _second_opinion(self, turn: ev.UserTurn, text: str, context: list[Turn]) -> tuple[str, Decision] | None:
        """The second hearing's words and decision, when they hear the assistant called (else None)."""
        assert turn.audio is not None
        second = await self.recognition.second_opinion(turn.audio)
        words = second.text.strip() if second is not None else ""
        if not words or words == text:
            return None
        decision = await asyncio.to_thread(functools.partial(self.policy.decide, words, context, consult_judge=False))
        if not second_opinion_calls(decision.answer, decision.rule):
            return None
        self.recognition.use_second_opinion(turn.id, second)
        self._emit("second_opinion", first_text=text, text=words, rule=decision.rule)
        log.info("session %s: heard again by Whisper base: %r (first %r): %s", self.session_id, words, text,
                 decision.reason)
        return second.text, decision

    async def _wait_grace(self, action: ev.WaitGrace) -> None:
        await asyncio.sleep(action.seconds)  # a speaker who goes on now drops this reply and continues the turn
        self._feed(ev.GraceElapsed(action.reply_id))

    def _remember(self, action: ev.Respond) -> list[Turn]:
        """The turn joins memory now, in speaking order; returns the conversation before it (the policy's context)."""
        if action.replaces:  # it continues a line already remembered: one entry for the whole line
            self.memory.forget_last_user(action.replaces)
        context = [Turn(e.speaker, e.text) for e in self.memory.recent()]
        if action.text and not action.already_in_memory:
            self.memory.add_user(action.text)
        return context

    async def _respond(self, action: ev.Respond, context: list[Turn]) -> None:
        handle = self._handle(action.reply_id)
        try:
            await self.colistener.heard_ready()  # recordings still being transcribed (bounded wait)
            decision = None
            if self.policy is not None and action.text:
                decision = await asyncio.to_thread(self.policy.decide, action.text, context)
        except LanguageModelError as exc:
            await self._failed(handle, exc)
            return
        self._feed(ev.Decided(action.reply_id, decision))

    async def _decline(self, handle: SpeechHandle, decision: Decision) -> None:
        self.memory.mark_last_user_unaddressed()
        self._emit("decision", answer_id=handle.id, **decision.to_json())
        log.info("session %s: %s", self.session_id, decision.reason)
        await self._complete(handle, "declined", reason="RESPONSE_REJECTED", extra={"decision": decision.to_json()})

    async def _generate(self, handle: SpeechHandle, decision: Decision | None) -> None:
        try:
            async with self._speech_lock:  # with NO_INTERRUPTION a reply may wait for the one playing
                if decision is not None:
                    self._emit("decision", answer_id=handle.id, **decision.to_json())
                    log.info("session %s: %s", self.session_id, decision.reason)
                plan = await self.colistener.answer_plan(handle.id, self.answer_instruction)
                extra, tools = self.tools.prompt(handle.id) if self.tools is not None else ((), [])
                await self.playout.speak(handle, plan, temperature=self.setup.temperature, extra=extra, tools=tools,
                                         on_calls=self.tools.on_calls if self.tools is not None else None)
        except LanguageModelError as exc:
            await self._failed(handle, exc)
            return
        self.memory.add_assistant(" ".join(handle.spoken_text))
        self._put(out.generation_complete())
        extra = {"decision": decision.to_json()} if decision is not None else {}
        extra["answer_id"] = handle.id
        await self._complete(handle, "answered", extra=extra)

    async def _failed(self, handle: SpeechHandle, exc: LanguageModelError) -> None:
        log.warning("session %s: language model failed: %s", self.session_id, exc)
        self._emit("error", stage="llm", message=str(exc))
        reason = "MALFORMED_FUNCTION_CALL" if isinstance(exc, MalformedToolCall) else None
        await self._complete(handle, "answered", reason=reason, extra={"error": str(exc)})

    def _interrupt(self, handle: SpeechHandle, reason: str) -> None:
        """Stop the reply now; memory keeps only what the listener heard. No await before the stop."""
        heard, played = handle.heard()
        if not handle.interrupt(reason):
            return
        if heard:
            self.memory.add_assistant(heard, interrupted=True)
        self._emit("interrupted", answer_id=handle.id, reason=reason, heard=heard, played_s=round(played, 3))
        if self.tools is not None:
            self.tools.cancel(handle.id)  # toolCallCancellation before interrupted
        self._put(out.interrupted())
        self._spawn(self._record_and_complete(handle.id, "interrupted", extra={"answer_id": handle.id}))

    async def _complete(self, handle: SpeechHandle, outcome: Outcome, *, reason: str | None = None,
                        extra: dict[str, Any], waiting_for_input: bool = False) -> None:
        """The one completion path of a reply that was not interrupted."""
        heard_until = self.playout.heard_until_s(handle)
        if not handle.complete(outcome):
            return
        self._feed(ev.ReplyFinished(handle.id, heard_until))
        await self._record_and_complete(handle.id, outcome, reason=reason, extra=extra,
                                        waiting_for_input=waiting_for_input)

    async def _transcribe_overlap(self, action: ev.TranscribeOverlap) -> None:
        audio = action.audio if action.audio is not None else self.hearing.utterance_audio()
        self._feed(ev.OverlapTranscribed(action.overlap_id, await self.recognition.words(audio)))

    async def _check_call(self, action: ev.CheckCall) -> None:
        text = (await self.recognition.check_call(action.check_id, action.audio)).text.strip()
        self._feed(ev.CallChecked(action.check_id, text, calls_assistant(text, self.rules) if text else None))

    async def _check_overlap_voice(self, action: ev.CheckOverlapVoice) -> None:
        audio = action.audio if action.audio is not None else self.hearing.utterance_audio()
        embedding, similarity = await self.recognition.voice_against(audio, self.voice_id)
        self._feed(ev.OverlapVoice(action.overlap_id, speech_level_db(audio), embedding, similarity))

    def _ask_for_answer(self) -> str | None:
        """A reply with no new words, made now (a NON_BLOCKING result to speak); its id."""
        self._feed(ev.ContentTurn(None))
        return self.controller.current.id if self.controller.current is not None else None

    # ---------------------------------------------------------------- usage

    async def _record_and_complete(self, reply_id: str, outcome: str, *, reason: str | None = None,
                                   extra: dict[str, Any], waiting_for_input: bool = False) -> None:
        self.billing.turn_index += 1
        await self.billing.record(outcome)  # the ledger first: it must hold at least what the client is told
        usage = self.meter.take_turn()
        self._emit("turn_complete", answer_id=reply_id, outcome=outcome, usage=usage.to_wire(vertex=False))
        self._put(out.turn_complete(usage.to_wire(vertex=self.options.vertex), reason=reason, extra=extra,
                                    waiting_for_input=waiting_for_input, interaction_status="IDLE"))
        self.colistener.send_resumption_update()  # a handle after each turn, when the setup asked (#6)

    # ---------------------------------------------------------------- plumbing

    def _put(self, message: dict[str, Any]) -> None:
        """Queue a server frame (sent in order by the outbox's one writer)."""
        if not self._closed:
            self.outbox.put(message)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self._closed:
            log.error("session %s: background task failed", self.session_id, exc_info=exc)
            self._emit("error", stage="session", message=f"{type(exc).__name__}: {exc}")

    def _emit(self, kind: str, **fields: Any) -> None:
        event = {"type": kind, "session_id": self.session_id, "t": round(self.options.clock(), 3), **fields}
        log.debug("event %s", event)
        if self.options.observer is not None:
            self.options.observer(event)

    async def close(self) -> None:
        """The connection ended: stop work; bill listening time not yet reported."""
        self._closed = True
        for handle in list(self._handles.values()):
            handle.drop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.outbox.close()  # what was queued before the close still goes out
        try:
            await self.billing.record("listening")
        except Exception:  # the socket is gone; the ledger failure must still be visible
            log.exception("session %s: could not record final usage", self.session_id)
