"""Benchmark scenarios: the YAML schema (SCHEMA.md), loaded into small typed objects.

A scenario is one conversation scene: the assistant's setup, a timeline of sounds (people
speaking, pauses, noise, music, chatter, a recording everyone listens to, back-channels and
interruptions timed against the assistant's own speech) and, for every scored event, what the
assistant is expected to do. Loading validates everything up front, so a typo fails with the
file and the field named rather than half-way through a benchmark run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from chimein.bench.voices import VOICES

CATEGORIES: dict[str, str] = {
    "topic_gating": "instruction names topics; answer only on-topic requests",
    "name_gating": "instruction gives the assistant a name; answer only when addressed by it",
    "wake_phrase": "instruction gives a wake phrase; answer only after it",
    "default_proactive": "proactive audio without a gating instruction: answer requests to the assistant only",
    "context_followup": "follow-ups that are on-topic only through the conversation's context",
    "off_topic": "requests and remarks outside the instruction's scope",
    "noise_only": "real background noise with nobody speaking",
    "music": "music with nobody speaking to the assistant",
    "chatter_only": "external speech (TV, people nearby) that is not part of the conversation",
    "speech_in_noise": "participants under real noise or chatter at a given SNR or level",
    "pause": "a speaker pausing mid-sentence",
    "backchannel": "'uh-huh', 'yeah' while the assistant speaks",
    "interruption": "a participant interrupting the assistant",
    "self_echo": "the assistant's own output leaking back into the microphone",
    "colistening": "a recording played in the room, then a question about it",
    "heldout_decisions": "instructions never tuned on (policy/data/heldout.yaml), voices never tuned on: answer or stay silent",
}

Expect = Literal["answer", "silent", "stop", "keep_talking", "none"]
EventKind = Literal["say", "pause", "noise", "music", "chatter", "colisten", "backchannel", "interrupt"]
_EXPECTS = ("answer", "silent", "stop", "keep_talking", "none")
_LAYER_KINDS = ("noise", "music", "chatter")


class ScenarioError(ValueError):
    """A scenario file that does not follow SCHEMA.md."""


@dataclass(frozen=True)
class SetupSpec:
    """The Live API setup the scenario's assistant runs with (baselines override parts of it)."""

    instruction: str | None = None
    proactive_audio: bool = True
    activity_handling: str = "START_OF_ACTIVITY_INTERRUPTS"
    voice: str | None = None
    max_output_tokens: int | None = None


@dataclass(frozen=True)
class Source:
    """What makes a sound: text for a bench voice, or a recording under the real-data folder."""

    text: str | tuple[str, ...] | None = None  # a tuple: parts of one sentence with pauses between
    voice: str | None = None
    recording: str | None = None  # path relative to the real-data folder
    transcript: str | None = None  # of the recording (None: unknown, not used for WER)
    start_s: float = 0.0  # offset into the recording
    duration_s: float | None = None  # cut the recording (None: all of it)

    @property
    def reference_text(self) -> str | None:
        if self.recording is not None:
            return self.transcript
        if isinstance(self.text, tuple):
            return " ".join(self.text)
        return self.text


@dataclass(frozen=True)
class Event:
    """One timeline entry (SCHEMA.md, "timeline")."""

    kind: EventKind
    index: int
    id: str
    source: Source | None = None
    seconds: float = 0.0  # pause length, or noise/music/chatter duration (0 = the clip's own)
    gap_s: float = 1.2  # between the parts of a paused sentence
    speaker: str | None = None
    level_db: float = 0.0  # relative to the scenario's speech level (negative = quieter)
    lowpass_hz: float | None = None
    reverb: float = 0.0  # wet fraction, 0..1
    rt60_s: float = 0.5
    after_answer_s: float = 1.0  # back-channel / interrupt: seconds into the assistant's answer
    expect: Expect = "none"
    then: Expect = "none"  # interrupt only: what the interrupting request itself should get
    keywords: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layer:
    """A bed of sound under part or all of the scene (not scored on its own)."""

    kind: Literal["noise", "music", "chatter"]
    source: Source
    level_db: float
    start_s: float = 0.0
    end_s: float | None = None  # None: to the end of the scene
    lowpass_hz: float | None = None
    reverb: float = 0.0
    rt60_s: float = 0.5


