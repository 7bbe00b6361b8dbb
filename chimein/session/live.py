"""One live conversation: the single owner of turn state.

Perception reports activity events, policy proposes decisions, generation produces audio; only
this class changes the turn state (listening, deciding, speaking) and only it talks to the client
(through the ``send`` callable it is given). CPU-heavy work (VAD, end of turn, ASR, relevance,
LLM, TTS) runs in worker threads; the event loop only moves bytes and events.

Turn life cycle with automatic activity detection:
  SpeechStarted -> (SpeechPaused -> Smart Turn says complete -> end now) | SpeechEnded
  -> transcribe -> [proactive: decide] -> answer (LLM -> clauses -> TTS -> paced audio) | decline
A participant who starts speaking again before the answer's first audio byte continues the same
turn (the pending answer is dropped and the audio is joined); one who speaks over the answer
interrupts it when ``activityHandling`` allows.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from chimein.generation.llm import ChatMessage, LanguageModel, LanguageModelError
from chimein.generation.text import ClauseSplitter
from chimein.generation.tts import OUTPUT_RATE, SpokenAudio, resolve_voice
from chimein.memory.conversation import Conversation
from chimein.perception.activity import (
    TRAILING_PAD_S,
    ActivityConfig,
    ActivityDetector,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
)
from chimein.perception.audio import INPUT_RATE, pcm16_to_float
from chimein.perception.echo import EchoCanceller
from chimein.perception.history import AudioHistory
from chimein.perception.levels import speech_level_db
from chimein.perception.speakers import EnrolledVoice, Match, Participants, voiced_seconds
from chimein.policy.barge_in import (
    RECENT_ECHO_S,
    OverlapVerdict,
    is_backchannel,
    is_stop_request,
    judge_overlap,
    words_of,
)
from chimein.policy.chatter import background_reason, overrules_level, reference_level_db
from chimein.policy.hints import recognition_hints
from chimein.policy.instruction import answer_instruction, parse_instruction
from chimein.policy.proactivity import Decision, ProactivityPolicy, Turn
from chimein.policy.turns import split_reason
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
from chimein.session.colistening import CoListeningMixin
from chimein.session.pacing import CHUNK_SAMPLES, PlaybackTracker
from chimein.session.resumption import ResumptionStore
from chimein.session.services import Services
from chimein.usage.ledger import UsageEvent
from chimein.usage.tokens import UsageMeter

log = logging.getLogger("chimein.session")

SMART_TURN_THRESHOLD = 0.5  # Smart Turn's output is a probability; > 0.5 means complete (model card)
DEFAULT_MAX_ANSWER_TOKENS = 80
LEDGER_CHECKPOINT_S = 1.0
HISTORY_S = 60.0
# "Wait... stop." may reach us as two turns; a stop-only turn this soon after an interruption is
# the same request for silence, not a question.
STOP_FOLLOW_UP_S = 3.0  # input audio kept to rebuild a turn that continued after a pause
# Speech over the answer whose voice print is the assistant's own (by this much more than any
# participant's) is the loudspeaker coming back, whatever the echo canceller left of it.
OWN_VOICE_SIMILARITY = 0.5
OWN_VOICE_LEAD = 0.1
# A sound this short (voiced seconds, words), no question, starting this soon after an answer's
# audio ended at the listener, is an acknowledgement of it rather than a turn (proactive audio only).
ACK_MAX_SPEECH_S = 0.7
ACK_MAX_WORDS = 4
ACK_WINDOW_S = 2.5
# After a turn that ended on the silence fallback with an unfinished sound (Smart Turn low, or a
# trailing "and"/"maybe"), wait this much longer before speaking: the speaker is likely mid-thought.
PAUSE_GRACE_S = 1.0  # the sound was unfinished (Smart Turn low)
PAUSE_GRACE_TEXT_S = 1.5  # the words were unfinished ("...we could maybe")
UNFINISHED_SCORE = 0.2
CONTINUATION_WORDS = frozenset(
    "and or but so because maybe um uh the a an to of with like if then that is was are were for about at in on "
    "into from by my your our their this these those some".split()
)
# A request with nothing asked yet: "Can you tell me..." (a thinking pause before the question).
DANGLING_REQUEST = re.compile(
    r"^(?:\w+,?\s+)?(?:can|could|would|will) you (?:tell|show|give|help|remind) me$|^(?:do you know|i was wondering|"
    r"i wonder|what about|how about|tell me|let me ask you|quick question)$"
)

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class SessionOptions:
    """Per-server settings that shape every session."""

    api_key_id: str | None = None
    vertex: bool = False
    output_lead_s: float = 0.25
    clock: Callable[[], float] = time.monotonic
    observer: Callable[[dict[str, Any]], None] | None = None  # the per-session event stream
    end_of_turn: Literal["smart_turn", "silence"] = "smart_turn"
    """smart_turn: ask Smart Turn at each pause, silence ends the turn otherwise; silence: only the
    silence timeout ends a turn (the benchmark's plain turn-taking baseline)."""
    resumption: ResumptionStore | None = None
    """The server's resumption handles (session/resumption.py); None: sessions cannot be resumed."""
    enrolled_voices: tuple[EnrolledVoice, ...] = ()
    """Participants known before the session starts (``chimein voices add``); others are learned."""


@dataclass
class Answer:
    """One assistant utterance: the handle every stage refers to (style.md, speech handles)."""

    id: str
    user_audio: np.ndarray | None
    task: asyncio.Task[None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    playback: PlaybackTracker | None = None
    spoken_text: list[str] = field(default_factory=list)
    speaking: bool = False  # first audio byte sent
    finished: bool = False
    carried: bool = False  # the user audio joins an earlier, unfinished part of the turn
    start_s: float = 0.0  # where the user's turn began on the input clock
    from_participant: bool = False  # already known to be a participant (it interrupted an answer)
    voice: str | None = None  # the participant voice that took this turn (an answered one sets the reference level)
    ended_at_s: float = 0.0  # where the user's speech ended on the input clock
    earlier: Answer | None = None  # the dropped answer whose speech this turn continues (#11: maybe a new turn)
    own_audio: np.ndarray | None = None  # this utterance alone, before it was joined to the earlier one
    own_start_s: float = 0.0
    sent_text: str | None = None  # the inputTranscription already sent for this turn
    in_memory: bool = False  # its text is in the conversation memory
    may_send: asyncio.Event = field(default_factory=asyncio.Event)  # cleared while an overlap is judged

    def __post_init__(self) -> None:
        self.may_send.set()

    def hold(self) -> None:
        self.may_send.clear()

    def release(self) -> None:
        if self.playback is not None:
            self.playback.rebase()
        self.may_send.set()

    def stop(self) -> None:
        """Safe to call twice: cancels the LLM thread and the tasks."""
        self.cancel.set()
        if self.task is not None and not self.task.done():
            self.task.cancel()


@dataclass
class Overlap:
    """Speech that began while the assistant was talking, being judged: interruption or back-channel?"""

    answer: Answer
    start_s: float
    paused: bool = False
    paused_at_s: float = 0.0
    ended_audio: np.ndarray | None = None
    ended_at_s: float = 0.0


class LiveSession(CoListeningMixin):
    """Drives one conversation from client events to server messages."""

    def __init__(
        self,
        setup: Setup,
        model: ModelEntry,
        services: Services,
        send: Send,
        options: SessionOptions | None = None,
    ) -> None:
        self.setup = setup
        self.model = model
        self.services = services
        self.options = options or SessionOptions()
        self._send = send
        self.session_id = uuid.uuid4().hex
        try:
            self.voice_id = resolve_voice(setup.voice_name)
        except ValueError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, str(exc)) from None
        try:
            self.activity_config = ActivityConfig.from_setup(setup.automatic_activity_detection)
        except ValueError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, f"automaticActivityDetection: {exc}") from None
        self.detector = ActivityDetector(services.vad.stream(), self.activity_config)
        self.meter = UsageMeter()
        self.memory = Conversation()
        self.policy = ProactivityPolicy(setup.system_instruction, embedder=services.embedder) if setup.proactive_audio else None
        self.llm: LanguageModel = services.llm
        self.answer_instruction = answer_instruction(setup.system_instruction)
        # Names, wake phrase and topics bias the recogniser (#11); protocol/ fills custom_vocabulary
        # from inputAudioTranscription.customVocabulary / adaptationPhrases when a client sends them.
        rules = self.policy.rules if self.policy is not None else parse_instruction(setup.system_instruction)
        self.hotwords = recognition_hints(rules, getattr(setup, "custom_vocabulary", None) or ())
        self._detector_lock = asyncio.Lock()
        self._pause_seq = 0
        self._manual_audio: list[np.ndarray] | None = None  # activityStart..activityEnd in manual mode
        self._answer: Answer | None = None
        self._turn_index = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.echo = EchoCanceller()
        self._history = AudioHistory(max_s=HISTORY_S)  # what the detector heard, for joining a continued turn
        self._utterance_start_s = 0.0
        self._carry_start_s: float | None = None
        self._carried_answer: Answer | None = None  # the answer dropped when its speaker (or someone) went on
        self._overlap: Overlap | None = None
        self._ignore_utterance: str | None = None  # why the current utterance is not a turn
        self._interrupting_utterance = False  # the current utterance interrupted an answer: a participant
        self._last_interrupt_at_s = -1e9
        self._transcribed_before = False  # an inputTranscription was sent in this session
        self._answer_heard_until_s = -1e9  # input time when the last answer's audio ended at the listener
        self._participant_levels: list[float] = []  # every participant turn's level, printed or not
        self._answered_voices: set[str] = set()  # voices that took an answered turn: the level reference (#11)
        self.participants = Participants()
        for voice in self.options.enrolled_voices:
            self.participants.enrol(voice)
        self._eot_probability: float | None = None  # Smart Turn's last score in this utterance
        self._speculative: tuple[int, asyncio.Future[Any]] | None = None  # (pause seq, ASR of the paused audio)
        self._speech_lock = asyncio.Lock()  # one answer's audio at a time
        self._colisten = self._start_colistening()  # co-listening, compression, resumption (session/colistening.py)
        self._spawn(self._checkpoint_listening())
        prefill = getattr(self.llm, "prefill", None)
        if prefill is not None:  # pay the new instruction's prompt cost now, not on the first answer
            self._spawn(asyncio.to_thread(prefill, [ChatMessage("system", self.answer_instruction)]))

    # ---------------------------------------------------------------- events in

    async def handle(self, event: ClientEvent) -> None:
        """Process one client event (called in order by the connection's receive loop)."""
        if isinstance(event, AudioChunk):
            await self._on_audio(event)
        elif isinstance(event, AudioStreamEnd):
            async with self._detector_lock:
                events = self.detector.end_now()
            await self._on_activity(events)
        elif isinstance(event, ActivityStart):
            self._require_manual("activityStart")
            self._manual_audio = []
            answer = self._answer
            if answer is not None and answer.speaking and self.setup.activity_handling != "NO_INTERRUPTION":
                self._interrupt(answer, reason="activityStart from the client")
        elif isinstance(event, ActivityEnd):
            self._require_manual("activityEnd")
            chunks, self._manual_audio = self._manual_audio or [], None
            audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            self._end_user_turn(audio, self.detector.clock_s)
        elif isinstance(event, RealtimeText):
            self._on_text_turn(event.text)
        elif isinstance(event, ClientContent):
            await self._on_client_content(event)
        elif isinstance(event, ToolResponse):
            self._emit("tool_response_ignored", count=len(event.function_responses))

    def _require_manual(self, what: str) -> None:
        if not self.activity_config.disabled:
            raise ProtocolError(
                CLOSE_INVALID_DATA,
                f"{what} needs realtimeInputConfig.automaticActivityDetection.disabled: true",
            )

    async def _on_audio(self, chunk: AudioChunk) -> None:
        samples = len(chunk.pcm) // 2
        self.meter.add_input_audio(samples, chunk.rate)
        audio = pcm16_to_float(chunk.pcm)
        if self.activity_config.disabled:
            if self._manual_audio is not None:
                self._manual_audio.append(audio)
            return
        async with self._detector_lock:
            events = await asyncio.to_thread(self._hear, audio)
        await self._on_activity(events)

    def _hear(self, audio: np.ndarray) -> list[Any]:
        """Worker thread: cancel our own voice, then detect activity in what is left."""
        cleaned = self.echo.process(audio)
        self._history.append(cleaned)
        return self.detector.push(cleaned)

    async def _on_activity(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, SpeechStarted):
                self._emit("speech_started", at_s=event.at_s)
                self._utterance_start_s = event.at_s
                self._eot_probability = None
                self._ignore_utterance = None
                self._on_user_started(event.at_s)
            elif isinstance(event, SpeechPaused):
                self._pause_seq += 1
                if self._overlap is not None:
                    self._overlap.paused, self._overlap.paused_at_s = True, event.at_s
                if self._ignore_utterance is None and self.options.end_of_turn == "smart_turn":
                    self._spawn(self._check_end_of_turn(event, self._pause_seq))
            elif isinstance(event, SpeechResumed):
                self._pause_seq += 1
                if self._overlap is not None:
                    self._overlap.paused = False
            elif isinstance(event, SpeechEnded):
                self._emit("speech_ended", at_s=event.at_s)
                if self._overlap is not None:
                    self._overlap.paused = True
                    self._overlap.ended_audio, self._overlap.ended_at_s = event.audio, event.at_s
                elif self._ignore_utterance is not None:
                    self._emit("ignored", reason=self._ignore_utterance, at_s=event.at_s)
                    self._ignore_utterance = None
                else:
                    self._end_user_turn(event.audio, event.at_s, interrupting=self._interrupting_utterance)
                self._interrupting_utterance = False

    async def _check_end_of_turn(self, paused: SpeechPaused, seq: int) -> None:
        if self._overlap is None:
            # Speculative: transcribe the paused audio now; reused if the turn ends in this pause.
            self._speculative = (seq, asyncio.ensure_future(asyncio.to_thread(self.services.asr.transcribe, paused.audio, hotwords=self.hotwords)))
        probability = await asyncio.to_thread(self.services.smart_turn.completion_probability, paused.audio)
        self._eot_probability = probability
        self._emit("end_of_turn_scored", at_s=paused.at_s, probability=round(probability, 3))
        if probability <= SMART_TURN_THRESHOLD or seq != self._pause_seq:
            return  # incomplete, or the speaker went on meanwhile: wait for more or for the silence fallback
        async with self._detector_lock:
            if seq != self._pause_seq:
                return
            events = self.detector.end_now()
        await self._on_activity(events)

    # ---------------------------------------------------------------- turn state

    def _on_user_started(self, at_s: float) -> None:
        """Someone started speaking: continue a turn not yet answered, or judge an overlap."""
        answer = self._answer
        if answer is None or answer.finished:
            return
        if not answer.speaking:
            # Not a word said yet: the speaker had only paused. Drop the answer, keep their audio.
            answer.stop()
            self._answer = None
            self._carry_start_s = answer.start_s
            self._carried_answer = answer
            self._emit("answer_dropped", answer_id=answer.id, reason="speaker continued before the answer began")
            return
        if self.setup.activity_handling == "NO_INTERRUPTION":
            return
        level = speech_level_db(self.detector.utterance_audio())
        chatter = self._chatter_reason(level)
        if chatter is not None:
            self._ignore_utterance = chatter
            self._emit("overlap_ignored", answer_id=answer.id, reason=chatter)
            return
        # Hold the output at once (a real interruption is then already stopped), then judge.
        answer.hold()
        overlap = Overlap(answer=answer, start_s=at_s)
        self._overlap = overlap
        self._emit("overlap_started", answer_id=answer.id, at_s=at_s, level_db=round(level, 1))
        self._spawn(self._judge_overlap(overlap))

    async def _judge_overlap(self, overlap: Overlap) -> None:
        transcript: str | None = None
        transcribed_while_speaking = False
        while self._overlap is overlap and not overlap.answer.finished:
            duration = self.detector.clock_s - overlap.start_s
            still = not overlap.paused
            needs_words = transcript is None or (transcribed_while_speaking and not still)
            if needs_words and (not still or duration >= 0.6):
                audio = overlap.ended_audio if overlap.ended_audio is not None else self.detector.utterance_audio()
                result = await asyncio.to_thread(self.services.asr.transcribe, audio, hotwords=self.hotwords)
                transcript, transcribed_while_speaking = result.text, still
                continue
            speech_end = overlap.ended_at_s if overlap.ended_audio is not None else overlap.paused_at_s
            speech_s = (speech_end if not still and speech_end else self.detector.clock_s) - overlap.start_s
            removed = None
            if self.echo.echo_path and duration >= 0.5:  # skip the canceller's onset transient (~0.25 s)
                removed = self.echo.removed_db(overlap.start_s + 0.25, overlap.start_s + duration)
            loudspeaker = self.echo.echo_path and self.echo.active
            follows = None  # with headphones nothing comes back to follow what was played
            if loudspeaker:
                follows = self.echo.follows_reference(overlap.start_s, overlap.start_s + max(0.5, min(duration, speech_s + 0.1)))
            verdict = judge_overlap(
                duration_s=duration, still_speaking=still, transcript=transcript,
                assistant_text=" ".join(overlap.answer.spoken_text), speech_s=speech_s, echo_removed_db=removed,
                recent_assistant_text=overlap.answer.playback.recent_text(RECENT_ECHO_S) if overlap.answer.playback else "",
                follows_reference=follows, loudspeaker=loudspeaker,
            )
            if verdict.action == "wait":
                await asyncio.sleep(0.05)
                continue
            if verdict.action == "interrupt":
                audio = overlap.ended_audio if overlap.ended_audio is not None else self.detector.utterance_audio()
                verdict = await self._check_overlap_voice(audio, verdict)
                if self._overlap is not overlap or overlap.answer.finished:
                    return
            self._overlap = None
            self._emit("overlap_judged", answer_id=overlap.answer.id, transcript=transcript,
                       follows_reference=None if follows is None else round(follows, 2), loudspeaker=loudspeaker,
                       **verdict.to_json())
            if verdict.action == "interrupt":
                self._interrupt(overlap.answer, reason=verdict.reason)
                # The interrupting utterance is a participant's turn; it is answered unless, once
                # complete, it only asked for silence ("wait, stop").
                if overlap.ended_audio is not None:
                    self._end_user_turn(overlap.ended_audio, overlap.ended_at_s, interrupting=True)
                else:
                    self._interrupting_utterance = True
                return
            if overlap.ended_audio is None:
                async with self._detector_lock:
                    self.detector.end_now()  # close the back-channel's utterance; it is not a turn
            self._emit("ignored", reason=verdict.reason, text=transcript or "")
            overlap.answer.release()
            return

    async def _check_overlap_voice(self, audio: np.ndarray, verdict: OverlapVerdict) -> OverlapVerdict:
        """Veto an interruption spoken in the assistant's own voice (echo) or by a quieter stranger."""
        embedding, own = await asyncio.gather(
            asyncio.to_thread(self.services.speakers.embed, audio),
            asyncio.to_thread(self.services.own_voice_print, self.voice_id),
        )
        if embedding is None:
            return verdict
        match = self.participants.match(embedding)
        own_similarity = float(np.dot(own, embedding))
        self._emit("overlap_voice", own_similarity=round(own_similarity, 2), participant_similarity=round(match.similarity, 2),
                   participant=match.voice.name if match.voice else None)
        if own_similarity >= OWN_VOICE_SIMILARITY and own_similarity >= match.similarity + OWN_VOICE_LEAD:
            return OverlapVerdict("resume", f"the assistant's own voice (voice print {own_similarity:.2f})")
        chatter = self._chatter_reason(speech_level_db(audio), match)
        if chatter is not None:
            return OverlapVerdict("resume", chatter)
        return verdict

    def _chatter_reason(self, level_db: float, match: Match | None = None) -> str | None:
        return background_reason(level_db, match, self._reference_level_db())

    def _is_acknowledgement(self, text: str, answer: Answer) -> bool:
        """A brief sound right after an answer ended ("mm-hmm", "okay"): the listener acknowledging it.

        Whisper turns a lone "mm-hmm" into words ("And I'm up.") often enough that the words alone
        cannot be trusted; a short sound with no question in it, just after the answer, is not a turn.
        """
        if answer.user_audio is None or text.rstrip().endswith("?") or len(words_of(text)) > ACK_MAX_WORDS:
            return False
        if answer.start_s - self._answer_heard_until_s > ACK_WINDOW_S:
            return False
        return is_backchannel(text) or voiced_seconds(answer.user_audio) < ACK_MAX_SPEECH_S

    def _reference_level_db(self) -> float | None:
        """The participants' speaking level (policy/chatter.py): never a recording's or the loudest first."""
        return reference_level_db(self.participants.voices, self._answered_voices, self._participant_levels)

    def _end_user_turn(self, audio: np.ndarray, ended_at_s: float, *, interrupting: bool = False) -> None:
        carry_start, self._carry_start_s = self._carry_start_s, None
        earlier, self._carried_answer = self._carried_answer, None
        start_s = own_start_s = self._utterance_start_s
        own_audio = audio
        if carry_start is not None:
            # One turn across a pause: take the continuous audio, not two clips spliced together.
            start_s = carry_start
            padding = self.activity_config.prefix_padding_ms / 1000
            joined = self._history.slice(carry_start - padding, ended_at_s + TRAILING_PAD_S)
            if len(joined) >= len(audio):
                audio = joined
        if not len(audio):
            return
        if not interrupting and self._keep_as_heard(audio, start_s, ended_at_s):  # a recording playing (#6)
            return
        answer = Answer(id=uuid.uuid4().hex[:12], user_audio=audio, carried=carry_start is not None, start_s=start_s,
                        from_participant=interrupting, ended_at_s=ended_at_s, own_start_s=own_start_s,
                        earlier=earlier if carry_start is not None else None,
                        own_audio=own_audio if carry_start is not None else None)
        self._answer = answer
        answer.task = self._spawn(self._run_spoken_turn(answer, ended_at_s))

    def _on_text_turn(self, text: str) -> None:
        if not text.strip():
            return
        if self._answer is not None and not self._answer.finished:
            self._interrupt(self._answer, reason="new text turn")
        self.meter.add_input_text(self.llm.count_tokens(text))
        answer = Answer(id=uuid.uuid4().hex[:12], user_audio=None)
        self._answer = answer
        answer.task = self._spawn(self._run_text_turn(answer, text))

    async def _on_client_content(self, content: ClientContent) -> None:
        last_user_text = None
        for turn in content.turns:
            text = " ".join(t for t in turn.texts if t.strip())
            if text:
                self.meter.add_input_text(self.llm.count_tokens(text))
                if turn.role == "model":
                    self.memory.add_assistant(text)
                else:
                    self.memory.add_user(text)
                    last_user_text = text
            for blob in turn.files:
                await self._co_listen_file(blob)
        if content.turn_complete:
            if self._answer is not None and not self._answer.finished:
                self._interrupt(self._answer, reason="new client content")
            answer = Answer(id=uuid.uuid4().hex[:12], user_audio=None)
            self._answer = answer
            answer.task = self._spawn(self._respond(answer, last_user_text, already_in_memory=True))

    # ---------------------------------------------------------------- answering

    async def _run_spoken_turn(self, answer: Answer, ended_at_s: float) -> None:
        assert answer.user_audio is not None
        if answer.earlier is not None:
            await self._split_if_new_turn(answer)
        speculative, self._speculative = self._speculative, None
        eot_probability = self._eot_probability
        voice_print = asyncio.ensure_future(asyncio.to_thread(self.services.speakers.embed, answer.user_audio))
        if speculative is not None and speculative[0] == self._pause_seq and not answer.carried:
            transcription = await speculative[1]  # the audio since that pause is silence: same words
        else:
            transcription = await asyncio.to_thread(self.services.asr.transcribe, answer.user_audio, hotwords=self.hotwords)
        embedding = await voice_print
        text = transcription.text.strip()
        level = speech_level_db(answer.user_audio)
        match = self.participants.match(embedding) if embedding is not None else None
        self._emit("transcribed", answer_id=answer.id, text=text, ended_at_s=ended_at_s, level_db=round(level, 1),
                   audio_s=round(len(answer.user_audio) / INPUT_RATE, 3),
                   voice=(match.voice.name if match.voice else "unknown") if match else None,
                   voice_similarity=round(match.similarity, 2) if match else None)
        if not text:
            self._emit("ignored", reason="no words recognised (noise or a blip)")
            self._answer = None
            return
        # Proactive audio off: every completed turn is answered, like the Live API (#11); while the
        # assistant speaks, the overlap judge still keeps quiet speech from cutting it off.
        from_participant = answer.from_participant or self.policy is None
        chatter = None if from_participant else self._chatter_reason(level, match)
        if chatter is not None and self.policy is not None:
            # Level is a tie-breaker: a turn that calls the assistant or asks on topic is kept (#11).
            context = [Turn(e.speaker, e.text) for e in self.memory.recent()]
            decision = await asyncio.to_thread(self.policy.decide, text, context)
            if overrules_level(decision.rule, decision.answer):
                self._emit("level_overruled", answer_id=answer.id, level_reason=chatter, rule=decision.rule)
                chatter = None
        if chatter is not None:
            self._emit("ignored", reason=chatter, text=text)
            self._answer = None
            return
        self._participant_levels.append(level)
        if embedding is not None:
            known = len(self.participants.voices)
            voice = self.participants.learn(embedding, level)
            answer.voice = voice.name
            self._emit("speaker", answer_id=answer.id, name=voice.name, new=len(self.participants.voices) > known,
                       enrolled=voice.enrolled)
        if self.policy is not None and self._is_acknowledgement(text, answer):
            self._emit("ignored", reason="a short acknowledgement of the answer just given", text=text)
            self._answer = None
            return
        just_interrupted = ended_at_s - self._last_interrupt_at_s < STOP_FOLLOW_UP_S
        if (answer.from_participant or just_interrupted) and is_stop_request(text):
            self._emit("ignored", reason="the listener asked the assistant to stop; nothing to answer", text=text)
            self._answer = None
            return
        if self.setup.input_transcription:
            # Clients append inputTranscription text: a turn after the first starts with a space,
            # so "Oh yes, me too." and "My favorite..." do not run together.
            await self._send(out.input_transcription(text if not self._transcribed_before else " " + text))
            self._transcribed_before = True
        answer.sent_text = text
        grace = self._pause_grace(text, eot_probability)
        if grace:
            self._emit("pause_grace", answer_id=answer.id, seconds=grace, end_of_turn=eot_probability)
            await asyncio.sleep(grace)  # a speaker who goes on now drops this answer and continues the turn
        await self._respond(answer, text)

    async def _split_if_new_turn(self, answer: Answer) -> None:
        """Speech that went on before the answer began is a new turn when it is a new voice or
        comes after a clear gap (policy/turns.py): the earlier speech keeps its own transcript and
        is context for this turn, instead of being spliced onto it (#11)."""
        earlier, own = answer.earlier, answer.own_audio
        answer.earlier = None
        if earlier is None or earlier.user_audio is None or own is None:
            return
        before, now = await asyncio.gather(
            asyncio.to_thread(self.services.speakers.embed, earlier.user_audio),
            asyncio.to_thread(self.services.speakers.embed, own),
        )
        similarity = None if before is None or now is None else float(np.dot(before, now))
        gap_s = answer.own_start_s - earlier.ended_at_s
        why = split_reason(gap_s, similarity)
        if why is None:
            return
        self._emit("turn_split", answer_id=answer.id, earlier_id=earlier.id, reason=why, gap_s=round(gap_s, 2),
                   voice_similarity=None if similarity is None else round(similarity, 2))
        text = earlier.sent_text
        if text is None:
            result = await asyncio.to_thread(self.services.asr.transcribe, earlier.user_audio, hotwords=self.hotwords)
            text = result.text.strip()
            if text and self.setup.input_transcription:
                await self._send(out.input_transcription(text if not self._transcribed_before else " " + text))
                self._transcribed_before = True
            self._emit("transcribed", answer_id=earlier.id, text=text, ended_at_s=earlier.ended_at_s, context_only=True)
        if text and not earlier.in_memory:
            self.memory.add_user(text)  # heard, and context for the turn that follows
        answer.user_audio, answer.start_s, answer.carried = own, answer.own_start_s, False

    @staticmethod
    def _pause_grace(text: str, eot_probability: float | None) -> float:
        """Extra wait before answering a turn that sounds unfinished (the silence fallback ended it)."""
        bare = text.strip(" .,!?;:…").lower()
        last_word = bare.rsplit(" ", 1)[-1]
        unfinished_text = (
            text.rstrip().endswith(("...", "…", ","))
            or (last_word in CONTINUATION_WORDS and not text.rstrip().endswith("?"))
            or DANGLING_REQUEST.match(bare) is not None
        )
        unfinished_sound = eot_probability is not None and eot_probability < UNFINISHED_SCORE
        if unfinished_text:
            return PAUSE_GRACE_TEXT_S
        if unfinished_sound and not text.rstrip().endswith(("?", "!")):
            return PAUSE_GRACE_S
        return 0.0

    async def _run_text_turn(self, answer: Answer, text: str) -> None:
        await self._respond(answer, text)

    async def _respond(self, answer: Answer, text: str | None, *, already_in_memory: bool = False) -> None:
        try:
            await self._heard_ready()
            context = [Turn(e.speaker, e.text) for e in self.memory.recent()]
            if text and not already_in_memory:
                self.memory.add_user(text)
                answer.in_memory = True
            if self.policy is not None and text:
                decision = await asyncio.to_thread(self.policy.decide, text, context)
            else:
                decision = None
            if decision is not None and not decision.answer:
                await self._decline(answer, decision)
                return
            async with self._speech_lock:  # with NO_INTERRUPTION an answer may wait for the one playing
                await self._speak(answer, decision)
        except asyncio.CancelledError:
            raise
        except LanguageModelError as exc:
            log.warning("session %s: language model failed: %s", self.session_id, exc)
            self._emit("error", stage="llm", message=str(exc))
            await self._finish_turn(answer, reason=None, outcome="answered", extra={"error": str(exc)})

    async def _decline(self, answer: Answer, decision: Decision) -> None:
        for entry in reversed(self.memory.entries):  # people talking among themselves: not context for answers
            if entry.kind == "user":
                entry.addressed = False
                break
        self._emit("decision", answer_id=answer.id, **decision.to_json())
        log.info("session %s: %s", self.session_id, decision.reason)
        await self._finish_turn(answer, reason="RESPONSE_REJECTED", outcome="declined",
                                extra={"decision": decision.to_json()})

    async def _speak(self, answer: Answer, decision: Decision | None) -> None:
        if answer.voice is not None:
            self._answered_voices.add(answer.voice)
        if decision is not None:
            self._emit("decision", answer_id=answer.id, **decision.to_json())
            log.info("session %s: %s", self.session_id, decision.reason)
        plan = await self._answer_plan(answer)
        max_tokens = self.setup.max_output_tokens or DEFAULT_MAX_ANSWER_TOKENS
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

        def produce() -> None:
            try:
                for delta in plan.stream_reply(self.llm, max_tokens=max_tokens, cancel=answer.cancel):
                    loop.call_soon_threadsafe(deltas.put_nowait, delta)
            except BaseException as exc:  # handed to the loop, re-raised there
                loop.call_soon_threadsafe(deltas.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(deltas.put_nowait, None)

        producer = loop.run_in_executor(None, produce)
        text_only = self.setup.response_modalities == ("TEXT",)
        clips: asyncio.Queue[SpokenAudio | None] = asyncio.Queue()
        speaker = None if text_only else asyncio.create_task(self._play(answer, clips))
        splitter = ClauseSplitter(max_sentences=2)
        synth = self.services.synthesizer(self.voice_id)
        try:
            while True:
                item = await deltas.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                for clause in splitter.feed(item):
                    await self._emit_clause(answer, clause, synth, clips, text_only)
                if splitter.done:
                    answer.cancel.set()
            for clause in splitter.flush():
                await self._emit_clause(answer, clause, synth, clips, text_only)
            await clips.put(None)
            if speaker is not None:
                await speaker
        finally:
            answer.cancel.set()
            if speaker is not None and not speaker.done():
                speaker.cancel()
            await asyncio.shield(producer)
        spoken = " ".join(answer.spoken_text)
        self.memory.add_assistant(spoken)
        await self._send(out.generation_complete())
        extra = {"decision": decision.to_json()} if decision is not None else {}
        extra["answer_id"] = answer.id
        await self._finish_turn(answer, reason=None, outcome="answered", extra=extra)

    async def _emit_clause(self, answer: Answer, clause: str, synth: Any, clips: asyncio.Queue[SpokenAudio | None],
                           text_only: bool) -> None:
        if text_only:
            answer.spoken_text.append(clause)
            answer.speaking = True
            self.meter.add_output_text(self.llm.count_tokens(clause))
            await self._send(out.model_text(clause + " "))
            return
        clip = await asyncio.to_thread(synth.synthesize, clause)
        await clips.put(clip)

    async def _play(self, answer: Answer, clips: asyncio.Queue[SpokenAudio | None]) -> None:
        """Send clips in <= 100 ms chunks, paced at real time plus a small lead."""
        tracker = PlaybackTracker(clock=self.options.clock, lead_s=self.options.output_lead_s)
        answer.playback = tracker
        while (clip := await clips.get()) is not None:
            if not len(clip.pcm):
                continue
            tracker.add_words(tracker.sent_s, clip.word_end_s)
            answer.spoken_text.append(clip.text)
            if self.setup.output_transcription:
                await self._send(out.output_transcription(clip.text + " "))
            pcm = clip.pcm.astype("<i2").tobytes()
            for start in range(0, len(clip.pcm), CHUNK_SAMPLES):
                await answer.may_send.wait()
                wait = tracker.wait_before_next()
                if wait > 0:
                    await asyncio.sleep(wait)
                    await answer.may_send.wait()
                chunk = pcm[start * 2 : (start + CHUNK_SAMPLES) * 2]
                if answer.finished:
                    return
                # The microphone will hear this chunk once it plays: tell the echo canceller when.
                self.echo.add_reference(clip.pcm[start : start + CHUNK_SAMPLES], OUTPUT_RATE,
                                        self.detector.clock_s + tracker.play_delay_s())
                await self._send(out.model_audio(chunk))
                samples = len(chunk) // 2
                tracker.on_sent(samples)
                self.meter.add_output_audio(samples, OUTPUT_RATE)
                if not answer.speaking:
                    answer.speaking = True
                    self._emit("first_audio", answer_id=answer.id)

    def _interrupt(self, answer: Answer, *, reason: str) -> None:
        """Stop the answer now; memory keeps only what the listener heard. No await before the stop."""
        if answer.finished:
            return
        answer.finished = True
        answer.stop()
        answer.may_send.set()
        self._last_interrupt_at_s = self.detector.clock_s
        if self._overlap is not None and self._overlap.answer is answer:
            self._overlap = None
        heard = answer.playback.heard_text() if answer.playback else ""
        played = answer.playback.played_s() if answer.playback else 0.0
        if heard:
            self.memory.add_assistant(heard, interrupted=True)
        if self._answer is answer:
            self._answer = None
        self._emit("interrupted", answer_id=answer.id, reason=reason, heard=heard, played_s=round(played, 3))
        self._spawn(self._send_interrupted(answer))

    async def _send_interrupted(self, answer: Answer) -> None:
        await self._send(out.interrupted())
        await self._record_and_complete(answer, reason=None, outcome="interrupted", extra={"answer_id": answer.id})

    async def _finish_turn(self, answer: Answer, *, reason: str | None, outcome: str, extra: dict[str, Any]) -> None:
        if answer.finished:
            return
        answer.finished = True
        if self._answer is answer:
            self._answer = None
        if answer.playback is not None and answer.playback.sent_samples:
            self._answer_heard_until_s = self.detector.clock_s + answer.playback.play_delay_s()
        await self._record_and_complete(answer, reason=reason, outcome=outcome, extra=extra)

    async def _record_and_complete(self, answer: Answer, *, reason: str | None, outcome: str, extra: dict[str, Any]) -> None:
        self._turn_index += 1
        await self._record(outcome)  # the ledger first: it must hold at least what the client is told
        usage = self.meter.take_turn()
        self._emit("turn_complete", answer_id=answer.id, outcome=outcome, usage=usage.to_wire(vertex=False))
        await self._send(out.turn_complete(usage.to_wire(vertex=self.options.vertex), reason=reason, extra=extra))
        await self._send_resumption_update()  # a handle after each turn, when the setup asked (#6)

    async def _record(self, outcome: str) -> None:
        """Commit what the ledger has not seen yet (off the event loop); no-op without a ledger."""
        ledger = self.services.ledger
        if ledger is None:
            return
        usage = self.meter.take_unrecorded()
        if not usage.total_tokens:
            return
        event = UsageEvent.from_usage(
            usage,
            session_id=self.session_id,
            turn_index=self._turn_index,
            api_key_id=self.options.api_key_id,
            model=self.model.name,
            at=datetime.now(UTC),
            outcome=outcome,  # type: ignore[arg-type]
        )
        await asyncio.to_thread(ledger.record, event)

    async def _checkpoint_listening(self) -> None:
        """Record listening time about once a second, so a killed server loses at most that second."""
        while True:
            await asyncio.sleep(LEDGER_CHECKPOINT_S)
            await self._record("listening")

    # ---------------------------------------------------------------- plumbing

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
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
        if self._answer is not None:
            self._answer.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self._record("listening")
        except Exception:  # the socket is gone; the ledger failure must still be visible
            log.exception("session %s: could not record final usage", self.session_id)
