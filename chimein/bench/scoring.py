"""Score one run: what the assistant did for each labelled sound, judged against the labels.

Attribution is by time. An answer belongs to the scored sound whose response window (its start
up to the next scored sound's start) contains the answer's first audio byte. Reactive sounds
(back-channels, interrupts) are judged against the answer that was playing when they began.
Everything here is a pure function of the labels and the trace, so the live and the fast
runner are scored identically, and the tests can score hand-made traces.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from chimein.bench.builder import Label, RenderedScene
from chimein.bench.trace import (
    INPUT_RATE,
    OUTPUT_RATE,
    REJECTED,
    Response,
    RunTrace,
    TraceMessage,
    assistant_turns,
)
from chimein.perception.wer import normalize_text, word_errors

PAUSE_GRACE_S = 0.2  # an answer starting this soon after the speaker resumed still took the pause
REACTION_S = 2.0  # a back-channel/interrupt "caused" a stop that came within its length plus this
CAUSE_LOOKBACK_S = 3.0  # a participant onset this soon before an interruption explains it
EARLY_START_S = 0.3  # an answer may begin this much before the labelled end of speech (trailing sounds)


@dataclass
class LabelOutcome:
    """What happened for one labelled sound."""

    id: str
    kind: str
    expect: str
    start_s: float
    outcome: str  # answered | silent | stopped | kept_talking | took_over | n/a
    correct: bool | None  # None: not scorable in this run (e.g. no answer to interrupt)
    latency_s: float | None = None  # speech end -> first audio byte, answered turns
    keyword_hit: bool | None = None
    pause_takeover: bool | None = None  # utterances with mid-sentence pauses: answer audio in a pause
    pause_split: bool | None = None  # ... the server closed a turn (transcript/turnComplete) before the end
    stop_latency_s: float | None = None  # interrupts: onset -> last audio byte
    signal_latency_s: float | None = None  # interrupts: onset -> `interrupted` message
    answer_gap_s: float | None = None  # back-channels: longest silence in the answer's audio after it
    answer_text: str = ""
    heard_text: str = ""  # the input transcription the answer followed
    decisions: list[dict[str, Any]] = field(default_factory=list)  # chimein's explanations (fast runner)
    tags: tuple[str, ...] = ()


@dataclass
class ScenarioResult:
    scenario_id: str
    category: str
    config: str
    runner: str
    duration_s: float
    labels: list[LabelOutcome]
    wer_errors: int = 0
    wer_words: int = 0
    stream_wer_errors: int = 0
    reference: str = ""
    hypothesis: str = ""
    snr_db: float | None = None
    spurious_interruptions: int = 0
    extra_responses: int = 0
    echo_triggered: bool | None = None  # scenarios with echo only
    billing: dict[str, Any] = field(default_factory=dict)
    responses: int = 0
    declines: int = 0
    error: str | None = None
    skipped: str | None = None
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score(scene: RenderedScene, trace: RunTrace) -> ScenarioResult:
    """Judge ``trace`` against ``scene``'s labels."""
    scenario = scene.scenario
    responses, declines = assistant_turns(trace.messages)
    labels = [lab for lab in scene.labels] + list(trace.placed)
    decisions = _decisions_by_time(trace.events)
    owners = attribute(labels, responses)
    outcomes: list[LabelOutcome] = []
    for lab in sorted(labels, key=lambda x: x.start_s):
        if lab.expect == "none" or (lab.reactive and not lab.end_s and lab.kind == "speech"):
            continue
        if lab.kind in ("backchannel", "interrupt"):
            outcomes.append(_score_reactive(lab, responses, trace))
        else:
            owned = [r for r, owner in zip(responses, owners, strict=True) if owner is lab]
            outcomes.append(_score_turn(lab, owned, responses, decisions, trace.messages))
    result = ScenarioResult(
        scenario_id=scenario.id,
        category=scenario.category,
        config=trace.config,
        runner=trace.runner,
        duration_s=round(trace.sent_samples / INPUT_RATE, 3),
        labels=outcomes,
        snr_db=scenario.snr_db,
        responses=len(responses),
        declines=sum(1 for d in declines if d.reason == REJECTED),
        error=trace.error,
        wall_s=round(trace.wall_s, 2),
    )
    _score_wer(result, labels, trace)
    result.spurious_interruptions = _spurious_interruptions(labels, responses)
    result.extra_responses = _extra_responses(labels, responses, owners)
    if scenario.echo is not None:
        result.echo_triggered = result.spurious_interruptions > 0 or result.extra_responses > 0
    result.billing = billing_check(trace, responses, declines)
    return result


