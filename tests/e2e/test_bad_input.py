"""Bad input closes only the offending session, with a 1007/1008/1009 code and a reason a person can act on."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import websockets
from google.genai import errors, types

from tests.conftest import start_server, stop_server
from tests.e2e.client import MODEL, sdk_client, speech_16k, spoken_turn

pytestmark = pytest.mark.slow

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
SETUP = {"setup": {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["AUDIO"]}}}
GOOD_AUDIO = {"realtimeInput": {"audio": {"data": base64.b64encode(b"\0\0" * 160).decode(), "mimeType": "audio/pcm;rate=16000"}}}


async def _closed_with(url: str, frames: list, *, headers: dict | None = None) -> tuple[int, str, list]:
    """Send frames; return the close code and reason the server chose, and what it sent before."""
    received = []
    async with websockets.connect(url + PATH, additional_headers=headers or {}, max_size=None) as ws:
        try:
            for frame in frames:
                await ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
                await asyncio.sleep(0.05)
            while True:
                received.append(await asyncio.wait_for(ws.recv(), 20))
        except websockets.ConnectionClosed as closed:  # the server may close before we finish sending
            assert closed.rcvd is not None, "server dropped the connection without a close frame"
            return closed.rcvd.code, closed.rcvd.reason, received
    raise AssertionError("connection stayed open")


CASES = [
    ("first frame not setup", [GOOD_AUDIO], 1008, "first frame must be"),
    ("malformed JSON", ["{not json"], 1007, "not valid JSON"),
    ("setup not an object", [{"setup": "x"}], 1007, "setup must be a JSON object"),
    ("missing model", [{"setup": {}}], 1007, "setup.model is required"),
    ("unknown message", [SETUP, {"hello": 1}], 1007, "unknown message hello"),
    ("bad base64", [SETUP, {"realtimeInput": {"audio": {"data": "***", "mimeType": "audio/pcm;rate=16000"}}}], 1007, "not valid base64"),
    ("wrong audio rate", [SETUP, {"realtimeInput": {"audio": {"data": "AAAA", "mimeType": "audio/pcm;rate=8000"}}}], 1007, "16 kHz"),
    ("wrong audio type", [SETUP, {"realtimeInput": {"audio": {"data": "AAAA", "mimeType": "audio/mp3"}}}], 1007, "unsupported mimeType"),
    ("odd byte count", [SETUP, {"realtimeInput": {"audio": {"data": "AAAA", "mimeType": "audio/pcm;rate=16000"}}}], 1007, "even number"),
    ("second setup", [SETUP, SETUP], 1008, "setup was already received"),
    ("manual activity without disabling detection", [SETUP, {"realtimeInput": {"activityStart": {}}}], 1007, "disabled: true"),
    ("unknown voice", [{"setup": {"model": MODEL, "generationConfig": {"speechConfig": {"voiceConfig": {
        "prebuiltVoiceConfig": {"voiceName": "Bogus"}}}}}}], 1007, "Bogus"),
    ("proactive video alone", [{"setup": {"model": MODEL, "proactivity": {"proactiveVideo": True}}}], 1007, "requires proactiveAudio"),
    ("bad activity detection", [{"setup": {"model": MODEL, "realtimeInputConfig": {"automaticActivityDetection": {
        "silenceDurationMs": -5}}}}], 1007, "automaticActivityDetection"),
]


@pytest.mark.parametrize(("name", "frames", "code", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_bad_frames_close_with_clear_reason(server, name, frames, code, reason):
    got_code, got_reason, received = await _closed_with(server.plain_url, frames)
    assert (got_code, reason.lower() in got_reason.lower()) == (code, True), (got_code, got_reason)
    assert not any('"error"' in str(m) for m in received), "never send a JSON error frame"


async def test_oversize_frame_is_refused(server):
    huge = json.dumps({"realtimeInput": {"text": "x" * (17 * 1024 * 1024)}})
    code, _, _ = await _closed_with(server.plain_url, [SETUP, huge])
    assert code == 1009


async def test_unknown_path_is_404(server):
    with pytest.raises(websockets.InvalidStatus) as caught:
        async with websockets.connect(server.plain_url + "/ws/nope"):
            pass
    assert caught.value.response.status_code == 404


async def test_bad_input_in_one_session_leaves_another_working(server):
    client = sdk_client(server)
    config = types.LiveConnectConfig(response_modalities=["AUDIO"], input_audio_transcription=types.AudioTranscriptionConfig())
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        # While this session is open, another client misbehaves in every way we know.
        for _, frames, _, _ in CASES:
            await _closed_with(server.plain_url, frames)
        record = await spoken_turn(session, speech_16k("What day comes after Monday?"))
    assert record.turn_complete and len(record.audio) > 24000
    assert server.process.poll() is None, "the server must survive bad input"
    assert "Traceback" not in "".join(server.output)


async def test_sdk_surfaces_a_mid_session_close_as_api_error(server):
    client = sdk_client(server)
    async with client.aio.live.connect(model=MODEL, config=types.LiveConnectConfig(response_modalities=["AUDIO"])) as session:
        await session.send_realtime_input(audio=types.Blob(data=b"\0\0" * 10, mime_type="audio/pcm;rate=44100"))
        with pytest.raises(errors.APIError) as caught:
            async for _ in session.receive():
                pass
    assert caught.value.code == 1007


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("keyed-home"), "--api-key", "s3cret", "--api-key", "other")
    yield running
    stop_server(running)


async def test_api_keys_are_checked_everywhere(keyed_server):
    setup = json.dumps(SETUP)
    for headers, path_suffix in [({"x-goog-api-key": "s3cret"}, ""), ({"Authorization": "Bearer other"}, ""),
                                 ({"Authorization": "Token s3cret"}, ""), ({}, "?key=s3cret")]:
        async with websockets.connect(keyed_server.plain_url + PATH + path_suffix, additional_headers=headers) as ws:
            await ws.send(setup)
            assert "setupComplete" in json.loads(await ws.recv())
    code, reason, _ = await _closed_with(keyed_server.plain_url, [SETUP], headers={"x-goog-api-key": "wrong"})
    assert code == 1008 and "API key not valid" in reason
    with pytest.raises(errors.APIError) as caught:
        async with sdk_client(keyed_server, api_key="wrong").aio.live.connect(model=MODEL, config=types.LiveConnectConfig()):
            pass
    assert caught.value.code == 1008


def test_open_server_refuses_non_loopback_bind(tmp_path):
    with pytest.raises(RuntimeError, match="refusing to listen on 0.0.0.0 without an API key"):
        start_server(tmp_path, "--host", "0.0.0.0", timeout_s=60)
