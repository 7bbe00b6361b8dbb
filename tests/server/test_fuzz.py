"""Seeded fuzzing of the Live API edge: malformed and mutated frame sequences against a real server.

A real :class:`~chimein.server.app.LiveServer` on 127.0.0.1 (port 0) runs real sessions on
scripted model stand-ins (tests/session/fake_models.py), so hundreds of connections take seconds.
Every connection must end with 1000, 1007, 1008 or 1009 and a reason, and nothing may be logged
as an error or with a traceback (bad input is the client's mistake, not a server failure).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chimein.server.app import LiveServer, ServerConfig
from tests.session.fake_models import FakeAsr, FakeServices

SEED = 20261201
SEQUENCES = 300
MAX_FRAME = 64 * 1024
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
ALLOWED = {1000, 1007, 1008, 1009}


def _pcm(rng: random.Random, seconds: float) -> str:
    n = int(seconds * 16000)
    loud = rng.random() < 0.5
    audio = np.sin(np.arange(n) / 3.0) * (9000 if loud else 10)
    return base64.b64encode(audio.astype("<i2").tobytes()).decode()


def _setup(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "models/gemini-2.5-flash-native-audio-preview-09-2025"}
    if rng.random() < 0.3:
        body["generationConfig"] = {"responseModalities": [rng.choice(["AUDIO", "TEXT"])]}
    if rng.random() < 0.2:
        body["realtimeInputConfig"] = {"automaticActivityDetection": {"disabled": True}}
    if rng.random() < 0.2:
        body["inputAudioTranscription"] = {}
    return {"setup": body}


def _valid(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(7)
    if kind == 0:
        return {"realtimeInput": {"audio": {"data": _pcm(rng, rng.choice([0.1, 0.5, 1.0])), "mimeType": "audio/pcm;rate=16000"}}}
    if kind == 1:
        return {"realtimeInput": {"text": rng.choice(["Hello", "What time is it?", "", "   "])}}
    if kind == 2:
        return {"clientContent": {"turns": [{"role": rng.choice(["user", "model"]), "parts": [{"text": "Hi"}]}],
                                  "turnComplete": rng.random() < 0.7}}
    if kind == 3:
        return {"realtimeInput": {rng.choice(["activityStart", "activityEnd"]): {}}}
    if kind == 4:
        return {"realtimeInput": {"audioStreamEnd": True}}
    if kind == 5:
        return {"toolResponse": {"functionResponses": [{"id": "1", "name": "f", "response": {}}]}}
    return {"realtimeInput": {"mediaChunks": [{"data": _pcm(rng, 0.1), "mimeType": "audio/pcm"}]}}


_ODD_VALUES: list[Any] = [None, 0, -1, 1e308, "x", "", [], {}, [1, [2]], {"a": {"b": None}}, True, 10**30, "🙂" * 3]


def _mutate_value(rng: random.Random, obj: Any) -> Any:
    """Replace one value somewhere in the object with a value of the wrong type or shape."""
    if isinstance(obj, dict) and obj and rng.random() < 0.8:
        key = rng.choice(sorted(obj))
        out = dict(obj)
        out[key] = _mutate_value(rng, obj[key]) if rng.random() < 0.6 else rng.choice(_ODD_VALUES)
        return out
    if isinstance(obj, list) and obj and rng.random() < 0.8:
        out_list = list(obj)
        i = rng.randrange(len(out_list))
        out_list[i] = _mutate_value(rng, out_list[i]) if rng.random() < 0.6 else rng.choice(_ODD_VALUES)
        return out_list
    return rng.choice(_ODD_VALUES)


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    raw = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        if not raw:
            break
        i = rng.randrange(len(raw))
        if op == 0:
            raw[i] = rng.randrange(256)
        elif op == 1:
            del raw[i:]
        elif op == 2:
            raw.insert(i, rng.choice(b'{}[]",:\\\x00\xff'))
        else:
            del raw[i]
    return bytes(raw)


def _frame(rng: random.Random) -> str | bytes:
    """One client frame: valid, structurally wrong, textually broken, or hostile."""
    roll = rng.random()
    base = _valid(rng)
    if roll < 0.35:
        return json.dumps(base)
    if roll < 0.6:
        return json.dumps(_mutate_value(rng, base), default=str)
    if roll < 0.8:
        data = _mutate_bytes(rng, json.dumps(base).encode())
        return data if rng.random() < 0.5 else data.decode("utf-8", errors="replace")
    hostile = rng.randrange(7)
    if hostile == 0:
        return "[" * rng.choice([1000, 100_000])
    if hostile == 1:
        return '{"realtimeInput":' * 5000 + "1" + "}" * 5000
    if hostile == 2:
        return "x" * (MAX_FRAME + 1)
    if hostile == 3:
        return json.dumps({"realtimeInput": {"text": "9" * 5000}}).replace('"9', "9").replace('9"', "9")
    if hostile == 4:
        return json.dumps([base])
    if hostile == 5:
        return json.dumps({"setup": {"model": "x"}})
    return b"\xff\xfe\x00garbage"


def _plan(rng: random.Random) -> tuple[list[str | bytes], list[float], float]:
    """One connection's frames, the pause after each and the final wait, drawn before any I/O (so
    the sequence does not depend on timing)."""
    first = _setup(rng)
    frames: list[str | bytes] = [json.dumps(first) if rng.random() < 0.85
                                 else json.dumps(_mutate_value(rng, first), default=str)]
    frames.extend(_frame(rng) for _ in range(rng.randint(1, 6)))
    pauses = [0.01 if rng.random() < 0.3 else 0.0 for _ in frames]
    return frames, pauses, 0.05 if rng.random() < 0.8 else 0.3


async def _one(url: str, frames: list[str | bytes], pauses: list[float], wait_s: float) -> tuple[int | None, str]:
    async with connect(url, max_size=None, open_timeout=10) as ws:
        try:
            for frame, pause in zip(frames, pauses, strict=True):
                await ws.send(frame)
                if pause:
                    await asyncio.sleep(pause)
            # Read what comes back briefly (an answer may be playing), then hang up mid-answer.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    while True:
                        await ws.recv()
        except ConnectionClosed:
            pass
    received = ws.protocol.close_rcvd  # the server's own close, or its answer to our 1000
    return (received.code, received.reason) if received is not None else (None, "")


async def test_hundreds_of_malformed_sequences_close_cleanly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    services = FakeServices(FakeAsr(["What time is it?"]))
    server = LiveServer(ServerConfig(host="127.0.0.1", plain_port=0, max_frame_bytes=MAX_FRAME, voices_dir=tmp_path),
                        services)  # type: ignore[arg-type]
    ((host, port, _),) = await server.start()
    url = f"ws://{host}:{port}{PATH}"
    rng = random.Random(SEED)
    codes: dict[int | None, int] = {}
    try:
        for _ in range(SEQUENCES):
            code, reason = await _one(url, *_plan(rng))
            codes[code] = codes.get(code, 0) + 1
            assert code in ALLOWED, (code, reason)
            if code != 1000:
                assert reason, f"close {code} without a reason"
    finally:
        await server.close()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not failures, [(r.name, r.getMessage()) for r in failures[:5]]
    assert codes.get(1007, 0) > 20 and codes.get(1008, 0) > 0 and codes.get(1009, 0) > 0, codes


async def test_deeply_nested_json_closes_with_1007(tmp_path: Path) -> None:
    server = LiveServer(ServerConfig(host="127.0.0.1", plain_port=0, voices_dir=tmp_path),
                        FakeServices(FakeAsr(["x"])))  # type: ignore[arg-type]
    ((host, port, _),) = await server.start()
    try:
        async with connect(f"ws://{host}:{port}{PATH}", max_size=None) as ws:
            await ws.send(json.dumps(_setup(random.Random(1))))
            await ws.recv()  # setupComplete
            await ws.send("[" * 100_000)
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.recv()
        assert ws.protocol.close_rcvd is not None
        assert ws.protocol.close_rcvd.code == 1007 and "nested too deeply" in ws.protocol.close_rcvd.reason
    finally:
        await server.close()
