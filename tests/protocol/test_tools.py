"""Function declarations, toolResponse decoding, the new server frames and the model aliases."""

from __future__ import annotations

import json

import pytest
from google.genai import types

from chimein.protocol import server_messages as out
from chimein.protocol.messages import ProtocolError, ToolResponse, parse_client_message
from chimein.protocol.models import resolve_model
from chimein.protocol.tools import json_schema, parse_tools


def test_gemini_schema_becomes_json_schema():
    schema = {"type": "OBJECT", "properties": {
        "item": {"type": "STRING", "description": "what to buy"},
        "count": {"type": "INTEGER", "minimum": 1, "nullable": True},
        "tags": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["dairy", "veg"]}, "maxItems": "3"},
    }, "required": ["item"], "propertyOrdering": ["item", "count"]}
    assert json_schema(schema, "p") == {"type": "object", "properties": {
        "item": {"type": "string", "description": "what to buy"},
        "count": {"type": ["integer", "null"], "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["dairy", "veg"]}, "maxItems": 3},
    }, "required": ["item"]}


def test_declarations_and_refusals():
    (spec,) = parse_tools([{"functionDeclarations": [{"name": "book", "parametersJsonSchema": {"type": "object"}}]}])
    assert spec.blocking and spec.to_openai()["function"]["parameters"] == {"type": "object"}
    with pytest.raises(ProtocolError, match="offline"):
        parse_tools([{"codeExecution": {}}])
    with pytest.raises(ProtocolError, match="declared twice"):
        parse_tools([{"functionDeclarations": [{"name": "a"}]}, {"functionDeclarations": [{"name": "a"}]}])
    with pytest.raises(ProtocolError, match="name must be"):
        parse_tools([{"functionDeclarations": [{"name": "add eggs"}]}])


def test_tool_response_as_the_sdk_sends_it():
    from google.genai import _common

    response = types.LiveClientToolResponse(function_responses=[
        types.FunctionResponse(id="call-1", name="add", response={"result": "ok"}, scheduling="INTERRUPT",
                               will_continue=True)])
    wire = json.loads(json.dumps({"tool_response": _common.convert_to_dict(response, convert_keys=True)}))
    (event,) = parse_client_message(wire)
    assert isinstance(event, ToolResponse)
    (result,) = event.function_responses
    assert (result.id, result.name, result.response, result.scheduling, result.will_continue) == (
        "call-1", "add", {"result": "ok"}, "INTERRUPT", True)
    with pytest.raises(ProtocolError, match="needs the toolCall's id"):
        parse_client_message({"toolResponse": {"functionResponses": [{"response": {}}]}})
    with pytest.raises(ProtocolError, match="contextUpdate is not supported"):
        parse_client_message({"contextUpdate": {"systemInstruction": {"parts": [{"text": "x"}]}}})


@pytest.mark.parametrize("vertex", [False, True])
def test_new_server_frames_parse_in_the_sdk(vertex):
    from google.genai import _live_converters as conv

    convert = conv._LiveServerMessage_from_vertex if vertex else conv._LiveServerMessage_from_mldev

    def parsed(frame):
        return types.LiveServerMessage._from_response(response=convert(json.loads(json.dumps(frame))), kwargs={})

    call = parsed(out.tool_call([("c1", "add", {"item": "eggs"})])).tool_call.function_calls[0]
    assert (call.id, call.name, call.args) == ("c1", "add", {"item": "eggs"})
    assert parsed(out.tool_call_cancellation(["c1"])).tool_call_cancellation.ids == ["c1"]
    activity = parsed(out.voice_activity("ACTIVITY_START", 1.25)).voice_activity
    assert activity.voice_activity_type == types.VoiceActivityType.ACTIVITY_START and activity.audio_offset == "1.250s"
    signal = parsed(out.voice_activity_detection_signal("VAD_SIGNAL_TYPE_EOS")).voice_activity_detection_signal
    assert signal.vad_signal_type == types.VadSignalType.VAD_SIGNAL_TYPE_EOS
    content = parsed(out.input_transcription("add eggs", speaker="alice", start_s=0.5, end_s=1.5, language="en",
                                             words=[("add", 0.5, 0.8), ("eggs", 0.9, 1.4)])).server_content
    t = content.input_transcription
    assert (t.text, t.speaker_label, t.start_offset, t.end_offset, t.language_code) == ("add eggs", "alice", "0.500s",
                                                                                      "1.500s", "en")
    assert [(w.word, w.start_offset) for w in t.words] == [("add", "0.500s"), ("eggs", "0.900s")]
    done = parsed(out.turn_complete(None, reason="NEED_MORE_INPUT", waiting_for_input=True,
                                    interaction_status="IDLE")).server_content
    assert done.turn_complete and done.waiting_for_input
    assert done.turn_complete_reason == types.TurnCompleteReason.NEED_MORE_INPUT
    assert done.interaction_status == types.InteractionStatus.IDLE


@pytest.mark.parametrize("name", [
    "models/gemini-2.5-flash-native-audio-preview-12-2025",
    "publishers/google/models/gemini-live-2.5-flash-native-audio",
    "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio",
    "models/gemini-3.1-flash-live-preview",
])
def test_todays_model_names_are_aliases(name):
    entry = resolve_model(name)
    assert entry.pipeline == resolve_model("gemini-2.5-flash-native-audio-preview-09-2025").pipeline
    assert entry.always_proactive == name.endswith("gemini-3.1-flash-live-preview")
