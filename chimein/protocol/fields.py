"""Every Live API field google-genai knows, and what chimein does with it.

One table, three uses: :func:`audit_setup` refuses (1007, with the table's reason) a setup field
chimein cannot honour instead of dropping it silently; ``docs/protocol.md`` is rendered from it
(``python -m chimein.protocol.fields > docs/protocol.md``); and a test compares it with the
installed SDK's pydantic models, so a field a new SDK adds fails a test until it is placed here.

Keys are ``SdkClass.field`` in the SDK's snake_case; the wire accepts both casings.
Statuses:

* ``supported``: honoured.
* ``limited``: honoured for the values ``ok`` accepts; any other value is refused with the note.
* ``refused``: any value other than empty/false/unspecified is refused with the note.
* ``ignored``: accepted and ignored; the note says why that changes nothing for the client.
* ``sent`` / ``not sent``: server messages (``not sent``: the note says why chimein never sends it).
* ``client``: consumed by the SDK itself, never on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from chimein.protocol.messages import CLOSE_INVALID_DATA, ProtocolError, _camel

Status = Literal["supported", "limited", "refused", "ignored", "sent", "not sent", "client"]


@dataclass(frozen=True)
class Field:
    status: Status
    note: str
    child: str | None = None  # the SDK class of a nested object audited field by field
    ok: Callable[[Any], bool] | None = None  # "limited": the values that are honoured


def _is_en(code: Any) -> bool:
    return isinstance(code, str) and code.lower().replace("_", "-").split("-")[0] == "en"


def _unset(value: Any) -> bool:
    """Empty, false, zero or an *_UNSPECIFIED enum: the field asks for nothing."""
    if value is None or value is False or value == 0 or value == "" or value == [] or value == {}:
        return True
    return isinstance(value, str) and value.upper().endswith("UNSPECIFIED")


S, L, R, IGN, SENT, NOT, CLIENT = "supported", "limited", "refused", "ignored", "sent", "not sent", "client"
OFFLINE = "needs Google's hosted services; chimein runs offline"
NO_VIDEO = "chimein takes audio and text only (no video or images)"

SETUP: dict[str, Field] = {
    # ---- LiveClientSetup: the first frame -------------------------------------------------------------
    "LiveClientSetup.model": Field(S, "resolved through `chimein models` (aliases; discontinued names refused with 1008)"),
    "LiveClientSetup.generation_config": Field(S, "see GenerationConfig", child="GenerationConfig"),
    "LiveClientSetup.system_instruction": Field(S, "text parts; drives the answers and, with proactive audio, when to speak"),
    "LiveClientSetup.tools": Field(L, "functionDeclarations only, and only with an OpenAI-compatible backend that calls tools "
                                      "(--llm-url); hosted tools are refused", child="Tool"),
    "LiveClientSetup.realtime_input_config": Field(S, "see RealtimeInputConfig", child="RealtimeInputConfig"),
    "LiveClientSetup.session_resumption": Field(S, "resumption handles on the same server", child="SessionResumptionConfig"),
    "LiveClientSetup.context_window_compression": Field(S, "sliding window over the remembered turns",
                                                        child="ContextWindowCompressionConfig"),
    "LiveClientSetup.input_audio_transcription": Field(S, "Whisper transcripts of each turn", child="AudioTranscriptionConfig"),
    "LiveClientSetup.output_audio_transcription": Field(S, "the text of each spoken clause", child="OutputTranscriptionConfig"),
    "LiveClientSetup.proactivity": Field(S, "see ProactivityConfig", child="ProactivityConfig"),
    "LiveClientSetup.explicit_vad_signal": Field(S, "voiceActivity ACTIVITY_START/END and voiceActivityDetectionSignal "
                                                    "SOS/EOS at each detected speech start and end"),
    "LiveClientSetup.history_config": Field(S, "see HistoryConfig", child="HistoryConfig"),
    "LiveClientSetup.avatar_config": Field(R, "avatars need video output; chimein speaks audio only"),
    "LiveClientSetup.safety_settings": Field(R, "chimein has no safety classifiers to configure; leave safetySettings unset"),
    "LiveClientSetup.labels": Field(IGN, "billing labels of Google Cloud; chimein's usage ledger keys by API key and session"),
    # ---- GenerationConfig ---------------------------------------------------------------------------
    "GenerationConfig.response_modalities": Field(L, "exactly one of AUDIO or TEXT", ok=lambda v: isinstance(v, list) and len(v) == 1),
    "GenerationConfig.max_output_tokens": Field(S, "caps each answer (default 80 tokens)"),
    "GenerationConfig.temperature": Field(S, "sent with each request to an OpenAI-compatible backend (--llm-url); the "
                                            "embedded model always decodes greedily"),
    "GenerationConfig.speech_config": Field(S, "see SpeechConfig", child="SpeechConfig"),
    "GenerationConfig.thinking_config": Field(L, "see ThinkingConfig", child="ThinkingConfig"),
    "GenerationConfig.enable_affective_dialog": Field(R, "chimein hears words, not emotion; it cannot adapt to the voice's tone"),
    "GenerationConfig.media_resolution": Field(IGN, NO_VIDEO + "; the resolution of absent media changes nothing"),
    "GenerationConfig.seed": Field(IGN, "the embedded model is greedy (same answer each time); a remote backend samples as it is set up"),
    "GenerationConfig.top_p": Field(IGN, "sampling knob; the embedded model is greedy"),
    "GenerationConfig.top_k": Field(IGN, "sampling knob; the embedded model is greedy"),
    "GenerationConfig.presence_penalty": Field(R, "not supported: chimein's answer engines take no penalties from the client"),
    "GenerationConfig.frequency_penalty": Field(R, "not supported: chimein's answer engines take no penalties from the client"),
    "GenerationConfig.candidate_count": Field(L, "one spoken answer per turn: candidateCount must be 1", ok=lambda v: v == 1),
    "GenerationConfig.stop_sequences": Field(R, "stop sequences are not supported; answers end after two sentences"),
    "GenerationConfig.response_mime_type": Field(L, "plain speech only: text/plain", ok=lambda v: v == "text/plain"),
    "GenerationConfig.response_schema": Field(R, "structured output is not supported in a spoken conversation"),
    "GenerationConfig.response_json_schema": Field(R, "structured output is not supported in a spoken conversation"),
    "GenerationConfig.response_format": Field(R, "structured output is not supported in a spoken conversation"),
    "GenerationConfig.response_logprobs": Field(R, "log-probabilities are not reported"),
    "GenerationConfig.logprobs": Field(R, "log-probabilities are not reported"),
    "GenerationConfig.audio_timestamp": Field(R, "timestamps of input audio: use inputAudioTranscription.wordTimestamp"),
    "GenerationConfig.model_selection_config": Field(R, "one local pipeline serves every model name"),
    "GenerationConfig.routing_config": Field(R, "one local pipeline serves every model name"),
    "GenerationConfig.enable_enhanced_civic_answers": Field(R, OFFLINE),
    "GenerationConfig.translation_config": Field(R, "speech translation is not supported"),
    "GenerationConfig.audio_transcription_config": Field(R, "use setup.inputAudioTranscription"),
    # ---- speech -------------------------------------------------------------------------------------------
    "SpeechConfig.voice_config": Field(S, "see VoiceConfig", child="VoiceConfig"),
    "SpeechConfig.language_code": Field(L, "chimein speaks English: languageCode must be en-* (en-US, en-GB...)", ok=_is_en),
    "SpeechConfig.multi_speaker_voice_config": Field(R, "one assistant voice per session"),
    "VoiceConfig.prebuilt_voice_config": Field(S, "the 30 Gemini voice names map to chimein's two voices: the male ones (Puck...) to joe (Piper), the female ones to heart (hibari); none named: heart", child="PrebuiltVoiceConfig"),
    "VoiceConfig.replicated_voice_config": Field(R, "voice cloning is not supported"),
    "VoiceConfig.voice": Field(R, "custom voices are not supported: use prebuiltVoiceConfig.voiceName"),
    "PrebuiltVoiceConfig.voice_name": Field(S, "unknown names are refused with the list of accepted ones"),
    "ThinkingConfig.include_thoughts": Field(R, "chimein's answer models do not think: there are no thoughts to include"),
    "ThinkingConfig.thinking_budget": Field(L, "chimein does not think before answering: thinkingBudget must be 0",
                                            ok=lambda v: v == 0),
    "ThinkingConfig.thinking_level": Field(L, "chimein does not think before answering: thinkingLevel must be MINIMAL",
                                           ok=lambda v: str(v).upper() == "MINIMAL"),
    # ---- transcription -----------------------------------------------------------------------------------
    "AudioTranscriptionConfig.language_codes": Field(L, "live speech is recognised in English: languageCodes must be en-*",
                                                     ok=lambda v: isinstance(v, list) and all(_is_en(c) for c in v)),
    "AudioTranscriptionConfig.language_auto": Field(R, "deprecated; live speech is recognised in English"),
    "AudioTranscriptionConfig.language_hints": Field(R, "deprecated: use languageCodes"),
    "AudioTranscriptionConfig.custom_vocabulary": Field(S, "biases Whisper towards these phrases (its initial prompt)"),
    "AudioTranscriptionConfig.adaptation_phrases": Field(S, "deprecated alias of customVocabulary; treated the same"),
    "AudioTranscriptionConfig.word_timestamp": Field(S, "words[] with start and end offsets in each inputTranscription"),
    "AudioTranscriptionConfig.diarization": Field(S, "speakerLabel from voice prints: enrolled names (chimein voices add) or spk_N"),
    "AudioTranscriptionConfig.mode": Field(L, "VERBATIM only: Whisper transcribes what was said",
                                           ok=lambda v: str(v).upper() == "VERBATIM"),
    "AudioTranscriptionConfig.source_text": Field(R, "SMART-mode editing is not supported"),
    # outputAudioTranscription takes the same class; only an empty config means anything for output.
    "OutputTranscriptionConfig.*": Field(R, "outputAudioTranscription takes no options: it is the text chimein speaks"),
    # ---- realtime input ----------------------------------------------------------------------------------
    "RealtimeInputConfig.automatic_activity_detection": Field(S, "Silero VAD + Smart Turn; disabled: activityStart/End",
                                                              child="AutomaticActivityDetection"),
    "RealtimeInputConfig.activity_handling": Field(S, "START_OF_ACTIVITY_INTERRUPTS (speech over an answer is judged: "
                                                      "interruption or back-channel) or NO_INTERRUPTION"),
    "RealtimeInputConfig.turn_coverage": Field(L, "a turn holds the detected speech (TURN_INCLUDES_ONLY_ACTIVITY)",
                                               ok=lambda v: str(v).upper() == "TURN_INCLUDES_ONLY_ACTIVITY"),
    "RealtimeInputConfig.interim_transcript_timestamp_enabled": Field(
        S, "interim transcripts always carry startOffset and endOffset"),
    "AutomaticActivityDetection.disabled": Field(S, "manual turn-taking with activityStart/activityEnd"),
    "AutomaticActivityDetection.start_of_speech_sensitivity": Field(S, "maps to the VAD's start threshold"),
    "AutomaticActivityDetection.end_of_speech_sensitivity": Field(S, "maps to the VAD's end threshold"),
    "AutomaticActivityDetection.prefix_padding_ms": Field(S, "speech needed before a start is declared"),
    "AutomaticActivityDetection.silence_duration_ms": Field(S, "silence that ends a turn when Smart Turn has not"),
    # ---- session ------------------------------------------------------------------------------------------
    "SessionResumptionConfig.handle": Field(S, "resume a session of this server process"),
    "SessionResumptionConfig.transparent": Field(R, "transparent resumption is not supported: a resumed session keeps the "
                                                    "conversation, and no lastConsumedClientMessageIndex is sent"),
    "ContextWindowCompressionConfig.trigger_tokens": Field(S, "compress when the remembered turns pass this size"),
    "ContextWindowCompressionConfig.sliding_window": Field(S, "drop the oldest turns down to targetTokens", child="SlidingWindow"),
    "SlidingWindow.target_tokens": Field(S, "size kept after compression"),
    "ProactivityConfig.proactive_audio": Field(S, "answer only when addressed or on topic; declined turns end with RESPONSE_REJECTED"),
    "ProactivityConfig.proactive_video": Field(R, NO_VIDEO),
    "HistoryConfig.initial_history_in_client_content": Field(
        S, "clientContent before the first realtime input seeds the conversation (user and model turns) "
           "without an answer, until turnComplete: true"),
    # ---- tools --------------------------------------------------------------------------------------------
    "Tool.function_declarations": Field(S, "become the backend's OpenAI tools; its calls become toolCall frames",
                                        child="FunctionDeclaration"),
    **{f"Tool.{name}": Field(R, OFFLINE) for name in (
        "retrieval", "computer_use", "file_search", "google_search", "google_maps", "code_execution",
        "enterprise_web_search", "google_search_retrieval", "parallel_ai_search", "url_context", "mcp_servers",
        "exa_ai_search")},
    "FunctionDeclaration.name": Field(S, "the function name the backend calls"),
    "FunctionDeclaration.description": Field(S, "tells the backend when to call it"),
    "FunctionDeclaration.parameters": Field(S, "Gemini Schema, converted to JSON Schema for the backend"),
    "FunctionDeclaration.parameters_json_schema": Field(S, "passed to the backend as given"),
    "FunctionDeclaration.response": Field(IGN, "describes what the client returns; chimein reads whatever it returns"),
    "FunctionDeclaration.response_json_schema": Field(IGN, "describes what the client returns; chimein reads whatever it returns"),
    "FunctionDeclaration.behavior": Field(S, "BLOCKING waits for toolResponse; NON_BLOCKING ends the turn and speaks the "
                                             "result when it comes, as its scheduling says"),
}

WIRE_ONLY = frozenset({"LiveClientSetup.realtime_input_config"})
"""Setup fields the SDK's converter sends although its LiveClientSetup model lacks them."""

