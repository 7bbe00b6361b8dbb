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


async def test_the_first_audio_waits_while_someone_may_be_starting_to_speak():
    """Speech the VAD has begun to count holds the answer's first audio until it is confirmed or
    dismissed, and never longer than ONSET_HOLD_S (a noisy room must not silence the answer)."""
    from types import SimpleNamespace

    from chimein.session.answering import ONSET_HOLD_S, ONSET_POLL_S, Playout

    asked = []
    pending = iter([True, True, True, False])
    await Playout._before_first_audio(SimpleNamespace(onset_pending=lambda: asked.append(1) or next(pending)))
    assert len(asked) == 4  # waited through the three polls while the onset was pending, then went on
    asked.clear()
    await Playout._before_first_audio(SimpleNamespace(onset_pending=lambda: asked.append(1) or True))
    assert len(asked) == round(ONSET_HOLD_S / ONSET_POLL_S) + 1  # then speaks anyway
