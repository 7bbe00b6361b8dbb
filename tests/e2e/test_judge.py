"""`chimein serve --llm-url`: that model is asked about borderline topic turns, through the public SDK.

The judge is a real OpenAI-compatible server (llama_cpp.server with the SmolLM2 that a package
ships). SmolLM2 is too small to judge well, and its reply may be no verdict at all: either way the
decision's reason names the model, and the turn's outcome is the decision the log gives.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from google.genai import types

from tests.conftest import start_server, stop_server
from tests.e2e.client import MODEL, sdk_client
from tests.generation.llama_server import llama_server

pytestmark = pytest.mark.slow

CHESS = "You are a chess coach at the club. Only answer questions about chess."
BORDERLINE = "Who won the checkers tournament last year?"  # a neighbour MiniLM puts near the threshold
CLEAR = "How do I castle in chess?"


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    with llama_server(tmp_path_factory.mktemp("llama")) as url:
        running = start_server(tmp_path_factory.mktemp("chimein-judge-home"), "--llm-url", url)
        try:
            yield running, url
        finally:
            stop_server(running)


async def _ask(server, text: str) -> tuple[bool, str]:
    """(answered, the server's logged decision) for one text turn with proactive audio on."""
    seen = len(server.output)
    config = types.LiveConnectConfig(response_modalities=["TEXT"], system_instruction=CHESS, max_output_tokens=12,
                                     proactivity=types.ProactivityConfig(proactive_audio=True))
    async with sdk_client(server).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(text=text)
        async for message in session.receive():
            content = message.server_content
            if content is not None and content.turn_complete:
                answered = "REJECTED" not in str(content.turn_complete_reason or "")
                break
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        logged = [line for line in server.output[seen:] if "answering:" in line or "stayed silent:" in line]
        if logged:
            return answered, logged[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no decision logged for {text!r}")


def test_a_borderline_turn_is_put_to_the_model_and_the_reason_names_it(judged):
    server, url = judged
    answered, reason = asyncio.run(_ask(server, BORDERLINE))
    assert f"the language model at {url}/v1/chat/completions" in reason, reason
    assert answered == ("answering:" in reason), reason


def test_a_clear_turn_is_decided_without_the_model(judged):
    server, _ = judged
    answered, reason = asyncio.run(_ask(server, CLEAR))
    assert answered and "language model" not in reason and "on topic" in reason, reason
