"""Co-listening to an audio file: streaming decode, VAD-cut windows, time-stamped transcript.

Why streaming: a 16 MiB ``inlineData`` frame can hold 50 minutes of Opus or 12 minutes of MP3,
which would be hundreds of MB as float32 at the source rate. Files are therefore decoded in
blocks straight to 16 kHz mono, cut into windows of at most :data:`MAX_WINDOW_S` seconds at
the longest pause the VAD finds, and each window is transcribed (Whisper base, beam search)
and dropped. Memory stays at one window plus one decode block whatever the file's length.

Two passes over the bytes: :func:`probe_audio_file` decodes everything once without keeping
samples (so a corrupt file is refused before any work starts, and the exact duration is known
for billing), then :func:`stream_transcript` decodes again while transcribing. Decoding is
cheap next to Whisper (well under 1 % of its time), so the second pass costs little.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import soxr

from chimein.perception.asr import SpeechRecognizer, Transcription
from chimein.perception.audio import INPUT_RATE, AudioDecodeError, pcm16_to_float
from chimein.perception.vad import SileroVad, VadStream

__all__ = [
    "AudioFileInfo",
    "HeardSentence",
    "ListeningProgress",
    "SUPPORTED_AUDIO_TYPES",
    "iter_audio_16k",
    "probe_audio_file",
    "sentences_of",
    "stream_transcript",
]

MAX_WINDOW_S = 28.0
"""Longest window given to Whisper (its context is 30 s; 2 s margin for the cut search)."""
MIN_WINDOW_S = 12.0
"""A window is cut at the longest pause found between MIN_WINDOW_S and MAX_WINDOW_S."""
PAUSE_PROBABILITY = 0.35
"""VAD frames below this speech probability count as pause (silero's own hysteresis low mark)."""
SPEECH_PROBABILITY = 0.5
"""A window with no frame at or above this is not sent to Whisper (music, noise, silence)."""
BLOCK_S = 5.0
"""Decode block length."""
MAX_SENTENCE_WORDS = 40
"""Sentences longer than this (unpunctuated transcripts) are split so each quote stays short."""

_SOUNDFILE_TYPES = frozenset(
    {"audio/wav", "audio/wave", "audio/x-wav", "audio/vnd.wave", "audio/flac", "audio/x-flac",
     "audio/ogg", "audio/opus", "audio/aiff", "audio/x-aiff"}
)
_AV_TYPES = frozenset(
    {"audio/mp3", "audio/mpeg", "audio/mpeg3", "audio/x-mp3", "audio/aac", "audio/mp4", "audio/m4a",
     "audio/x-m4a", "audio/webm"}
)
_PCM_TYPES = frozenset({"audio/pcm", "audio/l16", "audio/raw"})
SUPPORTED_AUDIO_TYPES = "audio/wav, audio/flac, audio/ogg, audio/mpeg (MP3), audio/aac, audio/webm, audio/pcm;rate=N"
_RATE = re.compile(r"(?:^|;)\s*rate\s*=\s*([^;\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class AudioFileInfo:
    """What the probe learnt about a file: its own rate and length (the billing duration)."""

    mime_type: str
    rate: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate


@dataclass(frozen=True)
class HeardSentence:
    """One sentence of a heard recording; times in seconds from the start of the recording."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class ListeningProgress:
    """Reported after each window: how far into the recording the transcript has got."""

    done_s: float
    total_s: float | None
    sentences: int
    windows: int


# ------------------------------------------------------------------------------- decoding


def _split_mime(mime_type: str | None) -> tuple[str, str]:
    if not mime_type:
        return "", ""
    base, _, params = mime_type.partition(";")
    return base.strip().lower(), params


def _kind(data: bytes, mime_type: str | None) -> str:
    """'pcm', 'soundfile' or 'av' for the data, or AudioDecodeError for a type chimein cannot read."""
    if not data:
        raise AudioDecodeError("no audio data (0 bytes)")
    base, _ = _split_mime(mime_type)
    if base in _PCM_TYPES:
        return "pcm"
    if base in _SOUNDFILE_TYPES:
        return "soundfile"
    if base in _AV_TYPES:
        return "av"
    if base in ("", "application/octet-stream", "audio/*", "audio"):
        head = data[:12]
        if head[:4] in (b"RIFF", b"RIFX", b"fLaC", b"OggS", b"FORM"):
            return "soundfile"
        if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
            return "av"
        if head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3":
            return "av"
        raise AudioDecodeError(f"cannot tell the audio format; give a mimeType ({SUPPORTED_AUDIO_TYPES})")
    raise AudioDecodeError(f"unsupported mimeType {mime_type!r}; send {SUPPORTED_AUDIO_TYPES}")


def _pcm_rate(mime_type: str | None) -> int:
    _, params = _split_mime(mime_type)
    match = _RATE.search(";" + params)
    if not match:
        return INPUT_RATE
    try:
        rate = int(match.group(1))
    except ValueError:
        raise AudioDecodeError(f"bad rate {match.group(1)!r} in audio/pcm mimeType") from None
    if not 1000 <= rate <= 384000:
        raise AudioDecodeError(f"audio/pcm rate {rate} is out of range (1000-384000 Hz)")
    return rate


def _short(exc: Exception) -> str:
    """The library's reason without object reprs or paths (it ends up in a 123-byte close reason)."""
    text = re.sub(r"<[^>]*>|\[Errno -?\d+\]", "", str(exc))
    parts = [p.strip(" :.'\"") for p in text.split(": ")]
    parts = [p for p in parts if p and not p.lower().startswith("error opening")]
    return (parts[-1] if parts else type(exc).__name__)[:60]


def _native_blocks(data: bytes, mime_type: str | None) -> tuple[int, Iterator[np.ndarray]]:
    """(rate, iterator of float32 mono blocks at that rate). The iterator raises AudioDecodeError."""
    kind = _kind(data, mime_type)
    if kind == "pcm":
        rate = _pcm_rate(mime_type)
        if len(data) % 2:
            raise AudioDecodeError(f"audio/pcm must be 16-bit samples: {len(data)} bytes is an odd count")
        step = int(BLOCK_S * rate) * 2

        def pcm_blocks() -> Iterator[np.ndarray]:
            for i in range(0, len(data), step):
                yield pcm16_to_float(data[i : i + step])

        return rate, pcm_blocks()
    if kind == "soundfile":
        try:
            return _soundfile_blocks(data)
        except AudioDecodeError as first:
            try:
                return _av_blocks(data)  # mislabelled or exotic (e.g. Opus on an old libsndfile)
            except AudioDecodeError:
                raise first from None
    return _av_blocks(data)


def _soundfile_blocks(data: bytes) -> tuple[int, Iterator[np.ndarray]]:
    import soundfile as sf

    try:
        handle = sf.SoundFile(io.BytesIO(data))
    except Exception as exc:  # LibsndfileError, RuntimeError, TypeError
        raise AudioDecodeError(f"cannot decode audio file: {_short(exc)}") from exc
    rate = int(handle.samplerate)
    if rate <= 0:
        raise AudioDecodeError("audio file has no sample rate")

    def blocks() -> Iterator[np.ndarray]:
        with handle:
            step = max(1, int(BLOCK_S * rate))
            while True:
                try:
                    x = handle.read(step, dtype="float32", always_2d=True)
                except Exception as exc:
                    raise AudioDecodeError(f"corrupt audio data: {_short(exc)}") from exc
                if x.shape[0] == 0:
                    return
                yield np.ascontiguousarray(x.mean(axis=1), dtype=np.float32)

    return rate, blocks()


def _av_blocks(data: bytes) -> tuple[int, Iterator[np.ndarray]]:
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except Exception as exc:  # av.error.FFmpegError and friends
        raise AudioDecodeError(f"cannot decode audio file: {_short(exc)}") from exc
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError("no audio stream in the file")
    stream = container.streams.audio[0]
    rate = int(stream.rate or 0) or INPUT_RATE

    def blocks() -> Iterator[np.ndarray]:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        try:
            with container:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                for out in resampler.resample(None):
                    yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        except AudioDecodeError:
            raise
        except Exception as exc:
            raise AudioDecodeError(f"corrupt audio data: {_short(exc)}") from exc

    return rate, blocks()


def probe_audio_file(data: bytes, mime_type: str | None) -> AudioFileInfo:
    """Decode the whole file once, keeping nothing: validates it and measures its length.

    Raises AudioDecodeError for an unsupported type, corrupt data or a file without samples.
    """
    rate, blocks = _native_blocks(data, mime_type)
    frames = 0
    for block in blocks:
        if block.size and not np.all(np.isfinite(block)):
            raise AudioDecodeError("audio data contains NaN or infinite samples")
        frames += block.size
    if frames == 0:
        raise AudioDecodeError("the audio file contains no samples")
    return AudioFileInfo(mime_type=mime_type or "", rate=rate, frames=frames)


def iter_audio_16k(data: bytes, mime_type: str | None) -> Iterator[np.ndarray]:
    """Float32 mono blocks at 16 kHz, decoded and resampled as a stream (bounded memory)."""
    rate, blocks = _native_blocks(data, mime_type)
    if rate == INPUT_RATE:
        yield from blocks
        return
    stream = soxr.ResampleStream(rate, INPUT_RATE, 1, dtype="float32", quality="HQ")
    for block in blocks:
        out = stream.resample_chunk(block, last=False)
        if out.size:
            yield out
    tail = stream.resample_chunk(np.zeros(0, np.float32), last=True)
    if tail.size:
        yield tail


# ------------------------------------------------------------------------------- windows


def _frame_probabilities(stream: VadStream, audio: np.ndarray) -> list[float]:
    """Speech probability per 32 ms frame of ``audio`` (whole frames only), continuing the stream."""
    frame = stream.FRAME_SAMPLES
    return [stream.probability(audio[i : i + frame]) for i in range(0, audio.size - frame + 1, frame)]


def _best_cut(probs: list[float], frame: int, lo: int, hi: int) -> int:
    """Sample index to cut at: the middle of the longest pause whose middle lies in [lo, hi)."""
    best_len, best_mid = 0, hi
    run_start = None
    for i, p in enumerate([*probs, 1.0]):
        if p < PAUSE_PROBABILITY:
            if run_start is None:
                run_start = i
            continue
        if run_start is not None:
            length = i - run_start
            mid = (run_start + i) // 2 * frame
            if lo <= mid < hi and length >= best_len:  # ties: the later pause, fuller windows
                best_len, best_mid = length, mid
            run_start = None
    return best_mid


def stream_transcript(
    blocks: Iterable[np.ndarray],
    recognizer: SpeechRecognizer,
    vad: SileroVad,
    *,
    total_s: float | None = None,
    language: str | None = None,
    beam_size: int = 5,
    progress: Callable[[ListeningProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[list[HeardSentence]]:
    """Streaming: yields each window's sentences (times from the recording's start) as it is done.

    Windows end at the longest pause between 12 and 28 s (a hard cut at 28 s when there is
    none); windows without speech skip Whisper. Blocks the calling thread: run it in a worker.
    """
    frame = VadStream.FRAME_SAMPLES
    vad_stream = vad.stream()
    max_len = int(MAX_WINDOW_S * INPUT_RATE)
    min_len = int(MIN_WINDOW_S * INPUT_RATE)
    buf = np.zeros(0, np.float32)
    probs: list[float] = []  # per whole frame of buf
    offset = 0  # samples of the recording before buf
    sentences = windows = 0

    def transcribe(window: np.ndarray, window_probs: list[float], start: int) -> list[HeardSentence]:
        nonlocal sentences, windows
        windows += 1
        found: list[HeardSentence] = []
        if window_probs and max(window_probs) >= SPEECH_PROBABILITY:
            result = recognizer.transcribe(window, beam_size=beam_size, word_timestamps=True, language=language)
            found = sentences_of(result, start / INPUT_RATE)
        sentences += len(found)
        if progress is not None:
            progress(ListeningProgress((start + window.size) / INPUT_RATE, total_s, sentences, windows))
        return found

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    held: HeardSentence | None = None  # a sentence cut by a window boundary, joined to the next

    def joined(found: list[HeardSentence], last: bool) -> list[HeardSentence]:
        nonlocal held
        if held is not None:
            if found:
                first = found[0]
                found = [HeardSentence(held.start_s, first.end_s, f"{held.text} {first.text}"), *found[1:]]
            else:
                found = [held]
            held = None
        if not last and found and not _SENTENCE_END.search(found[-1].text):
            held = found.pop()
        return found

    for block in blocks:
        if cancelled():
            return
        usable = (buf.size // frame) * frame
        buf = np.concatenate((buf, block))
        probs += _frame_probabilities(vad_stream, buf[usable:])
        while buf.size >= max_len:
            cut = _best_cut(probs, frame, min_len, max_len)
            cut = max(frame, min(cut, max_len)) // frame * frame
            yield joined(transcribe(buf[:cut], probs[: cut // frame], offset), last=False)
            if cancelled():
                return
            buf, probs, offset = buf[cut:], probs[cut // frame :], offset + cut
    if not cancelled():
        final = transcribe(buf, probs, offset) if buf.size else []
        yield joined(final, last=True)


_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*$")
_ABBREVIATIONS = frozenset("mr mrs ms dr prof sr jr st mt vs etc no vol approx".split())


def _ends_sentence(word: str) -> bool:
    if not _SENTENCE_END.search(word):
        return False
    bare = word.rstrip(".!?\"')]").lower()
    return not (word.endswith(".") and (bare in _ABBREVIATIONS or (len(bare) == 1 and bare.isalpha())))


def sentences_of(result: Transcription, offset_s: float = 0.0) -> list[HeardSentence]:
    """Whisper's words grouped into sentences (at . ! ?), with times shifted by ``offset_s``.

    Without word timings the whole text is one sentence spanning the window.
    """
    if not result.text.strip():
        return []
    if not result.words:
        return [HeardSentence(offset_s, offset_s + result.duration_s, result.text.strip())]
    out: list[HeardSentence] = []
    current: list = []
    for word in result.words:
        current.append(word)
        if _ends_sentence(word.text) or len(current) >= MAX_SENTENCE_WORDS:
            out.append(_sentence(current, offset_s))
            current = []
    if current:
        out.append(_sentence(current, offset_s))
    return out


def _sentence(words: list, offset_s: float) -> HeardSentence:
    text = " ".join(w.text for w in words).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return HeardSentence(round(offset_s + words[0].start_s, 2), round(offset_s + words[-1].end_s, 2), text)
