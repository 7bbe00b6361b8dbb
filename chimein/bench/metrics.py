"""Aggregate scored scenarios into the benchmark's figures: per category and overall.

Every figure says how many items it was computed from (``n``), and is ``None`` when there was
nothing to compute it from, so a report never shows a rate over zero items as 0 % or 100 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chimein.bench.scoring import LabelOutcome, ScenarioResult

DECISION_KINDS = ("speech", "noise", "music", "chatter", "colisten")
FALSE_TRIGGER_GROUPS = {
    "noise": lambda o, cat: o.kind == "noise",
    "music": lambda o, cat: o.kind == "music",
    "chatter": lambda o, cat: o.kind == "chatter" and "cold_start" not in o.tags,
    # Chatter before anyone in the session has spoken and with nobody enrolled: nothing to compare it
    # with, so it is reported apart (README: "Who is in the conversation").
    "chatter_cold_start": lambda o, cat: o.kind == "chatter" and "cold_start" in o.tags,
    "colistened_recording": lambda o, cat: o.kind == "colisten",
    "off_topic": lambda o, cat: o.kind == "speech",
}


def ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


def precision_recall_f1(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    """Precision, recall and F1 of the "answer" class; None where undefined (no predictions / positives)."""
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    if precision is None or recall is None or precision + recall == 0:
        f1 = None if (precision is None or recall is None) else 0.0
    else:
        f1 = round(2 * precision * recall / (precision + recall), 4)
    return {"precision": precision, "recall": recall, "f1": f1}


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), q in [0, 100]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def distribution(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """n, median, p95, max and mean of the values that are not None."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "median": None, "p95": None, "max": None, "mean": None}
    return {
        "n": len(vals),
        "median": round(percentile(vals, 50), 3),
        "p95": round(percentile(vals, 95), 3),
        "max": round(max(vals), 3),
        "mean": round(sum(vals) / len(vals), 3),
    }


def decision_counts(outcomes: Iterable[LabelOutcome]) -> dict[str, int]:
    """Confusion counts of answer (positive) vs silent over answer/silent-labelled sounds."""
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for o in outcomes:
        if o.expect not in ("answer", "silent") or o.kind not in DECISION_KINDS:
            continue
        answered = o.outcome == "answered"
        if o.expect == "answer":
            counts["tp" if answered else "fn"] += 1
        else:
            counts["fp" if answered else "tn"] += 1
    return counts


