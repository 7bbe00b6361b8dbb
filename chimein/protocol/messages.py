"""Client frames of the Live API, decoded once at the edge into small typed events.

The google-genai SDK mixes casings: top-level keys are camelCase, nested config objects are
often snake_case, and Vertex mode differs again (see ``shared/docs/live-protocol.md``). Every
lookup here therefore accepts both spellings, and nothing past this module sees raw JSON.
Pure functions, no I/O: a bad frame raises :class:`ProtocolError` carrying the WebSocket close
code and a reason a person can act on.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

# RFC 6455 section 7.4.1 close codes used for client errors.
CLOSE_INVALID_DATA = 1007  # the frame's content is invalid (bad JSON, base64, audio format)
CLOSE_POLICY = 1008  # the frame is well-formed but not allowed (wrong order, unknown model, auth)
CLOSE_TOO_BIG = 1009  # websockets closes with this itself when a frame exceeds max_size
CLOSE_INTERNAL = 1011  # our fault; the reason says so

INPUT_AUDIO_RATE = 16000
MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


class ProtocolError(Exception):
    """A client frame we must refuse; the connection is closed with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def close_reason(self) -> str:
        """The reason cut to what a close frame can carry, on a UTF-8 boundary."""
        data = self.reason.encode("utf-8")[:MAX_REASON_BYTES]
        return data.decode("utf-8", errors="ignore")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` under either casing (``name`` is given in snake_case)."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    camel = _camel(name)
    if camel in obj:
        return obj[camel]
    return default


def decode_base64(data: Any, what: str) -> bytes:
    """Standard or URL-safe base64 (the SDK sends URL-safe), padding optional."""
    if not isinstance(data, str):
        raise ProtocolError(CLOSE_INVALID_DATA, f"{what}: 'data' must be a base64 string")
    cleaned = data.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(CLOSE_INVALID_DATA, f"{what}: 'data' is not valid base64") from None


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_RATE = re.compile(r"rate\s*=\s*(\d+)")


def parse_pcm_mime(mime_type: Any) -> int | None:
    """Sample rate of an ``audio/pcm;rate=N`` mime type (bare ``audio/pcm`` means 16 kHz); None if not PCM."""
    if not isinstance(mime_type, str):
        return None
    base = mime_type.split(";")[0].strip().lower()
    if base not in ("audio/pcm", "audio/l16", "audio/raw"):
        return None
    match = _RATE.search(mime_type)
    return int(match.group(1)) if match else INPUT_AUDIO_RATE


# ---------------------------------------------------------------------------------------------
# The setup message


@dataclass(frozen=True)
class TranscriptionOptions:
    """``inputAudioTranscription``'s options (an empty config asks for plain transcripts)."""

    diarization: bool = False  # speakerLabel from voice prints
    word_timestamp: bool = False  # words[] with offsets
    vocabulary: tuple[str, ...] = ()  # customVocabulary (+ deprecated adaptationPhrases): biases Whisper
    language_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setup:
    """The first client frame, ``BidiGenerateContentSetup``, with the fields chimein honours."""

    model: str
    response_modalities: tuple[str, ...] = ("AUDIO",)
    voice_name: str | None = None
    language_code: str | None = None
    system_instruction: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    input_transcription: bool = False
    output_transcription: bool = False
    automatic_activity_detection: dict[str, Any] | None = None
    activity_handling: Literal["START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"] = "START_OF_ACTIVITY_INTERRUPTS"
    turn_coverage: str | None = None
    proactive_audio: bool = False
    context_window_compression: dict[str, Any] | None = None
    session_resumption: dict[str, Any] | None = None
    resumption_handle: str | None = None
    tools: tuple[Any, ...] = ()  # chimein.protocol.tools.FunctionSpec
    explicit_vad_signal: bool = False
    transcription: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    initial_history_in_client_content: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _text_of(content: Any) -> str | None:
    """The text of a ``Content`` (``{"parts":[{"text":...}]}``), a bare string, or a list of parts."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    parts = get(content, "parts") if isinstance(content, dict) else content
    if not isinstance(parts, list):
        raise ProtocolError(CLOSE_INVALID_DATA, "setup.systemInstruction must be text or {parts:[{text}]}")
    texts = [get(p, "text") for p in parts if isinstance(get(p, "text"), str)]
    return "\n".join(texts) if texts else None


def _modalities(value: Any) -> tuple[str, ...]:
    if value is None:
        return ("AUDIO",)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(CLOSE_INVALID_DATA, "setup.generationConfig.responseModalities must be a list")
    mods = tuple(v.upper() for v in value)
    unknown = [m for m in mods if m not in ("AUDIO", "TEXT")]
    if unknown:
        raise ProtocolError(CLOSE_INVALID_DATA, f"unsupported response modality {unknown[0]}: use AUDIO or TEXT")
    if len(mods) != 1:
        raise ProtocolError(CLOSE_INVALID_DATA, "responseModalities takes exactly one of AUDIO or TEXT")
    return mods or ("AUDIO",)


def parse_setup(body: Any) -> Setup:
    """Decode ``{"setup": {...}}``'s body. Raises ProtocolError on values we cannot honour."""
    try:
        return _setup(body)
    except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
        raise ProtocolError(CLOSE_INVALID_DATA, f"malformed setup: {type(exc).__name__}: {exc}") from None


def _setup(body: Any) -> Setup:
    from chimein.protocol.fields import audit_setup  # both import this module
    from chimein.protocol.tools import parse_tools

    if not isinstance(body, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, "setup must be a JSON object")
    model = get(body, "model")
    if not isinstance(model, str) or not model.strip():
        raise ProtocolError(CLOSE_INVALID_DATA, "setup.model is required, e.g. models/gemini-2.5-flash-native-audio-preview-09-2025")
    gen = get(body, "generation_config") or {}
    speech = get(gen, "speech_config") or {}
    voice = get(get(get(speech, "voice_config") or {}, "prebuilt_voice_config") or {}, "voice_name")
    realtime = get(body, "realtime_input_config") or {}
    handling = get(realtime, "activity_handling") or "START_OF_ACTIVITY_INTERRUPTS"
    if handling in ("ACTIVITY_HANDLING_UNSPECIFIED",):
        handling = "START_OF_ACTIVITY_INTERRUPTS"
    if handling not in ("START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"):
        raise ProtocolError(CLOSE_INVALID_DATA, f"unknown activityHandling {handling!r}")
    proactivity = get(body, "proactivity") or {}
    proactive_audio = bool(get(proactivity, "proactive_audio", False))
    if get(proactivity, "proactive_video", False) and not proactive_audio:
        raise ProtocolError(CLOSE_INVALID_DATA, "proactivity.proactiveVideo requires proactiveAudio: true")
    if get(proactivity, "proactive_video", False):
        raise ProtocolError(CLOSE_INVALID_DATA, "proactiveVideo is not supported: chimein has no video input")
    resumption = get(body, "session_resumption")
    max_tokens = get(gen, "max_output_tokens")
    temperature = get(gen, "temperature")
    modalities = _modalities(get(gen, "response_modalities"))
    tools = parse_tools(get(body, "tools"))
    audit_setup(body)  # after the specific checks above: every other field is honoured or refused here
    return Setup(
        model=model.strip(),
        response_modalities=modalities,
        voice_name=voice if isinstance(voice, str) else None,
        language_code=get(speech, "language_code"),
        system_instruction=_text_of(get(body, "system_instruction")),
        max_output_tokens=int(max_tokens) if isinstance(max_tokens, int | float) else None,
        temperature=float(temperature) if isinstance(temperature, int | float) else None,
        input_transcription=get(body, "input_audio_transcription") is not None,
        output_transcription=get(body, "output_audio_transcription") is not None,
        automatic_activity_detection=get(realtime, "automatic_activity_detection"),
        activity_handling=handling,
        turn_coverage=get(realtime, "turn_coverage"),
        proactive_audio=proactive_audio,
        context_window_compression=get(body, "context_window_compression"),
        session_resumption=resumption if isinstance(resumption, dict) else None,
        resumption_handle=get(resumption, "handle") if isinstance(resumption, dict) else None,
        tools=tools,
        explicit_vad_signal=bool(get(body, "explicit_vad_signal", False)),
        transcription=_transcription_options(get(body, "input_audio_transcription")),
        initial_history_in_client_content=bool(get(get(body, "history_config") or {}, "initial_history_in_client_content")),
        raw=body,
    )


def _transcription_options(config: Any) -> TranscriptionOptions:
    if not isinstance(config, dict):
        return TranscriptionOptions()
    vocabulary: list[str] = []
    for name in ("custom_vocabulary", "adaptation_phrases"):
        phrases = get(config, name) or []
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise ProtocolError(CLOSE_INVALID_DATA, f"inputAudioTranscription.{_camel(name)} must be a list of strings")
        vocabulary += [p.strip() for p in phrases if p.strip() and p.strip() not in vocabulary]
    codes = get(config, "language_codes") or []
    return TranscriptionOptions(
        diarization=bool(get(config, "diarization")),
        word_timestamp=bool(get(config, "word_timestamp")),
        vocabulary=tuple(vocabulary),
        language_codes=tuple(str(c) for c in codes) if isinstance(codes, list) else (),
    )


# ---------------------------------------------------------------------------------------------
# Frames after setup


@dataclass(frozen=True)
class AudioChunk:
    """``realtimeInput.audio``: 16-bit little-endian mono PCM at ``rate`` Hz."""

    pcm: bytes
    rate: int
    type: Literal["audio"] = "audio"


@dataclass(frozen=True)
class AudioStreamEnd:
    """``realtimeInput.audioStreamEnd``: the microphone was closed; flush what is pending."""

    type: Literal["audio_stream_end"] = "audio_stream_end"


@dataclass(frozen=True)
class ActivityStart:
    """``realtimeInput.activityStart``: manual turn-taking, the user starts speaking."""

    type: Literal["activity_start"] = "activity_start"


@dataclass(frozen=True)
class ActivityEnd:
    """``realtimeInput.activityEnd``: manual turn-taking, the user is done."""

    type: Literal["activity_end"] = "activity_end"


@dataclass(frozen=True)
class RealtimeText:
    """``realtimeInput.text``: typed text in the realtime stream, answered like a spoken turn."""

    text: str
    type: Literal["realtime_text"] = "realtime_text"


@dataclass(frozen=True)
class InlineData:
    """An ``inlineData`` part: a file (for example audio to co-listen to)."""

    mime_type: str
    data: bytes


@dataclass(frozen=True)
class ContentTurn:
    role: str
    texts: tuple[str, ...]
    files: tuple[InlineData, ...]


@dataclass(frozen=True)
class ClientContent:
    """``clientContent``: whole turns appended to the conversation; answered if ``turn_complete``."""

    turns: tuple[ContentTurn, ...]
    turn_complete: bool
    type: Literal["client_content"] = "client_content"


@dataclass(frozen=True)
class ToolResponse:
    """``toolResponse``: results of the functions a ``toolCall`` asked the client to run."""

    function_responses: tuple[Any, ...]  # chimein.protocol.tools.FunctionResult
    type: Literal["tool_response"] = "tool_response"


ClientEvent = AudioChunk | AudioStreamEnd | ActivityStart | ActivityEnd | RealtimeText | ClientContent | ToolResponse


def parse_json_frame(frame: str | bytes) -> dict[str, Any]:
    """Decode a text frame into a JSON object, or refuse it."""
    try:
        message = json.loads(frame)
    except RecursionError:  # e.g. 100,000 '[': the decoder's recursion limit, not our failure
        raise ProtocolError(CLOSE_INVALID_DATA, "frame is not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError, and integers past Python's digit limit
        raise ProtocolError(CLOSE_INVALID_DATA, "frame is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, "frame must be a JSON object such as {\"realtimeInput\": {...}}")
    return message


def _audio_chunk(blob: Any, what: str) -> AudioChunk:
    if not isinstance(blob, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, f"{what} must be an object with data and mimeType")
    mime = get(blob, "mime_type")
    rate = parse_pcm_mime(mime)
    if rate is None:
        raise ProtocolError(CLOSE_INVALID_DATA, f"{what}: unsupported mimeType {mime!r}; send audio/pcm;rate=16000")
    if rate != INPUT_AUDIO_RATE:
        raise ProtocolError(CLOSE_INVALID_DATA, f"{what}: audio must be 16 kHz (audio/pcm;rate=16000), got rate={rate}")
    pcm = decode_base64(get(blob, "data"), what)
    if len(pcm) % 2:
        raise ProtocolError(CLOSE_INVALID_DATA, f"{what}: 16-bit PCM needs an even number of bytes")
    return AudioChunk(pcm=pcm, rate=rate)


def _realtime_events(body: Any) -> list[ClientEvent]:
    if not isinstance(body, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, "realtimeInput must be a JSON object")
    events: list[ClientEvent] = []
    audio = get(body, "audio")
    if audio is not None:
        events.append(_audio_chunk(audio, "realtimeInput.audio"))
    chunks = get(body, "media_chunks")
    if chunks is not None:
        if not isinstance(chunks, list):
            raise ProtocolError(CLOSE_INVALID_DATA, "realtimeInput.mediaChunks must be a list")
        events.extend(_audio_chunk(c, "realtimeInput.mediaChunks[]") for c in chunks)
    if get(body, "video") is not None:
        raise ProtocolError(CLOSE_INVALID_DATA, "video input is not supported by chimein (audio and text only)")
    if get(body, "activity_start") is not None:
        events.append(ActivityStart())
    if get(body, "activity_end") is not None:
        events.append(ActivityEnd())
    if get(body, "audio_stream_end"):
        events.append(AudioStreamEnd())
    text = get(body, "text")
    if text is not None:
        if not isinstance(text, str):
            raise ProtocolError(CLOSE_INVALID_DATA, "realtimeInput.text must be a string")
        events.append(RealtimeText(text=text))
    if not events:
        raise ProtocolError(CLOSE_INVALID_DATA, f"realtimeInput has nothing chimein understands: {sorted(body)[:4]}")
    return events


def _client_content(body: Any) -> ClientContent:
    if not isinstance(body, dict):
        raise ProtocolError(CLOSE_INVALID_DATA, "clientContent must be a JSON object")
    raw_turns = get(body, "turns") or []
    if not isinstance(raw_turns, list):
        raise ProtocolError(CLOSE_INVALID_DATA, "clientContent.turns must be a list")
    turns = []
    for raw in raw_turns:
        parts = get(raw, "parts")
        if not isinstance(parts, list):
            raise ProtocolError(CLOSE_INVALID_DATA, "clientContent.turns[].parts must be a list")
        texts, files = [], []
        for part in parts:
            if isinstance(get(part, "text"), str):
                texts.append(get(part, "text"))
            elif get(part, "inline_data") is not None:
                blob = get(part, "inline_data")
                mime = get(blob, "mime_type")
                if not isinstance(mime, str):
                    raise ProtocolError(CLOSE_INVALID_DATA, "inlineData needs a mimeType")
                files.append(InlineData(mime_type=mime, data=decode_base64(get(blob, "data"), "inlineData")))
            else:
                raise ProtocolError(CLOSE_INVALID_DATA, "clientContent parts must be text or inlineData")
        role = get(raw, "role") or "user"
        turns.append(ContentTurn(role=str(role), texts=tuple(texts), files=tuple(files)))
    return ClientContent(turns=tuple(turns), turn_complete=bool(get(body, "turn_complete", False)))


def parse_client_message(message: dict[str, Any]) -> list[ClientEvent]:
    """Decode a post-setup frame into events. A second ``setup`` or an unknown message is refused.

    A shape the decoders did not foresee (a number where a list belongs...) is the client's
    malformed frame too: it closes with 1007 and a reason, never as a server error.
    """
    try:
        return _client_message(message)
    except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
        raise ProtocolError(CLOSE_INVALID_DATA, f"malformed frame: {type(exc).__name__}: {exc}") from None


def _client_message(message: dict[str, Any]) -> list[ClientEvent]:
    if get(message, "setup") is not None:
        raise ProtocolError(CLOSE_POLICY, "setup was already received: send it once, as the first frame")
    if get(message, "realtime_input") is not None:
        return _realtime_events(get(message, "realtime_input"))
    if get(message, "client_content") is not None:
        return [_client_content(get(message, "client_content"))]
    if get(message, "tool_response") is not None:
        from chimein.protocol.tools import parse_function_responses

        return [ToolResponse(function_responses=parse_function_responses(get(message, "tool_response")))]
    if get(message, "context_update") is not None:
        raise ProtocolError(
            CLOSE_INVALID_DATA,
            "contextUpdate is not supported: instructions and tools are fixed at setup; resume with a new setup",
        )
    keys = ", ".join(sorted(message)[:3]) or "(empty)"
    raise ProtocolError(
        CLOSE_INVALID_DATA,
        f"unknown message {keys}: expected realtimeInput, clientContent or toolResponse",
    )
