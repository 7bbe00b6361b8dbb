"""``GET /metrics``: Prometheus text for an operator's dashboards and an autoscaler.

Everything is fed at the server edge: the sessions' own event stream (``SessionOptions.observer``:
``turn_complete``, ``decision``, ``speech_ended``, ``first_audio``, ``colisten_started``), the
frames the connection carries (audio in and out), and the language model's in-flight count.
Nothing reaches into a session, and no label carries session contents: labels are fixed sets
(outcome, decision rule names, audio source).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # no *_created series: start times are process_start_time_seconds

__all__ = ["CONTENT_TYPE", "InFlightModel", "ServerMetrics"]

log = logging.getLogger("chimein.server")

LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0)
OUTCOMES = ("answered", "declined", "interrupted")
_RULE = re.compile(r"[a-z][a-z0-9_]{0,39}")


class ServerMetrics:
    """One registry per server (tests run several servers in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        self.sessions_open = Gauge("chimein_sessions_open", "Live sessions open now", registry=r)
        self.sessions = Counter("chimein_sessions_total", "Sessions started", ["kind"], registry=r)
        self.resumptions_refused = Counter(
            "chimein_resumptions_refused_total", "Resumption handles refused (1008)", ["reason"], registry=r)
        self.turns = Counter("chimein_turns_total", "Completed turns by outcome", ["outcome"], registry=r)
        self.answer_latency = Histogram(
            "chimein_answer_latency_seconds",
            "From the server detecting the end of a spoken turn to the answer's first audio chunk sent",
            buckets=LATENCY_BUCKETS, registry=r)
        self.decisions = Counter(
            "chimein_decisions_total", "Proactive-audio decisions by rule", ["rule", "answer"], registry=r)
        self.input_audio = Counter(
            "chimein_input_audio_seconds_total", "Audio received, in seconds", ["source"], registry=r)
        self.output_audio = Counter("chimein_output_audio_seconds_total", "Answer audio sent, in seconds", registry=r)
        self.model_in_flight = Gauge(
            "chimein_model_requests_in_flight",
            "Language model requests running or queued (the embedded model runs one at a time)", registry=r)
        self.go_away = Counter("chimein_go_away_total", "goAway messages sent", ["why"], registry=r)
        self.draining = Gauge("chimein_draining", "1 while the server drains (SIGTERM)", registry=r)
        self.ready = Gauge("chimein_ready", "1 when /readyz answers 200", registry=r)
        self.capacity = Gauge("chimein_max_sessions", "The --max-sessions capacity", registry=r)
        for outcome in OUTCOMES:
            self.turns.labels(outcome)
        for source in ("microphone", "file"):
            self.input_audio.labels(source)
        self._spoken_end: dict[str, float] = {}  # session id -> clock of its latest speech_ended
        self._lock = threading.Lock()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe(self, event: dict[str, Any]) -> None:
        """One session event (called on the event loop, from the session's observer). Never raises:
        a malformed event costs a metric, not the session."""
        try:
            self._observe(event)
        except (TypeError, ValueError, AttributeError):
            log.debug("metrics: cannot use event %r", event.get("type"))

    def _observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        sid = str(event.get("session_id", ""))
        if kind == "speech_ended":
            self._spoken_end[sid] = float(event.get("t", 0.0))
        elif kind == "first_audio":
            ended = self._spoken_end.pop(sid, None)
            if ended is not None:
                self.answer_latency.observe(max(0.0, float(event.get("t", ended)) - ended))
        elif kind == "turn_complete":
            outcome = event.get("outcome")
            if outcome in OUTCOMES:
                self.turns.labels(outcome).inc()
            self._spoken_end.pop(sid, None)
        elif kind == "decision":
            rule = str(event.get("rule", ""))
            self.decisions.labels(rule if _RULE.fullmatch(rule) else "other",
                                  "true" if event.get("answer") else "false").inc()
        elif kind == "colisten_started":
            self.input_audio.labels("file").inc(float(event.get("duration_s") or 0.0))

    def session_closed(self, session_id: str) -> None:
        self._spoken_end.pop(session_id, None)

    def add_input_audio(self, seconds: float) -> None:
        self.input_audio.labels("microphone").inc(seconds)

    def count_output(self, message: dict[str, Any]) -> None:
        """Answer audio in an outgoing server message, in seconds (24 kHz 16-bit mono). Never raises."""
        try:
            self._count_output(message)
        except (TypeError, ValueError, AttributeError):
            log.debug("metrics: cannot read an outgoing message")

    def _count_output(self, message: dict[str, Any]) -> None:
        content = message.get("serverContent")
        if not isinstance(content, dict):
            return
        turn = content.get("modelTurn")
        if not turn:
            return
        for part in turn.get("parts", ()):
            blob = part.get("inlineData")
            if blob and "data" in blob:
                data = blob["data"]
                size = len(data) * 3 // 4 - data[-2:].count("=") if isinstance(data, str) else len(data)
                self.output_audio.inc(size / 2 / _rate(blob.get("mimeType", "")))


def _rate(mime: str) -> int:
    match = re.search(r"rate=(\d+)", mime)
    return int(match.group(1)) if match else 24000


class InFlightModel:
    """The language model, counting requests in flight (running or waiting for the model).

    Wraps whatever ``Services.llm`` is (embedded, OpenAI-compatible, a scheduler) and delegates
    everything else to it, so sessions see the same model.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._count = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._count

    def stream_reply(self, messages: Sequence[Any], **kwargs: Any) -> Iterator[str]:
        with self._lock:
            self._count += 1
        try:
            yield from self._inner.stream_reply(messages, **kwargs)
        finally:
            with self._lock:
                self._count -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


LoadCheck = Callable[[], "str | None"]
"""Returns why this replica should take no new sessions now, or None when it can."""
