"""End-of-speech -> first-audio-byte latency through the real SDK, proactivity off vs on, same run.

    .venv/bin/python scripts/measure_latency.py [--turns 12]

Starts `chimein serve`, asks the same spoken questions (chimein's own voices) in two sessions,
one with proactive audio off and one with it on (an instruction that accepts every question),
alternating so both see the same machine load, and prints median / p95 / max per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.genai import types  # noqa: E402

from tests.conftest import start_server, stop_server  # noqa: E402
from tests.e2e.client import MODEL, sdk_client, speech_16k, spoken_turn  # noqa: E402

QUESTIONS = [
    "What is the capital of France?", "How many legs does a spider have?", "What colour is the sky?",
    "What is two plus two?", "Who wrote Romeo and Juliet?", "How many days are in a week?",
    "What is the boiling point of water?", "What is the largest ocean?", "How many minutes are in an hour?",
    "What is the capital of Japan?", "What do bees make?", "Which planet is the closest to the sun?",
    "What is the tallest animal?", "How many continents are there?", "What language is spoken in Brazil?",
]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def run(server, turns: int) -> dict[str, list[float]]:
    client = sdk_client(server)
    base = dict(response_modalities=["AUDIO"], input_audio_transcription=types.AudioTranscriptionConfig())
    configs = {
        "proactivity_off": types.LiveConnectConfig(**base),
        "proactivity_on": types.LiveConnectConfig(
            **base, system_instruction="You are a helpful quiz assistant; answer questions people ask you.",
            proactivity=types.ProactivityConfig(proactive_audio=True)),
    }
    latencies: dict[str, list[float]] = {name: [] for name in configs}
    for i in range(turns):
        question = speech_16k(QUESTIONS[i % len(QUESTIONS)], voice="heart" if i % 2 else "joe")
        for name, config in configs.items():
            async with client.aio.live.connect(model=MODEL, config=config) as session:
                record = await spoken_turn(session, question)
            if record.latency_s is not None:
                latencies[name].append(record.latency_s)
            print(f"{name:16s} turn {i + 1:2d}: {record.latency_s if record.latency_s is not None else float('nan'):.3f} s"
                  f"  heard={record.input_text!r}", flush=True)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    server = start_server(Path(tempfile.mkdtemp(prefix="chimein-latency-")))
    try:
        latencies = asyncio.run(run(server, args.turns))
    finally:
        stop_server(server)
    summary = {"machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip()}
    for name, values in latencies.items():
        summary[name] = {"n": len(values), "median_s": round(statistics.median(values), 3),
                         "p95_s": round(_p95(values), 3), "max_s": round(max(values), 3)}
        print(f"{name}: n={len(values)} median {statistics.median(values):.3f} s, p95 {_p95(values):.3f} s, "
              f"max {max(values):.3f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
