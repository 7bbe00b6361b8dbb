"""``chimein bench latency``: latency over a long session and under concurrent sessions, next to a baseline.

Two measurements, each through the public google-genai SDK to real ``chimein serve`` processes,
in real time, questions spoken in voices chimein does not answer in
(``joe-high``, ``heart-low``); latency is the end of the question's voiced speech (the last sample
sent, less the clip's trailing silence) to the first answer audio on the wire:

* **long session**: one session (proactive audio off) asks ``--turns`` questions in a row, the
  second half the first half's questions again in the same voices; latency by turn index, and
  the second half against the first, question by question.
* **concurrency sweep**: for each ``--sessions`` level N, N sessions listen to a real meeting
  recording (AMI) for ``--listen-s`` seconds with proactive audio on (the meeting's talk is not
  for the assistant and is declined), pause 3 s, then each asks one question, all within
  ``--stagger-s`` of each other; answered count and latency by load, server CPU seconds per
  second of audio listened, and peak memory (VmHWM) of the server.

With ``--baseline-commit`` (or ``--baseline-tree``) a second server runs that commit's code at
the same time, and every measurement alternates between the two, so both see the same machine
load; the report gives both and their ratio. On a shared machine absolute figures are inflated:
compare the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chimein.bench.live import ServerHandle, every_message
from chimein.generation.tts import OUTPUT_RATE
from chimein.server.launch import launch_server

REPO_ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "What is the capital of France?", "How many legs does a spider have?", "What colour is the sky?",
    "What is two plus two?", "Who wrote Romeo and Juliet?", "How many days are in a week?",
    "What is the boiling point of water?", "What is the largest ocean?", "How many minutes are in an hour?",
    "What is the capital of Japan?", "What do bees make?", "Which planet is the closest to the sun?",
    "What is the tallest animal?", "How many continents are there?", "What language is spoken in Brazil?",
    "What is the capital of Italy?", "How many wheels does a bicycle have?", "What colour is grass?",
    "What is ten minus three?", "Who painted the Mona Lisa?", "How many months are in a year?",
    "What is the freezing point of water?", "What is the biggest planet?", "How many hours are in a day?",
    "What is the capital of Spain?", "What do cows drink?", "Which animal is known as the king of the jungle?",
    "What is the fastest land animal?", "How many sides does a triangle have?", "What language is spoken in Mexico?",
]
VOICES = ("joe-high", "heart-low")
MEETING = Path("dialogue") / "ami_meeting_trn00.wav"
SETTLE_S = 3.0


@dataclass
class Target:
    name: str
    tree: Path
    server: ServerHandle | None = None


@dataclass
class TurnResult:
    latency_s: float | None
    heard: str = ""
    said: str = ""
    stall_s: float | None = None
    """Silence a listener would hear inside the answer: its audio, played from its first chunk on,
    ran out before the next chunk came (the answer's own pauses are audio, not stalls)."""


@dataclass
class SweepResult:
    sessions: int
    latencies: list[float | None] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    cpu_per_audio_s: float | None = None
    peak_rss_mib: float | None = None
    wall_s: float = 0.0
    stall_s: dict[str, float] | None = None
    """Silence inside the answers (:class:`TurnResult`): median and max over the sessions."""


@contextlib.contextmanager
def _pythonpath(tree: Path) -> Iterator[None]:
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(tree)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def start_target(target: Target, home: Path) -> ServerHandle:
    """``chimein serve`` importing the code in ``target.tree`` (PYTHONPATH), on free ports."""
    with _pythonpath(target.tree):
        launched = launch_server(home, "--log-level", "info", timeout_s=600, cwd=target.tree)
    return ServerHandle(f"https://127.0.0.1:{launched.tls_port}", launched.cert, process=launched.process,
                        home=home, output=launched.output)


def _client(server: ServerHandle) -> Any:
    import ssl

    from google import genai
    from google.genai import types

    ctx = ssl.create_default_context(cafile=str(server.cert))
    options = types.HttpOptions(base_url=server.base_url, async_client_args={"ssl": ctx})
    return genai.Client(api_key=server.api_key, http_options=options)


def _config() -> Any:
    from google.genai import types

    return types.LiveConnectConfig(response_modalities=["AUDIO"],
                                   input_audio_transcription=types.AudioTranscriptionConfig(),
                                   output_audio_transcription=types.AudioTranscriptionConfig())


async def _send(session: Any, audio: np.ndarray, *, stop: asyncio.Event | None = None) -> None:
    """Stream 100 ms chunks at real-time speed."""
    from google.genai import types

    step = 1600
    started = time.monotonic()
    for n, i in enumerate(range(0, len(audio), step)):
        if stop is not None and stop.is_set():
            return
        pcm = (np.clip(audio[i : i + step], -1, 1) * 32767).astype("<i2").tobytes()
        await session.send_realtime_input(audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000"))
        delay = started + (n + 1) * 0.1 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _ask(session: Any, question: np.ndarray, *, timeout_s: float) -> TurnResult:
    """Say the question, keep sending silence, wait for the answer's turnComplete; latency to its first audio."""
    state: dict[str, Any] = {"first": None, "heard": "", "said": ""}
    player = Playout()
    done = asyncio.Event()
    speech_end: list[float] = []

    async def receive() -> None:
        # Past a declined turn's turnComplete too: the meeting's last utterance is declined while the question is asked.
        async for message in every_message(session):
            content = message.server_content
            if content is None:
                continue
            if content.input_transcription and content.input_transcription.text:
                state["heard"] += content.input_transcription.text
            if content.output_transcription and content.output_transcription.text:
                state["said"] += content.output_transcription.text
            if content.model_turn and content.model_turn.parts and speech_end:
                audio = [p.inline_data.data for p in content.model_turn.parts if p.inline_data is not None]
                if audio:
                    now = time.monotonic()
                    if state["first"] is None:
                        state["first"] = now
                    player.arrived(now, sum(len(a or b"") for a in audio) / (2 * OUTPUT_RATE))
            if content.turn_complete and state["first"] is not None:
                done.set()
                return

    receiver = asyncio.create_task(receive())
    try:
        await _send(session, question)
        speech_end.append(time.monotonic() - trailing_silence_s(question))
        silence = np.zeros(int(timeout_s * 16000), np.float32)
        sender = asyncio.create_task(_send(session, silence, stop=done))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout_s)
        done.set()
        await sender
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver
    first = state["first"]
    return TurnResult(None if first is None else round(first - speech_end[0], 3), state["heard"].strip(),
                      state["said"].strip(), None if first is None else round(player.stall_s, 3))


@dataclass
class Playout:
    """A listener's player: plays each chunk as it arrives, and counts the time it had nothing to play."""

    clock_s: float | None = None
    stall_s: float = 0.0

    def arrived(self, at_s: float, duration_s: float) -> None:
        if self.clock_s is None:
            self.clock_s = at_s
        elif at_s > self.clock_s:
            self.stall_s += at_s - self.clock_s
            self.clock_s = at_s
        self.clock_s += duration_s


def trailing_silence_s(audio: np.ndarray) -> float:
    """Seconds after the last voiced frame (within 35 dB of the loudest): latency counts from the
    end of voiced speech, not from the end of the clip (one voice's clips end with 0.15 s of
    silence, another's with 0.55 s)."""
    from chimein.bench.dsp import RATE, voiced_span

    return (len(audio) - voiced_span(audio, floor_db=-35.0)[1]) / RATE


def _question_audio(i: int) -> np.ndarray:
    from chimein.bench.voices import speak

    return speak(QUESTIONS[i % len(QUESTIONS)], VOICES[i % len(VOICES)])


def repeat_at(turns: int) -> int:
    """The long session's turn index where the first half's questions start again."""
    return max(1, (turns + 1) // 2)


async def long_session(targets: list[Target], turns: int, say: Any,
                       results: dict[str, list[TurnResult]]) -> None:
    """One session per target, open side by side; turn i is asked of each in turn (order alternates).

    Fills ``results`` as it goes, so a failure at the end still leaves the turns measured.
    """
    for t in targets:
        results.setdefault(t.name, [])
    async with contextlib.AsyncExitStack() as stack:
        sessions = {}
        for t in targets:
            assert t.server is not None
            sessions[t.name] = await stack.enter_async_context(
                _client(t.server).aio.live.connect(model="gemini-2.5-flash-native-audio-preview-09-2025", config=_config()))
        half = repeat_at(turns)
        for i in range(turns):
            # The second half asks the first half's questions again, in the same voices (the
            # issue's own method): a slower second half is then the turn index, not the questions.
            question = _question_audio(i % half)
            order = targets if i % 2 == 0 else list(reversed(targets))
            for t in order:
                try:
                    r = await _ask(sessions[t.name], question, timeout_s=20.0)
                except Exception as exc:  # noqa: BLE001 - a dropped connection is a lost turn; reconnect
                    r = TurnResult(None, said=f"[{type(exc).__name__}: {exc}]")
                    assert t.server is not None
                    sessions[t.name] = await stack.enter_async_context(_client(t.server).aio.live.connect(
                        model="gemini-2.5-flash-native-audio-preview-09-2025", config=_config()))
                results[t.name].append(r)
                say(f"  long session {t.name:9s} turn {i + 1:2d}: "
                    f"{'no answer' if r.latency_s is None else f'{r.latency_s:.3f} s'}  heard={r.heard!r} said={r.said[:60]!r}")
                await asyncio.sleep(0.5)


def _meeting(data: Path, seconds: float, offset_s: float) -> np.ndarray:
    import soundfile as sf

    from chimein.perception.audio import resample

    audio, rate = sf.read(str(data / MEETING), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != 16000:
        audio = resample(audio, rate, 16000)
    start = int(offset_s * 16000) % max(1, len(audio) - int(seconds * 16000))
    return audio[start : start + int(seconds * 16000)].astype(np.float32)


async def concurrent(target: Target, n: int, *, listen_s: float, stagger_s: float, timeout_s: float, data: Path,
                     seed: int) -> SweepResult:
    """N sessions listen to the meeting at once, then each asks one question within ``stagger_s``."""
    assert target.server is not None
    server = target.server
    rng = random.Random(seed)
    result = SweepResult(n)
    client = _client(server)
    from google.genai import types

    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"], input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        system_instruction="You are a helpful quiz assistant; answer questions people ask you.",
        proactivity=types.ProactivityConfig(proactive_audio=True))
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(
            client.aio.live.connect(model="gemini-2.5-flash-native-audio-preview-09-2025", config=config))
            for _ in range(n)]
        cpu0 = server.cpu_seconds()
        await asyncio.gather(*(_send(s, _meeting(data, listen_s, 13.0 * k)) for k, s in enumerate(sessions)))
        cpu1 = server.cpu_seconds()
        if cpu0 is not None and cpu1 is not None:
            result.cpu_per_audio_s = round((cpu1 - cpu0) / (n * listen_s), 4)
        # a pause after the meeting, so its last utterance ends (and is declined) before the questions
        await asyncio.gather(*(_send(s, np.zeros(int(SETTLE_S * 16000), np.float32)) for s in sessions))
        offsets = sorted(rng.uniform(0, stagger_s) for _ in range(n))

        async def one(k: int, session: Any) -> TurnResult:
            await asyncio.sleep(offsets[k])
            try:
                return await _ask(session, _question_audio(seed + k), timeout_s=timeout_s)
            except Exception as exc:  # noqa: BLE001 - a dropped connection is a lost question
                return TurnResult(None, said=f"[{type(exc).__name__}: {exc}]")

        turns = await asyncio.gather(*(one(k, s) for k, s in enumerate(sessions)))
    result.latencies = [t.latency_s for t in turns]
    stalls = [t.stall_s for t in turns if t.stall_s is not None]
    result.stall_s = {"median_s": round(statistics.median(stalls), 3), "max_s": round(max(stalls), 3)} if stalls else None
    result.turns = [t.__dict__ for t in turns]
    result.peak_rss_mib = server.peak_rss_mib()
    result.wall_s = round(time.monotonic() - started, 1)
    return result


def _stats(values: list[float | None]) -> dict[str, Any]:
    got = [v for v in values if v is not None]
    return {
        "n": len(values), "answered": len(got),
        "median_s": round(statistics.median(got), 3) if got else None,
        "max_s": round(max(got), 3) if got else None,
    }


def _baseline_tree(commit: str) -> Path:
    """A detached git worktree of ``commit`` (created once, reused)."""
    path = Path(tempfile.gettempdir()) / f"chimein-baseline-{commit}"
    if not (path / "chimein").is_dir():
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(path), commit],
                       check=True, capture_output=True)
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chimein bench latency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="folder for latency.json and latency.md")
    p.add_argument("--turns", type=int, default=30, help="questions in the long session (default 30; 0 skips it)")
    p.add_argument("--sessions", default="1,4,8,12",
                   help="concurrency levels, comma-separated (default 1,4,8,12; empty skips the sweep)")
    p.add_argument("--listen-s", type=float, default=8.0, help="seconds of meeting each session listens to first")
    p.add_argument("--stagger-s", type=float, default=2.0, help="the questions start within this many seconds")
    p.add_argument("--timeout-s", type=float, default=15.0, help="a question unanswered this long counts as lost")
    base = p.add_mutually_exclusive_group()
    base.add_argument("--baseline-commit", help="also run this git commit (a worktree is made under the temp dir)")
    base.add_argument("--baseline-tree", type=Path, help="also run the chimein checkout in this folder")
    p.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "real",
                   help="real recordings folder (default ../shared/data/real)")
    return p


