"""Memory fixtures: the real-recordings folder (from tests/conftest.py) and the shared models."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    from chimein.policy.embedding import TextEmbedder

    return TextEmbedder.shared()


@pytest.fixture(scope="session")
def whisper_base():
    from chimein.perception.asr import SpeechRecognizer

    return SpeechRecognizer.shared("base")


@pytest.fixture(scope="session")
def vad():
    from chimein.perception.vad import SileroVad

    return SileroVad.shared()