# ---------------------------------------------------------------------------------- turns


def attribute(labels: list[Label], responses: list[Response]) -> list[Label | None]:
    """The sound each answer responds to.

    An answer that starts inside a speaker's mid-sentence pause, or while noise, music or a played
    recording is sounding, belongs to that sound (it took the pause / was triggered by it). Otherwise it belongs to the latest sound whose speech had ended when the answer began
    (an answer that starts while the next person is already talking is still the previous
    turn's, late). Interrupts are represented by their request label when they have one.
    """
    requests = {lab.id.removesuffix("-request") for lab in labels if lab.reactive and lab.id.endswith("-request")}
    candidates = [lab for lab in labels if lab.end_s and not (lab.kind == "interrupt" and lab.id in requests)]
    owners: list[Label | None] = []
    for r in responses:
        owner = next((lab for lab in candidates if any(a <= r.start_s <= b + PAUSE_GRACE_S for a, b in lab.pauses)), None)
        if owner is None:  # long non-conversation sounds (chatter is endpointed like speech, below)
            owner = next((lab for lab in candidates if lab.kind in ("noise", "music", "colisten")
                          and lab.start_s <= r.start_s < lab.speech_end_s), None)
        if owner is None:
            ended = [lab for lab in candidates if lab.speech_end_s <= r.start_s + EARLY_START_S]
            owner = max(ended, key=lambda lab: lab.speech_end_s) if ended else None
        owners.append(owner)
    return owners


def _score_turn(lab: Label, inside: list[Response], responses: list[Response],
                decisions: list[tuple[float, dict[str, Any]]], messages: list[TraceMessage]) -> LabelOutcome:
    answered = bool(inside)
    out = LabelOutcome(
        id=lab.id, kind=lab.kind, expect=lab.expect, start_s=round(lab.start_s, 3),
        outcome="answered" if answered else "silent", correct=answered == (lab.expect == "answer"), tags=lab.tags,
    )
    if lab.pauses:
        out.pause_takeover = any(
            any(a <= r.start_s <= b + PAUSE_GRACE_S for a, b in lab.pauses) for r in responses
        )
        first_pause = lab.pauses[0][0]
        out.pause_split = any(
            m.kind in ("input_text", "turn_complete") and first_pause < m.t < lab.speech_end_s for m in messages
        )
    if answered:
        after = [r for r in inside if r.start_s >= lab.speech_end_s - 1e-6]
        first = after[0] if after else inside[0]
        out.latency_s = round(first.start_s - lab.speech_end_s, 3)
        out.answer_text = first.text.strip()
        out.heard_text = first.input_text
        if lab.keywords:
            out.keyword_hit = keyword_hit(first.text, lab.keywords)
    elif lab.keywords and lab.expect == "answer":
        out.keyword_hit = False
    out.decisions = [d for t, d in decisions if lab.start_s <= t < lab.window_end_s]
    return out


def keyword_hit(text: str, keywords: tuple[str, ...]) -> bool:
    """Any keyword (a word or a phrase) present in the answer, after WER normalisation."""
    words = " " + " ".join(normalize_text(text)) + " "
    return any(" " + " ".join(normalize_text(k)) + " " in words for k in keywords if normalize_text(k))


