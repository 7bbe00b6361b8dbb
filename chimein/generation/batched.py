"""Many conversations decoded together by one llama.cpp context: parallel slots, one batch per step.

A small model on a CPU is limited by reading its weights, not by arithmetic, so one decoding
step for eight conversations costs little more than a step for one. :class:`BatchedLlamaEngine`
owns one llama context with ``slots`` KV-cache sequences (one per conversation, in a unified
cache) and a single thread that, each step, feeds every running request its next token and the
next chunk of any prompt still being read, decodes them in one ``llama_decode`` call and samples
each request's token. Callers in worker threads just iterate :meth:`generate`.

Each slot keeps the tokens its cache holds, so a conversation's next turn only evaluates what
is new:

* the longest common prefix is kept (the turn before, the system prompt);
* a span dropped from the middle (the oldest turn leaving the bounded history) is cut out of
  the cache and the rest shifted down (llama.cpp's cache reuse, as its server's
  ``--cache-reuse``), so a sliding window costs no re-evaluation;
* a new conversation starts from the longest prefix any slot holds (the shared system prompt
  and examples), copied into its sequence without evaluation, and again when it is first
  served: conversations that start together with the same new instruction read it once, not
  once each;
* with more conversations than slots, the least recently used slot is handed over and its
  cells are kept in host memory (up to ``saved_bytes_limit``), to be put back when that
  conversation speaks again.

Admission (how many requests run at once, in what order) is the caller's: see
:mod:`chimein.generation.scheduler`.
"""

from __future__ import annotations

import ctypes
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chimein.generation.cores import SpareCores, name_this_thread

__all__ = ["BatchedLlamaEngine", "GenerationStats"]

CACHE_REUSE_MIN_TOKENS = 16
"""A cached run must match at least this many tokens to be shifted into place rather than re-evaluated."""
PENALTY_LAST_N = 64
"""Repeat penalty looks back this many generated tokens (llama-cpp-python's default)."""
SPEAKING_INTERVAL_S = 0.15
"""An answer already speaking gets a token at least this often (~6 tokens/s, twice the pace of speech)."""
SPEAKING_PER_URGENT_STEP = 2
"""At most this many speaking answers ride along with an urgent step (longest waiting first): with
many answers speaking, serving them all every 150 ms would take every step and starve the next
question's first clause."""
FIRST_CLAUSE_REST_S = 0.25
"""An answer rests this long once its first clause is out: the voice is synthesising that clause
on the same cores, and every token the model writes meanwhile delays the first sound (measured:
a 9-word clause took Piper 0.26 s alone, 0.35-0.42 s with the model still writing). The clause
lasts well over a second when spoken, so the next one is still ready in time."""
PREFILL_CHUNK_WITH_SPEAKERS = 32
"""Prompt tokens per step while other answers are speaking, so a long prompt cannot stall their voices."""


@dataclass
class GenerationStats:
    """Where one request's time went (for benchmarks and logs)."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens found in the cache (kept, shifted or copied), not evaluated again."""
    shifted_tokens: int = 0
    """Of those, tokens moved down after an older span was cut out."""
    queued_s: float = 0.0
    """From submission to the engine picking the request up."""
    prefill_s: float = 0.0
    """From pickup to the first token sampled."""
    generated_tokens: int = 0
    batch_peers: int = 0
    """The most other requests decoded in the same batch as this one."""
    steps: int = 0
    steps_on_spare_core: int = 0
    """Of its steps, those that also used a second core (``SpareCores``)."""


@dataclass
class _Slot:
    seq: int
    cached: list[int] = field(default_factory=list)
    owner: str | None = None
    busy: bool = False
    last_used: float = 0.0


