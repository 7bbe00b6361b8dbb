"""Where each turn's time goes through a running server, from the end of voiced speech.

    .venv/bin/chimein serve --plain-port 8799 &
    .venv/bin/python scripts/probe_turn_stages.py --turns 12

One session (proactive audio off) asks the questions of ``chimein bench latency`` in real time,
in the same two voices, over a raw WebSocket with ``?chimein_events=1``. For every turn it prints
when each stage happened (the event's time on the server's monotonic clock, so an event read only
after the clip's trailing silence was sent is still placed right), in seconds after the question's
last voiced sample: the end of
the turn (``speech_ended``), the transcript, the first token, the first clause and the first
answer audio on the wire; then the medians. ``chimein bench latency`` gives the end-to-end figure
beside a baseline; this says which stage to work on.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import time

import numpy as np
import websockets

from chimein.bench.latency import QUESTIONS, VOICES, trailing_silence_s
from chimein.bench.voices import speak

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
MODEL = "models/gemini-live-2.5-flash-preview-native-audio-09-2025"
STAGES = ("speech_ended", "transcribed", "first_token", "first_clause", "audio")
CHUNK = 640  # 20 ms of 16 kHz 16-bit audio


def _audio_message(pcm: bytes) -> str:
    return json.dumps({"realtimeInput": {"audio": {"data": base64.b64encode(pcm).decode(),
                                                   "mimeType": "audio/pcm;rate=16000"}}})


async def _turn(ws: websockets.ClientConnection, clip: np.ndarray) -> dict[str, float]:
    pcm = (np.clip(clip, -1, 1) * 32767).astype("<i2").tobytes()
    start = time.monotonic()
    for k in range(0, len(pcm), CHUNK):
        await ws.send(_audio_message(pcm[k:k + CHUNK]))
        await asyncio.sleep(max(0.0, start + (k + CHUNK) / 32000 - time.monotonic()))
    voiced_end = time.monotonic() - trailing_silence_s(clip)
    seen: dict[str, float] = {}

    async def silence() -> None:  # a live microphone keeps sending
        while True:
            await ws.send(_audio_message(bytes(CHUNK)))
            await asyncio.sleep(0.02)

    feeder = asyncio.create_task(silence())
    try:
        while True:
            message = json.loads(await ws.recv())
            now = round(time.monotonic() - voiced_end, 3)
            if "chimeinEvent" in message:  # stamped by the server's monotonic clock: read late, still exact
                event = message["chimeinEvent"]
                seen.setdefault(event["type"], round(event["t"] - voiced_end, 3) if "t" in event else now)
            content = message.get("serverContent") or {}
            if content.get("modelTurn"):
                seen.setdefault("audio", now)
            if content.get("turnComplete"):
                return seen
    finally:
        feeder.cancel()


async def probe(url: str, turns: int) -> None:
    clips = [speak(QUESTIONS[i % len(QUESTIONS)], VOICES[i % len(VOICES)]) for i in range(turns)]
    rows = []
    async with websockets.connect(url + PATH + "?chimein_events=1", max_size=None) as ws:
        await ws.send(json.dumps({"setup": {"model": MODEL, "generationConfig": {"responseModalities": ["AUDIO"]}}}))
        await ws.recv()
        for i, clip in enumerate(clips):
            seen = await _turn(ws, clip)
            rows.append(seen)
            print(f"turn {i + 1:2d} ({VOICES[i % len(VOICES)]}): "
                  + "  ".join(f"{stage} {seen[stage]:.3f}" for stage in STAGES if stage in seen), flush=True)
            await asyncio.sleep(1.0)
    for stage in STAGES:
        values = [r[stage] for r in rows if stage in r]
        if values:
            print(f"{stage:14s} median {statistics.median(values):.3f} s over {len(values)} turns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="ws://127.0.0.1:8799", help="the server's plain ws:// address")
    parser.add_argument("--turns", type=int, default=12)
    args = parser.parse_args()
    asyncio.run(probe(args.url, args.turns))


if __name__ == "__main__":
    main()
