"""Voice-activity signals, speaker-labelled transcripts, NEED_MORE_INPUT and seeded history, read
back through the public SDK's session.receive()."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from google.genai import types

from tests.e2e.client import MODEL, VERTEX_MODEL, pcm16, sdk_client, speech_16k

pytestmark = pytest.mark.slow

ENROL = {
    "alice": ("heart", "Good morning, I am Alice. I like to cook pasta and I grow tomatoes in my garden every summer."),
    "bob": ("joe", "Hello there, this is Bob speaking. I mostly bake bread at the weekend and I ride my bike to work."),
}


async def _say(session, audio: np.ndarray, silence_s: float) -> None:
    """Speech then silence, in 100 ms chunks at real time."""
    audio = np.concatenate([audio, np.zeros(int(silence_s * 16000), np.float32)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n, i in enumerate(range(0, len(audio), 1600)):
        await session.send_realtime_input(audio=types.Blob(data=pcm16(audio[i:i + 1600]), mime_type="audio/pcm;rate=16000"))
        await asyncio.sleep(max(0.0, started + (n + 1) * 0.1 - loop.time()))


async def _turn(session, audio: np.ndarray, silence_s: float = 8.0) -> list[types.LiveServerMessage]:
    """Say something and collect the server's messages until the turn completes."""
    speaking = asyncio.create_task(_say(session, audio, silence_s))
    got = []
    try:
        async with asyncio.timeout(120):
            async for message in session.receive():
                got.append(message)
    finally:
        speaking.cancel()
    return got


async def _turns_until_heard(session, audio: np.ndarray, word: str, turns: int = 3) -> list[types.LiveServerMessage]:
    """Say something and collect the server's messages, turn after turn, until a final input
    transcript holds ``word`` (at most ``turns`` turns)."""
    speaking = asyncio.create_task(_say(session, audio, 8.0))
    got: list[types.LiveServerMessage] = []
    try:
        async with asyncio.timeout(120):
            for _ in range(turns):
                async for message in session.receive():
                    got.append(message)
                heard = "".join(m.server_content.input_transcription.text for m in got
                                if m.server_content and m.server_content.input_transcription)
                if word in _words(heard):
                    break
    finally:
        speaking.cancel()
    return got


@pytest.fixture
def enrolled(server, tmp_path):
    voices = ["--dir", str(server.home / "voices")]
    for name, (voice, text) in ENROL.items():
        sample = tmp_path / f"{name}.wav"
        sf.write(sample, speech_16k(text, voice), 16000)
        added = subprocess.run([sys.executable, "-m", "chimein.cli", "voices", *voices, "add", name, str(sample)],
                               capture_output=True, text=True, timeout=120)
        assert added.returncode == 0, added.stderr
    yield
    for name in ENROL:
        subprocess.run([sys.executable, "-m", "chimein.cli", "voices", *voices, "remove", name], timeout=120)


async def test_vad_signals_and_speaker_labels_tell_two_enrolled_voices_apart(server, enrolled):
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        explicit_vad_signal=True,  # a Vertex AI setup field in google-genai
        input_audio_transcription=types.AudioTranscriptionConfig(diarization=True, word_timestamp=True),
    )
    async with sdk_client(server, vertex=True).aio.live.connect(model=VERTEX_MODEL, config=config) as session:
        first = await _turn(session, speech_16k("What is the capital of France?", "heart"))
        second = await _turn(session, speech_16k("How many legs does a spider have?", "joe"))

    for turn, speaker, word in ((first, "alice", "france"), (second, "bob", "spider")):
        kinds = [m.voice_activity.voice_activity_type for m in turn if m.voice_activity]
        assert kinds[:2] == [types.VoiceActivityType.ACTIVITY_START, types.VoiceActivityType.ACTIVITY_END], kinds
        signals = [m.voice_activity_detection_signal.vad_signal_type for m in turn if m.voice_activity_detection_signal]
        assert signals[:2] == [types.VadSignalType.VAD_SIGNAL_TYPE_SOS, types.VadSignalType.VAD_SIGNAL_TYPE_EOS]
        (transcript,) = [m.server_content.input_transcription for m in turn
                         if m.server_content and m.server_content.input_transcription]
        assert word in transcript.text.lower() and transcript.speaker_label == speaker, transcript
        start = float(transcript.start_offset.rstrip("s"))
        end = float(transcript.end_offset.rstrip("s"))
        assert 0 <= start < end
        assert transcript.words and all(start - 0.5 <= float(w.start_offset.rstrip("s")) <= end for w in transcript.words)
        assert turn[-1].server_content.turn_complete
        assert turn[-1].server_content.interaction_status == types.InteractionStatus.IDLE
    start_offsets = [float(m.voice_activity.audio_offset.rstrip("s")) for m in first + second if m.voice_activity]
    assert start_offsets == sorted(start_offsets)  # one input clock across the session


