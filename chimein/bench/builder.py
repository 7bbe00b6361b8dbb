"""Render a scenario into the 16 kHz stream a microphone would hear, plus its labels.

The timeline is laid out in order: each participant utterance is synthesised (or read from a
real recording), set to the scenario's speech level plus its own ``level_db``, and placed after
the previous one; noise, music and chatter segments are placed the same way; background layers
are mixed under the whole span they cover. Back-channels and interrupts cannot be placed here,
because they are timed against the assistant's answer, which only exists at run time: they are
returned as :class:`ReactiveClip` objects that the runner mixes in when that answer plays.

The labels say, for every scored sound, when it starts and ends, when its speech ends (the
reference point for latency), which stretch of the stream counts as its response window, and
what the assistant should do (SCHEMA.md).
"""

from __future__ import annotations

import csv
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chimein.bench import dsp
from chimein.bench.dsp import RATE
from chimein.bench.scenario import Event, Layer, Scenario, Source, anchor_of
from chimein.bench.voices import speak, unavailable
from chimein.perception.audio import resample

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "real"
NOISE_SEGMENT_DEFAULT_S = 6.0
HEADROOM_PEAK = 0.9  # the mix is scaled down when it would peak above this (16-bit PCM clips at 1.0)


class MissingData(RuntimeError):
    """The scenario needs the real recordings and they are not there (the caller skips it)."""


@dataclass
class Label:
    """One scored (or reference-only) sound in the scene, on the stream's clock (seconds)."""

    id: str
    kind: str  # speech | noise | music | chatter | colisten | backchannel | interrupt
    expect: str  # answer | silent | stop | keep_talking | none
    start_s: float
    end_s: float
    speech_end_s: float
    window_end_s: float
    reference: str | None = None  # what was said (participants, played recordings; for WER); None: unknown
    keywords: tuple[str, ...] = ()
    speaker: str | None = None
    level_db: float = 0.0
    pauses: list[tuple[float, float]] = field(default_factory=list)  # mid-sentence gaps
    tags: tuple[str, ...] = ()
    reactive: bool = False  # placed at run time (start/end/window filled in by the runner)
    anchor: str | None = None  # reactive: the label whose answer it reacts to
    after_answer_s: float = 0.0

    @property
    def participant(self) -> bool:
        """Speech by someone in the conversation (not chatter, a recording, or a back-channel)."""
        return self.kind in ("speech", "interrupt")

    def placed(self, onset_s: float, duration_s: float, speech_end_offset_s: float) -> Label:
        """A reactive label with its run-time position filled in."""
        copy = Label(**{**self.__dict__, "pauses": list(self.pauses)})
        copy.start_s = onset_s
        copy.end_s = onset_s + duration_s
        copy.speech_end_s = onset_s + speech_end_offset_s
        copy.window_end_s = onset_s + duration_s + 4.0
        return copy


@dataclass
class ReactiveClip:
    """A back-channel or interrupt, with the labels it produces once placed."""

    event_id: str
    anchor: str
    after_answer_s: float
    audio: np.ndarray
    speech_end_offset_s: float
    labels: list[Label]


@dataclass
class RenderedScene:
    scenario: Scenario
    audio: np.ndarray  # float32 mono 16 kHz: what the microphone hears, minus run-time additions
    labels: list[Label]
    reactive: list[ReactiveClip]
    stems: dict[str, np.ndarray]  # participants / noise / chatter / colisten, for level checks
    enrolments: dict[str, np.ndarray] = field(default_factory=dict)  # name -> voice sample, at the participants' level

    @property
    def duration_s(self) -> float:
        return len(self.audio) / RATE

    def label(self, label_id: str) -> Label:
        return next(lab for lab in self.labels if lab.id == label_id)


# ---------------------------------------------------------------------------------- recordings

_recordings: dict[Path, np.ndarray] = {}
_rec_lock = threading.Lock()


def read_recording(data_dir: Path, relative: str) -> np.ndarray:
    """A real recording as float32 mono 16 kHz (cached per process)."""
    import soundfile as sf

    path = (data_dir / relative).resolve()
    with _rec_lock:
        cached = _recordings.get(path)
    if cached is None:
        if not path.is_file():
            if not data_dir.is_dir():
                raise MissingData(f"real recordings not found at {data_dir} (../shared/data/real)")
            raise FileNotFoundError(f"recording {relative!r} not found under {data_dir}")
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
        mono = np.ascontiguousarray(x.mean(axis=1), dtype=np.float32)
        cached = resample(mono, int(rate), RATE).astype(np.float32)
        with _rec_lock:
            _recordings[path] = cached
    return cached


