"""Speaking: where a clause waits for the shared voice."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import numpy as np

from chimein.generation.tts import SpokenAudio
from chimein.session.answering import Playout


class _BusyVoice:
    """A voice held by another session's answer: synthesize blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def synthesize(self, text: str, *, first: bool = False) -> SpokenAudio:
        self.started.set()
        self.release.wait(10)
        return SpokenAudio(text=text, pcm=np.zeros(240, dtype=np.int16), word_end_s=[])


def _playout(voice: _BusyVoice) -> Playout:
    return Playout(llm=None, synthesizer=lambda: voice, meter=None, echo=None, input_clock_s=lambda: 0.0,  # type: ignore[arg-type]
                   clock=lambda: 0.0, lead_s=0.0, send=lambda _m: None, emit=lambda *_a, **_k: None,
                   on_audible=lambda _h: None, max_tokens=64, text_only=False, output_transcription=False)


def test_a_clause_waiting_for_the_voice_leaves_the_default_pool_to_listening() -> None:
    """Every session's voice activity detection runs in the loop's default pool; clauses queued for
    the one shared voice must not hold its threads, or listening stalls for everybody under load."""

    async def scene() -> str:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
        voice = _BusyVoice()
        clips: asyncio.Queue[SpokenAudio | None] = asyncio.Queue()
        speaking = asyncio.ensure_future(_playout(voice)._clause(None, "Knead it for ten minutes.", clips))  # type: ignore[arg-type]
        while not voice.started.is_set():
            await asyncio.sleep(0.01)
        heard = await asyncio.wait_for(asyncio.to_thread(lambda: "listening"), timeout=5)
        voice.release.set()
        await speaking
        clip = await clips.get()
        assert clip is not None and clip.text == "Knead it for ten minutes."
        return heard

    assert asyncio.run(scene()) == "listening"
