"""The process-wide models and stores that every session shares.

Loaded once at server start (with progress on stderr, since the first load takes seconds) and
handed to each session; sessions keep only their own small per-conversation state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chimein.generation.llm import LanguageModel, create_language_model
from chimein.generation.tts import Synthesizer, shared_synthesizer
from chimein.perception.asr import SpeechRecognizer
from chimein.perception.turn import SmartTurn
from chimein.perception.vad import SileroVad
from chimein.policy.embedding import TextEmbedder
from chimein.usage.ledger import Ledger, open_ledger


@dataclass
class Services:
    vad: SileroVad
    smart_turn: SmartTurn
    asr: SpeechRecognizer
    llm: LanguageModel
    embedder: TextEmbedder
    ledger: Ledger | None
    _synths: dict[str, Synthesizer] = field(default_factory=dict)

    def synthesizer(self, voice_id: str) -> Synthesizer:
        if voice_id not in self._synths:
            self._synths[voice_id] = shared_synthesizer(voice_id)
        return self._synths[voice_id]

    @classmethod
    def load(
        cls,
        *,
        llm_url: str | None = None,
        llm_model: str | None = None,
        llm_api_key: str | None = None,
        ledger_url: str | None = None,
        voices: tuple[str, ...] = ("joe", "heart"),
        progress: Callable[[str], None] | None = None,
    ) -> Services:
        say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
        steps: list[tuple[str, Callable[[], object]]] = [
            ("voice activity detector (Silero VAD)", SileroVad.shared),
            ("end-of-turn model (Smart Turn v3)", SmartTurn.shared),
            ("speech recogniser (Whisper tiny.en)", SpeechRecognizer.shared),
            ("language model", lambda: create_language_model(llm_url, llm_model, llm_api_key)),
            ("relevance embedder (MiniLM)", TextEmbedder.shared),
            ("usage ledger", lambda: open_ledger(ledger_url)),
        ]
        loaded: dict[str, object] = {}
        total = len(steps) + len(voices)
        for i, (label, load) in enumerate(steps, 1):
            started = time.perf_counter()
            loaded[label] = load()
            say(f"[{i}/{total}] loaded {label} in {time.perf_counter() - started:.1f}s")
        services = cls(*loaded.values())  # type: ignore[arg-type]
        for j, voice in enumerate(voices, len(steps) + 1):
            started = time.perf_counter()
            services.synthesizer(voice).synthesize("Ready.")  # warm: first call builds caches
            say(f"[{j}/{total}] loaded voice {voice} in {time.perf_counter() - started:.1f}s")
        return services