def manifest_transcripts(data_dir: Path) -> dict[str, str]:
    """File -> clean transcript from MANIFEST.tsv; notes in [brackets] are dropped, and entries
    that are only notes (unknown words) are left out."""
    manifest = data_dir / "MANIFEST.tsv"
    if not manifest.is_file():
        return {}
    out: dict[str, str] = {}
    with manifest.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            text = re.sub(r"\[[^\]]*\]", "", row.get("transcript_or_notes") or "").strip()
            if text and "..." not in text:
                out[row["file"]] = text
    return out


# ---------------------------------------------------------------------------------- rendering


def render(scenario: Scenario, data_dir: Path | None = None) -> RenderedScene:
    """Render ``scenario``; raises MissingData when it needs real recordings that are absent."""
    data = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    if scenario.needs_real_data and not data.is_dir():
        raise MissingData(f"scenario {scenario.id} needs real recordings; {data} (../shared/data/real) not found")
    for voice in sorted(scenario.voices):
        why = unavailable(voice)
        if why:
            raise MissingData(f"scenario {scenario.id}: {why}")
    transcripts = manifest_transcripts(data) if scenario.needs_real_data else {}
    ref_rms = dsp.db_to_gain(scenario.speech_level_dbfs)

    pieces: list[tuple[str, int, np.ndarray]] = []  # (stem, start sample, audio)
    labels: list[Label] = []
    reactive: list[ReactiveClip] = []
    cursor = int(scenario.lead_in_s * RATE)
    for event in scenario.timeline:
        if event.kind == "pause":
            cursor += int(event.seconds * RATE)
            continue
        if event.kind in ("backchannel", "interrupt"):
            reactive.append(_reactive(scenario, event, data, transcripts, ref_rms))
            continue
        audio, pauses, stem, kind = _event_audio(event, data, ref_rms)
        start = cursor
        span_start, span_stop = dsp.voiced_span(audio)
        pieces.append((stem, start, audio))
        reference = None
        if kind in ("speech", "colisten"):
            reference = _reference(event.source, transcripts)
        labels.append(
            Label(
                id=event.id,
                kind=kind,
                expect=event.expect,
                start_s=(start + span_start) / RATE,
                end_s=(start + len(audio)) / RATE,
                speech_end_s=(start + span_stop) / RATE,
                window_end_s=0.0,  # set below
                reference=reference,
                keywords=event.keywords,
                speaker=event.speaker,
                level_db=event.level_db,
                pauses=[(start / RATE + a, start / RATE + b) for a, b in pauses],
                tags=event.tags,
            )
        )
        cursor += len(audio)
    total = cursor + int(scenario.tail_s * RATE)
    stems = {name: np.zeros(total, np.float32) for name in ("participants", "noise", "chatter", "colisten")}
    for stem, start, audio in pieces:
        dsp.add_at(stems[stem], audio, start)
    for layer in scenario.layers:
        stem, audio, start = _layer_audio(layer, data, ref_rms, total)
        dsp.add_at(stems[stem], audio, start)
    scored = [lab for lab in labels if lab.expect != "none"] or labels
    starts = sorted(lab.start_s for lab in scored)
    for lab in labels:
        later = [s for s in starts if s > lab.start_s + 1e-6]
        lab.window_end_s = later[0] if later else total / RATE
    mix = sum(stems.values()).astype(np.float32)
    peak = float(np.max(np.abs(mix))) if len(mix) else 0.0
    if peak > HEADROOM_PEAK:  # a loud scene: lower everything alike (levels relative to speech are kept)
        gain = HEADROOM_PEAK / peak
        mix *= gain
        for stem in stems.values():
            stem *= gain
    else:
        gain = 1.0
    enrolments = {
        e.name: dsp.scale_to(speak(e.text, e.voice), ref_rms, speech=True) * gain for e in scenario.enrol
    }
    return RenderedScene(scenario=scenario, audio=mix, labels=labels, reactive=reactive, stems=stems,
                         enrolments=enrolments)


