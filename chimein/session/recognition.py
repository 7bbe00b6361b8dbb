"""What a turn said and who said it: Whisper biased with the instruction's hints, the early
transcription made at a pause, voice prints, and the split of carried speech into turns (#11).

A collaborator of the runner: it calls the models (in worker threads) and returns results; the
turn controller decides what they mean.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from chimein.generation.scheduler import loop_view
from chimein.perception.asr import ENCODER_WINDOW_S
from chimein.perception.audio import INPUT_RATE
from chimein.policy.hints import recognition_hints
from chimein.policy.instruction import GatingRules
from chimein.policy.turns import split_reason
from chimein.protocol import server_messages as out
from chimein.protocol.messages import Setup
from chimein.session import events as ev
from chimein.session.services import Services


@dataclass
class HeardTurn:
    transcription: Any  # perception.asr.Transcription
    embedding: np.ndarray | None
    split: str | None = None  # why carried speech became a turn of its own (policy/turns.py)
    earlier_text: str | None = None  # the words of the speech it was split from
    split_from: ev.UserTurn | None = None  # the utterance the new turn starts with (this one or one it continues)


KEPT_TURN_TRANSCRIPTIONS = 4
"""Transcriptions of the latest turns kept for a split to reuse (it only ever needs the last one)."""
MAX_SPLIT_BOUNDARIES = 3
"""Pauses a carried turn is checked across for a new voice or a clear gap, newest first."""

_RECOGNISER_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="chimein-asr")
"""Recogniser calls wait for the one shared model in threads of their own, not in the loop's
default pool (cpu_count + 4 threads) that every session's voice activity detection and Smart Turn
need: under load a queue of waiting transcriptions would hold that pool and stall listening (the
same reason answers run in threads of their own, ``generation.scheduler.run_in_own_thread``)."""


def _submit(fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
    loop = asyncio.get_running_loop()
    pool = getattr(loop, "answer_executor", None) or _RECOGNISER_THREADS  # the fast bench counts model work
    return pool.submit(fn, *args, **kwargs)


class _TurnAsr:
    """One turn's transcription: it outlives its turn being dropped, and is skipped if nobody
    wants it by the time the recogniser is free."""

    def __init__(self, call: concurrent.futures.Future[Any] | None = None) -> None:
        self.wanted = True
        self.call = call

    @classmethod
    def start(cls, transcribe: Any, audio: np.ndarray) -> _TurnAsr:
        job = cls()
        job.call = _submit(transcribe, audio, wanted=lambda: job.wanted)
        return job


class Recognition:
    """The session's recogniser: one Whisper call shape, a pending early transcription, word times."""

    def __init__(self, services: Services, setup: Setup, rules: GatingRules, *, second_opinion: bool = False) -> None:
        self._services = services
        self._options = setup.transcription
        # Names, wake phrase and topics bias the recogniser (#11), with the client's customVocabulary.
        self.hotwords = recognition_hints(rules, self._options.vocabulary)
        self.transcribe = functools.partial(services.asr.transcribe, hotwords=self.hotwords,
                                            word_timestamps=self._options.word_timestamp)
        self._speculative: tuple[int, concurrent.futures.Future[Any]] | None = None  # (pause id, ASR of the paused audio)
        self._early: tuple[tuple[int, float], concurrent.futures.Future[Any]] | None = None  # ((utterance, voiced end), ASR)
        self._turn_words: dict[int, tuple[Any, ...]] = {}  # turn id -> (words, language) for its transcript
        self._turn_asr: dict[int, _TurnAsr] = {}  # the latest turns' transcriptions, for a split to reuse
        self._checked: tuple[int, concurrent.futures.Future[Any]] | None = None  # (check id, ASR of a call)
        self._partial: _TurnAsr | None = None  # the words so far of the utterance being spoken
        # A second hearing of declined turns, when the instruction names the assistant (policy/hints.py):
        # loaded now, in the background, so that the first declined turn does not wait for it.
        load = getattr(services, "second_recogniser", None)
        wanted = second_opinion and load is not None and bool(rules.names or rules.wake_phrases)
        self._second = _RECOGNISER_THREADS.submit(load) if wanted else None

    def words_so_far(self, audio: np.ndarray) -> asyncio.Future[Any] | None:
        """The words of an utterance still being spoken (``PrefillPartial``); None while the
        recogniser is busy. Dropped unstarted once a pause's early transcription is asked for."""
        if self._busy():
            return None
        job = _TurnAsr.start(self.transcribe, audio)
        self._partial = job
        assert job.call is not None
        return loop_view(job.call)

    def speculate_early(self, utterance_id: int, at_s: float, audio: np.ndarray) -> None:
        """Start transcribing a little before the pause (``TranscribeEarly``); :meth:`speculate` takes
        it over when its pause has the same voiced end. Skipped while the recogniser is busy with
        other work than this session's own words so far."""
        partial, self._partial = self._partial, None
        if partial is not None:
            partial.wanted = False
        future = self._transcribe_if_idle(audio, own=partial)
        self._early = None if future is None else ((utterance_id, at_s), future)

    def speculate(self, pause_id: int, audio: np.ndarray, *,
                  early_key: tuple[int, float] | None = None) -> asyncio.Future[Any] | None:
        """Transcribe the paused audio now; reused if the turn ends in this pause.

        The early transcription started for the same utterance and voiced end (``early_key``) is
        taken over: the audio since is silence. Otherwise skipped (None) while the recogniser is
        busy: early work must not queue ahead of the turns other sessions have finished, and under
        load it would only add to that queue (#12).
        """
        early, self._early = self._early, None
        taken_over = early is not None and early_key is not None and early[0] == early_key
        call = early[1] if early is not None and taken_over else self._transcribe_if_idle(audio)
        self._speculative = None if call is None else (pause_id, call)
        return None if call is None else loop_view(call)

    def _transcribe_if_idle(self, audio: np.ndarray, *, own: _TurnAsr | None = None) -> concurrent.futures.Future[Any] | None:
        """Early work starts only while the recogniser is idle (see :meth:`speculate`), or busy
        with nothing but ``own``, this session's words so far: queueing behind that one call
        costs less than transcribing the whole turn after it has ended."""
        if self._busy(own):
            return None
        return _submit(self.transcribe, audio)

    def _busy(self, own: _TurnAsr | None = None) -> bool:
        """The shared recogniser has calls running or waiting, other than ``own`` (if still running)."""
        asr = self._services.asr
        mine = own is not None and own.call is not None and not own.call.done()
        return getattr(asr, "in_flight", int(getattr(asr, "busy", False))) > (1 if mine else 0)

    async def hear_turn(self, turn: ev.UserTurn) -> HeardTurn:
        """The turn's words and voice print (after splitting off carried speech in a new voice)."""
        split, earlier_text, own_print, split_from = await self._split_if_new_turn(turn)
        audio = turn.audio
        assert audio is not None
        speculative, self._speculative = self._speculative, None
        # A split turn's audio is the speech the split check has just embedded.
        voice_print = None if own_print is not None else asyncio.ensure_future(
            asyncio.to_thread(self._services.speakers.embed, audio))
        checked, self._checked = self._checked, None
        if speculative is not None and speculative[0] == turn.speculative_pause_id and split is None:
            job = _TurnAsr(speculative[1])  # the audio since that pause is silence: same words
        elif checked is not None and checked[0] == turn.checked_call:
            job = _TurnAsr(checked[1])  # the same audio, already read for a call over the answer
        else:
            job = _TurnAsr.start(self.transcribe, audio)
        self._turn_asr[turn.id] = job
        while len(self._turn_asr) > KEPT_TURN_TRANSCRIPTIONS:
            del self._turn_asr[next(iter(self._turn_asr))]
        assert job.call is not None
        try:
            transcription = await loop_view(job.call)
        except asyncio.CancelledError:
            job.wanted = False  # the turn went on: skip the work if it has not started (a split may want it back)
            raise
        embedding = own_print if voice_print is None else await voice_print
        self._turn_words[turn.id] = (getattr(transcription, "words", ()), getattr(transcription, "language", None))
        return HeardTurn(transcription, embedding, split, earlier_text, split_from)

    async def _split_if_new_turn(
        self, turn: ev.UserTurn,
    ) -> tuple[str | None, str | None, np.ndarray | None, ev.UserTurn | None]:
        """Carried speech in a new voice or after a clear gap is a turn of its own (policy/turns.py):
        returns (why, the earlier speech's words, the new speech's voice print, the utterance it
        starts with) and leaves the new speech alone in ``turn.audio``; all None when it stays one turn.

        A carried turn may continue speech that was itself carried (A, then B's "Hey chef," too short
        for a voice print, then B's question): when the newest boundary does not split, the older ones
        are checked with all the speech after them, so B's words never stay joined to A's."""
        link, checked = turn, 0
        while checked < MAX_SPLIT_BOUNDARIES:
            earlier = link.earlier
            if earlier is None or earlier.audio is None or link.own_audio is None or not len(link.own_audio) \
                    or link.own_start_s is None:
                return None, None, None, None
            checked += 1
            since = _audio_since(turn, link)
            gap_s = link.own_start_s - earlier.end_s
            why, now = split_reason(gap_s, None), None  # a clear gap splits whoever speaks: no voice prints
            if why is None:
                # Compare with the last speaker before this one: the earlier turn's own part when it was
                # itself carried (A, then B, then A again, each before an answer began).
                last = earlier.own_audio if earlier.own_audio is not None and len(earlier.own_audio) else earlier.audio
                before, now = await asyncio.gather(
                    asyncio.to_thread(self._services.speakers.embed, last),
                    asyncio.to_thread(self._services.speakers.embed, since),
                )
                similarity = None if before is None or now is None else float(np.dot(before, now))
                why = split_reason(gap_s, similarity)
            if why is not None:
                break
            link = earlier
        else:
            return None, None, None, None
        words = earlier.text
        if not words:
            words = (await self._transcription_of(earlier)).text.strip()
        turn.audio = since
        return why, words, now, link

    async def _transcription_of(self, turn: ev.UserTurn) -> Any:
        """A dropped turn's words: its own transcription when one was started (still queued, running
        or done), else a new one. Under load the earlier speech is not transcribed twice."""
        job = self._turn_asr.pop(turn.id, None)
        if job is not None and job.call is not None and not job.call.cancelled():
            job.wanted = True
            transcription = await loop_view(job.call)
            if getattr(transcription, "dropped", None) != "unwanted":
                return transcription
        assert turn.audio is not None
        return await loop_view(_submit(self.transcribe, turn.audio))

    async def check_call(self, check_id: int, audio: np.ndarray) -> Any:
        """Quiet speech over an answer, transcribed as a turn would be: if it calls the assistant
        it becomes one, and :meth:`hear_turn` reuses this transcription."""
        call = _submit(self.transcribe, audio)
        self._checked = (check_id, call)
        return await loop_view(call)

    async def words(self, audio: np.ndarray) -> str:
        """Speech over an answer: its words (no word times needed)."""
        result = await loop_view(_submit(self._services.asr.transcribe, audio, hotwords=self.hotwords))
        return result.text

    async def voice_against(self, audio: np.ndarray, voice_id: str) -> tuple[np.ndarray | None, float | None]:
        """The speech's voice print and its similarity to the assistant's own voice ``voice_id``."""
        embedding, own = await asyncio.gather(
            asyncio.to_thread(self._services.speakers.embed, audio),
            asyncio.to_thread(self._services.own_voice_print, voice_id),
        )
        return embedding, (float(np.dot(own, embedding)) if embedding is not None else None)

    async def second_opinion(self, audio: np.ndarray) -> Any | None:
        """Whisper base's transcription of a turn (``policy.hints.wants_second_opinion``), or None:
        off, still loading, too long, or a recogniser busy (under load the first hearing stands).
        Its words replace the first hearing's in the turn's transcript if the caller takes it."""
        loading = self._second
        if loading is None or not loading.done() or loading.exception() is not None:
            return None
        second = loading.result()
        short = len(audio) / INPUT_RATE + 1.0 <= ENCODER_WINDOW_S  # the short encoder window (perception/asr.py)
        if second is None or not short or self._busy() or second.busy:
            return None
        return await loop_view(_submit(second.transcribe, audio, hotwords=self.hotwords, language="en",
                                       word_timestamps=self._options.word_timestamp))

    def use_second_opinion(self, turn_id: int, transcription: Any) -> None:
        """The turn's transcript is the second hearing's: its words and timings go to the client."""
        self._turn_words[turn_id] = (getattr(transcription, "words", ()), getattr(transcription, "language", None))

    def transcription_message(self, action: ev.SendTranscription) -> dict[str, Any]:
        """inputTranscription with what the client asked for: speaker label, offsets, words, language."""
        words, language = self._turn_words.pop(action.turn_id, ((), None))
        start = action.start_s or 0.0
        return out.input_transcription(
            action.text, speaker=action.speaker if self._options.diarization else None, start_s=action.start_s,
            end_s=action.end_s, language=language,
            words=[(w.text, start + w.start_s, start + w.end_s) for w in words] if self._options.word_timestamp else None)


def _audio_since(turn: ev.UserTurn, link: ev.UserTurn) -> np.ndarray:
    """The speech from ``link``'s own start to the end of ``turn`` (``link`` is ``turn`` or speech
    it continues): cut from the turn's continuous audio, else its utterances end to end."""
    assert link.own_audio is not None and turn.own_audio is not None and turn.audio is not None
    if link is turn:
        return link.own_audio
    if turn.carry_start_s is not None and link.own_start_s is not None:
        offset = int(round((link.own_start_s - turn.carry_start_s) * INPUT_RATE))
        if 0 < offset < len(turn.audio) - len(turn.own_audio):
            return turn.audio[offset:]
    parts, step = [], turn
    while step is not link and step is not None and step.own_audio is not None:
        parts.append(step.own_audio)
        step = step.earlier
    parts.append(link.own_audio)
    return np.concatenate(parts[::-1])