def _score_reactive(lab: Label, responses: list[Response], trace: RunTrace) -> LabelOutcome:
    out = LabelOutcome(id=lab.id, kind=lab.kind, expect=lab.expect, start_s=round(lab.start_s, 3),
                       outcome="n/a", correct=None, tags=lab.tags)
    if not lab.end_s:  # never placed (the run ended first)
        return out
    playing = next((r for r in responses if r.start_s <= lab.start_s < r.playing_until_s), None)
    if playing is None:
        return out  # nothing was playing to interrupt or keep: not scorable
    stopped = playing.interrupted_s is not None and lab.start_s <= playing.interrupted_s <= lab.end_s + REACTION_S
    new_answer = any(r is not playing and lab.start_s <= r.start_s < lab.end_s + REACTION_S + 2.0 for r in responses)
    if lab.kind == "interrupt":
        out.outcome = "stopped" if stopped else "kept_talking"
        if stopped:
            assert playing.interrupted_s is not None
            out.stop_latency_s = round(max(0.0, playing.last_audio_s - lab.start_s), 3)
            out.signal_latency_s = round(playing.interrupted_s - lab.start_s, 3)
    else:
        out.outcome = "took_over" if (stopped or new_answer) else "kept_talking"
        out.answer_gap_s = _longest_gap(trace, playing, lab.start_s)
    wanted = "stopped" if lab.expect == "stop" else "kept_talking"
    out.correct = out.outcome == wanted
    return out


def _longest_gap(trace: RunTrace, response: Response, after_s: float) -> float:
    """Longest stretch after ``after_s`` in which the answer's audio fell behind real time (it was held)."""
    chunks = [m for m in trace.messages if m.kind == "audio" and response.start_s <= m.t <= response.last_audio_s]
    longest = 0.0
    ahead_until = response.start_s  # audio sent so far covers playback up to here
    for m in chunks:
        if m.t > ahead_until and m.t > after_s:
            longest = max(longest, m.t - max(ahead_until, after_s))
        ahead_until = max(ahead_until, m.t) + int(m.data.get("samples", 0)) / OUTPUT_RATE
    return round(longest, 3)


