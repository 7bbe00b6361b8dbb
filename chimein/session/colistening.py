"""Co-listening and long sessions for a live conversation (issue #6): a collaborator of the session.

Heard recordings (audio files in ``clientContent``, recordings played into the microphone),
answers grounded in them, context-window compression and session-resumption handles. The logic
lives in ``chimein/memory/``; :class:`CoListener` drives it for one session, with the few things
it needs from the session passed in explicitly (no mixin, no reaching into the session).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from chimein.generation.scheduler import run_in_own_thread
from chimein.memory.colistening import COLISTEN_WAIT_S, CoListening, answer_mode_for, language_of
from chimein.memory.compression import CompressionConfig, compress
from chimein.memory.conversation import AnswerPlan, Conversation, Entry
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
from chimein.perception.history import AudioHistory
from chimein.protocol import server_messages as out
from chimein.protocol.messages import (
    CLOSE_INVALID_DATA,
    CLOSE_POLICY,
    ClientContent,
    InlineData,
    ProtocolError,
    Setup,
)
from chimein.session.options import SessionOptions
from chimein.session.resumption import ResumableState, ResumptionError
from chimein.usage.tokens import UsageMeter

log = logging.getLogger("chimein.session")

Emit = Callable[..., None]


def restore(setup: Setup, options: SessionOptions) -> ResumableState | None:
    """The memory a resumption handle names (None: a new conversation); ProtocolError if it cannot be resumed."""
    if options.resumed is not None:  # claimed by the server before the session began (off the loop)
        return options.resumed
    handle = setup.resumption_handle
    if not handle:
        return None
    store = options.resumption
    if store is None:
        raise ProtocolError(CLOSE_POLICY, "session resumption is not available on this server")
    try:
        return store.claim(handle, options.clock())
    except ResumptionError as exc:
        raise ProtocolError(CLOSE_POLICY, exc.reason) from None


class CoListener:
    """Heard recordings, compression and resumption handles for one session."""

    def __init__(self, *, setup: Setup, options: SessionOptions, llm: Any, vad: Any, memory: Conversation,
                 conversation_id: str, session_id: str, meter: UsageMeter, history: AudioHistory,
                 input_clock_s: Callable[[], float], emit: Emit, send: Callable[[dict[str, Any]], None],
                 spawn: Callable[[Awaitable[Any]], asyncio.Future[Any]], replying: Callable[[], bool],
                 closed: Callable[[], bool]) -> None:
        try:
            compression = CompressionConfig.from_setup(setup.context_window_compression)
        except ValueError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, str(exc)) from None
        self.state = CoListening(compression=compression, mode=answer_mode_for(llm),
                                 language=language_of(setup.language_code), conversation_id=conversation_id)
        self.setup, self.options, self.llm, self.vad = setup, options, llm, vad
        self._history_open = setup.initial_history_in_client_content  # clientContent seeds history
        self._resumption_updates = 0  # a handle issued in a worker thread is sent only if still the newest
        self.memory, self.session_id, self.meter, self.history = memory, session_id, meter, history
        self._clock_s, self._emit, self._send, self._spawn = input_clock_s, emit, send, spawn
        self._replying, self._closed = replying, closed
        self._warming: asyncio.Future[Any] | None = None  # the running head start (warm_answer)

    def send_resumption_update(self) -> None:
        """``sessionResumptionUpdate`` with a new handle, when the setup asked for them."""
        store = self.options.resumption
        if store is None or self.setup.session_resumption is None or self._closed():
            return
        self._resumption_updates += 1
        if store.by_reference:
            state = ResumableState(self.memory, self.state.conversation_id)
            # In-process: always resumable. A recording still being transcribed goes on into the same
            # memory after a disconnect (see _guard_job), and a resumed session waits for it.
            self._send(out.session_resumption_update(store.issue(state, self.options.clock()), resumable=True))
            return
        # A shared store keeps a snapshot, which would miss the rest of a recording being heard: not
        # resumable until it is (the update after colisten_done carries the handle). Issuing is a
        # database write: off the event loop.
        if any(not r.complete for r in self.memory.heard.recordings):
            self._send(out.session_resumption_update(None, resumable=False))
            return
        # The snapshot is taken here, between two events; the database write happens in a thread.
        state = ResumableState(self.memory, self.state.conversation_id, snapshot=self.memory.to_snapshot())
        self._spawn(self._issue_shared(store, state, self._resumption_updates))

    async def _issue_shared(self, store: Any, state: ResumableState, update: int) -> None:
        handle = await asyncio.to_thread(store.issue, state, self.options.clock())
        # A newer update went out meanwhile (``resumable: false`` for a file that arrived): this
        # handle's snapshot is older than what the client was told, so it is not sent.
        if not self._closed() and update == self._resumption_updates:
            self._send(out.session_resumption_update(handle, resumable=True))

    async def take_client_content(self, content: ClientContent) -> tuple[bool, str | None]:
        """clientContent's turns join memory and its files are co-listened; returns (answer now?, the
        last user text). With historyConfig.initialHistoryInClientContent, nothing is answered until
        the seeded history ends with turnComplete."""
        seeding = self._history_open
        if seeding and content.turn_complete:
            self._history_open = False
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
                await self.co_listen_file(blob)
        return content.turn_complete and not seeding, last_user_text

    async def co_listen_file(self, blob: InlineData) -> None:
        """An audio file in clientContent: validate and bill it now, transcribe it in the background."""
        base = blob.mime_type.split(";")[0].strip().lower()
        if not (base.startswith("audio/") or base in ("", "application/octet-stream")):
            raise ProtocolError(CLOSE_INVALID_DATA, f"inlineData {base}: only audio can be co-listened to")
        try:
            info = await asyncio.to_thread(probe_audio_file, blob.data, blob.mime_type)
        except AudioDecodeError as exc:
            raise ProtocolError(CLOSE_INVALID_DATA, f"inlineData audio: {exc}") from None
        self.meter.add_input_audio(info.frames, info.rate)
        entry = self.memory.start_heard(source="recording", at_s=self._clock_s(), duration_s=info.duration_s)
        self._emit("colisten_started", recording=entry.recording_id, source="file", mime_type=blob.mime_type,
                   duration_s=round(info.duration_s, 3), supported=SUPPORTED_AUDIO_TYPES)
        data, mime = blob.data, blob.mime_type
        self._start_job(entry, lambda: iter_audio_16k(data, mime), total_s=info.duration_s, offset_s=0.0)
        store = self.options.resumption
        if store is not None and not store.by_reference:
            self.send_resumption_update()  # resumable: false until it is heard (a snapshot would miss it)

    def keep_as_heard(self, audio: np.ndarray, start_s: float, ended_at_s: float, *, prefix_padding_s: float) -> bool:
        """A microphone turn that is a recording playing (memory/media.py): keep it as heard, don't answer."""
        co, mic = self.state, self.state.mic
        verdict = mic.classify(start_s, ended_at_s)
        if mic.chain_start_s == start_s:
            co.chain_entry_index = len(self.memory.entries)
        if verdict == "participant":
            co.mic_entry = None
            return False
        if verdict == "recording_starts" or co.mic_entry is None:
            # The recording began with the run of close turns before this one: hear that audio too,
            # and take the turns already answered out of the participants' part of the prompt.
            begin_s = min(mic.chain_start_s, start_s)
            co.mic_entry = self.memory.start_heard(source="microphone", at_s=begin_s)
            co.mic_start_s = begin_s
            for earlier in self.memory.entries[co.chain_entry_index:]:
                if earlier.kind == "user":
                    earlier.addressed = False
            before = self.history.slice(begin_s - prefix_padding_s, start_s - prefix_padding_s)
            if begin_s < start_s and len(before):
                self._start_job(co.mic_entry, lambda: iter([before]), total_s=len(before) / INPUT_RATE, offset_s=0.0)
        entry = co.mic_entry
        assert entry.recording_id is not None
        audio_start_s = ended_at_s + TRAILING_PAD_S - len(audio) / INPUT_RATE
        self.memory.heard.recording(entry.recording_id).duration_s = ended_at_s - co.mic_start_s
        self._emit("heard_from_microphone", recording=entry.recording_id, verdict=verdict,
                   start_s=round(start_s, 3), end_s=round(ended_at_s, 3))
        self._start_job(entry, lambda: iter([audio]), total_s=len(audio) / INPUT_RATE,
                        offset_s=max(0.0, audio_start_s - co.mic_start_s))
        return True

    def _start_job(self, entry: Entry, blocks: Callable[[], Any], *, total_s: float, offset_s: float) -> None:
        assert entry.recording_id is not None
        self.memory.heard.recording(entry.recording_id).complete = False
        cancel = threading.Event()
        job = asyncio.ensure_future(self._run_job(entry, blocks, total_s, offset_s, cancel))
        self.state.jobs.add(job)
        job.add_done_callback(self.state.jobs.discard)
        self._spawn(self._guard_job(job, cancel))

    async def _guard_job(self, job: asyncio.Future[None], cancel: threading.Event) -> None:
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

    async def _run_job(self, entry: Entry, blocks: Callable[[], Any], total_s: float, offset_s: float,
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
            for window in stream_transcript(blocks(), recognizer, self.vad, total_s=total_s,
                                            language=self.state.language, progress=progress, cancel=cancel):
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
        self.compress_context()
        if not self._replying():
            self.send_resumption_update()

    async def heard_ready(self) -> None:
        """Before answering: let recordings still being transcribed finish (bounded), so the answer can use them.

        Watches the memory's recordings rather than this session's jobs: after a resumption the
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

    def compress_context(self) -> None:
        config = self.state.compression
        if config is None:
            return
        result = compress(self.memory, config, self.llm.count_tokens)
        if result is not None:
            self._emit("context_compressed", **result.to_json())
            log.info("session %s: context compressed %s", self.session_id, result.to_json())

    def warm_answer(self, instruction: str, words: str = "") -> None:
        """Evaluate the next answer's prompt now, if the model can: its head when a person starts
        speaking, then with ``words``, what they have said so far (``PrefillPartial``).

        Skipped while a reply is under way (its words are not in memory yet), while this session's
        previous head start still runs, with ``words`` when heard recordings may add grounding to
        the answer's system prompt, and, by the model's scheduler, when every generation slot is
        busy: it is only a head start.
        """
        prefill = getattr(self.llm, "prefill", None)
        if prefill is None or self._replying() or self._closed() or (self._warming is not None and not self._warming.done()):
            return
        if words and self.memory.heard.recordings:
            return
        notes = self.state.mode == "llm"

        def warm() -> None:  # off the loop: the notes of long recordings join their whole transcripts
            if words:
                prefill(self.memory.preview_messages(instruction, words, notes=notes), conversation=self.memory.key,
                        open_end=True)
                return
            messages = self.memory.next_turn_head(instruction, notes=notes)
            if len(messages) > 1:  # the instruction alone was evaluated when the session began
                prefill(messages, conversation=self.memory.key)

        self._warming = self._spawn(run_in_own_thread(warm))

    async def answer_plan(self, reply_id: str, instruction: str) -> AnswerPlan:
        """Compress if past the trigger, then ground the question in heard material (memory/)."""
        self.compress_context()
        plan = await asyncio.to_thread(self.memory.answer_plan, instruction, mode=self.state.mode)
        if plan.grounding is not None or plan.fixed_reply is not None:
            self._emit("grounding", answer_id=reply_id, mode=self.state.mode, **plan.to_json())
        return plan
