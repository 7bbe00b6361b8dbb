"""Function calling by voice through the public SDK, with a real OpenAI-compatible backend.

chimein serve --llm-url points at llama_cpp.server running SmolLM2-135M with the
chatml-function-calling format: the only mock-free tool-calling backend a package ships.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from google.genai import errors, types

from tests.conftest import start_server, stop_server
from tests.e2e.client import MODEL, pcm16, sdk_client, speech_16k
from tests.generation.llama_server import TOOL_CHAT_FORMAT, llama_server

pytestmark = pytest.mark.slow

SHOPPING = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="add_to_shopping_list",
    description="Add an item to the user's shopping list",
    parameters=types.Schema(type="OBJECT", properties={"item": types.Schema(type="STRING", description="the item to add")},
                            required=["item"]),
)])


def _config(**extra) -> types.LiveConnectConfig:
    base = dict(
        response_modalities=["AUDIO"],
        temperature=0.0,  # reaches the backend: the arguments are decoded greedily
        system_instruction="You are a kitchen assistant.",
        tools=[SHOPPING],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    return types.LiveConnectConfig(**{**base, **extra})


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory):
    """A chimein server whose answers come from a real tool-calling OpenAI-compatible server."""
    with llama_server(tmp_path_factory.mktemp("llama"), *TOOL_CHAT_FORMAT) as url:
        running = start_server(tmp_path_factory.mktemp("chimein-tools-home"), "--llm-url", url)
        try:
            yield running
        finally:
            stop_server(running)


async def _stream(session, audio: np.ndarray, stop: asyncio.Event) -> None:
    """The microphone: speech, then silence until ``stop`` (100 ms chunks, real time)."""
    step = 1600
    started = time.monotonic()
    silence = np.zeros(step, np.float32)
    n = 0
    while not stop.is_set() and n < 600:
        chunk = audio[n * step:(n + 1) * step] if n * step < len(audio) else silence
        await session.send_realtime_input(audio=types.Blob(data=pcm16(chunk), mime_type="audio/pcm;rate=16000"))
        n += 1
        await asyncio.sleep(max(0.0, started + n * 0.1 - time.monotonic()))


async def test_spoken_request_calls_the_function_and_the_answer_uses_its_result(tool_server):
    client = sdk_client(tool_server)
    calls, heard, said, audio, reason = [], "", "", 0, None
    async with client.aio.live.connect(model=MODEL, config=_config()) as session:
        stop = asyncio.Event()
        mic = asyncio.create_task(_stream(session, speech_16k("Please add eggs to my shopping list."), stop))
        try:
            async with asyncio.timeout(240):
                async for message in session.receive():
                    if message.tool_call:
                        for call in message.tool_call.function_calls:
                            calls.append((call.name, call.args))
                            await session.send_tool_response(function_responses=[types.FunctionResponse(
                                id=call.id, name=call.name, response={"result": "added", "items_on_list": 7})])
                    content = message.server_content
                    if content is None:
                        continue
                    if content.input_transcription and content.input_transcription.text:
                        heard += content.input_transcription.text
                    if content.output_transcription and content.output_transcription.text:
                        said += content.output_transcription.text
                    if content.model_turn and content.model_turn.parts:
                        audio += sum(len(p.inline_data.data or b"") for p in content.model_turn.parts if p.inline_data)
                    if content.turn_complete:
                        reason = content.turn_complete_reason
        finally:
            stop.set()
            await mic
    assert "egg" in heard.lower(), heard
    assert len(calls) == 1 and calls[0][0] == "add_to_shopping_list", calls
    assert "egg" in str(calls[0][1].get("item", "")).lower(), calls
    assert "7" in said or "seven" in said.lower(), said  # the answer uses the function's result
    assert audio / 2 / 24000 > 0.5, "the answer was not spoken"
    assert reason is None


async def test_proactive_audio_declines_side_talk_and_calls_nothing(tool_server):
    config = _config(
        system_instruction="You are a kitchen assistant. Only chime in when someone asks you to add something "
                           "to the shopping list.",
        proactivity=types.ProactivityConfig(proactive_audio=True),
    )
    messages = []
    async with sdk_client(tool_server).aio.live.connect(model=MODEL, config=config) as session:
        stop = asyncio.Event()
        talk = speech_16k("I went to the cinema yesterday and the film was great.", "joe")
        mic = asyncio.create_task(_stream(session, talk, stop))
        try:
            async with asyncio.timeout(240):
                async for message in session.receive():
                    messages.append(message)
        finally:
            stop.set()
            await mic
    assert not any(m.tool_call for m in messages)
    done = messages[-1].server_content
    assert done.turn_complete and done.turn_complete_reason == types.TurnCompleteReason.RESPONSE_REJECTED


async def test_a_new_turn_cancels_the_open_call(tool_server):
    got = []
    async with sdk_client(tool_server).aio.live.connect(model=MODEL, config=_config()) as session:
        stop = asyncio.Event()
        mic = asyncio.create_task(_stream(session, speech_16k("Please add eggs to my shopping list."), stop))
        try:
            async with asyncio.timeout(240):
                async for message in session.receive():
                    got.append(message)
                    if message.tool_call:  # the client changes its mind instead of answering the call
                        await session.send_realtime_input(text="Never mind, forget it.")
        finally:
            stop.set()
            await mic
    call_id = next(m.tool_call.function_calls[0].id for m in got if m.tool_call)
    cancellation = next(m.tool_call_cancellation for m in got if m.tool_call_cancellation)
    assert cancellation.ids == [call_id]
    assert any(m.server_content and m.server_content.interrupted for m in got)


async def test_the_embedded_model_refuses_tools_at_setup(server):
    with pytest.raises(errors.APIError) as caught:
        async with sdk_client(server).aio.live.connect(model=MODEL, config=_config()):
            pass
    assert caught.value.code == 1007
    assert "--llm-url" in str(caught.value.details) + str(caught.value)