def _decisions_by_time(events: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """chimein's decisions, placed at the end of the speech they were about."""
    ended: dict[str, float] = {}
    out: list[tuple[float, dict[str, Any]]] = []
    for e in events:
        if e.get("type") == "transcribed" and e.get("answer_id"):
            ended[e["answer_id"]] = float(e.get("ended_at_s", e.get("t", 0.0)))
        elif e.get("type") == "decision":
            at = ended.get(e.get("answer_id", ""), float(e.get("t", 0.0)))
            slim = {k: v for k, v in e.items() if k not in ("session_id", "type")}
            out.append((at, slim))  # the end of the speech lies inside the label's own window
    return out


# ---------------------------------------------------------------------------------- others


def _score_wer(result: ScenarioResult, labels: list[Label], trace: RunTrace) -> None:
    """Recognition WER of the participants' speech (and recordings played in the room), from the
    input transcriptions; chatter that gets transcribed counts as insertions.

    A transcript that repeats an earlier one and goes on (a turn continued after a pause is
    transcribed again, whole) supersedes it for the recognition WER; the raw concatenation, as a
    client appending inputTranscription text would show it, gives the stream WER.
    """
    heard = [lab for lab in sorted(labels, key=lambda x: x.start_s) if (lab.participant or lab.kind == "colisten") and lab.end_s]
    refs = [lab for lab in heard if lab.reference]
    if not refs or any(lab.kind == "colisten" and not lab.reference for lab in heard):
        return  # nothing to score, or a played recording whose words are unknown would count as insertions
    reference = " ".join(lab.reference or "" for lab in refs)
    texts = [m.data.get("text", "").strip() for m in trace.messages if m.kind == "input_text"]
    texts = [t for t in texts if t]
    kept: list[str] = []
    for text in texts:
        words = normalize_text(text)
        if kept and words[: len(normalize_text(kept[-1]))] == normalize_text(kept[-1]) and normalize_text(kept[-1]):
            kept[-1] = text
        else:
            kept.append(text)
    hypothesis = " ".join(kept)
    errors, words = word_errors(reference, hypothesis)
    result.wer_errors, result.wer_words = errors, words
    result.stream_wer_errors = word_errors(reference, " ".join(texts))[0]
    result.reference, result.hypothesis = reference, hypothesis


def _spurious_interruptions(labels: list[Label], responses: list[Response]) -> int:
    """Answers cut off with no participant (or interrupt) starting to speak just before."""
    onsets = [lab.start_s for lab in labels if lab.participant and lab.end_s]
    count = 0
    for r in responses:
        if r.interrupted_s is None:
            continue
        if not any(r.interrupted_s - CAUSE_LOOKBACK_S <= t <= r.interrupted_s for t in onsets):
            if not any(lab.kind == "backchannel" and lab.end_s and lab.start_s <= r.interrupted_s <= lab.end_s + REACTION_S
                       for lab in labels):
                count += 1
    return count


def _extra_responses(labels: list[Label], responses: list[Response], owners: list[Label | None]) -> int:
    """Answers after the first one owned by the same utterance: nobody new spoke, yet it answered again."""
    extra = 0
    for lab in labels:
        if lab.kind == "speech":
            extra += max(0, sum(1 for owner in owners if owner is lab) - 1)
    return extra


def billing_check(trace: RunTrace, responses: list[Response], declines: list[Any]) -> dict[str, Any]:
    """Tokens the server reported vs tokens implied by the audio durations (32 per second, ceiling).

    Output: every response token reported on the wire must equal the audio actually received.
    Input: the usage ledger's session total must equal the audio sent; the wire's running total
    can only lag it (the last turn's listening is billed at close).
    """
    completes = [m.t for m in trace.messages if m.kind == "turn_complete"]
    last_complete = completes[-1] if completes else -1.0
    received = sum(r.audio_samples for r in responses)
    # Turns report usage at their turnComplete; audio of an answer cut off by the end of the run
    # was never reported on the wire (the ledger has it: it is billed at close).
    reported_audio = sum(int(m.data.get("samples", 0)) for m in trace.messages
                         if m.kind == "audio" and m.t <= last_complete)
    expected_response = math.ceil(reported_audio * 32 / OUTPUT_RATE)
    expected_ledger_response = math.ceil(received * 32 / OUTPUT_RATE)
    expected_prompt = math.ceil(trace.sent_samples * 32 / INPUT_RATE)
    wire_response = sum((r.usage or {}).get("response", 0) for r in responses)
    wire_response += sum((d.usage or {}).get("response", 0) for d in declines)
    wire_prompt = sum((r.usage or {}).get("prompt", 0) for r in responses) + sum((d.usage or {}).get("prompt", 0) for d in declines)
    out: dict[str, Any] = {
        "expected_response_tokens": expected_response,
        "reported_response_tokens": wire_response,
        "expected_prompt_tokens": expected_prompt,
        "reported_prompt_tokens_wire": wire_prompt,
        "response_exact": wire_response == expected_response,
        "prompt_wire_within_bounds": wire_prompt <= expected_prompt,
    }
    if trace.ledger is not None:
        out["ledger_prompt_tokens"] = trace.ledger.get("prompt_audio", 0)
        out["ledger_response_tokens"] = trace.ledger.get("response_audio", 0)
        out["ledger_exact"] = (out["ledger_prompt_tokens"] == expected_prompt
                               and out["ledger_response_tokens"] == expected_ledger_response)
    out["exact"] = bool(out["response_exact"] and out["prompt_wire_within_bounds"] and out.get("ledger_exact", True))
    return out