@dataclass(frozen=True)
class EchoSpec:
    """The assistant's output heard again by the microphone (a loudspeaker in the room)."""

    level_db: float = -10.0  # relative to the output as sent
    delay_ms: float = 50.0
    reverb: float = 0.3
    rt60_s: float = 0.3


ENROL_TEXT = (
    "Hi, this is how I usually sound when I talk at home. We cook together most evenings, "
    "and sometimes we ask the assistant for help with a recipe."
)


@dataclass(frozen=True)
class EnrolSpec:
    """A participant enrolled before the scene (``chimein voices add``): a sample of their voice."""

    name: str
    voice: str
    text: str = ENROL_TEXT


@dataclass(frozen=True)
class Scenario:
    id: str
    category: str
    description: str
    setup: SetupSpec
    timeline: tuple[Event, ...]
    layers: tuple[Layer, ...] = ()
    echo: EchoSpec | None = None
    speech_level_dbfs: float = -26.0
    lead_in_s: float = 0.5
    tail_s: float = 2.0
    quick: bool = False
    path: Path | None = None
    tags: tuple[str, ...] = ()
    enrol: tuple[EnrolSpec, ...] = ()

    @property
    def needs_real_data(self) -> bool:
        sources = [e.source for e in self.timeline if e.source is not None] + [layer.source for layer in self.layers]
        return any(s.recording is not None for s in sources)

    @property
    def voices(self) -> set[str]:
        """Every synthetic voice the scene speaks with (timeline, background, enrolment)."""
        sources = [e.source for e in self.timeline if e.source is not None] + [layer.source for layer in self.layers]
        return {s.voice for s in sources if s.voice} | {e.voice for e in self.enrol}

    @property
    def snr_db(self) -> float | None:
        """The lowest SNR of any noise/music layer (for WER-by-SNR); None when there is none."""
        values = [-layer.level_db for layer in self.layers if layer.kind in ("noise", "music")]
        return min(values) if values else None


# ---------------------------------------------------------------------------------- loading


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_scenario(raw, default_id=path.stem, path=path)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def load_scenarios(folder: Path) -> list[Scenario]:
    """All ``*.yaml`` scenarios in ``folder`` (sorted by file name); ids must be unique."""
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise ScenarioError(f"no scenario files (*.yaml) in {folder}")
    scenarios = [load_scenario(f) for f in files]
    seen: dict[str, Path | None] = {}
    for s in scenarios:
        if s.id in seen:
            raise ScenarioError(f"scenario id {s.id!r} is used by both {seen[s.id]} and {s.path}")
        seen[s.id] = s.path
    return scenarios


def default_scenario_dir() -> Path:
    return Path(__file__).with_name("scenarios")


def parse_scenario(raw: Any, *, default_id: str = "scenario", path: Path | None = None) -> Scenario:
    """Build a Scenario from the parsed YAML mapping (see SCHEMA.md)."""
    m = _mapping(raw, "scenario")
    _only(m, {"id", "category", "description", "quick", "setup", "timeline", "background", "echo",
              "speech_level_dbfs", "lead_in_s", "tail_s", "tags", "enrol"}, "scenario")
    category = m.get("category")
    if category not in CATEGORIES:
        raise ScenarioError(f"category must be one of {', '.join(CATEGORIES)}; got {category!r}")
    timeline_raw = m.get("timeline")
    if not isinstance(timeline_raw, list) or not timeline_raw:
        raise ScenarioError("timeline must be a non-empty list of events")
    events = tuple(_event(item, i) for i, item in enumerate(timeline_raw))
    _check_ids(events)
    _check_reactive(events)
    layers = tuple(_layer(item, i) for i, item in enumerate(_list(m.get("background"), "background")))
    echo = _echo(m["echo"]) if m.get("echo") is not None else None
    scenario = Scenario(
        id=str(m.get("id") or default_id),
        category=category,
        description=str(m.get("description") or ""),
        setup=_setup(m.get("setup") or {}),
        timeline=events,
        layers=layers,
        echo=echo,
        speech_level_dbfs=_num(m.get("speech_level_dbfs", -26.0), "speech_level_dbfs", lo=-60, hi=-3),
        lead_in_s=_num(m.get("lead_in_s", 0.5), "lead_in_s", lo=0, hi=30),
        tail_s=_num(m.get("tail_s", 2.0), "tail_s", lo=0, hi=60),
        quick=bool(m.get("quick", False)),
        path=path,
        tags=tuple(str(t) for t in _list(m.get("tags"), "tags")),
        enrol=tuple(_enrol(item, i) for i, item in enumerate(_list(m.get("enrol"), "enrol"))),
    )
    if not any(e.expect != "none" or e.then != "none" for e in events):
        raise ScenarioError("nothing to score: give at least one event an `expect`")
    return scenario


