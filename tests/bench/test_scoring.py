"""Scoring and metrics on hand-made traces: every number checked against a hand count."""

from __future__ import annotations

import numpy as np
import pytest

from chimein.bench.builder import Label, RenderedScene
from chimein.bench.metrics import distribution, precision_recall_f1, summarize
from chimein.bench.scenario import parse_scenario
from chimein.bench.scoring import billing_check, keyword_hit, score
from chimein.bench.trace import RunTrace, assistant_turns

SCENARIO = parse_scenario({
    "category": "topic_gating",
    "timeline": [{"say": "x", "expect": "silent"}, {"say": "y", "expect": "answer"}],
}, default_id="hand")


def _label(id: str, start: float, end: float, expect: str, kind: str = "speech", **kw) -> Label:
    return Label(id=id, kind=kind, expect=expect, start_s=start, end_s=end, speech_end_s=end,
                 window_end_s=kw.pop("window_end_s", 99.0), **kw)


def _scene(labels: list[Label], seconds: float = 30.0) -> RenderedScene:
    return RenderedScene(SCENARIO, np.zeros(int(seconds * 16000), np.float32), labels, [], {})


def _answer(trace: RunTrace, start: float, seconds: float, *, text: str = "", heard: str = "",
            interrupted_at: float | None = None, usage: dict | None = None) -> None:
    """An answer as the client sees it: transcript, text, 100 ms audio chunks, then turnComplete."""
    if heard:
        trace.add(start - 0.3, "input_text", text=heard)
    if text:
        trace.add(start, "output_text", text=text)
    t = start
    end = interrupted_at if interrupted_at is not None else start + seconds
    while t < end - 1e-9:
        trace.add(t, "audio", samples=2400)
        t += 0.1
    if interrupted_at is not None:
        trace.add(interrupted_at, "interrupted")
    trace.add(t, "turn_complete", reason=None, usage=usage)


def _trace(sent_s: float = 30.0) -> RunTrace:
    return RunTrace("hand", "chimein", "fast", sent_samples=int(sent_s * 16000))


def test_precision_recall_f1_by_hand() -> None:
    assert precision_recall_f1(3, 1, 2) == {"precision": 0.75, "recall": 0.6, "f1": 0.6667}
    assert precision_recall_f1(0, 0, 0) == {"precision": None, "recall": None, "f1": None}
    assert precision_recall_f1(0, 2, 1)["f1"] == 0.0


def test_distribution_matches_numpy() -> None:
    values = [0.9, 1.4, 1.1, 3.0, 0.7, 2.2, 1.8]
    d = distribution(values + [None])
    assert d["n"] == 7
    assert d["median"] == pytest.approx(np.percentile(values, 50), abs=1e-3)
    assert d["p95"] == pytest.approx(np.percentile(values, 95), abs=1e-3)
    assert d["max"] == 3.0
    assert distribution([])["median"] is None


def test_keyword_hit_uses_normalised_words() -> None:
    assert keyword_hit("Bake it at 250 degrees for 10 minutes.", ("minutes",))
    assert keyword_hit("It's about 384,000 kilometres away.", ("384",))  # both spelled out, a phrase match
    assert not keyword_hit("It's about 38,000 kilometres away.", ("384",))
    assert keyword_hit("It's about 384,000 kilometres away.", ("kilometres",))
    assert keyword_hit("Use baking powder.", ("baking powder",))
    assert not keyword_hit("Use a bakingpowder.", ("baking powder",))


def test_assistant_turns_groups_answers_and_declines() -> None:
    trace = _trace()
    trace.add(1.0, "input_text", text="hello there")
    trace.add(1.1, "turn_complete", reason="RESPONSE_REJECTED", usage={"prompt": 40, "response": 0, "total": 40})
    _answer(trace, 5.0, 1.0, text="Sure. ", heard="can you help")
    responses, declines = assistant_turns(trace.messages)
    assert len(declines) == 1 and declines[0].reason == "RESPONSE_REJECTED"
    assert len(responses) == 1
    r = responses[0]
    assert r.start_s == 5.0 and r.audio_samples == 24000 and r.text == "Sure. " and r.input_text == "can you help"


