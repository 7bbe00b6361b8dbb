"""Server frames of the Live API, as the google-genai SDK parses them.

Top-level keys MUST be camelCase (``server_content`` crashes the SDK). Errors are never sent as
a JSON ``{"error": ...}`` frame (it crashes the SDK too): they close the socket instead.
chimein's own extras (the proactivity decision) ride in ``serverContent.chimein``, a field the
SDK drops, so plain SDK clients never see them and chimein-aware clients can.
"""

from __future__ import annotations

from typing import Any

from chimein.protocol.messages import encode_base64

OUTPUT_AUDIO_MIME = "audio/pcm;rate=24000"


def setup_complete(session_id: str) -> dict[str, Any]:
    return {"setupComplete": {"sessionId": session_id}}


def model_audio(pcm: bytes, mime_type: str = OUTPUT_AUDIO_MIME) -> dict[str, Any]:
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": mime_type, "data": encode_base64(pcm)}}]}}}


def model_text(text: str) -> dict[str, Any]:
    return {"serverContent": {"modelTurn": {"parts": [{"text": text}]}}}


def duration(seconds: float) -> str:
    """A protobuf Duration in JSON: ``"1.250s"``."""
    return f"{max(0.0, seconds):.3f}s"


def speaker_label(name: str, enrolled: bool) -> str:
    """``Transcription.speakerLabel``: an enrolled participant's name, else ``spk_N`` like Google's."""
    if enrolled:
        return name
    number = name.rsplit(" ", 1)[-1]
    return f"spk_{number}" if number.isdigit() else name


def input_transcription(
    text: str,
    *,
    finished: bool = True,
    speaker: str | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    words: list[tuple[str, float, float]] | None = None,
    language: str | None = None,
    interim: bool = False,
) -> dict[str, Any]:
    """``inputTranscription`` (or ``interimInputTranscription``); offsets from the start of the input audio."""
    body: dict[str, Any] = {"text": text, "finished": finished}
    if speaker:
        body["speakerLabel"] = speaker
    if language:
        body["languageCode"] = language
    if start_s is not None:
        body["startOffset"] = duration(start_s)
    if end_s is not None:
        body["endOffset"] = duration(end_s)
    if words is not None:
        body["words"] = [{"word": w, "startOffset": duration(a), "endOffset": duration(b)} for w, a, b in words]
    key = "interimInputTranscription" if interim else "inputTranscription"
    return {"serverContent": {key: body}}


def tool_call(calls: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """``toolCall``: (id, name, args) for each function the client should run."""
    return {"toolCall": {"functionCalls": [{"id": i, "name": n, "args": a} for i, n, a in calls]}}


def tool_call_cancellation(ids: list[str]) -> dict[str, Any]:
    return {"toolCallCancellation": {"ids": ids}}


def voice_activity(kind: str, offset_s: float) -> dict[str, Any]:
    """``voiceActivity``: ACTIVITY_START / ACTIVITY_END at ``offset_s`` of the input audio (wire key ``type``)."""
    return {"voiceActivity": {"type": kind, "audioOffset": duration(offset_s)}}


def voice_activity_detection_signal(kind: str) -> dict[str, Any]:
    """``voiceActivityDetectionSignal``: VAD_SIGNAL_TYPE_SOS (start of speech) or VAD_SIGNAL_TYPE_EOS."""
    return {"voiceActivityDetectionSignal": {"vadSignalType": kind}}


def vad_signals(start: bool, offset_s: float) -> list[dict[str, Any]]:
    """What ``explicitVadSignal`` asks for at a start or end of speech: both messages."""
    return [voice_activity("ACTIVITY_START" if start else "ACTIVITY_END", offset_s),
            voice_activity_detection_signal("VAD_SIGNAL_TYPE_SOS" if start else "VAD_SIGNAL_TYPE_EOS")]


def output_transcription(text: str, *, finished: bool = False) -> dict[str, Any]:
    return {"serverContent": {"outputTranscription": {"text": text, "finished": finished}}}


def generation_complete() -> dict[str, Any]:
    return {"serverContent": {"generationComplete": True}}


def interrupted() -> dict[str, Any]:
    return {"serverContent": {"interrupted": True}}


def turn_complete(
    usage: dict[str, Any] | None,
    *,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
    waiting_for_input: bool = False,
    interaction_status: str | None = None,
) -> dict[str, Any]:
    """``turnComplete`` with the turn's usage; ``reason`` e.g. RESPONSE_REJECTED for a declined turn.

    ``interaction_status`` (IDLE / IN_PROGRESS): the SDK's ``receive()`` then ends the turn only on IDLE.
    """
    content: dict[str, Any] = {"turnComplete": True}
    if reason:
        content["turnCompleteReason"] = reason
    if waiting_for_input:
        content["waitingForInput"] = True
    if interaction_status:
        content["interactionStatus"] = interaction_status
    if extra:
        content["chimein"] = extra
    message: dict[str, Any] = {"serverContent": content}
    if usage is not None:
        message["usageMetadata"] = usage
    return message


def go_away(time_left_s: float) -> dict[str, Any]:
    return {"goAway": {"timeLeft": duration(time_left_s)}}


def session_resumption_update(handle: str | None, *, resumable: bool, last_index: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"resumable": resumable}
    if handle:
        body["newHandle"] = handle
    if last_index is not None:
        body["lastConsumedClientMessageIndex"] = str(last_index)
    return {"sessionResumptionUpdate": body}
