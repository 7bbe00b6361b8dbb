"""OpenAICompatibleLLM against a real local llama_cpp.server (SmolLM2 GGUF), plus its error messages."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chimein.generation.llm import (
    ChatMessage,
    LanguageModelError,
    OpenAICompatibleLLM,
    create_language_model,
    smollm2_gguf_path,
)

pytestmark = pytest.mark.slow

LAUNCHER = Path(__file__).with_name("llama_server_launcher.py")
QUESTION = [ChatMessage("user", "What is the capital of France?")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory) -> Iterator[str]:
    """A real OpenAI-compatible server (`python -m llama_cpp.server` via a small launcher) on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(LAUNCHER),
                "--model",
                str(smollm2_gguf_path()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "1",
                "--n_threads_batch",
                "1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama_cpp.server did not answer /v1/models within 60 s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
