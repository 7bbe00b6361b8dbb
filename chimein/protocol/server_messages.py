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


def input_transcription(text: str, *, finished: bool = True, speaker: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text, "finished": finished}
    if speaker:
        body["speakerLabel"] = speaker
    return {"serverContent": {"inputTranscription": body}}


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
) -> dict[str, Any]:
    """``turnComplete`` with the turn's usage; ``reason`` e.g. RESPONSE_REJECTED for a declined turn."""
    content: dict[str, Any] = {"turnComplete": True}
    if reason:
        content["turnCompleteReason"] = reason
    if extra:
        content["chimein"] = extra
    message: dict[str, Any] = {"serverContent": content}
    if usage is not None:
        message["usageMetadata"] = usage
    return message


def go_away(time_left_s: float) -> dict[str, Any]:
    return {"goAway": {"timeLeft": f"{max(0.0, time_left_s):.3f}s"}}


def session_resumption_update(handle: str | None, *, resumable: bool, last_index: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"resumable": resumable}
    if handle:
        body["newHandle"] = handle
    if last_index is not None:
        body["lastConsumedClientMessageIndex"] = str(last_index)
    return {"sessionResumptionUpdate": body}
