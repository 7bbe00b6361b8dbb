"""Token accounting for one Live session: what the client is charged for, turn by turn.

The Proactive Audio billing rule (issue #7): every second of audio the client sends is
input, whether the assistant answered, declined or merely listened; output audio counts only
for audio actually sent to the client, so a declined turn has zero output tokens and an
interrupted answer is billed for what was sent, not for what was planned.

Rounding rule (documented in docs/usage.md): audio is 32 tokens per second, and a started
1/32 s counts as a whole token (ceiling). The ceiling is applied to the *cumulative* audio of
the session, never to each chunk, and a turn's tokens are the difference between two such
cumulative figures. So many small chunks never drift, the turns of a session always add up
to the session total, and rounding costs a client less than one token per direction per
session.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from fractions import Fraction

AUDIO_TOKENS_PER_SECOND = 32
"""Gemini counts audio at 32 tokens per second (1,920 a minute), input and output alike."""

_FLOAT_SLACK = 1e-9
"""Tolerance for float seconds such as ``0.1 * 3`` whose product with 32 lands a hair above an integer."""


def audio_tokens(seconds: float) -> int:
    """Tokens for ``seconds`` of audio: ``ceil(seconds * 32)``, 0 for no audio.

    A started 1/32 s counts as a whole token. Float inputs get a 1e-9 token slack so that a
    duration that is an exact multiple of 1/32 s in decimal (``0.25``, ``3 * 0.1 * 10``) is
    not pushed up by binary rounding. For exact accounting pass sample counts to
    :class:`UsageMeter`, which uses integer arithmetic.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"audio duration must be >= 0 seconds, got {seconds!r}")
    if isinstance(seconds, Fraction):
        return math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
    return max(0, math.ceil(seconds * AUDIO_TOKENS_PER_SECOND - _FLOAT_SLACK))


def _exact_tokens(seconds: Fraction, per_second: int) -> int:
    return math.ceil(seconds * per_second)


@dataclass
class TurnUsage:
    """Token counts for one turn (or a whole session), by direction and modality.

    ``input_audio_s``/``output_audio_s`` carry the exact audio durations behind the audio
    token counts; they go to the ledger, not to the wire, and equality ignores them (two
    usages are equal when they bill the same tokens).
    """

    prompt_audio_tokens: int = 0
    prompt_text_tokens: int = 0
    response_audio_tokens: int = 0
    response_text_tokens: int = 0
    input_audio_s: float = field(default=0.0, compare=False)
    output_audio_s: float = field(default=0.0, compare=False)
    sequence: int | None = field(default=None, compare=False)
    """Set by :meth:`UsageMeter.take_unrecorded`: the n-th ledger share of the session (1, 2, ...).
    The ledger keeps one event per (session, sequence), so a retried write never bills twice."""

    @property
    def prompt_tokens(self) -> int:
        """Everything the client sent: audio listened to plus text."""
        return self.prompt_audio_tokens + self.prompt_text_tokens

    @property
    def response_tokens(self) -> int:
        """Everything sent back; 0 for a declined turn."""
        return self.response_audio_tokens + self.response_text_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.response_tokens

    def __add__(self, other: TurnUsage) -> TurnUsage:
        return TurnUsage(
            self.prompt_audio_tokens + other.prompt_audio_tokens,
            self.prompt_text_tokens + other.prompt_text_tokens,
            self.response_audio_tokens + other.response_audio_tokens,
            self.response_text_tokens + other.response_text_tokens,
            self.input_audio_s + other.input_audio_s,
            self.output_audio_s + other.output_audio_s,
        )

    def to_wire(self, *, vertex: bool) -> dict:
        """The ``usageMetadata`` object of a server message, in the client's spelling.

        Gemini API: ``responseTokenCount``/``responseTokensDetails``; Vertex AI:
        ``candidatesTokenCount``/``candidatesTokensDetails`` (the SDK's
        ``_UsageMetadata_from_vertex`` maps these to ``response_*`` and silently drops a
        ``responseTokenCount`` sent to a Vertex client). The three scalar counts are always
        present, zeros included, so a client reads ``response_token_count == 0`` for a
        declined turn rather than ``None``. Details lists name only modalities with a
        non-zero count (the way Google lists only the modalities a request used) and are
        left out when empty; the SDK then reads ``None``.
        """
        response_key = "candidates" if vertex else "response"
        wire: dict = {
            "promptTokenCount": self.prompt_tokens,
            f"{response_key}TokenCount": self.response_tokens,
            "totalTokenCount": self.total_tokens,
        }
        prompt_details = _details(audio=self.prompt_audio_tokens, text=self.prompt_text_tokens)
        if prompt_details:
            wire["promptTokensDetails"] = prompt_details
        response_details = _details(audio=self.response_audio_tokens, text=self.response_text_tokens)
        if response_details:
            wire[f"{response_key}TokensDetails"] = response_details
        return wire


def _details(*, audio: int, text: int) -> list[dict]:
    out = []
    if text:
        out.append({"modality": "TEXT", "tokenCount": text})
    if audio:
        out.append({"modality": "AUDIO", "tokenCount": audio})
    return out


@dataclass(frozen=True)
class AccountingRules:
    """How audio turns into tokens. Defaults follow Gemini: 32 tokens per second both ways.

    Text is not converted here: the session passes token counts from its backend's
    tokenizer. An operator who bills differently (say, not at all for input) sets these.
    """

    input_audio_tokens_per_second: int = AUDIO_TOKENS_PER_SECOND
    """Charged for every second received (speech, silence, ignored chatter, co-listened files)."""
    output_audio_tokens_per_second: int = AUDIO_TOKENS_PER_SECOND
    """Charged for every second actually sent; nothing for a declined turn."""

    def __post_init__(self) -> None:
        if self.input_audio_tokens_per_second < 0 or self.output_audio_tokens_per_second < 0:
            raise ValueError("audio tokens per second must be >= 0")


