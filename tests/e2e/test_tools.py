"""Function calling by voice through the public SDK, with a real OpenAI-compatible backend.

chimein serve --llm-url points at llama_cpp.server running SmolLM2-135M with the
chatml-function-calling format: the only mock-free tool-calling backend a package ships.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from google.genai import errors, types

from tests.conftest import start_server, stop_server
from tests.e2e.client import MODEL, pcm16, sdk_client, speech_16k
from tests.generation.llama_server import TOOL_CHAT_FORMAT, llama_server

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tools.py"

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


def test_spoken_request_calls_the_function_and_the_answer_uses_its_result(tool_server, tmp_path):
    """examples/tools.py, a script that uses only the public SDK, run as a user would run it."""
    request = tmp_path / "request.wav"
    sf.write(request, speech_16k("Please add eggs to my shopping list."), 16000, subtype="PCM_16")
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), str(request), "--base-url", tool_server.base_url, "--cert", str(tool_server.cert),
         "--out", str(tmp_path / "answer.wav")],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert "egg" in summary["heard"].lower(), summary
    (call,) = summary["calls"]
    assert call["name"] == "add_to_shopping_list" and "egg" in call["args"]["item"].lower(), summary
    assert call["result"] == {"result": "added", "items_on_list": 7}
    said = summary["said"].lower()
    assert "7" in said or "seven" in said, summary  # the answer uses the function's result
    assert summary["answer_s"] > 0.5, "the answer was not spoken"
    assert sf.info(tmp_path / "answer.wav").duration == pytest.approx(summary["answer_s"], abs=0.01)


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


async def test_a_non_blocking_result_is_spoken_when_it_arrives(tool_server):
    declaration = SHOPPING.function_declarations[0].model_copy(update={"behavior": types.Behavior.NON_BLOCKING})
    config = _config(tools=[types.Tool(function_declarations=[declaration])])
    async with sdk_client(tool_server).aio.live.connect(model=MODEL, config=config) as session:
        stop = asyncio.Event()
        mic = asyncio.create_task(_stream(session, speech_16k("Please add eggs to my shopping list."), stop))
        try:
            first = []
            async with asyncio.timeout(240):
                async for message in session.receive():  # the call's turn ends without waiting for the result
                    first.append(message)
            (call,) = next(m.tool_call.function_calls for m in first if m.tool_call)
            assert first[-1].server_content.turn_complete
            await session.send_tool_response(function_responses=[types.FunctionResponse(
                id=call.id, name=call.name, response={"result": "added", "items_on_list": 7}, scheduling="WHEN_IDLE")])
            said = ""
            async with asyncio.timeout(240):
                async for message in session.receive():
                    content = message.server_content
                    if content and content.output_transcription and content.output_transcription.text:
                        said += content.output_transcription.text
        finally:
            stop.set()
            await mic
    assert "7" in said or "seven" in said.lower(), said