@dataclass
class _Request:
    tokens: list[int]
    key: str | None
    max_tokens: int
    repeat_penalty: float
    banned: np.ndarray
    stop: frozenset[int]
    cancel: threading.Event | None
    relaxed: threading.Event
    """Set by the caller once the answer's first clause is out: from then on it yields to newer answers."""
    out: queue.SimpleQueue[int | BaseException | None] = field(default_factory=queue.SimpleQueue)
    closed: threading.Event = field(default_factory=threading.Event)
    stats: GenerationStats = field(default_factory=GenerationStats)
    submitted: float = field(default_factory=time.perf_counter)
    slot: _Slot | None = None
    pending: list[int] = field(default_factory=list)
    """Prompt tokens not yet in the cache."""
    generated: list[int] = field(default_factory=list)
    last: int | None = None
    """The latest sampled token, to be fed next step."""
    started: float = 0.0
    served_at: float = 0.0
    rest_until: float | None = None
    """Set when the first clause is seen out: not served before then (FIRST_CLAUSE_REST_S)."""

    def stopped(self) -> bool:
        return self.closed.is_set() or (self.cancel is not None and self.cancel.is_set())

    def resting(self, now: float) -> bool:
        return self.rest_until is not None and now < self.rest_until


class BatchedLlamaEngine:
    """A llama.cpp context with ``slots`` sequences and one decoding thread shared by all callers.

    ``n_threads`` / ``n_threads_batch``: the most threads a step of one token / of several may
    use; each step uses fewer while the machine's other work holds the cores (``SpareCores``).
    """

    THREAD_NAME = "llama-batch"

    def __init__(
        self,
        model_path: str | Path,
        *,
        slots: int = 8,
        seq_ctx: int = 1024,
        n_batch: int = 512,
        n_threads: int = 1,
        n_threads_batch: int = 1,
        use_extra_buffers: bool = False,
        saved_bytes_limit: int = 128 << 20,
        unified: bool = True,
        flash_attention: bool | None = False,
    ) -> None:
        import llama_cpp
        from llama_cpp import _internals
        from llama_cpp._logger import set_verbose

        set_verbose(False)  # llama.cpp's load and context logs: errors only, as Llama(verbose=False) does
        self._llama_cpp = llama_cpp
        model_params = llama_cpp.llama_model_default_params()
        # ggml's "extra" CPU buffer types are the AMX and weight-repacking kernels. On this
        # project's build machine (Xeon with AMX, inside a VM) the AMX kernel dies with a general
        # protection fault at `ldtilecfg` on the first multi-token batch; for SmolLM2's Q4_1
        # weights the repacking kernels do not apply, so turning them off costs nothing elsewhere.
        model_params.use_extra_bufts = use_extra_buffers
        self.model = _internals.LlamaModel(path_model=str(model_path), params=model_params, verbose=False)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = slots * seq_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = slots
        # One pool of cells: a shared prompt head is stored once. Measured against one stream per
        # sequence (12 conversations x 20 tokens, same process, alternating): 9.6 s vs 12.7 s median.
        params.kv_unified = unified
        # llama.cpp's default ("auto") turns flash attention on for the CPU, where its kernel
        # reads the f16 cache slowly: one conversation of ~700 tokens decoded at 55-62 ms per
        # piece with it and 33-39 ms without; first token 244-343 vs 160-215 ms. (A q8_0 cache
        # made flash attention as fast, but dropping the oldest turn then re-rotates every
        # quantised key: 550-800 ms turns after turn 20.)
        # (None leaves llama.cpp's choice, for measuring: scripts/measure_llm_attention.py.)
        if flash_attention is not None:
            params.flash_attn_type = (
                llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attention else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
            )
        params.n_threads = 1
        params.n_threads_batch = 1
        self._max_threads = (n_threads, n_threads_batch)
        self._threads_now = 1
        self._cores = SpareCores(max(n_threads, n_threads_batch), thread_name=self.THREAD_NAME)
        params.no_perf = True
        self._ctx = _internals.LlamaContext(model=self.model, params=params, verbose=False)
        self._mem = self._ctx.memory
        self._batch = _internals.LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=1, verbose=False)
        self.slots = slots
        self.unified = unified
        self.seq_ctx = seq_ctx
        self.n_batch = n_batch
        self.n_vocab = self.model.n_vocab()
        self._slots = [_Slot(i) for i in range(slots)]
        self._saved: OrderedDict[str, tuple[list[int], bytes]] = OrderedDict()
        """Caches of conversations whose slot went to another one, oldest first (tokens, KV bytes)."""
        self.saved_bytes = 0
        self.saved_bytes_limit = saved_bytes_limit
        self._incoming: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=self.THREAD_NAME, daemon=True)
        self._thread.start()

    # -- caller side ----------------------------------------------------------------------------
    def generate(
        self,
        tokens: Sequence[int],
        *,
        key: str | None = None,
        max_tokens: int = 80,
        repeat_penalty: float = 1.0,
        banned: Sequence[int] = (),
        stop: Sequence[int] = (),
        cancel: threading.Event | None = None,
        first_clause_out: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[int]:
        """Sampled token ids (greedy), streamed as they come; ``max_tokens=0`` only fills the cache.

        ``key`` names the conversation, so its next turn lands on the slot holding its cache.
        Set ``first_clause_out`` once the caller has the answer's first clause: until then this
        request has priority over answers that are already speaking (see :meth:`_plan`).
        Closing the iterator or setting ``cancel`` stops the request within one step. The
        caller must not run more than ``slots`` of these at once (use a scheduler).
        """
        if self._closed:
            raise RuntimeError("the engine is closed")
        if not tokens:
            raise ValueError("empty prompt")
        request = _Request(
            list(tokens), key, max_tokens, repeat_penalty, np.asarray(sorted(set(banned)), dtype=np.intp),
            frozenset(stop), cancel, first_clause_out if first_clause_out is not None else threading.Event(),
        )
        if stats is not None:
            request.stats = stats
        self._incoming.put(request)
        self._wake.set()
        try:
            while True:
                item = request.out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.closed.set()
            self._wake.set()

    def cached_tokens(self, key: str) -> list[int]:
        """What the slot of conversation ``key`` holds (a copy; empty when it has none)."""
        for slot in self._slots:
            if slot.owner == key:
                return list(slot.cached)
        return []

    def close(self) -> None:
        self._closed = True
        self._incoming.put(None)
        self._wake.set()
        self._thread.join(timeout=5)

    # -- the decoding thread ---------------------------------------------------------------------
    def _run(self) -> None:
        name_this_thread(self.THREAD_NAME)  # before OpenMP starts its workers: they take the name
        active: list[_Request] = []
        while True:
            while True:  # take new requests
                try:
                    request = self._incoming.get_nowait()
                except queue.Empty:
                    break
                if request is None:
                    for r in active:
                        r.out.put(RuntimeError("the engine closed"))
                    return
                try:
                    self._start(request, active)
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    request.out.put(exc)
                    continue
                active.append(request)
            for request in [r for r in active if r.stopped()]:
                self._finish(request, active)
            if not active:
                self._wake.wait()
                self._wake.clear()
                continue
            resting = self._resting_s(active)
            if resting > 0:  # every request is resting: wait for the first to wake, or for news
                self._wake.wait(resting)
                self._wake.clear()
                continue
            try:
                self._step(active)
            except Exception as exc:  # noqa: BLE001 - every running request learns of it
                for request in list(active):
                    request.out.put(exc)
                    self._finish(request, active, drop_cache=True)

    def _start(self, request: _Request, active: list[_Request]) -> None:
        request.stats.queued_s = time.perf_counter() - request.submitted
        request.started = time.perf_counter()
        tokens = request.tokens
        if len(tokens) + request.max_tokens > self.seq_ctx:
            raise ValueError(f"prompt of {len(tokens)} tokens + {request.max_tokens} to generate exceeds {self.seq_ctx}")
        if request.key is not None and request.max_tokens > 0:
            # A prefill of this conversation still running (speculative, started while the person
            # was finishing) stops here: what it fed stays in the cache for this request to reuse.
            for other in list(active):
                if other.key == request.key and other.max_tokens <= 0:
                    self._finish(other, active)
        slot = self._pick_slot(request.key, tokens)
        slot.busy = True
        slot.owner = request.key
        slot.last_used = time.monotonic()
        request.slot = slot
        kept, shifted = self._reuse(slot, tokens)
        if kept >= len(tokens):  # the whole prompt is cached: re-evaluate the last token for its logits
            self._truncate(slot, len(tokens) - 1)
            kept = len(tokens) - 1
        request.pending = tokens[kept:]
        request.stats.prompt_tokens = len(tokens)
        request.stats.cached_tokens = kept
        request.stats.shifted_tokens = shifted

    def _pick_slot(self, key: str | None, tokens: list[int]) -> _Slot:
        idle = [s for s in self._slots if not s.busy]
        if not idle:
            raise RuntimeError("no free generation slot (more requests than slots were let in)")
        if key is not None:
            for slot in idle:
                if slot.owner == key:
                    return slot
        # Prefer a slot nobody owns, then the least recently used; among unowned, the best prefix.
        unowned = [s for s in idle if s.owner is None]
        pool = unowned or idle
        slot = max(pool, key=lambda s: (_common_prefix(s.cached, tokens), -s.last_used)) if unowned else min(
            pool, key=lambda s: s.last_used
        )
        if slot.owner is not None and slot.owner != key and slot.cached:
            self._save(slot)  # its conversation may come back: keep its cache in memory
        if key is not None and self._restore(key, slot):
            return slot
        # Start from the longest prefix any slot holds (the shared head), copied without evaluation.
        self._copy_longest_prefix(slot, tokens, longer_than=_common_prefix(slot.cached, tokens))
        return slot

    def _copy_longest_prefix(self, slot: _Slot, tokens: list[int], *, longer_than: int) -> bool:
        """Make ``slot`` hold the longest prefix of ``tokens`` another slot holds, if it is longer
        than ``longer_than``; the cells are copied, not evaluated. False when none is."""
        best, best_n = None, longer_than
        for other in self._slots:
            if other is not slot:
                n = _common_prefix(other.cached, tokens)
                if n > best_n:
                    best, best_n = other, n
        if best is None:
            return False
        llama_cpp = self._llama_cpp
        llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, -1, -1)
        if self.unified:  # one pool: the copy shares the cells
            llama_cpp.llama_memory_seq_cp(self._mem, best.seq, slot.seq, 0, best_n)
        else:  # one stream per sequence: llama.cpp copies whole streams only; then cut the rest
            llama_cpp.llama_memory_seq_cp(self._mem, best.seq, slot.seq, -1, -1)
            llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, best_n, -1)
        slot.cached = best.cached[:best_n]
        return True

    def _save(self, slot: _Slot) -> None:
        """Copy a slot's KV cells to host memory before the slot goes to another conversation."""
        llama_cpp = self._llama_cpp
        size = llama_cpp.llama_state_seq_get_size(self._ctx.ctx, slot.seq)
        if size <= 0 or size > self.saved_bytes_limit:
            return
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._ctx.ctx, buffer, size, slot.seq)
        if written <= 0:
            return
        assert slot.owner is not None
        self._saved.pop(slot.owner, None)
        self._saved[slot.owner] = (list(slot.cached), bytes(buffer)[:written])
        self.saved_bytes = sum(len(data) for _, data in self._saved.values())
        while self.saved_bytes > self.saved_bytes_limit:
            _, (_, data) = self._saved.popitem(last=False)  # the longest unused conversation goes
            self.saved_bytes -= len(data)

    def _restore(self, key: str, slot: _Slot) -> bool:
        """Put a saved conversation's cells back into ``slot``; False (slot emptied) if none or no room."""
        saved = self._saved.pop(key, None)
        if saved is None:
            return False
        tokens, data = saved
        self.saved_bytes -= len(data)
        llama_cpp = self._llama_cpp
        llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, -1, -1)
        slot.cached = []
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_seq_set_data(self._ctx.ctx, buffer, len(data), slot.seq) <= 0:
            llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, -1, -1)
            return False
        slot.cached = tokens
        return True

    def _reuse(self, slot: _Slot, tokens: list[int]) -> tuple[int, int]:
        """Make the slot's cache a prefix of ``tokens``, keeping every long matching run; (kept, shifted)."""
        llama_cpp = self._llama_cpp
        cached = slot.cached
        n_past = _common_prefix(cached, tokens)
        shifted = 0
        head_c = head_p = n_past
        while head_c < len(cached) and head_p < len(tokens):
            n_match = 0
            while (
                head_c + n_match < len(cached)
                and head_p + n_match < len(tokens)
                and cached[head_c + n_match] == tokens[head_p + n_match]
            ):
                n_match += 1
            if n_match >= CACHE_REUSE_MIN_TOKENS:
                delta = head_p - head_c
                llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, head_p, head_c)
                llama_cpp.llama_memory_seq_add(self._mem, slot.seq, head_c, head_c + n_match, delta)
                cached[head_p : head_p + n_match] = cached[head_c : head_c + n_match]
                n_past += n_match
                shifted += n_match
                head_c += n_match
                head_p += n_match
            else:
                head_c += 1
        self._truncate(slot, n_past)
        return n_past, shifted

    def _catch_up(self, request: _Request) -> None:
        """At a request's first step, copy what another slot has read since it arrived: conversations
        that start together with the same new instruction all found no slot holding it; the first
        to be served reads it, and the others copy its cells instead of reading it again each."""
        slot = request.slot
        assert slot is not None
        have = len(slot.cached)
        # The last token is left to evaluate for its logits; a short match is not worth a copy.
        if self._copy_longest_prefix(slot, request.tokens[:-1], longer_than=have + CACHE_REUSE_MIN_TOKENS - 1):
            request.pending = request.tokens[len(slot.cached):]
            request.stats.cached_tokens += len(slot.cached) - have

    def _truncate(self, slot: _Slot, n: int) -> None:
        if len(slot.cached) > n or n == 0:
            self._llama_cpp.llama_memory_seq_rm(self._mem, slot.seq, n, -1)
        del slot.cached[n:]

    def _finish(self, request: _Request, active: list[_Request], *, drop_cache: bool = False) -> None:
        if request in active:
            active.remove(request)
        slot = request.slot
        if slot is not None:
            if drop_cache:
                self._truncate(slot, 0)
            slot.busy = False
            slot.last_used = time.monotonic()
        request.slot = None
        request.out.put(None)

    def _plan(self, active: list[_Request]) -> tuple[list[_Request], int]:
        """Which requests this step serves, and how many prompt tokens the urgent one may feed.

        On a CPU a small model's cost grows with the tokens decoded, batched or not (measured:
        one step for eight conversations took about eight times one step for one), so batching
        does not make answers cheaper and the order of work decides latency. What a listener
        waits for is the first clause of an answer; after that the voice is busy speaking it.
        So: the oldest answer that has not reached its first clause gets every step, alone (in
        arrival order: a person who asked first hears first); answers already speaking get a
        token at least every ``SPEAKING_INTERVAL_S`` (about twice the speed of speech, so their
        voice rarely waits), at most ``SPEAKING_PER_URGENT_STEP`` of them per urgent step, and
        all of them every step when nothing is urgent (after resting ``FIRST_CLAUSE_REST_S`` while
        their first clause is voiced); prefills asked for ahead of time only run
        when nothing else does.
        """
        now = time.perf_counter()
        urgent = [r for r in active if r.max_tokens > 0 and not r.relaxed.is_set()]
        speaking = [r for r in active if r.max_tokens > 0 and r.relaxed.is_set() and not r.resting(now)]
        background = [r for r in active if r.max_tokens <= 0]
        if not urgent:
            chosen = speaking if speaking else background[:1]
            return chosen, self.n_batch
        due = sorted((r for r in speaking if now - r.served_at >= SPEAKING_INTERVAL_S), key=lambda r: r.served_at)
        due = due[:SPEAKING_PER_URGENT_STEP]
        chunk = PREFILL_CHUNK_WITH_SPEAKERS if speaking else self.n_batch
        return [urgent[0], *due], chunk

    @staticmethod
    def _resting_s(active: list[_Request]) -> float:
        """Seconds until a request can be served when all of them are resting, else 0. A request
        whose first clause has just come out starts its rest here."""
        now = time.perf_counter()
        for r in active:
            if r.relaxed.is_set() and r.rest_until is None and r.max_tokens > 0:
                r.rest_until = now + FIRST_CLAUSE_REST_S
        if not all(r.resting(now) for r in active):
            return 0.0
        return min(r.rest_until for r in active if r.rest_until is not None) - now

    def _step(self, active: list[_Request]) -> None:
        """One llama_decode over the requests :meth:`_plan` picks; then sample each finished row."""
        llama_cpp = self._llama_cpp
        batch = self._batch.batch
        n = 0
        rows: list[tuple[_Request, int]] = []  # (request, batch row whose logits it samples)

        def add(token: int, slot: _Slot, logits: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = len(slot.cached)
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = slot.seq
            batch.logits[n] = logits
            slot.cached.append(token)
            n += 1

        chosen, chunk = self._plan(active)
        for request in chosen:  # before this step adds tokens: only cells already decoded are copied
            if request.pending and request.stats.steps == 0:
                self._catch_up(request)
        now = time.perf_counter()
        for request in chosen:
            assert request.slot is not None
            request.served_at = now
            if request.pending:
                take = request.pending[: max(1, min(chunk, self.n_batch - n))]
                del request.pending[: len(take)]
                for i, token in enumerate(take):
                    add(token, request.slot, not request.pending and i == len(take) - 1)
                if not request.pending:
                    rows.append((request, n - 1))
            elif request.last is not None:
                add(request.last, request.slot, True)
                rows.append((request, n - 1))
            if n >= self.n_batch:
                break
        if n == 0:
            return
        batch.n_tokens = n
        threads = self._cores.threads(batch=n > 1)
        if threads != self._threads_now:
            llama_cpp.llama_set_n_threads(self._ctx.ctx, min(threads, self._max_threads[0]),
                                          min(threads, self._max_threads[1]))
            self._threads_now = threads
        code = llama_cpp.llama_decode(self._ctx.ctx, batch)
        if code != 0:
            raise RuntimeError(f"llama_decode failed with code {code} ({n} tokens, {len(active)} requests)")
        peers = len(rows) - 1
        for request in chosen:
            request.stats.steps += 1
            request.stats.steps_on_spare_core += threads > 1
        for request, row in rows:
            request.stats.batch_peers = max(request.stats.batch_peers, peers)
            if request.max_tokens <= 0:  # prefill only: the prompt is in the cache, the last token too
                self._finish(request, active)
                continue
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx.ctx, row), shape=(self.n_vocab,))
            token = self._sample(request, logits.copy())
            if not request.generated:
                request.stats.prefill_s = time.perf_counter() - request.started
            request.generated.append(token)
            request.stats.generated_tokens = len(request.generated)
            if token in request.stop:
                self._finish(request, active)
                continue
            request.out.put(token)
            if len(request.generated) >= request.max_tokens:
                self._finish(request, active)
            else:
                request.last = token

    @staticmethod
    def _sample(request: _Request, logits: np.ndarray) -> int:
        """Greedy, after llama.cpp's repeat penalty over the recent generated tokens and the bans."""
        if request.repeat_penalty != 1.0 and request.generated:
            seen = np.unique(np.asarray(request.generated[-PENALTY_LAST_N:], dtype=np.intp))
            values = logits[seen]
            logits[seen] = np.where(values > 0, values / request.repeat_penalty, values * request.repeat_penalty)
        if request.banned.size:
            logits[request.banned] = -np.inf
        return int(np.argmax(logits))


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n

