"""Co-listening and long sessions for a live conversation (issue #6).

Heard recordings (audio files in ``clientContent``, recordings played into the microphone),
answers grounded in them, context-window compression and session-resumption handles. The logic
lives in ``chimein/memory/``; this mixin is the part of ``LiveSession`` that drives it, kept apart
so that ``live.py`` reads as the turn-taking state machine it is.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from chimein.memory.colistening import COLISTEN_WAIT_S, CoListening, answer_mode_for, language_of
from chimein.memory.compression import CompressionConfig, compress
from chimein.memory.conversation import AnswerPlan, Entry
from chimein.memory.listening import (
    SUPPORTED_AUDIO_TYPES,
    HeardSentence,
    ListeningProgress,
    iter_audio_16k,
    probe_audio_file,
    stream_transcript,
)
from chimein.perception.activity import TRAILING_PAD_S
from chimein.perception.asr import SpeechRecognizer
from chimein.perception.audio import INPUT_RATE, AudioDecodeError
from chimein.protocol import server_messages as out
from chimein.protocol.messages import CLOSE_INVALID_DATA, CLOSE_POLICY, InlineData, ProtocolError
from chimein.session.resumption import ResumableState, ResumptionError

if TYPE_CHECKING:
    from chimein.session.live import Answer

log = logging.getLogger("chimein.session")


class CoListeningMixin:
    """The methods of ``LiveSession`` that drive heard recordings, compression and resumption.

    They use the session's own state (``setup``, ``options``, ``memory``, ``meter``, ``detector``,
    ``services``, ``_history``, ``_answer``) and plumbing (``_emit``, ``_send``, ``_spawn``).
    """

    def _start_colistening(self) -> CoListening:
        """Called once from __init__: compression settings, the answer mode, a resumed memory."""
        try:
            compression = CompressionConfig.from_setup(self.setup.context_window_compression)
        except ValueError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, str(exc)) from None
        state = CoListening(compression=compression, mode=answer_mode_for(self.llm),
                            language=language_of(self.setup.language_code), conversation_id=self.session_id)
        handle = self.setup.resumption_handle
        resumed = self.options.resumed  # claimed by the server before the session began (off the loop)
        if handle and resumed is None:
            store = self.options.resumption
            if store is None:
                raise ProtocolError(CLOSE_POLICY, "session resumption is not available on this server")
            try:
                resumed = store.claim(handle, self.options.clock())
            except ResumptionError as exc:
                raise ProtocolError(CLOSE_POLICY, exc.reason) from None
        if resumed is not None:
            self.memory = resumed.memory
            state.conversation_id = resumed.conversation_id
            self._emit("resumed", conversation_id=resumed.conversation_id, entries=len(self.memory.entries),
                       recordings=len(self.memory.heard.recordings))
        return state

    async def after_setup(self) -> None:
        """Called by the server right after setupComplete: the first resumption handle."""
        await self._send_resumption_update()

    async def _send_resumption_update(self) -> None:
        """``sessionResumptionUpdate``: a new handle, or resumable false while a recording is transcribed."""
        store = self.options.resumption
        if store is None or self.setup.session_resumption is None or self._closed:
            return
        # With an in-process store always resumable: a recording still being transcribed goes on into
        # the same memory after a disconnect (see _guard_heard_job), and a resumed session waits for it
        # before answering. A shared store keeps a snapshot, which would lose the rest of the recording:
        # not resumable until it is heard (the update after colisten_done carries the handle).
        if not store.by_reference and any(not r.complete for r in self.memory.heard.recordings):
            await self._send(out.session_resumption_update(None, resumable=False))
            return
        state = ResumableState(self.memory, self._colisten.conversation_id)
        handle = await asyncio.to_thread(store.issue, state, self.options.clock())
        if self._closed:
            return
        await self._send(out.session_resumption_update(handle, resumable=True))

    async def _co_listen_file(self, blob: InlineData) -> None:
        """An audio file in clientContent: validate and bill it now, transcribe it in the background."""
        base = blob.mime_type.split(";")[0].strip().lower()
        if not (base.startswith("audio/") or base in ("", "application/octet-stream")):
            raise ProtocolError(CLOSE_INVALID_DATA, f"inlineData {base}: only audio can be co-listened to")
        try:
            info = await asyncio.to_thread(probe_audio_file, blob.data, blob.mime_type)
        except AudioDecodeError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, f"inlineData audio: {exc}") from None
        self.meter.add_input_audio(info.frames, info.rate)
        entry = self.memory.start_heard(source="recording", at_s=self.detector.clock_s, duration_s=info.duration_s)
        self._emit("colisten_started", recording=entry.recording_id, source="file", mime_type=blob.mime_type,
                   duration_s=round(info.duration_s, 3), supported=SUPPORTED_AUDIO_TYPES)
        data, mime = blob.data, blob.mime_type
        self._start_heard_job(entry, lambda: iter_audio_16k(data, mime), total_s=info.duration_s, offset_s=0.0)
        store = self.options.resumption
        if store is not None and not store.by_reference:
            await self._send_resumption_update()  # resumable: false until it is heard (a snapshot would miss it)

    def _keep_as_heard(self, audio: np.ndarray, start_s: float, ended_at_s: float) -> bool:
        """A microphone turn that is a recording playing (memory/media.py): keep it as heard, don't answer."""
        if self.activity_config.disabled:
            return False  # manual activity: the client marks its own turns
        mic = self._colisten.mic
        verdict = mic.classify(start_s, ended_at_s)
        if mic.chain_start_s == start_s:
            self._colisten.chain_entry_index = len(self.memory.entries)
        if verdict == "participant":
            self._colisten.mic_entry = None
            return False
        if verdict == "recording_starts" or self._colisten.mic_entry is None:
            # The recording began with the run of close turns before this one: hear that audio too,
            # and take the turns already answered out of the participants' part of the prompt.
            begin_s = min(mic.chain_start_s, start_s)
            self._colisten.mic_entry = self.memory.start_heard(source="microphone", at_s=begin_s)
            self._colisten.mic_start_s = begin_s
            for earlier in self.memory.entries[self._colisten.chain_entry_index:]:
                if earlier.kind == "user":
                    earlier.addressed = False
            padding = self.activity_config.prefix_padding_ms / 1000
            before = self._history.slice(begin_s - padding, start_s - padding)
            if begin_s < start_s and len(before):
                self._start_heard_job(self._colisten.mic_entry, lambda: iter([before]), total_s=len(before) / INPUT_RATE,
                                      offset_s=0.0)
        entry = self._colisten.mic_entry
        assert entry.recording_id is not None
        audio_start_s = ended_at_s + TRAILING_PAD_S - len(audio) / INPUT_RATE
        self.memory.heard.recording(entry.recording_id).duration_s = ended_at_s - self._colisten.mic_start_s
        self._emit("heard_from_microphone", recording=entry.recording_id, verdict=verdict,
                   start_s=round(start_s, 3), end_s=round(ended_at_s, 3))
        self._start_heard_job(entry, lambda: iter([audio]), total_s=len(audio) / INPUT_RATE,
                              offset_s=max(0.0, audio_start_s - self._colisten.mic_start_s))
        return True

    def _start_heard_job(self, entry: Entry, blocks: Callable[[], Any], *, total_s: float, offset_s: float) -> None:
        assert entry.recording_id is not None
        self.memory.heard.recording(entry.recording_id).complete = False
        cancel = threading.Event()
        job = asyncio.ensure_future(self._run_heard_job(entry, blocks, total_s, offset_s, cancel))
        self._colisten.jobs.add(job)
        job.add_done_callback(self._colisten.jobs.discard)
        self._spawn(self._guard_heard_job(job, cancel))

    async def _guard_heard_job(self, job: asyncio.Future[None], cancel: threading.Event) -> None:
        """Ends with the session (close() cancels it): the transcription stops too, unless the
        session can be resumed from this process, in which case it finishes into the memory the
        handle names (a shared store's handles hold snapshots: nothing would read the rest)."""
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            store = self.options.resumption
            if self.setup.session_resumption is None or store is None or not store.by_reference:
                cancel.set()
                job.cancel()
            raise

    async def _run_heard_job(self, entry: Entry, blocks: Callable[[], Any], total_s: float, offset_s: float,
                             cancel: threading.Event) -> None:
        """Whisper base in a worker thread, window by window; sentences join the memory as they come."""
        loop = asyncio.get_running_loop()
        memory, rid = self.memory, entry.recording_id

        def progress(p: ListeningProgress) -> None:
            loop.call_soon_threadsafe(lambda: self._emit(
                "colisten_progress", recording=rid, done_s=round(offset_s + p.done_s, 2),
                total_s=round(offset_s + total_s, 2), sentences=p.sentences, windows=p.windows))

        def work() -> None:
            recognizer = SpeechRecognizer.shared("base")
            for window in stream_transcript(blocks(), recognizer, self.services.vad, total_s=total_s,
                                            language=self._colisten.language, progress=progress, cancel=cancel):
                shifted = [HeardSentence(s.start_s + offset_s, s.end_s + offset_s, s.text) for s in window]
                vectors = memory.heard.embed([s.text for s in shifted])
                loop.call_soon_threadsafe(memory.add_heard_sentences, entry, shifted, vectors)

        try:
            await asyncio.to_thread(work)
        except asyncio.CancelledError:
            cancel.set()
            raise
        except Exception as exc:  # the probe passed, so a decoder disagreeing with itself, or a bug
            log.exception("session %s: co-listening failed", self.session_id)
            self._emit("error", stage="colisten", message=f"{type(exc).__name__}: {exc}")
        finally:
            memory.finish_heard(entry)  # "complete": nothing more will come for it
        self._emit("colisten_done", recording=rid, sentences=len(memory.heard.segments(rid)),
                   transcript=memory.heard.transcript(rid)[:1000])
        self._compress_context()
        if self._answer is None:
            await self._send_resumption_update()

    async def _heard_ready(self) -> None:
        """Before answering: let recordings still being transcribed finish (bounded), so the answer can use them.

        Polls the memory's recordings rather than this session's jobs: after a resumption the
        transcription may belong to the connection before this one.
        """
        def pending() -> int:
            return sum(not r.complete for r in self.memory.heard.recordings)

        if not pending():
            return
        self._emit("waiting_for_colisten", recordings=pending())
        for _ in range(int(COLISTEN_WAIT_S / 0.1)):
            await asyncio.sleep(0.1)
            if not pending():
                return
        self._emit("colisten_still_running", recordings=pending(), waited_s=COLISTEN_WAIT_S)

    def _compress_context(self) -> None:
        config = self._colisten.compression
        if config is None:
            return
        result = compress(self.memory, config, self.llm.count_tokens)
        if result is not None:
            self._emit("context_compressed", **result.to_json())
            log.info("session %s: context compressed %s", self.session_id, result.to_json())

    async def _answer_plan(self, answer: Answer) -> AnswerPlan:
        """Compress if past the trigger, then ground the question in heard material (memory/)."""
        self._compress_context()
        plan = await asyncio.to_thread(self.memory.answer_plan, self.answer_instruction, mode=self._colisten.mode)
        if plan.grounding is not None or plan.fixed_reply is not None:
            self._emit("grounding", answer_id=answer.id, mode=self._colisten.mode, **plan.to_json())
        return plan
