"""The recogniser under load: a dropped turn's queued transcription is skipped, or handed to the
split that needs its words, never run twice (#12). Scripted models, a gate for "the model is busy"."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np

from chimein.policy.instruction import parse_instruction
from chimein.protocol.messages import parse_setup
from chimein.session import events as ev
from chimein.session.recognition import Recognition

from .fake_models import FakeAsr, FakeServices, Words


class BusyAsr(FakeAsr):
    """Holds every call until the test opens the gate, as another session's decode would."""

    def __init__(self, said: list[str]) -> None:
        super().__init__(said)
        self.gate = threading.Event()
        self.ran: list[int] = []

    def transcribe(self, audio: np.ndarray, **kw: Any) -> Words:
        self.gate.wait(5.0)
        words = super().transcribe(audio, **kw)
        if words.dropped is None:
            self.ran.append(len(audio))
        return words


class Voices:
    """Voice prints by clip length: 1 s clips are one person, 2 s clips another."""

    def __init__(self) -> None:
        self.embedded: list[int] = []

    def embed(self, audio: np.ndarray) -> np.ndarray:
        self.embedded.append(len(audio))
        v = np.zeros(4, np.float32)
        v[0 if len(audio) == 16000 else 1] = 1.0
        return v


def _recognition(asr: BusyAsr, voices: Voices | None = None) -> Recognition:
    services = FakeServices(asr, speakers=voices or Voices())  # type: ignore[arg-type]
    setup = parse_setup({"model": "models/gemini-2.5-flash-native-audio-preview-09-2025"})
    return Recognition(services, setup, parse_instruction(""))  # type: ignore[arg-type]


def _clip(seconds: float) -> np.ndarray:
    return np.full(int(seconds * 16000), 0.1, np.float32)


async def test_a_dropped_turn_is_not_transcribed_once_the_model_is_free():
    asr = BusyAsr(["Shall we start dinner soon?"])
    recognition = _recognition(asr)
    hearing = asyncio.ensure_future(recognition.hear_turn(ev.UserTurn(1, audio=_clip(1.0), end_s=2.0)))
    await asyncio.sleep(0.05)
    hearing.cancel()  # the speaker went on: the turn was dropped while its decode waited
    await asyncio.sleep(0.05)
    asr.gate.set()
    await asyncio.sleep(0.2)
    assert asr.skipped == 1 and asr.ran == []


async def test_a_split_reuses_the_dropped_turns_transcription():
    asr = BusyAsr(["Okay, I'm done.", "How much was the parking ticket?"])
    recognition = _recognition(asr)
    earlier = ev.UserTurn(1, audio=_clip(1.0), start_s=1.0, end_s=2.0)
    hearing = asyncio.ensure_future(recognition.hear_turn(earlier))
    await asyncio.sleep(0.05)
    hearing.cancel()
    # Someone else speaks before the answer began: carried, then split off as a new voice.
    own = _clip(2.0)
    turn = ev.UserTurn(2, audio=np.concatenate([_clip(1.0), own]), start_s=1.0, end_s=5.0, carry_start_s=1.0,
                       earlier=earlier, own_start_s=3.0, own_audio=own)
    new = asyncio.ensure_future(recognition.hear_turn(turn))
    await asyncio.sleep(0.05)
    asr.gate.set()
    heard = await asyncio.wait_for(new, 5.0)
    assert heard.split is not None and heard.split.startswith("a new voice")
    assert heard.earlier_text == "Okay, I'm done." and heard.transcription.text == "How much was the parking ticket?"
    assert asr.ran == [16000, 32000] and asr.skipped == 0  # the earlier speech was decoded once


async def test_after_a_clear_gap_the_earlier_voice_is_not_embedded():
    asr, voices = BusyAsr(["Okay.", "What time is it?"]), Voices()
    asr.gate.set()
    recognition = _recognition(asr, voices)
    earlier = ev.UserTurn(1, audio=_clip(1.0), start_s=1.0, end_s=2.0, text="Okay.")
    own = _clip(1.5)
    turn = ev.UserTurn(2, audio=np.concatenate([_clip(4.0), own]), start_s=1.0, end_s=6.5, carry_start_s=1.0,
                       earlier=earlier, own_start_s=5.0, own_audio=own)
    heard = await recognition.hear_turn(turn)
    assert heard.split is not None and heard.split.startswith("a clear gap")
    assert voices.embedded == [len(own)]  # only the new speech's own voice print


class ShortVoices(Voices):
    """As :class:`Voices` (or every clip one person), but no voice print for clips under 0.6 s (too
    short to say, as the real one)."""

    def __init__(self, one_person: bool = False) -> None:
        super().__init__()
        self.one_person = one_person

    def embed(self, audio: np.ndarray) -> np.ndarray | None:  # type: ignore[override]
        if len(audio) < 0.6 * 16000:
            return None
        return np.array([1.0, 0, 0, 0], np.float32) if self.one_person else super().embed(audio)


