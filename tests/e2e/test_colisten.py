"""Co-listening and long sessions through the unmodified google-genai SDK, on real recordings.

A file sent as clientContent inlineData with turnComplete false is listened to in silence and
answered about later (typed and spoken questions, and one it did not hear); a recording played
into the microphone is kept as heard material instead of being answered; a resumed session
and a compressed one still know the clip; goAway comes before a connection's maximum duration.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
import ssl
import time

import av
import numpy as np
import pytest
import soundfile as sf
from google.genai import errors, types

from chimein.perception.audio import resample
from tests.e2e.client import MODEL, sdk_client, send_audio, speech_16k

pytestmark = [pytest.mark.slow, pytest.mark.real_recordings]

TEXT = types.LiveConnectConfig(response_modalities=["TEXT"])
NOT_HEARD = re.compile(r"\b(did not|didn't) hear", re.IGNORECASE)


def _file_part(data: bytes, mime: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(inline_data=types.Blob(data=data, mime_type=mime))])


def _text_part(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def _turn(session, *, timeout_s: float = 90.0) -> tuple[str, list, list[str]]:
    """One model turn as text, with its usage and any resumption handles that came before it."""
    texts, handles, usage = [], [], []

    async def collect() -> None:
        async for message in session.receive():
            if message.session_resumption_update and message.session_resumption_update.new_handle:
                handles.append(message.session_resumption_update.new_handle)
            content = message.server_content
            if content is None:
                continue
            if message.text:
                texts.append(message.text)
            if content.output_transcription and content.output_transcription.text:
                texts.append(content.output_transcription.text)
            if content.turn_complete:
                usage.append(message.usage_metadata)
                return

    await asyncio.wait_for(collect(), timeout_s)
    return "".join(texts).strip(), usage, handles


async def _ask(session, question: str) -> str:
    await session.send_client_content(turns=_text_part(question), turn_complete=True)
    answer, _, _ = await _turn(session)
    return answer


async def _quiet_for(session, seconds: float) -> list:
    """Everything the server sends within ``seconds`` that is model output (must stay empty)."""
    output = []

    async def collect() -> None:
        async for message in session.receive():
            if message.server_content is not None:
                output.append(message.server_content)

    try:
        await asyncio.wait_for(collect(), seconds)
    except TimeoutError:
        pass
    return output


async def _wait_resumable(session, timeout_s: float = 60.0) -> str:
    """The handle of the first resumable sessionResumptionUpdate (sent when a clip is transcribed)."""
    async def wait() -> str:
        while True:
            async for message in session.receive():
                update = message.session_resumption_update
                if update and update.resumable and update.new_handle:
                    return update.new_handle

    return await asyncio.wait_for(wait(), timeout_s)


def _audio_tokens(usage) -> int:
    return next(d.token_count for d in usage.prompt_tokens_details if d.modality == types.MediaModality.AUDIO)


def _mp3(x: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray((x * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


async def test_file_is_heard_in_silence_then_questions_are_answered_from_it(server, real_data):
    """60 s of real talk as a WAV file: silence while it is heard, then typed and spoken questions."""
    wav = (real_data / "speech" / "silero_vad_test_talk.wav").read_bytes()
    client = sdk_client(server)
    async with client.aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_client_content(turns=_file_part(wav, "audio/wav"), turn_complete=False)
        assert await _quiet_for(session, 3.0) == [], "the assistant must not answer a file sent with turnComplete false"

        started = time.monotonic()
        await session.send_client_content(turns=_text_part("Which city did the traveller want to reach?"),
                                          turn_complete=True)
        answer, usage, _ = await _turn(session)
        print(f"first answer after {time.monotonic() - started:.1f}s: {answer!r}")
        assert "Dublin" in answer, answer
        # The file is billed as input audio by its duration: 60 s at 32 tokens a second.
        assert _audio_tokens(usage[0]) >= math.ceil(60.0 * 32)

        answer = await _ask(session, "What kind of tax did Piketty argue for?")
        assert "wealth tax" in answer.lower(), answer

        # Spoken: the question goes in through the microphone stream.
        await send_audio(session, np.concatenate([speech_16k("What reply did he get when he asked the way?"),
                                                  np.zeros(16000 * 2, np.float32)]))
        answer, _, _ = await _turn(session)
        assert "start from here" in answer.lower(), answer

        answer = await _ask(session, "What did the speaker say about climate change?")
        assert NOT_HEARD.search(answer), answer


async def test_mp3_and_raw_pcm_files(server, real_data):
    x, rate = sf.read(real_data / "speech" / "jfk_inaugural_1961.wav", dtype="float32")
    demo, demo_rate = sf.read(real_data / "speech" / "asterisk_allison_demo-congrats.wav", dtype="float32")
    pcm = (resample(demo, demo_rate, 24000) * 32767).astype("<i2").tobytes()
    client = sdk_client(server)
    async with client.aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_client_content(turns=_file_part(_mp3(x, rate), "audio/mpeg"), turn_complete=False)
        await session.send_client_content(turns=_file_part(pcm, "audio/pcm;rate=24000"), turn_complete=False)
        answer = await _ask(session, "What did the speaker ask Americans to do?")
        assert "for your country" in answer and "first recording" in answer, answer
        answer = await _ask(session, "What can I use instead of a real phone to simulate a telephone?")
        assert "hang up" in answer and "second recording" in answer, answer


@pytest.mark.parametrize(("data", "mime", "reason"), [
    (b"RIFF\x10\x00\x00\x00WAVEfmt garbage-garbage", "audio/wav", "inlineData audio: cannot decode audio file"),
    (b"\x89PNG\r\n\x1a\n0000", "image/png", "only audio can be co-listened to"),
    (b"\x00\x01\x02", "audio/pcm;rate=16000", "16-bit samples"),
])
async def test_corrupt_or_unsupported_file_closes_1007(server, data, mime, reason):
    client = sdk_client(server)
    with pytest.raises(errors.APIError) as caught:
        async with client.aio.live.connect(model=MODEL, config=TEXT) as session:
            await session.send_client_content(turns=_file_part(data, mime), turn_complete=False)
            await _turn(session, timeout_s=30)
    assert caught.value.code == 1007
    assert reason in str(caught.value), str(caught.value)


async def test_resumed_session_answers_about_audio_heard_before(server, real_data):
    wav = (real_data / "speech" / "jfk_inaugural_1961.wav").read_bytes()
    client = sdk_client(server)
    config = types.LiveConnectConfig(response_modalities=["TEXT"], session_resumption=types.SessionResumptionConfig())
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=_file_part(wav, "audio/wav"), turn_complete=False)
        handle = await _wait_resumable(session)
    resumed = types.LiveConnectConfig(response_modalities=["TEXT"],
                                      session_resumption=types.SessionResumptionConfig(handle=handle))
    async with client.aio.live.connect(model=MODEL, config=resumed) as session:
        answer = await _ask(session, "What did the speaker ask Americans to do?")
        assert "for your country" in answer, answer
    bogus = types.LiveConnectConfig(response_modalities=["TEXT"],
                                    session_resumption=types.SessionResumptionConfig(handle="not-a-handle"))
    with pytest.raises(errors.APIError) as caught:
        async with client.aio.live.connect(model=MODEL, config=bogus) as session:
            await _turn(session, timeout_s=30)
    assert caught.value.code == 1008 and "unknown session resumption handle" in str(caught.value)


async def test_session_past_trigger_tokens_still_knows_the_clip(server, real_data):
    """11 s of audio (352 tokens) plus chat pushes a 400-token window past its trigger, twice."""
    wav = (real_data / "speech" / "jfk_inaugural_1961.wav").read_bytes()
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=400, sliding_window=types.SlidingWindow(target_tokens=200)),
    )
    client = sdk_client(server)
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        session_id = session.session_id
        await session.send_client_content(turns=_file_part(wav, "audio/wav"), turn_complete=False)
        for question in ("Tell me a fun fact about octopuses.", "What is the capital of Italy?",
                         "How do I make a cup of tea?", "Can you suggest a movie for tonight?"):
            assert await _ask(session, question), question
        answer = await _ask(session, "What did the speaker ask Americans to do?")
        assert "for your country" in answer, answer
        assert await _ask(session, "And what is two plus two?")  # still working after compressing
    compressed = [line for line in server.output if "context compressed" in line and session_id in line]
    assert compressed, "the server never compressed the context"


async def test_recording_played_into_the_microphone_is_heard_not_answered(server, real_data):
    """30 s of an IVR prompt played into the mic at real time: no answer, then a question about it."""
    x, rate = sf.read(real_data / "speech" / "asterisk_allison_demo-congrats.wav", dtype="float32")
    config = types.LiveConnectConfig(response_modalities=["AUDIO"],
                                     output_audio_transcription=types.AudioTranscriptionConfig())
    client = sdk_client(server)
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        during: list = []

        async def listen() -> None:
            async for message in session.receive():
                if message.server_content is not None and message.server_content.model_turn:
                    during.append(message)

        listener = asyncio.create_task(listen())
        await send_audio(session, resample(x, rate, 16000))
        await send_audio(session, np.zeros(16000 * 3, np.float32))  # the person stops the playback, then asks
        listener.cancel()
        assert during == [], "the assistant answered the recording instead of listening to it"
        await send_audio(session, speech_16k("What can I use instead of a real phone to simulate a telephone?"))
        heard = ""

        async def answer() -> None:
            nonlocal heard
            async for message in session.receive():
                content = message.server_content
                if content and content.output_transcription and content.output_transcription.text:
                    heard += content.output_transcription.text
                    if "hang up" in heard:
                        return

        silence = asyncio.create_task(send_audio(session, np.zeros(16000 * 30, np.float32)))
        try:
            await asyncio.wait_for(answer(), 45)
        finally:
            silence.cancel()
        assert "hang up" in heard and "recording" in heard, heard


async def test_go_away_before_the_maximum_connection_duration(tmp_path, monkeypatch):
    """A server with 4 s connections: goAway with timeLeft 2 s, a close, and the handle still resumes."""
    monkeypatch.setenv("CHIMEIN_HOME", str(tmp_path))
    from chimein.generation.llm import EmbeddedLlama
    from chimein.perception.asr import SpeechRecognizer
    from chimein.perception.speakers import SpeakerEmbedder
    from chimein.perception.turn import SmartTurn
    from chimein.perception.vad import SileroVad
    from chimein.policy.embedding import TextEmbedder
    from chimein.server.app import LiveServer, ServerConfig
    from chimein.server.tls import ensure_certificate, server_ssl_context
    from chimein.session.services import Services

    services = Services(vad=SileroVad.shared(), smart_turn=SmartTurn.shared(), asr=SpeechRecognizer.shared(),
                        llm=EmbeddedLlama.shared(), embedder=TextEmbedder.shared(),
                        speakers=SpeakerEmbedder.shared(), ledger=None)
    cert, key = ensure_certificate(tmp_path)
    live = LiveServer(ServerConfig(port=0, plain_port=None, ssl_context=server_ssl_context(cert, key),
                                   max_connection_s=4.0, go_away_warning_s=2.0), services)
    (_, port, _), = await live.start()
    try:
        from google import genai

        client = genai.Client(api_key="k", http_options=types.HttpOptions(
            base_url=f"https://127.0.0.1:{port}", async_client_args={"ssl": ssl.create_default_context(cafile=str(cert))}))
        config = types.LiveConnectConfig(response_modalities=["TEXT"], session_resumption=types.SessionResumptionConfig())
        go_away, handles = [], []
        started = time.monotonic()
        with pytest.raises(errors.APIError) as caught:
            async with client.aio.live.connect(model=MODEL, config=config) as session:
                while True:
                    async for message in session.receive():
                        if message.go_away is not None:
                            go_away.append((time.monotonic() - started, message.go_away.time_left))
                        if message.session_resumption_update and message.session_resumption_update.new_handle:
                            handles.append(message.session_resumption_update.new_handle)
        closed_after = time.monotonic() - started
        assert caught.value.code == 1000 and "maximum duration" in str(caught.value)
        # Timing belongs in the bench: here only the order (warning, then close) and the announced time left.
        assert len(go_away) == 1 and go_away[0][0] < closed_after, (go_away, closed_after)
        assert go_away[0][1] in ("2s", "2.000s") or float(str(go_away[0][1]).rstrip("s")) == 2.0
        resumed = types.LiveConnectConfig(response_modalities=["TEXT"],
                                          session_resumption=types.SessionResumptionConfig(handle=handles[-1]))
        async with client.aio.live.connect(model=MODEL, config=resumed) as session:
            assert session.session_id
    finally:
        await live.close()