def test_decisions_latency_and_false_triggers() -> None:
    labels = [
        _label("a", 0.5, 2.0, "silent"),          # answered -> false positive
        _label("b", 3.0, 4.5, "answer"),          # answered 1.2 s after speech end -> true positive
        _label("c", 12.0, 13.0, "answer"),        # never answered -> false negative
        _label("n", 15.0, 20.0, "silent", kind="noise"),  # quiet -> true negative
    ]
    trace = _trace()
    _answer(trace, 2.9, 0.5)  # starts before b began: a's answer, late, while b speaks
    _answer(trace, 5.7, 3.0, text="A pizza needs dough.")
    labels[1].keywords = ("dough",)
    result = score(_scene(labels), trace)
    by_id = {o.id: o for o in result.labels}
    assert by_id["a"].outcome == "answered" and by_id["a"].correct is False
    assert by_id["b"].outcome == "answered" and by_id["b"].latency_s == pytest.approx(1.2)
    assert by_id["b"].keyword_hit is True
    assert by_id["c"].outcome == "silent" and by_id["c"].correct is False
    assert by_id["n"].correct is True
    summary = summarize([result])
    assert summary["decision"]["tp"] == 1 and summary["decision"]["fp"] == 1 and summary["decision"]["fn"] == 1
    assert summary["decision"]["tn"] == 1
    assert summary["false_triggers"]["off_topic"] == {"n": 1, "triggered": 1, "rate": 1.0}
    assert summary["false_triggers"]["noise"]["rate"] == 0.0
    assert summary["answer_latency_s"]["median"] == pytest.approx(1.2)


def test_answer_during_a_noise_segment_is_a_trigger_of_that_noise() -> None:
    labels = [_label("q", 0.5, 2.0, "silent"), _label("n", 4.0, 9.0, "silent", kind="noise")]
    trace = _trace()
    _answer(trace, 6.0, 1.0)
    result = score(_scene(labels), trace)
    assert {o.id: o.outcome for o in result.labels} == {"q": "silent", "n": "answered"}


def test_pause_takeover_and_split() -> None:
    lab = _label("p", 1.0, 6.0, "answer", pauses=[(2.5, 4.0)])
    trace = _trace()
    trace.add(3.4, "input_text", text="I was thinking we could maybe")
    _answer(trace, 3.6, 0.4)  # in the pause
    _answer(trace, 7.0, 2.0)
    out = score(_scene([lab]), trace).labels[0]
    assert out.pause_takeover is True and out.pause_split is True
    quiet = _trace()
    _answer(quiet, 7.0, 2.0)
    out = score(_scene([lab]), quiet).labels[0]
    assert out.pause_takeover is False and out.pause_split is False and out.latency_s == pytest.approx(1.0)


def test_interrupt_success_and_stop_latency() -> None:
    anchor = _label("q", 0.5, 2.0, "answer")
    stop = _label("i", 4.0, 4.8, "stop", kind="interrupt", reactive=True, anchor="q")
    trace = _trace()
    _answer(trace, 3.0, 5.0, interrupted_at=4.3)  # last chunk sent at 4.2
    result = score(_scene([anchor], 12.0), RunTrace(**{**trace.__dict__, "placed": [stop]}))
    out = next(o for o in result.labels if o.id == "i")
    assert out.outcome == "stopped" and out.correct is True
    assert out.stop_latency_s == pytest.approx(0.2) and out.signal_latency_s == pytest.approx(0.3)
    assert result.spurious_interruptions == 0
    assert summarize([result])["interruption_success"] == {"n": 1, "count": 1, "rate": 1.0}