# LiveConnectConfig is the SDK's client-side view: the converter moves each field into the setup
# (mostly into generationConfig); those rows follow the wire field of the same name.
CONNECT_ONLY: dict[str, Field] = {
    "LiveConnectConfig.http_options": Field(CLIENT, "where and how the SDK connects (base_url, TLS); not sent"),
    "LiveConnectConfig.generation_config": Field(S, "merged into setup.generationConfig"),
}

CLIENT_MESSAGES: dict[str, Field] = {
    "LiveClientMessage.setup": Field(S, "the first frame, once"),
    "LiveClientMessage.client_content": Field(S, "text turns and inlineData files (co-listening); initial history"),
    "LiveClientMessage.realtime_input": Field(S, "16 kHz PCM audio, text, activityStart/End, audioStreamEnd"),
    "LiveClientMessage.tool_response": Field(S, "answers a toolCall by id; the answer continues from the result"),
    "LiveClientMessage.context_update": Field(R, "instructions and tools are fixed at setup: reconnect (resume) with a new setup"),
    "LiveClientContent.turns": Field(S, "user and model turns join the conversation"),
    "LiveClientContent.turn_complete": Field(S, "true: answer now (or, for initial history, end the history)"),
    "LiveClientRealtimeInput.audio": Field(S, "audio/pcm;rate=16000"),
    "LiveClientRealtimeInput.media_chunks": Field(S, "older spelling of audio"),
    "LiveClientRealtimeInput.audio_stream_end": Field(S, "flushes the pending turn"),
    "LiveClientRealtimeInput.text": Field(S, "typed text answered like a spoken turn"),
    "LiveClientRealtimeInput.activity_start": Field(S, "manual turn-taking (automatic detection disabled)"),
    "LiveClientRealtimeInput.activity_end": Field(S, "manual turn-taking (automatic detection disabled)"),
    "LiveClientRealtimeInput.video": Field(R, NO_VIDEO),
    "LiveClientToolResponse.function_responses": Field(S, "one per call id"),
    "FunctionResponse.id": Field(S, "required: the toolCall's id"),
    "FunctionResponse.name": Field(S, "the function's name"),
    "FunctionResponse.response": Field(S, "the result the answer is built from"),
    "FunctionResponse.scheduling": Field(S, "NON_BLOCKING results: SILENT (remember only), WHEN_IDLE (default: speak "
                                            "after the current answer), INTERRUPT (stop it and speak now)"),
    "FunctionResponse.will_continue": Field(S, "true: more results follow for this id; the call stays open"),
    "FunctionResponse.parts": Field(R, "media results are not supported: put the result in response"),
    "LiveClientContextUpdate.system_instruction": Field(R, "fixed at setup"),
    "LiveClientContextUpdate.tools": Field(R, "fixed at setup"),
}