class _Counters:
    """Cumulative, exact counters: samples per sample rate, text tokens."""

    __slots__ = ("in_samples", "out_samples", "in_text", "out_text")

    def __init__(self) -> None:
        self.in_samples: dict[int, int] = {}
        self.out_samples: dict[int, int] = {}
        self.in_text = 0
        self.out_text = 0

    def copy(self) -> _Counters:
        c = _Counters()
        c.in_samples = dict(self.in_samples)
        c.out_samples = dict(self.out_samples)
        c.in_text, c.out_text = self.in_text, self.out_text
        return c

    @staticmethod
    def seconds(samples: dict[int, int]) -> Fraction:
        return sum((Fraction(n, rate) for rate, n in samples.items()), Fraction(0))


def _usage_between(start: _Counters, end: _Counters, rules: AccountingRules) -> TurnUsage:
    """Usage accrued from ``start`` to ``end``, by differences of cumulative ceilings."""
    in_rate, out_rate = rules.input_audio_tokens_per_second, rules.output_audio_tokens_per_second
    in0, in1 = _Counters.seconds(start.in_samples), _Counters.seconds(end.in_samples)
    out0, out1 = _Counters.seconds(start.out_samples), _Counters.seconds(end.out_samples)
    return TurnUsage(
        prompt_audio_tokens=_exact_tokens(in1, in_rate) - _exact_tokens(in0, in_rate),
        prompt_text_tokens=end.in_text - start.in_text,
        response_audio_tokens=_exact_tokens(out1, out_rate) - _exact_tokens(out0, out_rate),
        response_text_tokens=end.out_text - start.out_text,
        input_audio_s=float(in1 - in0),
        output_audio_s=float(out1 - out0),
    )


def _check_audio(samples: int, rate: int) -> None:
    if samples < 0:
        raise ValueError(f"sample count must be >= 0, got {samples}")
    if rate <= 0:
        raise ValueError(f"sample rate must be > 0 Hz, got {rate}")


class UsageMeter:
    """Per-session counter. The session calls these as audio flows; a turn's usage is taken at turnComplete.

    Audio is kept as exact sample counts per sample rate and converted to tokens only when
    usage is taken, so that 1,000 chunks of 533 samples cost exactly what 533,000 samples
    cost. Two independent cursors read the same counters: :meth:`take_turn` (what the client
    is told at ``turnComplete``) and :meth:`take_unrecorded` (what has not yet reached the
    ledger; a session may checkpoint listening time with it every second so that a SIGKILL
    loses at most the current second). ``rules`` sets tokens per second (default 32 both
    ways). Thread-safe: audio may arrive on one thread while another takes usage.
    """

    def __init__(self, rules: AccountingRules | None = None) -> None:
        self.rules = rules or AccountingRules()
        self._lock = threading.Lock()
        self._now = _Counters()
        self._turn_mark = _Counters()
        self._ledger_mark = _Counters()
        self._ledger_sequence = 0

    def add_input_audio(self, samples: int, rate: int) -> None:
        """Audio received from the client (all of it: speech, silence, chatter, co-listened files)."""
        _check_audio(samples, rate)
        with self._lock:
            self._now.in_samples[rate] = self._now.in_samples.get(rate, 0) + samples

    def add_input_text(self, tokens: int) -> None:
        """Text input, counted by the backend's tokenizer."""
        if tokens < 0:
            raise ValueError(f"token count must be >= 0, got {tokens}")
        with self._lock:
            self._now.in_text += tokens

    def add_output_audio(self, samples: int, rate: int) -> None:
        """Audio actually SENT to the client (not audio generated and then dropped)."""
        _check_audio(samples, rate)
        with self._lock:
            self._now.out_samples[rate] = self._now.out_samples.get(rate, 0) + samples

    def add_output_text(self, tokens: int) -> None:
        """Text actually sent to the client when the text modality is used."""
        if tokens < 0:
            raise ValueError(f"token count must be >= 0, got {tokens}")
        with self._lock:
            self._now.out_text += tokens

    def take_turn(self) -> TurnUsage:
        """Usage since the last ``take_turn`` (per turn, as the Live API reports it)."""
        with self._lock:
            now = self._now.copy()
            usage = _usage_between(self._turn_mark, now, self.rules)
            self._turn_mark = now
        return usage

    def peek_turn(self) -> TurnUsage:
        """Usage of the turn so far, without ending it."""
        with self._lock:
            return _usage_between(self._turn_mark, self._now, self.rules)

    def take_unrecorded(self) -> TurnUsage:
        """Usage since the last ``take_unrecorded``: the next ledger event's share.

        Independent of :meth:`take_turn`; the session records this delta before it sends a
        turn's ``usageMetadata`` so that the ledger always holds at least what the client
        was told.
        """
        with self._lock:
            now = self._now.copy()
            usage = _usage_between(self._ledger_mark, now, self.rules)
            self._ledger_mark = now
            self._ledger_sequence += 1
            usage.sequence = self._ledger_sequence
        return usage

    @property
    def session_total(self) -> TurnUsage:
        """Usage since the session started (equals the sum of all turns taken, plus the open one)."""
        with self._lock:
            return _usage_between(_Counters(), self._now, self.rules)