def test_backchannel_takeover_and_not_scorable() -> None:
    anchor = _label("q", 0.5, 2.0, "answer")
    bc = _label("b", 4.0, 4.4, "keep_talking", kind="backchannel", reactive=True, anchor="q")
    kept = _trace()
    _answer(kept, 3.0, 5.0)
    out = next(o for o in score(_scene([anchor]), RunTrace(**{**kept.__dict__, "placed": [bc]})).labels if o.id == "b")
    assert out.outcome == "kept_talking" and out.correct is True
    cut = _trace()
    _answer(cut, 3.0, 5.0, interrupted_at=4.6)
    out = next(o for o in score(_scene([anchor]), RunTrace(**{**cut.__dict__, "placed": [bc]})).labels if o.id == "b")
    assert out.outcome == "took_over" and out.correct is False
    silent = _trace()  # no answer was playing: nothing to judge
    out = next(o for o in score(_scene([anchor]), RunTrace(**{**silent.__dict__, "placed": [bc]})).labels if o.id == "b")
    assert out.outcome == "n/a" and out.correct is None


def test_spurious_interruption_and_echo_trigger() -> None:
    scenario = parse_scenario({"category": "self_echo", "echo": {"level_db": -10},
                               "timeline": [{"say": "x", "expect": "answer"}]})
    lab = _label("q", 0.5, 2.0, "answer")
    trace = _trace()
    _answer(trace, 3.0, 4.0, interrupted_at=4.0)  # nobody spoke: cut by its own echo
    _answer(trace, 5.0, 1.0)  # and answered its own words
    scene = RenderedScene(scenario, np.zeros(16000 * 12, np.float32), [lab], [], {})
    result = score(scene, trace)
    assert result.spurious_interruptions == 1 and result.extra_responses == 1 and result.echo_triggered is True


def test_wer_is_over_participant_speech_only() -> None:
    labels = [_label("a", 0.5, 2.0, "silent", reference="I really love cooking"),
              _label("t", 3.0, 5.0, "silent", kind="chatter", reference=None)]
    trace = _trace()
    trace.add(2.5, "input_text", text="I really love cooking.")
    trace.add(5.5, "input_text", text="booking")
    result = score(_scene(labels), trace)
    assert (result.wer_errors, result.wer_words) == (1, 4)  # the chatter's transcript is an insertion


def test_billing_check_exact_and_off_by_one() -> None:
    trace = _trace(sent_s=10.0)
    _answer(trace, 3.0, 1.0, usage={"prompt": 100, "response": 32, "total": 132})
    trace.ledger = {"prompt_audio": 320, "response_audio": 32}
    responses, declines = assistant_turns(trace.messages)
    ok = billing_check(trace, responses, declines)
    assert ok["exact"] and ok["expected_prompt_tokens"] == 320 and ok["expected_response_tokens"] == 32
    trace.ledger = {"prompt_audio": 321, "response_audio": 32}
    assert billing_check(trace, responses, declines)["exact"] is False
    over = _trace(sent_s=10.0)
    _answer(over, 3.0, 1.0, usage={"prompt": 100, "response": 33, "total": 133})
    responses, declines = assistant_turns(over.messages)
    assert billing_check(over, responses, declines)["response_exact"] is False


def test_backchannel_answer_gap_measures_a_held_answer() -> None:
    anchor = _label("q", 0.5, 2.0, "answer")
    bc = _label("b", 4.05, 4.4, "keep_talking", kind="backchannel", reactive=True, anchor="q")
    trace = _trace()
    for i in range(10):
        trace.add(3.0 + 0.1 * i, "audio", samples=2400)
    for i in range(10):  # the answer was held for a while, then resumed
        trace.add(5.0 + 0.1 * i, "audio", samples=2400)
    trace.add(6.0, "turn_complete", reason=None, usage=None)
    out = next(o for o in score(_scene([anchor]), RunTrace(**{**trace.__dict__, "placed": [bc]})).labels if o.id == "b")
    assert out.outcome == "kept_talking"
    assert out.answer_gap_s == pytest.approx(0.95)  # playback ran dry at 4.0; silent from onset 4.05 to 5.0
