"""Write a benchmark run out: results.json (everything), report.md (side by side), PNG plots."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from chimein.bench.builder import REPO_ROOT

# (label, path into a summary, format) for the report's headline table
HEADLINE: list[tuple[str, tuple[str, ...], str]] = [
    ("Answer decision precision", ("decision", "precision"), "pct"),
    ("Answer decision recall", ("decision", "recall"), "pct"),
    ("Answer decision F1", ("decision", "f1"), "num"),
    ("Labelled outcomes correct", ("accuracy",), "pct"),
    ("False triggers: noise only", ("false_triggers", "noise"), "trig"),
    ("False triggers: music", ("false_triggers", "music"), "trig"),
    ("False triggers: chatter only", ("false_triggers", "chatter"), "trig"),
    ("False triggers: chatter at a cold start (nobody known or enrolled yet)", ("false_triggers", "chatter_cold_start"), "trig"),
    ("False triggers: co-listened recording", ("false_triggers", "colistened_recording"), "trig"),
    ("False triggers: utterances not for the assistant", ("false_triggers", "off_topic"), "trig"),
    ("Pause takeover (answer audio in a mid-sentence pause)", ("pause_takeover",), "rate"),
    ("Pause split (turn closed inside a mid-sentence pause)", ("pause_split",), "rate"),
    ("Back-channel takeover", ("backchannel_takeover",), "rate"),
    ("Silence in the answer after a back-channel (median)", ("backchannel_answer_gap_s", "median"), "sec"),
    ("Interruptions honoured", ("interruption_success",), "rate"),
    ("activityHandling NO_INTERRUPTION honoured", ("no_interruption_honoured",), "rate"),
    ("Stop latency, onset -> last audio byte (median)", ("stop_latency_s", "median"), "sec"),
    ("Stop latency (max)", ("stop_latency_s", "max"), "sec"),
    ("Answer latency, speech end -> first audio (median)", ("answer_latency_s", "median"), "sec"),
    ("Answer latency (p95)", ("answer_latency_s", "p95"), "sec"),
    ("Answer latency (max)", ("answer_latency_s", "max"), "sec"),
    ("Answers measured for latency", ("answer_latency_s", "n"), "int"),
    ("Answer keyword hit", ("keyword_hit",), "rate"),
    ("Co-listening questions answered correctly", ("colistening_accuracy",), "rate"),
    ("Recognition WER (input transcription)", ("wer", "wer"), "pct"),
    ("Transcript stream WER (inputTranscription text concatenated)", ("wer", "stream_wer"), "pct"),
    ("Spurious interruptions (no participant spoke)", ("spurious_interruptions",), "int"),
    ("Self-echo scenes that triggered", ("self_echo_triggers",), "trig"),
    ("Billing exact (sessions)", ("billing",), "bill"),
]


def machine_description() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": mem_gib,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars as numbers, anything else as its string."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    return str(value)


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=1, default=_plain) + "\n", encoding="utf-8")


def write_traces(path: Path, traces: list[Any]) -> None:
    """One JSON line per run: every server message (audio as sample counts) and chimein event, for debugging."""
    with path.open("w", encoding="utf-8") as f:
        for t in traces:
            record = {
                "scenario_id": t.scenario_id, "config": t.config, "runner": t.runner, "error": t.error,
                "session_id": t.session_id, "sent_samples": t.sent_samples, "ledger": t.ledger,
                "placed": [{"id": lab.id, "start_s": lab.start_s, "end_s": lab.end_s} for lab in t.placed],
                "messages": [{"t": m.t, "kind": m.kind, **m.data} for m in t.messages],
                "events": [{k: v for k, v in e.items() if k != "session_id"} for e in t.events],
            }
            f.write(json.dumps(record, default=_plain) + "\n")


def _get(summary: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = summary
    for k in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(k)
    return value


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "num":
        return f"{value:.3f}"
    if kind == "sec":
        return f"{value:.2f} s"
    if kind == "int":
        return str(value)
    if kind in ("rate", "trig"):
        n = value.get("n", 0)
        if not n:
            return "– (n=0)"
        k = value.get("count", value.get("triggered", 0))
        return f"{100 * value['rate']:.0f} % ({k}/{n})"
    if kind == "bill":
        n = value.get("sessions", 0)
        return "– (n=0)" if not n else f"{value['exact']}/{n}"
    return str(value)


def markdown_report(results: dict[str, Any], plots: list[str]) -> str:
    configs = [c["name"] for c in results["configs"]]
    summaries = results["summary"]
    lines = [
        "# chimein bench report",
        "",
        f"- command: `{results['command']}`",
        f"- runner: **{results['runner']}** — {results['runner_note']}",
        f"- chimein {results['chimein_version']} (commit {results.get('git_commit') or 'unknown'}), "
        f"{results['started_at']}, {results['wall_s']:.0f} s wall",
        f"- machine: {results['machine']['cpu']} × {results['machine']['cpu_count']} CPUs, "
        f"{results['machine']['memory_gib']} GiB; load average at start {results['machine']['load_average']}",
        f"- scenarios: {results['scenario_count']} run"
        + (f", {len(results['skipped'])} skipped" if results["skipped"] else ""),
        "",
        "## chimein vs baselines",
        "",
        "| metric | " + " | ".join(configs) + " |",
        "|---|" + "---|" * len(configs),
    ]
    for label, keys, kind in HEADLINE:
        row = [_fmt(_get(summaries[c]["overall"], keys), kind) for c in configs]
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    cost = results["cost"]
    lines.append("| CPU seconds per second of audio | " + " | ".join(
        f"{cost[c]['cpu_s_per_audio_s']:.2f}" if cost.get(c, {}).get("cpu_s_per_audio_s") is not None else "–"
        for c in configs) + " |")
    lines.append("| Peak memory (RSS, MiB) | " + " | ".join(
        f"{cost[c]['peak_rss_mib']:.0f}" if cost.get(c, {}).get("peak_rss_mib") is not None else "–"
        for c in configs) + " |")
    lines += ["", "Configurations:", ""]
    lines += [f"- **{c['name']}**: {c['description']}" for c in results["configs"]]
    lines += ["", "## Correct outcomes per category", "",
              "| category | labels | " + " | ".join(configs) + " |", "|---|---|" + "---|" * len(configs)]
    categories = sorted({cat for c in configs for cat in summaries[c]["by_category"]})
    for cat in categories:
        n = sum(1 for s in results["scenarios"] if s["category"] == cat and s["config"] == configs[0]
                for o in s["labels"] if o["correct"] is not None)
        row = []
        for c in configs:
            acc = summaries[c]["by_category"].get(cat, {}).get("accuracy")
            row.append("–" if acc is None else f"{100 * acc:.0f} %")
        lines.append(f"| {cat} | {n} | " + " | ".join(row) + " |")
    lines += ["", "## Recognition WER by noise level", "", "| condition | " + " | ".join(configs) + " |",
              "|---|" + "---|" * len(configs)]
    conditions = sorted({k for c in configs for k in summaries[c]["overall"]["wer_by_snr"]})
    for cond in conditions:
        row = []
        for c in configs:
            w = summaries[c]["overall"]["wer_by_snr"].get(cond)
            row.append("–" if not w or w["wer"] is None else f"{100 * w['wer']:.1f} % ({w['words']} words)")
        lines.append(f"| {cond} | " + " | ".join(row) + " |")
    lines += ["", "## Where chimein went wrong", ""]
    wrong = [(s, o) for s in results["scenarios"] if s["config"] == "chimein" for o in s["labels"] if o["correct"] is False]
    if not wrong and not any(s["config"] == "chimein" and (s["spurious_interruptions"] or s["extra_responses"])
                             for s in results["scenarios"]):
        lines.append("Nothing: every scored outcome was as expected.")
    for s, o in wrong:
        why = ""
        if o.get("decisions"):
            d = o["decisions"][-1]
            why = f" — decision: {d.get('reason', d.get('rule', ''))}"
        heard = f" heard \"{o['heard_text']}\"" if o.get("heard_text") else ""
        lines.append(f"- `{s['scenario_id']}` {o['id']} ({o['kind']}): expected **{o['expect']}**, got "
                     f"**{o['outcome']}**{heard}{why}")
    for s in results["scenarios"]:
        if s["config"] == "chimein" and (s["spurious_interruptions"] or s["extra_responses"]):
            lines.append(f"- `{s['scenario_id']}`: {s['spurious_interruptions']} answer(s) cut off with nobody speaking, "
                         f"{s['extra_responses']} extra answer(s) to one utterance (transcripts: \"{s['hypothesis']}\")")
    errors = [s for s in results["scenarios"] if s.get("error")]
    if errors:
        lines += ["", "## Runs that failed", ""]
        lines += [f"- `{s['scenario_id']}` ({s['config']}): {s['error']}" for s in errors]
    if results["skipped"]:
        lines += ["", "## Skipped", ""]
        lines += [f"- `{k}`: {v}" for k, v in results["skipped"].items()]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p}]({p})" for p in plots]
    lines += ["", "Metric definitions: docs/benchmarks.md. Every figure with its inputs: results.json.", ""]
    return "\n".join(lines)


def write_plots(out: Path, results: dict[str, Any]) -> list[str]:
    """latency.png and confusion.png; returns the file names (none when matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    configs = [c["name"] for c in results["configs"]]
    written = []
    # latency distribution per configuration
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    data, names = [], []
    for c in configs:
        vals = [o["latency_s"] for s in results["scenarios"] if s["config"] == c for o in s["labels"]
                if o["expect"] == "answer" and o["outcome"] == "answered" and o["latency_s"] is not None and o["latency_s"] >= 0]
        data.append(vals or [float("nan")])
        names.append(f"{c}\n(n={len(vals)})")
    axes[0].boxplot(data, showfliers=True)
    axes[0].set_xticks(range(1, len(names) + 1), names)
    for i, vals in enumerate(data, 1):
        axes[0].scatter([i] * len(vals), vals, s=10, alpha=0.5)
    axes[0].set_ylabel("seconds")
    axes[0].set_ylim(bottom=0)
    axes[0].set_title("End of speech -> first audio byte")
    stops, snames = [], []
    for c in configs:
        vals = [o["stop_latency_s"] for s in results["scenarios"] if s["config"] == c for o in s["labels"]
                if o["stop_latency_s"] is not None]
        stops.append(vals or [float("nan")])
        snames.append(f"{c}\n(n={len(vals)})")
    axes[1].boxplot(stops)
    axes[1].set_xticks(range(1, len(snames) + 1), snames)
    axes[1].set_title("Interruption onset -> last audio byte")
    axes[1].set_ylim(bottom=0)
    axes[1].set_ylabel("seconds")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    written.append("latency.png")
    # decision confusion per category, one panel per configuration
    categories = sorted({s["category"] for s in results["scenarios"]})
    columns = ["answer→answered", "answer→silent", "silent→answered", "silent→silent"]
    fig, axes = plt.subplots(1, len(configs), figsize=(4.2 * len(configs) + 2, 0.42 * len(categories) + 2), squeeze=False)
    for ax, c in zip(axes[0], configs, strict=True):
        grid = [[0] * 4 for _ in categories]
        for s in results["scenarios"]:
            if s["config"] != c:
                continue
            row = categories.index(s["category"])
            for o in s["labels"]:
                if o["expect"] not in ("answer", "silent") or o["kind"] not in ("speech", "noise", "music", "chatter", "colisten"):
                    continue
                col = (0 if o["outcome"] == "answered" else 1) if o["expect"] == "answer" else (2 if o["outcome"] == "answered" else 3)
                grid[row][col] += 1
        shade = [[(v if j in (0, 3) else -v) for j, v in enumerate(r)] for r in grid]
        ax.imshow(shade, cmap="RdYlGn", vmin=-4, vmax=4, aspect="auto")
        for i, r in enumerate(grid):
            for j, v in enumerate(r):
                ax.text(j, i, str(v) if v else "", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(4), columns, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(categories)), categories if ax is axes[0][0] else [""] * len(categories), fontsize=8)
        ax.set_title(c)
    fig.suptitle("Decisions per category (expected → what happened)")
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=110)
    plt.close(fig)
    written.append("confusion.png")
    return written