SERVER_MESSAGES: dict[str, Field] = {
    "LiveServerMessage.setup_complete": Field(SENT, "with sessionId"),
    "LiveServerMessage.server_content": Field(SENT, "see LiveServerContent"),
    "LiveServerMessage.tool_call": Field(SENT, "when the backend calls a declared function"),
    "LiveServerMessage.tool_call_cancellation": Field(SENT, "when the user interrupts (or starts a new turn) while a call is open"),
    "LiveServerMessage.usage_metadata": Field(SENT, "with each turnComplete (Vertex spelling for Vertex clients)"),
    "LiveServerMessage.go_away": Field(SENT, "before the connection's time limit"),
    "LiveServerMessage.session_resumption_update": Field(SENT, "after each turn when sessionResumption was asked for"),
    "LiveServerMessage.voice_activity_detection_signal": Field(SENT, "with explicitVadSignal: VAD_SIGNAL_TYPE_SOS / _EOS"),
    "LiveServerMessage.voice_activity": Field(SENT, "with explicitVadSignal: ACTIVITY_START / ACTIVITY_END with audioOffset"),
    "LiveServerSetupComplete.session_id": Field(SENT, "a new id per session"),
    "LiveServerSetupComplete.voice_consent_signature": Field(NOT, "no voice cloning"),
    "LiveServerContent.model_turn": Field(SENT, "24 kHz PCM audio parts, or text parts for TEXT"),
    "LiveServerContent.turn_complete": Field(SENT, "ends every turn, answered or not"),
    "LiveServerContent.interrupted": Field(SENT, "when speech interrupts an answer"),
    "LiveServerContent.generation_complete": Field(SENT, "before turnComplete of an answered turn"),
    "LiveServerContent.input_transcription": Field(SENT, "one per turn; speakerLabel, offsets and words when asked"),
    "LiveServerContent.output_transcription": Field(SENT, "one per spoken clause"),
    "LiveServerContent.turn_complete_reason": Field(SENT, "RESPONSE_REJECTED (proactive audio declined), "
                                                          "NEED_MORE_INPUT (an unfinished request), "
                                                          "MALFORMED_FUNCTION_CALL (arguments that are not a JSON object)"),
    "LiveServerContent.waiting_for_input": Field(SENT, "true with NEED_MORE_INPUT"),
    "LiveServerContent.interaction_status": Field(SENT, "IDLE with each turnComplete"),
    "LiveServerContent.interim_input_transcription": Field(SENT, "at a pause inside a turn: the words so far, from the "
                                                                 "transcription chimein makes there anyway (Whisper is "
                                                                 "not streaming; nothing is decoded for it alone)"),
    "LiveServerContent.grounding_metadata": Field(NOT, "no search grounding offline"),
    "LiveServerContent.url_context_metadata": Field(NOT, "no URL context offline"),
    "Transcription.text": Field(SENT, ""),
    "Transcription.finished": Field(SENT, "true on input transcripts (one per turn)"),
    "Transcription.language_code": Field(SENT, "en on input transcripts"),
    "Transcription.speaker_label": Field(SENT, "with diarization"),
    "Transcription.words": Field(SENT, "with wordTimestamp"),
    "Transcription.start_offset": Field(SENT, "input transcripts: where the turn began in the input audio"),
    "Transcription.end_offset": Field(SENT, "input transcripts: where it ended"),
    "WordInfo.word": Field(SENT, ""),
    "WordInfo.start_offset": Field(SENT, "from the start of the input audio"),
    "WordInfo.end_offset": Field(SENT, "from the start of the input audio"),
    "LiveServerToolCall.function_calls": Field(SENT, ""),
    "FunctionCall.id": Field(SENT, "unique per call"),
    "FunctionCall.name": Field(SENT, ""),
    "FunctionCall.args": Field(SENT, "the backend's arguments (JSON object)"),
    "FunctionCall.partial_args": Field(NOT, "arguments are sent whole"),
    "FunctionCall.will_continue": Field(NOT, "arguments are sent whole"),
    "LiveServerToolCallCancellation.ids": Field(SENT, ""),
    "UsageMetadata.prompt_token_count": Field(SENT, "32 tokens a second of audio, text by the tokenizer"),
    "UsageMetadata.cached_content_token_count": Field(NOT, "prompt reuse is not billed apart: no cached count"),
    "UsageMetadata.response_token_count": Field(SENT, "candidatesTokenCount for Vertex clients"),
    "UsageMetadata.tool_use_prompt_token_count": Field(NOT, "function results are counted as prompt text, calls as "
                                                           "response text"),
    "UsageMetadata.thoughts_token_count": Field(NOT, "no thinking"),
    "UsageMetadata.total_token_count": Field(SENT, ""),
    "UsageMetadata.prompt_tokens_details": Field(SENT, "per modality"),
    "UsageMetadata.cache_tokens_details": Field(NOT, "no cached count"),
    "UsageMetadata.response_tokens_details": Field(SENT, "per modality"),
    "UsageMetadata.tool_use_prompt_tokens_details": Field(NOT, "function results are counted as prompt text"),
    "UsageMetadata.traffic_type": Field(NOT, "one kind of traffic"),
    "UsageMetadata.service_tier": Field(NOT, "one tier"),
    "ModalityTokenCount.modality": Field(SENT, "AUDIO or TEXT"),
    "ModalityTokenCount.token_count": Field(SENT, ""),
    "LiveServerGoAway.time_left": Field(SENT, ""),
    "LiveServerSessionResumptionUpdate.new_handle": Field(SENT, ""),
    "LiveServerSessionResumptionUpdate.resumable": Field(SENT, ""),
    "LiveServerSessionResumptionUpdate.last_consumed_client_message_index": Field(NOT, "no transparent resumption"),
    "VoiceActivity.voice_activity_type": Field(SENT, "wire key `type`"),
    "VoiceActivity.audio_offset": Field(SENT, "from the start of the input audio"),
    "VoiceActivityDetectionSignal.vad_signal_type": Field(SENT, ""),
}

