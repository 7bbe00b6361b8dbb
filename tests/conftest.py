"""Shared fixtures: the real-recordings folder and a real `chimein serve` subprocess."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real recordings not found at {REAL_DATA} (../shared/data/real): skipping real-recording test")
    return REAL_DATA


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    home: Path
    tls_port: int
    plain_port: int
    output: list[str]

    @property
    def cert(self) -> Path:
        return self.home / "tls" / "cert.pem"

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def plain_url(self) -> str:
        return f"ws://127.0.0.1:{self.plain_port}"


def start_server(home: Path, *extra: str, timeout_s: float = 300.0) -> RunningServer:
    """Start `chimein serve` on free ports and wait for its 'ready' line."""
    env = {**os.environ, "CHIMEIN_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "chimein.cli", "serve", "--port", "0", "--plain-port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError("chimein serve exited before it was ready:\n" + "".join(output[-40:]))
        if line.startswith("ready "):
            urls = line.split()[1:]
            tls = next(int(u.rsplit(":", 1)[1]) for u in urls if u.startswith("wss://"))
            plain = next(int(u.rsplit(":", 1)[1]) for u in urls if u.startswith("ws://"))
            return RunningServer(process, home, tls, plain, output)
    process.kill()
    raise RuntimeError("chimein serve was not ready in time:\n" + "".join(output[-40:]))


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One real server for the whole test session (models load once, as in production)."""
    running = start_server(tmp_path_factory.mktemp("chimein-home"))
    yield running
    stop_server(running)