async def test_an_unfinished_request_waits_for_more_input(server):
    config = types.LiveConnectConfig(response_modalities=["TEXT"], input_audio_transcription=types.AudioTranscriptionConfig())
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        waiting = await _turn(session, speech_16k("Can you tell me"), silence_s=6.0)
        done = waiting[-1].server_content
        assert done.turn_complete and done.waiting_for_input
        assert done.turn_complete_reason == types.TurnCompleteReason.NEED_MORE_INPUT
        assert not any(m.text for m in waiting)
        answered = await _turn(session, speech_16k("what the capital of France is?"))
    heard = "".join(m.server_content.input_transcription.text for m in answered
                    if m.server_content and m.server_content.input_transcription)
    for turn in (waiting, answered):  # the words so far, while the person is still speaking
        interim = [i for i, m in enumerate(turn) if m.server_content and m.server_content.interim_input_transcription]
        final = [i for i, m in enumerate(turn) if m.server_content and m.server_content.input_transcription]
        assert all(not turn[i].server_content.interim_input_transcription.finished for i in interim)
        assert all(i < final[0] for i in interim)
    assert "tell me" in heard.lower() and "france" in heard.lower(), heard  # one request across the pause
    assert "".join(m.text or "" for m in answered).strip()


def _trimmed(audio: np.ndarray) -> np.ndarray:
    """The speech without the silence the synthesiser puts before and after it."""
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def _words(text: str) -> list[str]:
    """Lower-case words without punctuation (Whisper's int8 punctuation differs between CPUs)."""
    return re.findall(r"[a-z']+", text.lower())


async def test_interim_transcripts_while_the_speaker_pauses_mid_sentence(server):
    config = types.LiveConnectConfig(response_modalities=["TEXT"], input_audio_transcription=types.AudioTranscriptionConfig())
    # A pause mid-sentence, then a long continuation: time for the pause's transcription to come back
    # while the speaker is still talking, even on a busy machine.
    # Smart Turn hears a synthesised fragment's falling pitch as an ending ("...that we could": 0.95);
    # a filler before the pause is unfinished to it (0.01), so the turn goes on through the pause.
    start = speech_16k("For dinner tonight I was thinking, um,")
    rest = speech_16k("make a big pot of mushroom risotto with lots of parmesan cheese and a little white wine, "
                      "and then a green salad on the side with lemon and olive oil, and some fresh bread")
    start, rest = _trimmed(start), _trimmed(rest)  # the synthesiser's own silence would lengthen the pause
    audio = np.concatenate([start, np.zeros(int(0.6 * 16000), np.float32), rest])  # shorter than the 0.8 s turn end
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        turn = await _turns_until_heard(session, audio, "salad")
    interim = [m.server_content.interim_input_transcription for m in turn
               if m.server_content and m.server_content.interim_input_transcription]
    final = [m.server_content.input_transcription for m in turn if m.server_content and m.server_content.input_transcription]
    assert interim and not interim[0].finished, turn
    # The line may still be cut at a later comma ("... white wine," Smart Turn 0.96) and go on, as the
    # same turn or, when the answer had already begun, as the next: clients append the final
    # transcripts, so together they say the whole line, each word once.
    words, final_words = _words(interim[0].text), _words("".join(t.text for t in final))
    assert len(words) >= 3 and " ".join(words[:3]) in " ".join(final_words), (interim, final)  # the words so far
    assert float(interim[0].start_offset.rstrip("s")) < float(interim[0].end_offset.rstrip("s"))
    assert "risotto" in final_words and "dinner" in final_words and "salad" in final_words, final
    assert final_words.count("dinner") == 1 and final_words.count("risotto") == 1, final


async def test_initial_history_seeds_the_conversation_without_an_answer(server):
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        history_config=types.HistoryConfig(initial_history_in_client_content=True),
    )
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=[
            types.Content(role="user", parts=[types.Part(text="My favourite fruit is the mango.")]),
            types.Content(role="model", parts=[types.Part(text="Mangoes are lovely.")]),
        ], turn_complete=True)
        await session.send_realtime_input(text="Which fruit did I say I like?")
        got = []
        async with asyncio.timeout(120):
            async for message in session.receive():
                got.append(message)
    answer = "".join(m.text or "" for m in got)
    assert sum(1 for m in got if m.server_content and m.server_content.turn_complete) == 1  # the history got no answer
    assert "mango" in answer.lower(), answer
