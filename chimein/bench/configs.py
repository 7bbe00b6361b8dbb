"""What is being measured: chimein itself and the baselines, and the setup each one sends.

A configuration changes only what it names; everything else comes from the scenario. The
setup is written once, in the Live API's wire form, for the fast runner, and as the SDK's
``LiveConnectConfig`` for the live runner, from the same fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from chimein.bench.scenario import SetupSpec

MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"


@dataclass(frozen=True)
class RunConfig:
    name: str
    description: str
    proactive_audio: bool | None = None  # None: as the scenario says
    end_of_turn: Literal["smart_turn", "silence"] = "smart_turn"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


CHIMEIN = RunConfig("chimein", "chimein as shipped: proactive audio as the scenario's setup asks, Smart Turn end of turn")
BASELINES: dict[str, RunConfig] = {
    "proactivity-off": RunConfig(
        "proactivity-off",
        "a normal voice assistant: proactive audio off (answers every turn), same models and end of turn",
        proactive_audio=False,
    ),
    "silence-threshold": RunConfig(
        "silence-threshold",
        "a plain turn-taker: proactive audio off and turns end on silence only (silenceDurationMs), no Smart Turn",
        proactive_audio=False,
        end_of_turn="silence",
    ),
}


def resolve_configs(baselines: list[str] | None) -> list[RunConfig]:
    """chimein plus the named baselines (all of them when ``baselines`` is None)."""
    names = list(BASELINES) if baselines is None else baselines
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline {unknown[0]!r}; choose from {', '.join(BASELINES)}")
    return [CHIMEIN] + [BASELINES[n] for n in dict.fromkeys(names)]


def proactive(spec: SetupSpec, config: RunConfig) -> bool:
    return spec.proactive_audio if config.proactive_audio is None else config.proactive_audio


def setup_wire(spec: SetupSpec, config: RunConfig) -> dict[str, Any]:
    """The ``setup`` body an SDK client would send for this scenario and configuration."""
    generation: dict[str, Any] = {"responseModalities": ["AUDIO"]}
    if spec.voice:
        generation["speechConfig"] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": spec.voice}}}
    if spec.max_output_tokens:
        generation["maxOutputTokens"] = spec.max_output_tokens
    body: dict[str, Any] = {
        "model": f"models/{MODEL}",
        "generationConfig": generation,
        "realtimeInputConfig": {"activityHandling": spec.activity_handling},
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
    }
    if spec.instruction:
        body["systemInstruction"] = {"parts": [{"text": spec.instruction}]}
    if proactive(spec, config):
        body["proactivity"] = {"proactiveAudio": True}
    return body


def live_connect_config(spec: SetupSpec, config: RunConfig) -> Any:
    """The same setup as a google-genai ``LiveConnectConfig``."""
    from google.genai import types

    kwargs: dict[str, Any] = {
        "response_modalities": ["AUDIO"],
        "input_audio_transcription": types.AudioTranscriptionConfig(),
        "output_audio_transcription": types.AudioTranscriptionConfig(),
        "realtime_input_config": types.RealtimeInputConfig(activity_handling=spec.activity_handling),
    }
    if spec.instruction:
        kwargs["system_instruction"] = spec.instruction
    if spec.voice:
        kwargs["speech_config"] = types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=spec.voice))
        )
    if spec.max_output_tokens:
        kwargs["max_output_tokens"] = spec.max_output_tokens
    if proactive(spec, config):
        kwargs["proactivity"] = types.ProactivityConfig(proactive_audio=True)
    return types.LiveConnectConfig(**kwargs)
