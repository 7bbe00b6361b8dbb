"""docs/protocol.md and the setup audit cover every Live API field of the installed google-genai."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.genai import types

from chimein.protocol.fields import (
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    SETUP,
    SETUP_CLASSES,
    WIRE_ONLY,
    connect_config_row,
    render_markdown,
)
from chimein.protocol.messages import ProtocolError, parse_setup

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
# "OutputTranscriptionConfig" is chimein's name for AudioTranscriptionConfig used as output options.
SDK_NAME = {"OutputTranscriptionConfig": "AudioTranscriptionConfig"}


def _covered(table: dict, cls: str) -> set[str]:
    return {key.split(".", 1)[1] for key in table if key.split(".", 1)[0] == cls}


def test_every_setup_field_of_the_sdk_is_in_the_table():
    missing = []
    for cls in SETUP_CLASSES:
        if f"{cls}.*" in SETUP:
            continue
        sdk = getattr(types, SDK_NAME.get(cls, cls))
        missing += [f"{cls}.{f}" for f in sdk.model_fields if f not in _covered(SETUP, cls)]
        stale = {f for f in _covered(SETUP, cls) - set(sdk.model_fields) if f"{cls}.{f}" not in WIRE_ONLY}
        assert not stale, f"{cls}: rows for fields the SDK no longer has: {sorted(stale)}"
    assert not missing, f"add these to chimein/protocol/fields.py and regenerate docs/protocol.md: {missing}"


def test_every_live_connect_config_field_has_a_row():
    missing = [f for f in types.LiveConnectConfig.model_fields if connect_config_row(f) is None]
    assert not missing, missing


@pytest.mark.parametrize(
    ("table", "classes"),
    [
        (CLIENT_MESSAGES, ["LiveClientMessage", "LiveClientContent", "LiveClientRealtimeInput", "LiveClientToolResponse",
                           "FunctionResponse", "LiveClientContextUpdate"]),
        (SERVER_MESSAGES, ["LiveServerMessage", "LiveServerSetupComplete", "LiveServerContent", "Transcription", "WordInfo",
                           "LiveServerToolCall", "FunctionCall", "LiveServerToolCallCancellation", "UsageMetadata",
                           "ModalityTokenCount", "LiveServerGoAway", "LiveServerSessionResumptionUpdate", "VoiceActivity",
                           "VoiceActivityDetectionSignal"]),
    ],
)
def test_every_message_field_of_the_sdk_is_in_the_table(table, classes):
    missing = [f"{c}.{f}" for c in classes for f in getattr(types, c).model_fields if f not in _covered(table, c)]
    assert not missing, missing
    assert {key.split(".")[0] for key in table} == set(classes), "a class in the table is not checked here"


def test_docs_are_generated_from_the_table():
    assert DOC.read_text() == render_markdown(), "regenerate: python -m chimein.protocol.fields > docs/protocol.md"


def _sdk_setup(vertex: bool, config: types.LiveConnectConfig) -> dict:
    """The setup body the real SDK sends for ``config`` (its own converter)."""
    from google.genai import _live_converters as conv
    from google.genai import client as client_module

    client = client_module.Client(api_key="k", vertexai=vertex, http_options=types.HttpOptions(base_url="https://x"))
    parameters = types.LiveConnectParameters(model="gemini-live-2.5-flash-native-audio", config=config)
    convert = conv._LiveConnectParameters_to_vertex if vertex else conv._LiveConnectParameters_to_mldev
    body = convert(client._api_client, parameters)
    from google.genai import _common

    setup = _common.convert_to_dict(body["setup"] if "setup" in body else body, convert_keys=True)
    return json.loads(json.dumps(_common.encode_unserializable_types(setup)))  # as the SDK puts it on the wire


@pytest.mark.parametrize(
    ("config", "vertex", "reason"),
    [
        (types.LiveConnectConfig(enable_affective_dialog=True), False, "hears words, not emotion"),
        (types.LiveConnectConfig(thinking_config=types.ThinkingConfig(thinking_budget=512)), False, "thinkingBudget must be 0"),
        (types.LiveConnectConfig(thinking_config=types.ThinkingConfig(include_thoughts=True)), True, "no thoughts"),
        (types.LiveConnectConfig(speech_config=types.SpeechConfig(language_code="de-DE")), False, "must be en-"),
        (types.LiveConnectConfig(speech_config=types.SpeechConfig(language_code="fr-FR")), True, "must be en-"),
        (types.LiveConnectConfig(input_audio_transcription=types.AudioTranscriptionConfig(language_codes=["es-ES"])),
         False, "languageCodes must be en-"),
        (types.LiveConnectConfig(tools=[types.Tool(google_search=types.GoogleSearch())]), False, "offline"),
        (types.LiveConnectConfig(media_resolution="MEDIA_RESOLUTION_LOW", seed=3, temperature=0.2,
                                 proactivity=types.ProactivityConfig(proactive_video=True, proactive_audio=True)),
         False, "no video"),
        (types.LiveConnectConfig(translation_config=types.TranslationConfig(target_language_code="de")), False,
         "translation"),
        (types.LiveConnectConfig(safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HATE_SPEECH",
                                                                     threshold="BLOCK_NONE")]), True, "safety"),
        (types.LiveConnectConfig(output_audio_transcription=types.AudioTranscriptionConfig(diarization=True)), False,
         "takes no options"),
    ],
)
def test_refused_setup_fields_name_the_reason(config, vertex, reason):
    body = {"model": "models/gemini-2.5-flash-native-audio-preview-12-2025", **_sdk_setup(vertex, config)}
    with pytest.raises(ProtocolError) as caught:
        parse_setup(body)
    assert caught.value.code == 1007
    assert reason in caught.value.reason, caught.value.reason


@pytest.mark.parametrize("vertex", [False, True])
def test_honoured_setup_fields_parse(vertex):
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        enable_affective_dialog=False,
        thinking_config=types.ThinkingConfig(thinking_budget=0),
        speech_config=types.SpeechConfig(language_code="en-GB"),
        history_config=types.HistoryConfig(initial_history_in_client_content=True),
        input_audio_transcription=types.AudioTranscriptionConfig(
            diarization=True, word_timestamp=True, custom_vocabulary=["Gruyère", "risotto"], language_codes=["en-US"]),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
            name="add_to_list", description="Add an item to the shopping list",
            parameters=types.Schema(type="OBJECT", properties={"item": types.Schema(type="STRING")}, required=["item"]),
            behavior="NON_BLOCKING")])],
        media_resolution="MEDIA_RESOLUTION_LOW",
        seed=7,
        temperature=0.3,
        labels={"team": "kitchen"} if vertex else None,
        explicit_vad_signal=True if vertex else None,
    )
    setup = parse_setup({"model": "models/gemini-2.5-flash-native-audio-preview-12-2025", **_sdk_setup(vertex, config)})
    assert setup.language_code == "en-GB"
    assert setup.initial_history_in_client_content
    assert setup.transcription.diarization and setup.transcription.word_timestamp
    assert setup.transcription.vocabulary == ("Gruyère", "risotto")
    assert setup.explicit_vad_signal is vertex
    (spec,) = setup.tools
    assert spec.name == "add_to_list" and not spec.blocking
    assert spec.parameters == {"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]}


def test_an_unknown_setup_field_is_refused_not_dropped():
    with pytest.raises(ProtocolError, match=r"setup.generationConfig.fancyNewKnob is not a setup field chimein knows"):
        parse_setup({"model": "m", "generationConfig": {"fancyNewKnob": 1}})
