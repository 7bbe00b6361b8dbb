"""Shared fixtures: the real-recordings folder and a real `chimein serve` subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from chimein.server.launch import LaunchedServer, launch_server

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real recordings not found at {REAL_DATA} (../shared/data/real): skipping real-recording test")
    return REAL_DATA


class RunningServer(LaunchedServer):
    """A real `chimein serve` child process (see chimein/server/launch.py)."""

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    @property
    def plain_url(self) -> str:
        return f"ws://127.0.0.1:{self.plain_port}"


def start_server(home: Path, *extra: str, timeout_s: float = 300.0) -> RunningServer:
    """Start `chimein serve` on free ports and wait for its 'ready' line."""
    launched = launch_server(home, *extra, timeout_s=timeout_s, cwd=REPO)
    return RunningServer(launched.process, launched.home, launched.tls_port, launched.plain_port, launched.output)


def stop_server(server: RunningServer) -> None:
    server.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One real server for the whole test session (models load once, as in production)."""
    running = start_server(tmp_path_factory.mktemp("chimein-home"))
    yield running
    stop_server(running)
