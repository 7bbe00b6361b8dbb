"""``chimein bench``: run the scenario set against chimein and baselines, write the report."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import resource
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chimein import __version__
from chimein.bench.builder import DEFAULT_DATA_DIR, MissingData, RenderedScene, render
from chimein.bench.configs import BASELINES, RunConfig, resolve_configs
from chimein.bench.metrics import by_category, summarize
from chimein.bench.report import (
    git_commit,
    machine_description,
    markdown_report,
    write_json,
    write_plots,
    write_traces,
)
from chimein.bench.scenario import ScenarioError, default_scenario_dir, load_scenarios
from chimein.bench.scoring import ScenarioResult, score
from chimein.bench.trace import RunTrace

DESCRIPTION = """\
Measure chimein's proactive behaviour, latency and cost on scripted scenes (synthetic voices and
real recordings mixed with real noise, music and chatter), next to baselines, in one run.

The fast runner (default) drives the real session code in this process on a clock that skips
idle time; --live streams every scene in real time through the google-genai SDK to `chimein
serve` (started here unless --server is given), which is the truth for latency.
"""

FAST_NOTE = ("the session code in process, on a virtual clock that skips idle time; model compute runs at "
             "wall-clock speed; no network, no SDK (see docs/benchmarks.md for how it differs from --live)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chimein bench", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="folder for results.json, report.md and the plots")
    p.add_argument("--quick", action="store_true", help="only the scenarios marked quick (one or two per category)")
    p.add_argument("--scenarios", type=Path, default=None, help="scenario folder (default: the dev set shipped in chimein/bench/scenarios)")
    p.add_argument("--only", action="append", default=[], metavar="ID", help="run only this scenario id (repeatable)")
    p.add_argument("--baseline", action="append", default=None, choices=sorted(BASELINES), metavar="NAME",
                   help=f"baseline to run beside chimein (repeatable; default all: {', '.join(BASELINES)})")
    p.add_argument("--no-baselines", action="store_true", help="run chimein alone")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fast", dest="live", action="store_false", help="in-process runner on a virtual clock (default)")
    mode.add_argument("--live", dest="live", action="store_true", help="real time, through the SDK, to chimein serve")
    p.add_argument("--server", help="--live: use this running server (https://host:port) instead of starting one")
    p.add_argument("--cert", type=Path, help="--live with --server: CA/certificate file to trust")
    p.add_argument("--api-key", default="bench", help="--live with --server: API key to present")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="real recordings folder (default ../shared/data/real)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(live=False)
    return p


def bench_main(argv: list[str]) -> int:
    """Entry point for ``chimein bench ARGS``; returns the process exit status."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    try:
        scenarios = load_scenarios(args.scenarios or default_scenario_dir())
    except ScenarioError as exc:
        print(f"chimein bench: {exc}", file=sys.stderr)
        return 2
    if args.quick:
        scenarios = [s for s in scenarios if s.quick]
    if args.only:
        unknown = set(args.only) - {s.id for s in scenarios}
        if unknown:
            print(f"chimein bench: no scenario with id {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        scenarios = [s for s in scenarios if s.id in args.only]
    configs = resolve_configs([] if args.no_baselines else args.baseline)
    skipped: dict[str, str] = {}

    say = _Say(not args.no_progress)
    say(f"chimein bench: {len(scenarios)} scenarios x {len(configs)} configurations ({'live' if args.live else 'fast'})")
    scenes: list[RenderedScene] = []
    for s in scenarios:
        try:
            scenes.append(render(s, args.data))
        except MissingData as exc:
            skipped[s.id] = str(exc)
            say(f"skipping {s.id}: {exc}")
    say(f"rendered {len(scenes)} scenes ({sum(sc.duration_s for sc in scenes):.0f} s of audio each way)")

    if args.live:
        traces, cost, configs, note, extra = _run_live(args, scenes, configs, out, say, skipped)
    else:
        traces, cost, configs, note, extra = _run_fast(args, scenes, configs, out, say, skipped)

    by_id = {sc.scenario.id: sc for sc in scenes}
    results_list: list[ScenarioResult] = [score(by_id[t.scenario_id], t) for t in traces]
    summary = {
        c.name: {
            "overall": summarize([r for r in results_list if r.config == c.name]),
            "by_category": by_category([r for r in results_list if r.config == c.name]),
        }
        for c in configs
    }
    results: dict[str, Any] = {
        "command": "chimein bench " + shlex.join(argv),
        "chimein_version": __version__,
        "git_commit": git_commit(),
        "started_at": started_at,
        "wall_s": round(time.perf_counter() - started, 1),
        "runner": "live" if args.live else "fast",
        "runner_note": note,
        "machine": machine_description(),
        "options": {
            "quick": args.quick, "scenarios": str(args.scenarios or default_scenario_dir()), "only": args.only,
            "data": str(args.data), "server": args.server, **extra,
        },
        "configs": [c.to_json() for c in configs],
        "scenario_count": len(scenes),
        "skipped": skipped,
        "summary": summary,
        "cost": cost,
        "scenario_setups": {sc.scenario.id: dataclasses.asdict(sc.scenario.setup) for sc in scenes},
        "scenarios": [r.to_json() for r in results_list],
    }
    write_traces(out / "traces.jsonl", traces)
    plots = write_plots(out, results)
    if not plots:
        say("matplotlib is not installed: no plots (pip install matplotlib)")
    write_json(out / "results.json", results)
    (out / "report.md").write_text(markdown_report(results, plots), encoding="utf-8")
    say(_headline(summary, configs))
    say(f"wrote {out / 'results.json'}, {out / 'report.md'}, {out / 'traces.jsonl'}" + (f", {', '.join(plots)}" if plots else ""))
    return 0


# ---------------------------------------------------------------------------------- runners


def _run_fast(args: argparse.Namespace, scenes: list[RenderedScene], configs: list[RunConfig], out: Path,
              say: _Say, skipped: dict[str, str]) -> tuple[list[RunTrace], dict[str, Any], list[RunConfig], str, dict[str, Any]]:
    from chimein.bench.fast import FastRunner, end_of_turn_supported
    from chimein.session.services import Services

    if any(c.end_of_turn != "smart_turn" for c in configs) and not end_of_turn_supported():
        dropped = [c.name for c in configs if c.end_of_turn != "smart_turn"]
        for name in dropped:
            skipped[f"baseline:{name}"] = "this chimein's SessionOptions has no end_of_turn switch"
        configs = [c for c in configs if c.end_of_turn == "smart_turn"]
    ledger = out / "bench-ledger.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(ledger) + suffix).unlink(missing_ok=True)
    say("loading models (once)...")
    services = Services.load(ledger_url=f"sqlite:///{ledger}", progress=lambda m: say(m, quiet=True))
    runner = FastRunner(services)

    def run_one(scene: RenderedScene, config: RunConfig) -> tuple[RunTrace, float | None]:
        before = time.process_time()
        trace = runner.run(scene, config)
        return trace, time.process_time() - before

    try:
        traces, cpu, audio = _sweep(scenes, configs, say, run_one)
    finally:
        runner.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cost = {
        c.name: {
            "cpu_s": round(cpu[c.name], 1), "audio_s": round(audio[c.name], 1),
            "cpu_s_per_audio_s": round(cpu[c.name] / audio[c.name], 3) if audio[c.name] else None,
            "peak_rss_mib": round(peak, 1), "peak_rss_note": "whole bench process (all configurations, models loaded once)",
        }
        for c in configs
    }
    return traces, cost, configs, FAST_NOTE, {"session_defaults": _session_defaults()}


def _run_live(args: argparse.Namespace, scenes: list[RenderedScene], configs: list[RunConfig], out: Path,
              say: _Say, skipped: dict[str, str]) -> tuple[list[RunTrace], dict[str, Any], list[RunConfig], str, dict[str, Any]]:
    from chimein.bench.live import LiveRunner, ServerHandle, start_server

    servers: dict[str, ServerHandle] = {}
    try:
        if args.server:
            shared = ServerHandle(args.server.rstrip("/"), args.cert, api_key=args.api_key)
            servers["smart_turn"] = shared
            for c in configs:
                if c.end_of_turn != "smart_turn":
                    skipped[f"baseline:{c.name}"] = "needs a server started with --end-of-turn; not available with --server"
            configs = [c for c in configs if c.end_of_turn == "smart_turn"]
        else:
            say("starting chimein serve (loads the models, ~20 s)...")
            servers["smart_turn"] = start_server(out / "server-home")
            if any(c.end_of_turn == "silence" for c in configs):
                say("starting a second server with --end-of-turn silence...")
                servers["silence"] = start_server(out / "server-home-silence", end_of_turn="silence")
        runners = {k: LiveRunner(v) for k, v in servers.items()}
        by_runner: dict[str, list[RunTrace]] = {k: [] for k in runners}

        def run_one(scene: RenderedScene, config: RunConfig) -> tuple[RunTrace, float | None]:
            server = servers[config.end_of_turn]
            before = server.cpu_seconds()
            trace = runners[config.end_of_turn].run(scene, config)
            after = server.cpu_seconds()
            by_runner[config.end_of_turn].append(trace)
            return trace, (after - before) if before is not None and after is not None else None

        traces, cpu, audio = _sweep(scenes, configs, say, run_one)
        for key, runner in runners.items():
            runner.read_ledger(by_runner[key])
        cost = {}
        for c in configs:
            server = servers[c.end_of_turn]
            known = server.process is not None
            cost[c.name] = {
                "cpu_s": round(cpu[c.name], 1) if known else None,
                "audio_s": round(audio[c.name], 1),
                "cpu_s_per_audio_s": round(cpu[c.name] / audio[c.name], 3) if known and audio[c.name] else None,
                "peak_rss_mib": server.peak_rss_mib(),
                "peak_rss_note": "the chimein serve process" if known else "unknown (server not started by the bench)",
            }
        note = ("real time through the google-genai SDK over TLS to `chimein serve` "
                + ("(started by the bench)" if not args.server else f"at {args.server}"))
        return traces, cost, configs, note, {"servers": {k: v.base_url for k, v in servers.items()}}
    finally:
        for server in servers.values():
            server.stop()


def _sweep(
    scenes: list[RenderedScene], configs: list[RunConfig], say: _Say,
    run_one: Callable[[RenderedScene, RunConfig], tuple[RunTrace, float | None]],
) -> tuple[list[RunTrace], dict[str, float], dict[str, float]]:
    """Every scene under every configuration, with a progress bar; (traces, CPU s and audio s per configuration)."""
    traces: list[RunTrace] = []
    cpu: dict[str, float] = {c.name: 0.0 for c in configs}
    audio: dict[str, float] = {c.name: 0.0 for c in configs}
    bar = say.bar(len(scenes) * len(configs))
    try:
        for scene in scenes:
            for config in configs:
                bar.set(f"{scene.scenario.id} [{config.name}]")
                trace, cpu_s = run_one(scene, config)
                cpu[config.name] += cpu_s or 0.0
                audio[config.name] += trace.sent_samples / 16000
                traces.append(trace)
                if trace.error:
                    bar.write(f"{scene.scenario.id} [{config.name}] failed: {trace.error}")
                bar.step()
    finally:
        bar.close()
    return traces, cpu, audio


def _session_defaults() -> dict[str, Any]:
    """The session settings every configuration ran with (style.md: record resolved options)."""
    from chimein.perception.activity import ActivityConfig
    from chimein.session import live
    from chimein.session.options import TurnOptions

    options = {f.name: getattr(live.SessionOptions(), f.name) for f in dataclasses.fields(live.SessionOptions)
               if f.name not in ("clock", "observer")}
    return {
        "session_options": options,
        "turn_options": TurnOptions().to_json(),  # endpointing, interruption, proactivity (setup-dependent ones per config)
        "activity_detection": dataclasses.asdict(ActivityConfig()),
        "smart_turn_threshold": getattr(live, "SMART_TURN_THRESHOLD", None),
        "default_max_answer_tokens": getattr(live, "DEFAULT_MAX_ANSWER_TOKENS", None),
    }


def _headline(summary: dict[str, Any], configs: list[RunConfig]) -> str:
    parts = []
    for c in configs:
        o = summary[c.name]["overall"]
        f1 = o["decision"]["f1"]
        lat = o["answer_latency_s"]["median"]
        parts.append(f"{c.name}: F1 {f1 if f1 is not None else '–'}, median answer latency "
                     f"{f'{lat:.2f} s' if lat is not None else '–'}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------- progress


class _Say:
    """Messages on stderr and a progress bar (tqdm when available)."""

    def __init__(self, progress: bool) -> None:
        self.progress = progress

    def __call__(self, message: str, *, quiet: bool = False) -> None:
        if quiet and not self.progress:
            return
        print(message, file=sys.stderr, flush=True)

    def bar(self, total: int) -> _Bar:
        return _Bar(total, self.progress)


class _Bar:
    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        self.total = total
        self.done = 0
        if enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, file=sys.stderr, unit="run", dynamic_ncols=True)
            except ImportError:
                self._bar = None
        self.enabled = enabled

    def set(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        elif self.enabled:
            print(f"[{self.done + 1}/{self.total}] {text}", file=sys.stderr, flush=True)

    def step(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)

    def write(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def main() -> int:
    return bench_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
