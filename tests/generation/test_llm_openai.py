"""OpenAICompatibleLLM against a real local llama_cpp.server (SmolLM2 GGUF), plus its error messages."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

from chimein.generation.llm import (
    ChatMessage,
    LanguageModelError,
    OpenAICompatibleLLM,
    create_language_model,
)

from .llama_server import free_port, llama_server

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage("user", "What is the capital of France?")]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory) -> Iterator[str]:
    """A real OpenAI-compatible server (`python -m llama_cpp.server` via a small launcher) on a free port."""
    with llama_server(tmp_path_factory.mktemp("llama_server"), timeout_s=60.0) as url:
        yield url


def test_streams_a_reply_from_a_real_server(server_url):
    llm = create_language_model(server_url)  # model name taken from /v1/models
    assert isinstance(llm, OpenAICompatibleLLM)
    llm.temperature = 0.0
    deltas = list(llm.stream_reply(QUESTION, max_tokens=40))
    text = "".join(deltas)
    assert len(deltas) >= 3, deltas
    assert "Paris" in text
    assert not re.search(r"[*#`]", text)
    assert llm.model and llm.model.endswith(".gguf")


def test_max_tokens_and_sentence_cap_are_honoured(server_url):
    llm = OpenAICompatibleLLM(f"{server_url}/v1", temperature=0.0, max_sentences=1)
    text = "".join(llm.stream_reply([ChatMessage("user", "Describe how to bake bread.")], max_tokens=60))
    assert text.strip()
    assert len(re.findall(r"[.!?](\s|$)", text.strip())) <= 1, text


def test_cancel_stops_the_stream(server_url):
    llm = OpenAICompatibleLLM(f"{server_url}/v1/chat/completions", temperature=0.0)
    cancel = threading.Event()
    got = []
    for delta in llm.stream_reply(
        [ChatMessage("user", "Tell me a long story about a dragon.")], cancel=cancel
    ):
        got.append(delta)
        cancel.set()
    assert len(got) == 1


def test_wrong_path_gives_a_clear_http_error(server_url):
    llm = OpenAICompatibleLLM(f"{server_url}/nope/v1/chat/completions", model="smollm2")
    with pytest.raises(LanguageModelError, match=r"HTTP 404, check the URL path and the model name"):
        list(llm.stream_reply(QUESTION))


def test_refused_connection_says_what_to_do():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    llm = OpenAICompatibleLLM(url, model="any")
    with pytest.raises(LanguageModelError) as info:
        list(llm.stream_reply(QUESTION))
    message = str(info.value)
    assert "cannot connect" in message and url in message
    assert "Is it running" in message and "embedded model" in message
    # without a model name the first request is the model list: same clear error
    with pytest.raises(LanguageModelError, match="cannot connect"):
        list(OpenAICompatibleLLM(url).stream_reply(QUESTION))