def summarize(results: list[ScenarioResult]) -> dict[str, Any]:
    """All figures for one set of scenario results (one configuration, one category or all)."""
    outcomes = [o for r in results for o in r.labels]
    counts = decision_counts(outcomes)
    out: dict[str, Any] = {
        "scenarios": len(results),
        "errors": sum(1 for r in results if r.error),
        "decision": {**counts, **precision_recall_f1(counts["tp"], counts["fp"], counts["fn"])},
        "accuracy": ratio(sum(1 for o in outcomes if o.correct), sum(1 for o in outcomes if o.correct is not None)),
    }
    false_triggers: dict[str, Any] = {}
    for group, belongs in FALSE_TRIGGER_GROUPS.items():
        silent = [o for o in outcomes if o.expect == "silent" and belongs(o, None)]
        fired = sum(1 for o in silent if o.outcome == "answered")
        false_triggers[group] = {"n": len(silent), "triggered": fired, "rate": ratio(fired, len(silent))}
    out["false_triggers"] = false_triggers
    paused = [o for o in outcomes if o.pause_takeover is not None]
    out["pause_takeover"] = _rate(paused, lambda o: bool(o.pause_takeover))
    out["pause_split"] = _rate(paused, lambda o: bool(o.pause_split))
    bcs = [o for o in outcomes if o.kind == "backchannel" and o.correct is not None]
    out["backchannel_takeover"] = _rate(bcs, lambda o: o.outcome == "took_over")
    out["backchannel_answer_gap_s"] = distribution(o.answer_gap_s for o in bcs if o.outcome == "kept_talking")
    out["backchannel_not_scorable"] = sum(1 for o in outcomes if o.kind == "backchannel" and o.correct is None)
    ints = [o for o in outcomes if o.kind == "interrupt" and o.expect == "stop" and o.correct is not None]
    out["interruption_success"] = _rate(ints, lambda o: o.outcome == "stopped")
    held = [o for o in outcomes if o.kind == "interrupt" and o.expect == "keep_talking" and o.correct is not None]
    out["no_interruption_honoured"] = _rate(held, lambda o: o.outcome == "kept_talking")
    out["interruption_not_scorable"] = sum(1 for o in outcomes if o.kind == "interrupt" and o.correct is None)
    out["stop_latency_s"] = distribution(o.stop_latency_s for o in ints)
    out["interrupted_signal_latency_s"] = distribution(o.signal_latency_s for o in ints)
    answered_ok = [o for o in outcomes if o.expect == "answer" and o.outcome == "answered"]
    out["answer_latency_s"] = distribution(o.latency_s for o in answered_ok if o.latency_s is not None and o.latency_s >= 0)
    out["early_starts"] = sum(1 for o in answered_ok if o.latency_s is not None and o.latency_s < 0)
    keyed = [o for o in outcomes if o.keyword_hit is not None]
    out["keyword_hit"] = _rate(keyed, lambda o: bool(o.keyword_hit))
    coq = [o for o in outcomes if "colisten_question" in o.tags and o.expect == "answer"]
    out["colistening_accuracy"] = _rate(coq, lambda o: o.outcome == "answered" and bool(o.keyword_hit))
    errors = sum(r.wer_errors for r in results)
    words = sum(r.wer_words for r in results)
    stream = sum(r.stream_wer_errors for r in results)
    out["wer"] = {"words": words, "errors": errors, "wer": ratio(errors, words),
                  "stream_errors": stream, "stream_wer": ratio(stream, words)}
    out["wer_by_snr"] = wer_by_snr(results)
    out["spurious_interruptions"] = sum(r.spurious_interruptions for r in results)
    out["extra_responses"] = sum(r.extra_responses for r in results)
    echo = [r for r in results if r.echo_triggered is not None]
    out["self_echo_triggers"] = {"n": len(echo), "triggered": sum(1 for r in echo if r.echo_triggered),
                                 "rate": ratio(sum(1 for r in echo if r.echo_triggered), len(echo))}
    billed = [r for r in results if r.billing and not r.error]
    out["billing"] = {
        "sessions": len(billed),
        "exact": sum(1 for r in billed if r.billing.get("exact")),
        "rate": ratio(sum(1 for r in billed if r.billing.get("exact")), len(billed)),
        "max_response_token_error": max((abs(r.billing["reported_response_tokens"] - r.billing["expected_response_tokens"])
                                         for r in billed), default=None),
        "max_ledger_prompt_token_error": max((abs(r.billing["ledger_prompt_tokens"] - r.billing["expected_prompt_tokens"])
                                              for r in billed if "ledger_prompt_tokens" in r.billing), default=None),
    }
    return out


def wer_by_snr(results: list[ScenarioResult]) -> dict[str, Any]:
    """Corpus WER grouped by the scene's lowest noise SNR ("clean" without noise)."""
    groups: dict[str, list[ScenarioResult]] = {}
    for r in results:
        if r.wer_words:
            key = "clean" if r.snr_db is None else f"{r.snr_db:g} dB"
            groups.setdefault(key, []).append(r)
    return {
        key: {"words": sum(r.wer_words for r in rs), "wer": ratio(sum(r.wer_errors for r in rs), sum(r.wer_words for r in rs))}
        for key, rs in sorted(groups.items())
    }


def by_category(results: list[ScenarioResult]) -> dict[str, dict[str, Any]]:
    cats: dict[str, list[ScenarioResult]] = {}
    for r in results:
        cats.setdefault(r.category, []).append(r)
    return {cat: summarize(rs) for cat, rs in sorted(cats.items())}


def _rate(items: list[LabelOutcome], hit: Any) -> dict[str, Any]:
    n = len(items)
    k = sum(1 for o in items if hit(o))
    return {"n": n, "count": k, "rate": ratio(k, n)}