def latency_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        levels = [int(x) for x in args.sessions.split(",") if x.strip()]
    except ValueError:
        print(f"chimein bench latency: --sessions takes numbers like 1,4,8 (got {args.sessions!r})", file=sys.stderr)
        return 2
    if any(n < 1 for n in levels) or args.turns < 0:
        print("chimein bench latency: --sessions levels and --turns must be positive", file=sys.stderr)
        return 2
    if levels and not (args.data / MEETING).is_file():
        print(f"chimein bench latency: the meeting recording {args.data / MEETING} is missing (--data)", file=sys.stderr)
        return 2
    targets = [Target("current", REPO_ROOT)]
    if args.baseline_commit:
        try:
            targets.append(Target(f"baseline {args.baseline_commit}", _baseline_tree(args.baseline_commit)))
        except subprocess.CalledProcessError as exc:
            print(f"chimein bench latency: cannot check out {args.baseline_commit}: {exc.stderr.decode().strip()}",
                  file=sys.stderr)
            return 2
    elif args.baseline_tree:
        if not (args.baseline_tree / "chimein").is_dir():
            print(f"chimein bench latency: {args.baseline_tree} is not a chimein checkout", file=sys.stderr)
            return 2
        targets.append(Target(f"baseline {args.baseline_tree.name}", args.baseline_tree.resolve()))
    args.out.mkdir(parents=True, exist_ok=True)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    homes = []
    results: dict[str, Any] = {"command": "chimein bench latency " + " ".join(argv), "targets": {},
                               "load_average_start": os.getloadavg()}
    try:
        for t in targets:
            home = Path(tempfile.mkdtemp(prefix="chimein-latency-"))
            homes.append(home)
            say(f"starting {t.name} ({t.tree})")
            t.server = start_target(t, home)
            results["targets"][t.name] = {"tree": str(t.tree)}
        if args.turns:
            say(f"long session: {args.turns} turns")
            long: dict[str, list[TurnResult]] = {}
            try:
                asyncio.run(long_session(targets, args.turns, say, long))
            except Exception as exc:  # noqa: BLE001 - keep what was measured
                say(f"long session ended early: {type(exc).__name__}: {exc}")
            for name, turns in long.items():
                lat = [r.latency_s for r in turns]
                half = repeat_at(args.turns)
                again = [b - a for a, b in zip(lat[:half], lat[half:], strict=False) if a is not None and b is not None]
                results["targets"][name]["long_session"] = {
                    "latency_by_turn_s": lat,
                    "all": _stats(lat), "first_half": _stats(lat[:half]), "second_half": _stats(lat[half:]),
                    "second_minus_first_median_s": round(statistics.median(again), 3) if again else None,
                    "turns": [r.__dict__ for r in turns],
                }
        for level_i, n in enumerate(levels):
            order = targets if level_i % 2 == 0 else list(reversed(targets))
            for t in order:
                say(f"concurrency: {n} sessions on {t.name}")
                r = asyncio.run(concurrent(t, n, listen_s=args.listen_s, stagger_s=args.stagger_s,
                                           timeout_s=args.timeout_s, data=args.data, seed=100 + n))
                results["targets"][t.name].setdefault("sweep", []).append({**r.__dict__, **_stats(r.latencies)})
                say(f"  {n:2d} sessions {t.name}: {_stats(r.latencies)} stalls {r.stall_s} cpu/audio-s "
                    f"{r.cpu_per_audio_s} peak {r.peak_rss_mib} MiB")
                for turn in r.turns:
                    say(f"     {turn['latency_s']}  stall {turn['stall_s']}  heard={turn['heard']!r} said={turn['said'][:60]!r}")
        for t in targets:
            assert t.server is not None
            results["targets"][t.name]["peak_rss_mib"] = t.server.peak_rss_mib()
    finally:
        for t in targets:
            if t.server is not None:
                t.server.stop()
                # Each reply's stages (prompt, cache, first token, threads) for a closer look.
                slug = re.sub(r"[^A-Za-z0-9]+", "-", t.name).strip("-")
                (args.out / f"server-{slug}.log").write_text("".join(t.server.output))
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)
    results["load_average_end"] = os.getloadavg()
    (args.out / "latency.json").write_text(json.dumps(results, indent=2))
    (args.out / "latency.md").write_text(markdown(results))
    print(markdown(results))
    return 0