TABLES: dict[str, dict[str, Field]] = {
    "Setup (first client frame)": SETUP,
    "LiveConnectConfig (the SDK's config, converted into the setup)": CONNECT_ONLY,
    "Client messages after setup": CLIENT_MESSAGES,
    "Server messages": SERVER_MESSAGES,
}
SETUP_CLASSES = sorted({key.split(".")[0] for key in SETUP})
"""The SDK classes whose fields the setup audit and the sync test cover (plus the message classes)."""


def lookup(cls: str, field: str) -> Field | None:
    for table in TABLES.values():
        row = table.get(f"{cls}.{field}")
        if row is not None:
            return row
    return None


def connect_config_row(field: str) -> Field | None:
    """A LiveConnectConfig field: its own row, or the wire field it becomes."""
    return CONNECT_ONLY.get(f"LiveConnectConfig.{field}") or lookup("LiveClientSetup", field) or lookup(
        "GenerationConfig", field)


def _snake(key: str) -> str:
    out = []
    for ch in key:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def audit_setup(body: dict[str, Any]) -> None:
    """Refuse (1007) any setup field chimein would otherwise drop or cannot honour."""
    _audit(body, "LiveClientSetup", "setup")


def _audit(obj: Any, cls: str, where: str) -> None:
    if not isinstance(obj, dict):
        return
    blanket = SETUP.get(f"{cls}.*")
    for key, value in obj.items():
        field = _snake(key)
        path = f"{where}.{_camel(field)}"
        if blanket is not None:
            if not _unset(value):
                raise ProtocolError(CLOSE_INVALID_DATA, f"{path}: {blanket.note}")
            continue
        row = SETUP.get(f"{cls}.{field}")
        if row is None:
            raise ProtocolError(CLOSE_INVALID_DATA, f"{path} is not a setup field chimein knows; see docs/protocol.md")
        if row.status == "refused" and not _unset(value):
            raise ProtocolError(CLOSE_INVALID_DATA, f"{path}: {row.note}")
        if row.status == "limited" and row.ok is not None and not _unset(value) and not row.ok(value):
            raise ProtocolError(CLOSE_INVALID_DATA, f"{path}={_short(value)}: {row.note}")
        if row.child is not None:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    _audit(item, row.child, f"{path}[{i}]")
            else:
                _audit(value, row.child, path)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def render_markdown() -> str:
    """docs/protocol.md: every table, in the SDK's field order within each class."""
    lines = [
        "# Live API fields and what chimein does with them",
        "",
        "Generated from `chimein/protocol/fields.py` (`python -m chimein.protocol.fields > docs/protocol.md`);",
        "`tests/protocol/test_fields.py` fails when the installed google-genai has a field missing here.",
        "Field names are the SDK's (snake_case); on the wire both casings are accepted.",
        "",
        "Statuses: **supported** (honoured); **limited** (honoured for the values named, any other value is",
        "refused at setup with close code 1007 and the note as reason); **refused** (any value but",
        "empty/false/unspecified is refused with 1007 and the note); **ignored** (accepted, and the note says",
        "why ignoring it changes nothing); **sent** / **not sent** (server messages); **client** (never on the wire).",
        "A setup field that is in none of these tables is refused too, so nothing is dropped silently.",
        "",
        "LiveConnectConfig fields that the SDK moves into the setup (temperature, speech_config, tools, ...)",
        "follow the row of the setup or GenerationConfig field of the same name.",
    ]
    for title, table in TABLES.items():
        lines += ["", f"## {title}", "", "| field | status | what chimein does |", "| --- | --- | --- |"]
        for key, row in table.items():
            lines.append(f"| `{key}` | {row.status} | {row.note.replace('|', '/')} |")
    return "\n".join(lines) + "\n" + NOTES