def _setup(raw: Any) -> SetupSpec:
    m = _mapping(raw, "setup")
    _only(m, {"instruction", "proactive_audio", "activity_handling", "voice", "max_output_tokens"}, "setup")
    handling = m.get("activity_handling", "START_OF_ACTIVITY_INTERRUPTS")
    if handling not in ("START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"):
        raise ScenarioError(f"setup.activity_handling must be START_OF_ACTIVITY_INTERRUPTS or NO_INTERRUPTION, got {handling!r}")
    max_tokens = m.get("max_output_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 0):
        raise ScenarioError("setup.max_output_tokens must be a positive integer")
    instruction = m.get("instruction")
    return SetupSpec(
        instruction=str(instruction) if instruction is not None else None,
        proactive_audio=bool(m.get("proactive_audio", True)),
        activity_handling=handling,
        voice=m.get("voice"),
        max_output_tokens=max_tokens,
    )


_EVENT_KEYS = {"say", "recording", "pause", "noise", "music", "chatter", "colisten", "backchannel", "interrupt"}
_COMMON = {"id", "voice", "speaker", "level_db", "snr_db", "lowpass_hz", "reverb", "rt60_s", "expect", "then",
           "keywords", "tags", "transcript", "start_s", "duration_s", "gap_s", "after_answer_s"}
_DEFAULT_EXPECT: dict[str, Expect] = {
    "say": "none", "pause": "none", "noise": "silent", "music": "silent", "chatter": "silent",
    "colisten": "silent", "backchannel": "keep_talking", "interrupt": "stop",
}


def _event(raw: Any, index: int) -> Event:
    m = _mapping(raw, f"timeline[{index}]")
    keys = _EVENT_KEYS & set(m)
    if len(keys) != 1:
        raise ScenarioError(
            f"timeline[{index}] needs exactly one of {', '.join(sorted(_EVENT_KEYS))}; got {sorted(keys) or 'none'}"
        )
    key = keys.pop()
    where = f"timeline[{index}] ({key})"
    _only(m, _COMMON | {key}, where)
    kind: EventKind = "say" if key == "recording" else key  # type: ignore[assignment]
    expect = m.get("expect", _DEFAULT_EXPECT[kind])
    if expect not in _EXPECTS:
        raise ScenarioError(f"{where}: expect must be one of {', '.join(_EXPECTS)}, got {expect!r}")
    if kind == "say" and "expect" not in m:
        raise ScenarioError(f"{where}: a participant's utterance needs `expect: answer` or `expect: silent` (or none)")
    then = m.get("then", "none")
    if then not in ("none", "answer", "silent") or (then != "none" and kind != "interrupt"):
        raise ScenarioError(f"{where}: `then` (answer|silent) is for interrupts only")
    if kind in ("backchannel",) and expect not in ("keep_talking", "stop", "none"):
        raise ScenarioError(f"{where}: a back-channel expects keep_talking (or stop)")
    if kind == "interrupt" and expect not in ("stop", "keep_talking", "none"):
        raise ScenarioError(f"{where}: an interrupt expects stop (or keep_talking)")
    if kind not in ("say", "interrupt") and expect in ("answer",):
        raise ScenarioError(f"{where}: only a participant's utterance can expect an answer")
    if kind in ("say", "noise", "music", "chatter", "colisten") and expect in ("stop", "keep_talking"):
        raise ScenarioError(f"{where}: stop/keep_talking are for back-channels and interrupts")
    level = m.get("level_db")
    if "snr_db" in m:
        if level is not None:
            raise ScenarioError(f"{where}: give level_db or snr_db, not both")
        level = -_num(m["snr_db"], f"{where}.snr_db", lo=-30, hi=60)
    seconds = 0.0
    source: Source | None = None
    if kind == "pause":
        seconds = _num(m["pause"], f"{where}.pause", lo=0, hi=120)
    else:
        source = _source(m, key, where)
        if kind in ("noise", "music"):
            seconds = _num(m.get("duration_s", 0.0), f"{where}.duration_s", lo=0, hi=120)
    keywords = tuple(str(k).lower() for k in _list(m.get("keywords"), f"{where}.keywords"))
    if keywords and expect != "answer" and then != "answer":
        raise ScenarioError(f"{where}: keywords are only checked on answers")
    return Event(
        kind=kind,
        index=index,
        id=str(m.get("id") or f"e{index:02d}-{kind}"),
        source=source,
        seconds=seconds,
        gap_s=_num(m.get("gap_s", 1.2), f"{where}.gap_s", lo=0, hi=10),
        speaker=m.get("speaker"),
        level_db=float(level) if level is not None else (-15.0 if kind == "chatter" else 0.0),
        lowpass_hz=_num(m["lowpass_hz"], f"{where}.lowpass_hz", lo=100, hi=8000) if m.get("lowpass_hz") else None,
        reverb=_num(m.get("reverb", 0.0), f"{where}.reverb", lo=0, hi=1),
        rt60_s=_num(m.get("rt60_s", 0.5), f"{where}.rt60_s", lo=0.05, hi=3),
        after_answer_s=_num(m.get("after_answer_s", 1.0), f"{where}.after_answer_s", lo=0, hi=30),
        expect=expect,
        then=then,
        keywords=keywords,
        tags=tuple(str(t) for t in _list(m.get("tags"), f"{where}.tags")),
    )


def _source(m: dict[str, Any], key: str, where: str) -> Source:
    value = m[key]
    start_s = _num(m.get("start_s", 0.0), f"{where}.start_s", lo=0, hi=3600)
    duration = m.get("duration_s")
    duration_s = _num(duration, f"{where}.duration_s", lo=0.1, hi=600) if duration is not None else None
    transcript = m.get("transcript")
    if key in ("recording", "noise", "music") or (isinstance(value, str) and _looks_like_path(value)):
        if not isinstance(value, str):
            raise ScenarioError(f"{where}: expected a recording path relative to the real-data folder")
        if key == "say":
            raise ScenarioError(f"{where}: use `recording:` for a recording")
        return Source(recording=value, transcript=str(transcript) if transcript else None,
                      start_s=start_s, duration_s=duration_s)
    if isinstance(value, list):
        if not value or not all(isinstance(p, str) and p.strip() for p in value):
            raise ScenarioError(f"{where}: a list of sentence parts must hold non-empty strings")
        text: str | tuple[str, ...] = tuple(value)
    elif isinstance(value, str) and value.strip():
        text = value
    else:
        raise ScenarioError(f"{where}: expected text (or a list of text parts)")
    voice = m.get("voice", "heart")
    if voice not in VOICES:
        raise ScenarioError(f"{where}: unknown voice {voice!r}; bench voices: {', '.join(VOICES)}")
    return Source(text=text, voice=voice)


def _looks_like_path(value: str) -> bool:
    return value.endswith((".wav", ".flac", ".ogg", ".mp3")) and "/" in value


def _layer(raw: Any, index: int) -> Layer:
    where = f"background[{index}]"
    m = _mapping(raw, where)
    keys = set(_LAYER_KINDS) & set(m)
    if len(keys) != 1:
        raise ScenarioError(f"{where} needs exactly one of noise, music, chatter")
    key = keys.pop()
    _only(m, {key, "voice", "level_db", "snr_db", "start_s", "end_s", "lowpass_hz", "reverb", "rt60_s",
              "transcript", "offset_s"}, where)
    if ("level_db" in m) == ("snr_db" in m):
        raise ScenarioError(f"{where}: give exactly one of level_db or snr_db")
    level = float(m["level_db"]) if "level_db" in m else -_num(m["snr_db"], f"{where}.snr_db", lo=-30, hi=60)
    value = m[key]
    if isinstance(value, str) and _looks_like_path(value):
        source = Source(recording=value, transcript=m.get("transcript"),
                        start_s=_num(m.get("offset_s", 0.0), f"{where}.offset_s", lo=0, hi=3600))
    elif key == "chatter" and isinstance(value, (str, list)):
        text = tuple(value) if isinstance(value, list) else value
        voice = m.get("voice", "joe")
        if voice not in VOICES:
            raise ScenarioError(f"{where}: unknown voice {voice!r}")
        source = Source(text=text, voice=voice)
    else:
        raise ScenarioError(f"{where}: {key} needs a recording path (or, for chatter, text)")
    end = m.get("end_s")
    return Layer(
        kind=key,  # type: ignore[arg-type]
        source=source,
        level_db=level,
        start_s=_num(m.get("start_s", 0.0), f"{where}.start_s", lo=0, hi=3600),
        end_s=_num(end, f"{where}.end_s", lo=0, hi=3600) if end is not None else None,
        lowpass_hz=_num(m["lowpass_hz"], f"{where}.lowpass_hz", lo=100, hi=8000) if m.get("lowpass_hz") else None,
        reverb=_num(m.get("reverb", 0.0), f"{where}.reverb", lo=0, hi=1),
        rt60_s=_num(m.get("rt60_s", 0.5), f"{where}.rt60_s", lo=0.05, hi=3),
    )


def _enrol(raw: Any, index: int) -> EnrolSpec:
    m = _mapping(raw, f"enrol[{index}]")
    _only(m, {"name", "voice", "text"}, f"enrol[{index}]")
    voice = m.get("voice")
    if voice not in VOICES:
        raise ScenarioError(f"enrol[{index}].voice must be a bench voice ({', '.join(VOICES)}), got {voice!r}")
    return EnrolSpec(name=str(m.get("name") or voice), voice=voice, text=str(m.get("text") or ENROL_TEXT))


def _echo(raw: Any) -> EchoSpec:
    m = _mapping(raw, "echo")
    _only(m, {"level_db", "delay_ms", "reverb", "rt60_s"}, "echo")
    return EchoSpec(
        level_db=_num(m.get("level_db", -10.0), "echo.level_db", lo=-60, hi=6),
        delay_ms=_num(m.get("delay_ms", 50.0), "echo.delay_ms", lo=0, hi=2000),
        reverb=_num(m.get("reverb", 0.3), "echo.reverb", lo=0, hi=1),
        rt60_s=_num(m.get("rt60_s", 0.3), "echo.rt60_s", lo=0.05, hi=3),
    )


def _check_ids(events: tuple[Event, ...]) -> None:
    seen: set[str] = set()
    for e in events:
        if e.id in seen:
            raise ScenarioError(f"event id {e.id!r} is used twice")
        seen.add(e.id)


def _check_reactive(events: tuple[Event, ...]) -> None:
    """A back-channel or interrupt reacts to the answer of the closest earlier `expect: answer` utterance."""
    for e in events:
        if e.kind in ("backchannel", "interrupt") and anchor_of(events, e) is None:
            raise ScenarioError(f"{e.id}: a {e.kind} needs an earlier utterance with `expect: answer` to react to")


def anchor_of(events: tuple[Event, ...], reactive: Event) -> Event | None:
    """The utterance whose answer a back-channel/interrupt is timed against."""
    for e in reversed(events[: reactive.index]):
        if e.kind in ("say", "interrupt") and (e.expect == "answer" or e.then == "answer"):
            return e
    return None


# ---------------------------------------------------------------------------------- helpers


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where} must be a mapping, got {type(raw).__name__}")
    return raw


def _list(raw: Any, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ScenarioError(f"{where} must be a list")
    return raw


def _only(m: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(m) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _num(raw: Any, where: str, *, lo: float, hi: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScenarioError(f"{where} must be a number, got {raw!r}")
    if not lo <= raw <= hi:
        raise ScenarioError(f"{where} must be within {lo}..{hi}, got {raw}")
    return float(raw)