def markdown(results: dict[str, Any]) -> str:
    """The figures as a small report, baseline beside current, with ratios."""
    names = list(results["targets"])
    lines = [f"# chimein bench latency\n\n`{results['command']}`\n",
             f"load average at start {results['load_average_start']}, end {results.get('load_average_end')}\n"]

    def fmt(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    if len(names) == 2 and all("long_session" in results["targets"][n] for n in names):
        a, b = (results["targets"][n]["long_session"]["all"]["median_s"] for n in names)
        if a and b:
            lines.append(f"Long-session median, {names[0]} / {names[1]}: {a / b:.2f}\n")
    if all("long_session" in results["targets"][n] for n in names):
        lines.append("## Long session (end of voiced speech -> first answer audio, seconds)\n")
        lines.append("| | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 1) + "|")
        for part in ("all", "first_half", "second_half"):
            for key in ("median_s", "max_s", "answered"):
                lines.append(f"| {part} {key} | " + " | ".join(
                    fmt(results["targets"][n]["long_session"][part][key]) for n in names) + " |")
        lines.append("| second half minus first, same question (median) s | " + " | ".join(
            fmt(results["targets"][n]["long_session"].get("second_minus_first_median_s")) for n in names) + " |")
        lines.append("\nThe second half asks the first half's questions again, in the same voices.")
        lines.append("\nBy turn: " + "; ".join(
            f"{n}: " + " ".join(fmt(v) for v in results["targets"][n]["long_session"]["latency_by_turn_s"])
            for n in names) + "\n")
    if all("sweep" in results["targets"][n] for n in names):
        lines.append("## Concurrent sessions (each asks one question within the stagger)\n")
        lines.append("| sessions | target | answered | median s | max s | stalls in the answers, median (max) s "
                     "| CPU s per audio s | peak RSS MiB |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for n in names:
            for row in results["targets"][n]["sweep"]:
                stall = row.get("stall_s") or {}
                lines.append(f"| {row['sessions']} | {n} | {row['answered']}/{row['n']} | {fmt(row['median_s'])} | "
                             f"{fmt(row['max_s'])} | {fmt(stall.get('median_s'))} ({fmt(stall.get('max_s'))}) | "
                             f"{fmt(row['cpu_per_audio_s'])} | {fmt(row['peak_rss_mib'])} |")
    return "\n".join(lines) + "\n"
