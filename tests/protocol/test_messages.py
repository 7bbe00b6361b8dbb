"""Decoding of client frames: both casings, both base64 alphabets, clear refusals. No I/O."""

from __future__ import annotations

import base64

import pytest

from chimein.protocol.messages import (
    ActivityEnd,
    ActivityStart,
    AudioChunk,
    AudioStreamEnd,
    ClientContent,
    ProtocolError,
    RealtimeText,
    parse_client_message,
    parse_json_frame,
    parse_setup,
)
from chimein.protocol.models import bare_model_name, resolve_model
from chimein.server.app import route
from chimein.server.auth import KeyChecker, is_loopback, presented_key

# The setup the real SDK sends in Gemini-API mode (shared/docs/live-protocol.md).
SDK_SETUP = {
    "model": "models/gemini-2.5-flash-native-audio-preview-09-2025",
    "generationConfig": {
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}, "language_code": "en-US"},
    },
    "systemInstruction": {"parts": [{"text": "Only chime in about cooking."}], "role": "user"},
    "inputAudioTranscription": {},
    "outputAudioTranscription": {},
    "realtimeInputConfig": {
        "automatic_activity_detection": {"disabled": False, "silence_duration_ms": 500},
        "activity_handling": "NO_INTERRUPTION",
    },
    "proactivity": {"proactive_audio": True},
}


def test_sdk_setup_in_gemini_mode():
    setup = parse_setup(SDK_SETUP)
    assert setup.voice_name == "Kore" and setup.language_code == "en-US"
    assert setup.system_instruction == "Only chime in about cooking."
    assert setup.input_transcription and setup.output_transcription
    assert setup.proactive_audio and setup.activity_handling == "NO_INTERRUPTION"
    assert setup.automatic_activity_detection == {"disabled": False, "silence_duration_ms": 500}


def test_vertex_mixed_casing_and_defaults():
    setup = parse_setup({
        "model": "projects/p/locations/l/publishers/google/models/gemini-live-2.5-flash-preview-native-audio-09-2025",
        "generation_config": {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voice_name": "Puck"}}}},
    })
    assert setup.voice_name == "Puck" and setup.response_modalities == ("AUDIO",)
    assert not setup.proactive_audio and not setup.input_transcription
    assert bare_model_name(setup.model) == "gemini-live-2.5-flash-preview-native-audio-09-2025"


@pytest.mark.parametrize("bad", [{"proactivity": {"proactive_video": True}}, {"generationConfig": {"responseModalities": ["VIDEO"]}}])
def test_setup_refusals(bad):
    with pytest.raises(ProtocolError) as caught:
        parse_setup({"model": "m", **bad})
    assert caught.value.code == 1007


def test_audio_in_both_base64_alphabets():
    raw = bytes(range(256)) * 2
    for encoder in (base64.b64encode, base64.urlsafe_b64encode):
        data = encoder(raw).decode().rstrip("=")
        (event,) = parse_client_message({"realtime_input": {"audio": {"data": data, "mime_type": "audio/pcm;rate=16000"}}})
        assert isinstance(event, AudioChunk) and event.pcm == raw and event.rate == 16000


def test_realtime_signals_and_text():
    events = parse_client_message({"realtimeInput": {"activityStart": {}}})
    assert events == [ActivityStart()]
    assert parse_client_message({"realtimeInput": {"activityEnd": {}}}) == [ActivityEnd()]
    assert parse_client_message({"realtimeInput": {"audioStreamEnd": True}}) == [AudioStreamEnd()]
    assert parse_client_message({"realtimeInput": {"text": "hi"}}) == [RealtimeText("hi")]


def test_client_content_with_text_and_file():
    pcm = base64.b64encode(b"\0\0" * 8).decode()
    (event,) = parse_client_message({"client_content": {"turns": [
        {"role": "user", "parts": [{"text": "listen"}, {"inlineData": {"mimeType": "audio/wav", "data": pcm}}]}],
        "turnComplete": False}})
    assert isinstance(event, ClientContent) and not event.turn_complete
    assert event.turns[0].texts == ("listen",) and event.turns[0].files[0].mime_type == "audio/wav"


@pytest.mark.parametrize(
    ("frame", "code", "words"),
    [
        ("nope", 1007, "not valid JSON"),
        ("[1]", 1007, "JSON object"),
    ],
)
def test_frame_refusals(frame, code, words):
    with pytest.raises(ProtocolError) as caught:
        parse_json_frame(frame)
    assert caught.value.code == code and words in caught.value.reason


def test_close_reason_fits_a_close_frame():
    error = ProtocolError(1008, "é" * 200)
    assert len(error.close_reason.encode()) <= 123


def test_model_table():
    assert resolve_model("models/gemini-2.5-flash-native-audio-preview-09-2025").proactive_audio
    with pytest.raises(ProtocolError) as caught:
        resolve_model("publishers/google/models/gemini-live-2.5-flash-preview-native-audio")
    assert caught.value.code == 1008 and "gemini-live-2.5-flash-preview-native-audio-09-2025" in caught.value.reason
    with pytest.raises(ProtocolError) as caught:
        resolve_model("gpt-4o")
    assert "supported:" in caught.value.reason and len(caught.value.reason.encode()) <= 123


@pytest.mark.parametrize(
    ("path", "flavour"),
    [
        ("/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent", "gemini"),
        ("//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=x", "gemini"),
        ("/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained", "gemini"),
        ("/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent", "vertex"),
        ("/ws/other", None),
    ],
)
def test_routes(path, flavour):
    assert route(path) == flavour


def test_keys_from_every_place():
    assert presented_key("/p", {"x-goog-api-key": "a"}) == "a"
    assert presented_key("/p", {"authorization": "Bearer b"}) == "b"
    assert presented_key("/p", {"authorization": "Token auth_tokens/c"}) == "auth_tokens/c"
    assert presented_key("/p?key=d", {}) == "d"
    checker = KeyChecker(["a"])
    assert checker.allows("a") and not checker.allows("b") and not checker.allows(None)
    assert KeyChecker([]).allows(None)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