def _three_utterances(first_text: str, last_start_s: float, last_end_s: float) -> tuple[ev.UserTurn, ...]:
    """Speech from 1 to 2 s, then 0.5 s from 2.5 s carried onto it (too short for a voice print),
    then the last utterance carried onto both: each began before an answer did."""
    first = ev.UserTurn(1, audio=_clip(1.0), start_s=1.0, end_s=2.0, text=first_text)
    second = ev.UserTurn(2, audio=_clip(2.0), start_s=1.0, end_s=3.0, carry_start_s=1.0, earlier=first,
                         own_start_s=2.5, own_audio=_clip(0.5))
    last = ev.UserTurn(3, audio=_clip(last_end_s - 1.0), start_s=1.0, end_s=last_end_s, carry_start_s=1.0, earlier=second,
                       own_start_s=last_start_s, own_audio=_clip(last_end_s - last_start_s))
    return first, second, last


async def test_a_new_voice_is_split_off_even_when_its_first_words_were_too_short_to_tell():
    """A speaks; B says "Hey chef," (too short for a voice print), pauses, asks: each utterance was
    carried onto the last before any answer began. The boundary between B's two utterances cannot
    tell, so the one before it is checked with all of B's speech, and B's words become B's turn."""
    asr = BusyAsr(["Hey chef, how long do I boil an egg?"])
    asr.gate.set()
    recognition = _recognition(asr, ShortVoices())
    a, b1, b2 = _three_utterances("So the meeting moved to Thursday.", 3.5, 5.0)
    heard = await recognition.hear_turn(b2)
    assert heard.split is not None and heard.split.startswith("a new voice"), heard.split
    assert heard.earlier_text == "So the meeting moved to Thursday."
    assert len(b2.audio) == int(2.5 * 16000)  # from B's first words to the end, not A's
    assert heard.split_from is b1  # the controller starts the turn there (tests/session/test_controller.py)
    assert heard.transcription.text == "Hey chef, how long do I boil an egg?"


async def test_one_speaker_pausing_twice_stays_one_turn():
    asr = BusyAsr(["I think that we should go now."])
    asr.gate.set()
    recognition = _recognition(asr, ShortVoices(one_person=True))
    _, a2, a3 = _three_utterances("I think", 3.0, 4.0)
    heard = await recognition.hear_turn(a3)
    assert heard.split is None and len(a3.audio) == 3 * 16000 and a3.earlier is a2


async def test_a_continued_turn_reuses_its_pause_transcription_unless_it_is_split():
    """A turn that went on after a pause was transcribed at that pause from its first words (#12):
    the joined line is not decoded again, unless the new speech proves to be someone else's."""
    asr = BusyAsr(["I really like Italian food. Do you know how to make a pizza?"])
    asr.gate.set()
    recognition = _recognition(asr)
    earlier = ev.UserTurn(1, audio=_clip(1.0), start_s=1.0, end_s=2.0, text="I really like Italian food.")
    own, joined = _clip(1.0), _clip(3.0)
    paused = recognition.speculate(7, joined)
    assert paused is not None and (await paused).text.endswith("make a pizza?")
    turn = ev.UserTurn(2, audio=joined, start_s=1.0, end_s=4.0, carry_start_s=1.0, earlier=earlier,
                       own_start_s=2.4, own_audio=own, speculative_pause_id=7)
    heard = await recognition.hear_turn(turn)
    assert heard.split is None and heard.transcription.text.endswith("make a pizza?")
    assert asr.ran == [len(joined)]  # decoded once, at the pause

    asr.said[:] = ["Do you know how to make a pizza?"]
    other = _clip(2.0)  # another voice
    recognition.speculate(8, joined)
    await asyncio.sleep(0.05)
    split = ev.UserTurn(3, audio=joined, start_s=1.0, end_s=4.0, carry_start_s=1.0, earlier=earlier,
                        own_start_s=2.4, own_audio=other, speculative_pause_id=8)
    heard = await recognition.hear_turn(split)
    assert heard.split is not None and len(split.audio) == len(other)
    assert asr.ran[-1] == len(other)  # the split-off speech is decoded on its own, not the pause's joined audio


async def test_a_call_over_the_answer_is_transcribed_once():
    asr = BusyAsr(["Hey Pip, play some music.", "something else"])
    asr.gate.set()
    recognition = _recognition(asr)
    checked = await recognition.check_call(3, _clip(1.5))
    assert checked.text == "Hey Pip, play some music."
    heard = await recognition.hear_turn(ev.UserTurn(1, audio=_clip(1.5), start_s=5.0, end_s=6.5,
                                                    interrupting=True, checked_call=3))
    assert heard.transcription.text == "Hey Pip, play some music." and asr.ran == [24000]
