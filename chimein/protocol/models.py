"""The model table: which Live API model names chimein answers to, and with which pipeline.

Names follow Google's published Live API models so that unmodified clients work; each maps to a
chimein pipeline configuration (the models that actually run are local and offline).
"""

from __future__ import annotations

from dataclasses import dataclass

from chimein.protocol.messages import CLOSE_POLICY, ProtocolError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    status: str  # "public preview", "discontinued"
    proactive_audio: bool
    pipeline: str  # the chimein pipeline this name runs
    replacement: str | None = None
    note: str = ""
    always_proactive: bool = False
    """Newer Live models keep proactive audio on whatever the setup says (their documented behaviour)."""


CURRENT = "gemini-live-2.5-flash-preview-native-audio-09-2025"
PIPELINE = "silero-vad + smart-turn-v3 + whisper-tiny.en + llm + piper/hibari"

MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        name=CURRENT,
        status="public preview",
        proactive_audio=True,
        pipeline=PIPELINE,
        note="Vertex AI name",
    ),
    ModelEntry(
        name="gemini-2.5-flash-native-audio-preview-09-2025",
        status="public preview",
        proactive_audio=True,
        pipeline=PIPELINE,
        note="Gemini API name of the same model",
    ),
    # Today's native-audio Live names (Live API model pages, late 2025): aliases of the same pipeline.
    ModelEntry(
        name="gemini-2.5-flash-native-audio-preview-12-2025",
        status="public preview",
        proactive_audio=True,
        pipeline=PIPELINE,
        note="Gemini API name, December 2025 release",
    ),
    ModelEntry(
        name="gemini-live-2.5-flash-native-audio",
        status="generally available",
        proactive_audio=True,
        pipeline=PIPELINE,
        note="Vertex AI name of the GA model",
    ),
    ModelEntry(
        name="gemini-3.1-flash-live-preview",
        status="public preview",
        proactive_audio=True,
        pipeline=PIPELINE,
        note="Gemini API name; proactive audio always on, as that model documents",
        always_proactive=True,
    ),
    ModelEntry(
        name="gemini-live-2.5-flash-preview-native-audio",
        status="discontinued 2025-10-17",
        proactive_audio=True,
        pipeline="-",
        replacement=CURRENT,
    ),
)


def bare_model_name(model: str) -> str:
    """``models/x``, ``publishers/google/models/x`` and ``projects/p/locations/l/publishers/google/models/x`` -> ``x``."""
    return model.strip().rsplit("/", 1)[-1]


def resolve_model(model: str) -> ModelEntry:
    """The table entry for a setup's model, or a ProtocolError the SDK shows as APIError 1008."""
    name = bare_model_name(model)
    for entry in MODELS:
        if entry.name == name:
            if entry.replacement:
                raise ProtocolError(CLOSE_POLICY, f"this model was discontinued on 2025-10-17; use {entry.replacement}")
            return entry
    supported = [e.name for e in MODELS if not e.replacement]
    # The close reason holds 123 bytes: the first supported name and where to find the rest.
    raise ProtocolError(
        CLOSE_POLICY, f"unknown model; supported: {supported[0]} and {len(supported) - 1} more (`chimein models`)"
    )


def format_model_table() -> str:
    rows = [("MODEL", "STATUS", "PROACTIVE AUDIO", "PIPELINE / NOTE")]
    for e in MODELS:
        detail = f"use {e.replacement}" if e.replacement else e.pipeline + (f" ({e.note})" if e.note else "")
        rows.append((e.name, e.status, "yes" if e.proactive_audio else "no", detail))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)
