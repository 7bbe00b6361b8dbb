"""ActivityConfig.from_setup: the Live API's automaticActivityDetection, both casings."""

from __future__ import annotations

import pytest

from chimein.perception.activity import ActivityConfig


def test_from_setup_defaults():
    assert ActivityConfig.from_setup(None) == ActivityConfig()
    assert ActivityConfig.from_setup({}) == ActivityConfig()
    assert ActivityConfig() == ActivityConfig("HIGH", "HIGH", 300, 800, False)


@pytest.mark.parametrize(
    "setup",
    [
        {
            "disabled": False,
            "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
            "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
            "prefixPaddingMs": 120,
            "silenceDurationMs": 1500,
        },
        {
            "disabled": False,
            "start_of_speech_sensitivity": "START_SENSITIVITY_LOW",
            "end_of_speech_sensitivity": "END_SENSITIVITY_LOW",
            "prefix_padding_ms": 120,
            "silence_duration_ms": 1500,
        },
    ],
)
def test_from_setup_both_casings(setup):
    assert ActivityConfig.from_setup(setup) == ActivityConfig("LOW", "LOW", 120, 1500, False)


def test_from_setup_enum_forms():
    config = ActivityConfig.from_setup(
        {"startOfSpeechSensitivity": "START_SENSITIVITY_UNSPECIFIED", "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH"}
    )
    assert (config.start_sensitivity, config.end_sensitivity) == ("HIGH", "HIGH")
    genai = pytest.importorskip("google.genai.types")
    config = ActivityConfig.from_setup(
        {"startOfSpeechSensitivity": genai.StartSensitivity.START_SENSITIVITY_LOW, "disabled": True}
    )
    assert config.start_sensitivity == "LOW" and config.disabled
    sdk = genai.AutomaticActivityDetection(
        start_of_speech_sensitivity="START_SENSITIVITY_LOW", prefix_padding_ms=20, silence_duration_ms=100
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert ActivityConfig.from_setup(sdk) == ActivityConfig("LOW", "HIGH", 20, 100, False)


@pytest.mark.parametrize(
    "setup,message",
    [
        ({"prefixPaddingMs": -1}, "negative"),
        ({"silence_duration_ms": -20}, "negative"),
        ({"silenceDurationMs": "soon"}, "integer"),
        ({"silenceDurationMs": 12.5}, "integer"),
        ({"prefixPaddingMs": True}, "integer"),
        ({"startOfSpeechSensitivity": "HIGH_PLEASE"}, "START_SENSITIVITY_HIGH"),
        ({"startOfSpeechSensitivity": "END_SENSITIVITY_HIGH"}, "START_SENSITIVITY"),
        ({"endOfSpeechSensitivity": "START_SENSITIVITY_LOW"}, "END_SENSITIVITY"),
        ({"endOfSpeechSensitivity": 3}, "string"),
        ({"disabled": "yes"}, "true or false"),
        ({"silenceDuration": 500}, "unknown"),
        ({"silenceDurationMs": 500, "silence_duration_ms": 600}, "twice"),
        ("HIGH", "object"),
    ],
)
def test_from_setup_rejects_bad_values(setup, message):
    with pytest.raises(ValueError, match=message):
        ActivityConfig.from_setup(setup)


def test_config_validates_direct_construction():
    with pytest.raises(ValueError):
        ActivityConfig(start_sensitivity="MEDIUM")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ActivityConfig(silence_duration_ms=-5)