def _event_audio(event: Event, data: Path, ref_rms: float) -> tuple[np.ndarray, list[tuple[float, float]], str, str]:
    """(audio at its level, mid-sentence pauses in clip seconds, stem, label kind)."""
    source = event.source
    assert source is not None
    target = ref_rms * dsp.db_to_gain(event.level_db)
    pauses: list[tuple[float, float]] = []
    if event.kind in ("noise", "music"):
        clip = _source_audio(source, data)
        seconds = event.seconds or min(NOISE_SEGMENT_DEFAULT_S, len(clip) / RATE)
        audio = dsp.loop_to(clip, int(seconds * RATE))
        audio = dsp.scale_to(audio, target, speech=False)
        return _filtered(audio, event), pauses, "noise", event.kind
    if source.recording is None and isinstance(source.text, tuple):
        parts = [dsp.trim(speak(part, source.voice or "heart")) for part in source.text]
        gap = np.zeros(int(event.gap_s * RATE), np.float32)
        joined: list[np.ndarray] = []
        pos = 0
        for i, part in enumerate(parts):
            if i:
                joined.append(gap)
                pos += len(gap)
            lo, hi = dsp.voiced_span(part)
            if i:
                pauses[-1] = (pauses[-1][0], (pos + lo) / RATE)
            if i < len(parts) - 1:
                pauses.append(((pos + hi) / RATE, 0.0))
            joined.append(part)
            pos += len(part)
        audio = np.concatenate(joined)
    else:
        audio = dsp.trim(_source_audio(source, data))
    if event.kind == "chatter":
        audio = _filtered(audio, event)
        audio = dsp.scale_to(audio, target, speech=True)
        return audio, pauses, "chatter", "chatter"
    audio = dsp.scale_to(audio, target, speech=True)
    if event.kind == "colisten":
        return _filtered(audio, event), pauses, "colisten", "colisten"
    return _filtered(audio, event), pauses, "participants", "speech"


def _filtered(audio: np.ndarray, event: Event | Layer) -> np.ndarray:
    if event.lowpass_hz:
        audio = dsp.lowpass(audio, event.lowpass_hz)
    if event.reverb > 0:
        audio = dsp.reverb(audio, event.reverb, rt60_s=event.rt60_s)
    return audio


def _source_audio(source: Source, data: Path) -> np.ndarray:
    if source.recording is not None:
        clip = read_recording(data, source.recording)
        start = int(source.start_s * RATE)
        stop = start + int(source.duration_s * RATE) if source.duration_s else len(clip)
        return clip[start:stop].copy()
    text = source.text if isinstance(source.text, str) else " ".join(source.text or ())
    return speak(text, source.voice or "heart")


def _reference(source: Source | None, transcripts: dict[str, str]) -> str | None:
    if source is None:
        return None
    if source.recording is not None:
        return source.transcript or transcripts.get(source.recording)
    return source.reference_text


def _layer_audio(layer: Layer, data: Path, ref_rms: float, total: int) -> tuple[str, np.ndarray, int]:
    start = int(layer.start_s * RATE)
    stop = int(layer.end_s * RATE) if layer.end_s is not None else total
    stop = min(stop, total)
    if stop <= start:
        return "noise", np.zeros(0, np.float32), start
    target = ref_rms * dsp.db_to_gain(layer.level_db)
    src = layer.source
    if src.recording is not None:
        clip = read_recording(data, src.recording)
        audio = dsp.loop_to(clip, stop - start, offset=int(src.start_s * RATE) % max(1, len(clip)))
    else:
        texts = [src.text] if isinstance(src.text, str) else list(src.text or ())
        gap = np.zeros(int(0.6 * RATE), np.float32)
        spoken = np.concatenate([np.concatenate([dsp.trim(speak(t, src.voice or "joe")), gap]) for t in texts])
        audio = np.zeros(stop - start, np.float32)
        audio[: min(len(spoken), len(audio))] = spoken[: len(audio)]
    audio = _filtered(audio, layer)
    speech_like = layer.kind == "chatter"
    # Level measured over the layer's own sound, after filtering: what the microphone hears.
    audio = dsp.scale_to(audio, target, speech=speech_like)
    return ("chatter" if speech_like else "noise"), audio, start


def _reactive(scenario: Scenario, event: Event, data: Path, transcripts: dict[str, str], ref_rms: float) -> ReactiveClip:
    anchor = anchor_of(scenario.timeline, event)
    assert anchor is not None  # checked when the scenario was loaded
    source = event.source
    assert source is not None
    audio = dsp.trim(_source_audio(source, data))
    audio = dsp.scale_to(audio, ref_rms * dsp.db_to_gain(event.level_db), speech=True)
    audio = _filtered(audio, event)
    _, hi = dsp.voiced_span(audio)
    reference = _reference(source, transcripts)
    labels = [
        Label(
            id=event.id, kind=event.kind, expect=event.expect, start_s=0.0, end_s=0.0, speech_end_s=0.0,
            window_end_s=0.0, reference=reference if event.kind == "interrupt" else None, speaker=event.speaker,
            level_db=event.level_db, tags=event.tags, reactive=True, anchor=anchor.id,
            after_answer_s=event.after_answer_s,
        )
    ]
    if event.then != "none":
        labels.append(
            Label(
                id=f"{event.id}-request", kind="speech", expect=event.then, start_s=0.0, end_s=0.0,
                speech_end_s=0.0, window_end_s=0.0, keywords=event.keywords, speaker=event.speaker,
                tags=event.tags, reactive=True, anchor=anchor.id, after_answer_s=event.after_answer_s,
            )
        )
    return ReactiveClip(event.id, anchor.id, event.after_answer_s, audio, hi / RATE, labels)
