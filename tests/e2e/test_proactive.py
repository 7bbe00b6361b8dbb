"""Proactive Audio through the real SDK: the guide's dialogue, and a labelled suite of spoken turns."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from google.genai import types

from chimein.perception.audio import decode_audio_file, resample
from tests.conftest import REAL_DATA
from tests.e2e.client import CHUNK_S, MODEL, pcm16, sdk_client, speech_16k

pytestmark = pytest.mark.slow

DIALOGUES = yaml.safe_load((Path(__file__).parent / "data" / "proactive_dialogues.yaml").read_text())["dialogues"]
# Measured on this suite (see the issue 4 note): 39/42 and 40/42 on two full runs; the misses were
# topic-relevance misses (a carbonara question, a dough follow-up). The floor leaves room for one
# more recognition slip on a loaded machine, not for a broken policy.
ACCURACY_FLOOR = 0.9
QUIET_S = 0.5  # once the line's last word was heard and its turn completed, wait this long for more
FALLBACK_QUIET_S = 4.0  # a line whose last word is never transcribed: over after this long quiet past its end
PIZZA_WORDS = {"pizza", "dough", "flour", "yeast", "cheese", "tomato", "tomatoes", "oven", "bake", "crust", "mozzarella", "sauce", "toppings"}


def _config(instruction: str, modality: str = "TEXT") -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[modality],
        system_instruction=instruction,
        proactivity=types.ProactivityConfig(proactive_audio=True),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )


def _turn_audio(turn: dict, index: int) -> np.ndarray:
    if "recording" in turn:
        audio, rate = decode_audio_file((REAL_DATA / turn["recording"]).read_bytes(), None)
        return resample(audio, rate, 16000)
    return speech_16k(turn["text"], voice="heart" if turn["speaker"] == "A" else "joe")


async def _say(session, audio: np.ndarray, speed: float) -> None:
    step = int(CHUNK_S * 16000)
    started = time.monotonic()
    for n, i in enumerate(range(0, len(audio), step)):
        await session.send_realtime_input(audio=types.Blob(data=pcm16(audio[i : i + step]), mime_type="audio/pcm;rate=16000"))
        delay = started + (n + 1) * CHUNK_S / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _receive_turn(session, state: dict) -> None:
    while True:
        async for message in session.receive():
            _note(message, state)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def _last_word(turn: dict) -> str | None:
    words = _words(turn.get("text", ""))
    return words[-1] if words else None


def _note(message, state: dict) -> None:
    state["last"] = time.monotonic()
    if message.server_content is not None:
        content = message.server_content
        if content.input_transcription and content.input_transcription.text:
            state["heard"] += content.input_transcription.text
        if content.output_transcription and content.output_transcription.text:
            state["answer"] += content.output_transcription.text
        if message.text:
            state["answer"] += message.text
        if content.turn_complete:
            state["reasons"].append(str(content.turn_complete_reason or ""))
            state["done"].set()
            tail = state["tail"]
            if tail is not None and tail in _words(state["heard"]):
                state["tail_done"] = True


async def run_dialogue(server, instruction: str, turns: list[dict], *, modality: str = "TEXT", speed: float = 1.0):
    """Speak each turn, then keep the mic open with silence until the server completes the turn."""
    results = []
    async with sdk_client(server).aio.live.connect(model=MODEL, config=_config(instruction, modality)) as session:
        for index, turn in enumerate(turns):
            state = {"heard": "", "answer": "", "reasons": [], "done": asyncio.Event(), "last": time.monotonic(),
                     "tail": _last_word(turn), "tail_done": False}
            receiver = asyncio.create_task(_receive_turn(session, state))
            await _say(session, _turn_audio(turn, index), speed)
            spoken = time.monotonic()
            silence = np.zeros(int(0.25 * 16000), np.float32)
            deadline = time.monotonic() + 25
            # A line may reach the server as two turns (a pause inside it), and the first may complete
            # while the rest is still being spoken: the line is over once a turn completed with its last
            # word heard, or (a recording, a misheard last word) after a long quiet past its end.
            while time.monotonic() < deadline:
                now = time.monotonic()
                if state["tail_done"] and now - state["last"] > QUIET_S:
                    break
                if state["done"].is_set() and now - max(state["last"], spoken) > FALLBACK_QUIET_S:
                    break
                await _say(session, silence, speed)
            receiver.cancel()
            # No turnComplete at all means no turn was taken (noise, chatter, nothing recognised): silent.
            answered = any("REJECTED" not in reason for reason in state["reasons"])
            decided = "answer" if answered else "silent"
            results.append({"turn": turn, "heard": state["heard"], "answer": state["answer"], "decided": decided})
    return results


async def test_the_guide_dialogue(server):
    guide = DIALOGUES[0]
    results = await run_dialogue(server, guide["instruction"], guide["turns"][:3], modality="AUDIO")
    assert [r["decided"] for r in results] == ["silent", "silent", "answer"], results
    words = set(results[2]["answer"].lower().replace(",", " ").replace(".", " ").split())
    assert words & PIZZA_WORDS, f"the answer is not about pizza: {results[2]['answer']!r}"


async def test_labelled_spoken_turns(server):
    total, right, misses, skipped = 0, 0, [], 0
    for dialogue in DIALOGUES:
        turns = [t for t in dialogue["turns"] if "recording" not in t or REAL_DATA.is_dir()]
        skipped += len(dialogue["turns"]) - len(turns)
        for result in await run_dialogue(server, dialogue["instruction"], turns, speed=2.0):
            total += 1
            if result["decided"] == result["turn"]["expect"]:
                right += 1
            else:
                misses.append((dialogue["instruction"][:40], result["turn"].get("text") or result["turn"]["recording"],
                               result["heard"], result["decided"]))
    if skipped:
        print(f"{skipped} real-recording turns skipped: {REAL_DATA} not found")
    accuracy = right / total
    print(f"proactive decisions: {right}/{total} = {accuracy:.3f}; misses: {misses}")
    assert total >= 35
    assert accuracy >= ACCURACY_FLOOR, misses