NOTES = """
## Notes

### Function calling
- The declared functions go to the answer engine as OpenAI `tools` with `tool_choice: "auto"`.
  When it calls some, the client gets one `toolCall` (ids are chimein's, `call-...`); text the
  model said before the call is spoken first. BLOCKING calls hold the answer until every result is
  back, then the model is asked again, without tools, with the calls, the `tool` results and a
  closing user-role note that restates the results in words: llama-cpp-python's
  chatml-function-calling template drops `tool` messages, and SmolLM2-135M used the result only
  with that note. One round of calls per answer.
- `toolCallCancellation` lists the open BLOCKING calls of an answer that the user interrupted
  (speech over it, a new text or clientContent turn, an INTERRUPT result), sent before `interrupted`.
- NON_BLOCKING calls end their turn at once. Their results are remembered (the last five) as
  context for later answers; SILENT stops there, WHEN_IDLE (the default) answers once no other
  answer is under way, INTERRUPT stops the current answer and answers now. `willContinue: true`
  keeps the call open for more results.
- A result for a call already answered or cancelled is dropped (a client may race the
  cancellation); one for an id chimein never sent closes the session with 1007.
- Servers that cannot stream a tool call (llama-cpp-python fails the stream) are asked again
  without streaming, and tool turns are not streamed from then on.
- The embedded SmolLM2-135M is refused (1007, naming `--llm-url`): through the same grammar
  (llama.cpp's chatml-function-calling, temperature 0), `python scripts/tool_choice.py` measured
  7 of 10 clear requests calling the right function with the right argument, and 8 of 10 turns
  that only talk ("What is the capital of France?", "Thanks, that was helpful.") calling a
  function anyway: it would act on side talk. The e2e tests use it only because it is the model a
  package ships; point --llm-url at a real instruct model for real use.

### Voice activity, transcripts and turns
- Offsets (`audioOffset`, `startOffset`, `endOffset`, word offsets) are seconds of input audio
  since the session started, as a protobuf Duration (`"3.250s"`).
- `speakerLabel` comes from the voice print of the turn: an enrolled name (`chimein voices add`)
  or `spk_N` for a voice learned in the session.
- `customVocabulary` becomes Whisper's initial prompt ("Gruyère, risotto."), which biases
  recognition towards those words.
- A turn that is only the start of a request ("Can you tell me...") gets `turnComplete` with
  `turnCompleteReason: NEED_MORE_INPUT` and `waitingForInput: true` after a 1.5 s grace; the next
  speech joins it into one request.
- `historyConfig.initialHistoryInClientContent`: `clientContent` turns (user and model) join the
  conversation without an answer until one arrives with `turnComplete: true`, which ends the
  history and is not answered either.

### Model names
`chimein models` lists them: the seed's names, today's native-audio names
(`gemini-2.5-flash-native-audio-preview-12-2025`, `gemini-live-2.5-flash-native-audio`,
`gemini-3.1-flash-live-preview`, on which proactive audio is always on) and the discontinued
`gemini-live-2.5-flash-preview-native-audio`, refused with 1008 and its replacement.
"""


if __name__ == "__main__":
    print(render_markdown(), end="")
