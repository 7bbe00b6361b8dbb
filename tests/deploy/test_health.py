"""/livez, /readyz and /metrics of a real listening LiveServer (no models: no session is opened here).

The drain itself, with real sessions, goAway and HAProxy, is in test_scale_out.py.
"""

from __future__ import annotations

import asyncio
import http.client
from pathlib import Path

import pytest
import websockets

from chimein.server.app import LiveServer, ServerConfig
from chimein.server.metrics import InFlightModel, ServerMetrics


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read().decode()


async def _started(tmp_path: Path, **config) -> tuple[LiveServer, int]:
    server = LiveServer(ServerConfig(port=0, plain_port=0, voices_dir=tmp_path / "voices", **config), None)  # type: ignore[arg-type]
    (_, port, _), = await server.start()
    return server, port


async def test_ready_until_capacity_or_a_deep_model_queue(tmp_path: Path) -> None:
    in_flight = {"n": 0}
    server, port = await _started(tmp_path, max_sessions=2, max_model_queue=2, model_in_flight=lambda: in_flight["n"])
    try:
        assert await asyncio.to_thread(_get, port, "/livez") == (200, "ok\n")
        assert await asyncio.to_thread(_get, port, "/readyz") == (200, "ready: 0 of 2 sessions open\n")
        server._open.update({object(): object(), object(): object()})  # type: ignore[dict-item]
        status, body = await asyncio.to_thread(_get, port, "/readyz")
        assert status == 503 and "at capacity: 2 of 2 sessions open" in body
        server._open.clear()
        in_flight["n"] = 4  # one answer running, three waiting for the model
        status, body = await asyncio.to_thread(_get, port, "/readyz")
        assert status == 503 and "3 answers waiting" in body
        metrics = (await asyncio.to_thread(_get, port, "/metrics"))[1]
        assert "chimein_model_requests_in_flight 4.0" in metrics and "chimein_ready 0.0" in metrics
    finally:
        await server.close()


async def test_a_swapped_load_check_decides(tmp_path: Path) -> None:
    server, port = await _started(tmp_path, load_check=lambda: "scheduler: 9 answers queued")
    try:
        assert await asyncio.to_thread(_get, port, "/readyz") == (503, "scheduler: 9 answers queued\n")
    finally:
        await server.close()


async def test_draining_refuses_new_sessions_with_503(tmp_path: Path) -> None:
    server, port = await _started(tmp_path)
    try:
        assert await server.drain(5.0) < 1.0  # nothing open: done at once
        status, body = await asyncio.to_thread(_get, port, "/readyz")
        assert status == 503 and body.startswith("draining")
        assert (await asyncio.to_thread(_get, port, "/livez"))[0] == 200  # alive, just not ready
        path = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"ws://127.0.0.1:{port}{path}"):
                pass
        assert refused.value.response.status_code == 503
        assert "chimein_draining 1.0" in (await asyncio.to_thread(_get, port, "/metrics"))[1]
    finally:
        await server.close()


def test_metrics_come_from_session_events_without_contents() -> None:
    metrics = ServerMetrics()
    sid = "s1"
    for event in (
        {"type": "speech_ended", "session_id": sid, "t": 10.0},
        {"type": "decision", "session_id": sid, "t": 10.2, "answer": True, "rule": "addressed_by_name",
         "reason": "secret words the user said"},
        {"type": "first_audio", "session_id": sid, "t": 10.9},
        {"type": "turn_complete", "session_id": sid, "t": 12.0, "outcome": "answered"},
        {"type": "decision", "session_id": sid, "t": 13.0, "answer": False, "rule": "Not A Rule: secret"},
        {"type": "turn_complete", "session_id": sid, "t": 13.1, "outcome": "declined"},
        {"type": "colisten_started", "session_id": sid, "t": 14.0, "duration_s": 11.5},
    ):
        metrics.observe(event)
    metrics.add_input_audio(2.5)
    metrics.count_output({"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "mimeType": "audio/pcm;rate=24000", "data": "AAAA" * 12000}}]}}})  # 36,000 bytes: 0.75 s
    text = metrics.render().decode()
    assert 'chimein_turns_total{outcome="answered"} 1.0' in text
    assert 'chimein_turns_total{outcome="declined"} 1.0' in text
    assert 'chimein_decisions_total{answer="true",rule="addressed_by_name"} 1.0' in text
    assert 'chimein_decisions_total{answer="false",rule="other"} 1.0' in text
    assert "chimein_answer_latency_seconds_count 1.0" in text and 'le="1.0"} 1.0' in text
    assert 'chimein_input_audio_seconds_total{source="file"} 11.5' in text
    assert 'chimein_input_audio_seconds_total{source="microphone"} 2.5' in text
    assert "chimein_output_audio_seconds_total 0.75" in text
    assert "secret" not in text and sid not in text
    assert "process_cpu_seconds_total" in text and "_created" not in text


def test_in_flight_model_counts_and_delegates() -> None:
    class Model:
        name = "tiny"

        def __init__(self) -> None:
            self.seen: list[int] = []

        def stream_reply(self, messages, **kwargs):
            self.seen.append(wrapped.in_flight)
            yield "a"
            yield "b"

    inner = Model()
    wrapped = InFlightModel(inner)
    assert wrapped.name == "tiny"
    assert list(wrapped.stream_reply([], max_tokens=5)) == ["a", "b"]
    assert inner.seen == [1] and wrapped.in_flight == 0
