"""``chimein bench latency``: clear errors for bad options, and the report's shape (the live run itself
needs two real servers for many minutes: it is run by hand, see docs/latency.md)."""

from __future__ import annotations

from pathlib import Path

from chimein.bench.latency import latency_main, markdown


def test_bad_options_are_refused_with_a_reason(tmp_path: Path, capsys) -> None:
    assert latency_main(["--out", str(tmp_path), "--sessions", "four"]) == 2
    assert "--sessions takes numbers" in capsys.readouterr().err
    assert latency_main(["--out", str(tmp_path), "--baseline-tree", str(tmp_path)]) == 2
    assert "not a chimein checkout" in capsys.readouterr().err
    assert latency_main(["--out", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "meeting recording" in capsys.readouterr().err


def test_report_puts_the_baseline_beside_the_current_tree() -> None:
    def target(lat: list[float | None]) -> dict:
        got = [x for x in lat if x is not None]
        stats = {"n": len(lat), "answered": len(got), "median_s": sorted(got)[len(got) // 2], "max_s": max(got)}
        return {"long_session": {"latency_by_turn_s": lat, "all": stats, "first_half": stats, "second_half": stats,
                                 "second_minus_first_median_s": 0.012},
                "sweep": [{"sessions": 4, "n": 4, "answered": 4, "median_s": 1.0, "max_s": 2.0,
                           "cpu_per_audio_s": 0.2, "peak_rss_mib": 900.0}]}

    text = markdown({"command": "chimein bench latency --out x", "load_average_start": (1.0, 1.0, 1.0),
                     "targets": {"current": target([0.5, 0.6, None]), "baseline abc": target([1.0, 1.2, 1.1])}})
    assert "| all median_s | 0.600 | 1.100 |" in text
    assert "| second half minus first, same question (median) s | 0.012 | 0.012 |" in text
    assert "current / baseline abc: 0.55" in text
    assert "| 4 | current | 4/4 |" in text and "| 4 | baseline abc | 4/4 |" in text


async def test_a_question_is_timed_past_a_declined_turns_turn_complete() -> None:
    """The SDK's receive() ends at every turnComplete. With proactive audio the meeting's last
    utterance is declined (its own turnComplete) while the question is asked: the answer after it
    must still be read and timed (it was not, and the concurrency sweep reported it unanswered)."""
    import asyncio

    import numpy as np
    from google.genai import types

    from chimein.bench.latency import _ask

    def message(**content) -> types.LiveServerMessage:
        return types.LiveServerMessage(server_content=types.LiveServerContent(**content))

    class Session:
        def __init__(self) -> None:
            self.turns = [
                [message(input_transcription=types.Transcription(text="the meeting's last words.")),
                 message(turn_complete=True)],  # declined: no audio
                [message(input_transcription=types.Transcription(text=" What is two plus two?")),
                 message(model_turn=types.Content(parts=[types.Part(inline_data=types.Blob(
                     data=b"\0\0" * 2400, mime_type="audio/pcm;rate=24000"))])),
                 message(output_transcription=types.Transcription(text="Four.")),
                 message(turn_complete=True)],
            ]

        async def send_realtime_input(self, **_: object) -> None:
            pass

        async def receive(self):
            if not self.turns:
                await asyncio.sleep(3600)
            turn = self.turns.pop(0)
            if len(self.turns) == 0:
                await asyncio.sleep(0.4)  # the answer comes after the question was said
            for m in turn:
                yield m

    result = await _ask(Session(), np.zeros(1600 * 2, np.float32), timeout_s=5.0)
    assert result.latency_s is not None and result.said == "Four."
    assert "What is two plus two?" in result.heard


def test_latency_counts_from_the_end_of_voiced_speech_not_of_the_clip() -> None:
    import numpy as np

    from chimein.bench.latency import trailing_silence_s

    t = np.arange(16000) / 16000
    voiced = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    clip = np.concatenate([voiced, np.zeros(8000, np.float32)])
    clip[-8000:] += np.random.default_rng(0).normal(0, 1e-4, 8000).astype(np.float32)  # a quiet room, not digital zero
    assert abs(trailing_silence_s(clip) - 0.5) <= 0.01
    assert trailing_silence_s(voiced) <= 0.01
