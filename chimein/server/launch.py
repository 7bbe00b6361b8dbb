"""Start ``chimein serve`` as a child process and wait for its ``ready`` line.

Used by the benchmark's live runner and by the tests: both need a real server on free ports with
its own ``CHIMEIN_HOME``, and both need its output when it fails to start.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LaunchedServer:
    process: subprocess.Popen[str]
    home: Path
    tls_port: int
    plain_port: int | None
    output: list[str]  # everything the server printed so far (kept up to date by a thread)
    name: str = "chimein"

    @property
    def cert(self) -> Path:
        return self.home / "tls" / "cert.pem"

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (the server drains: goAway to open sessions), SIGKILL after ``timeout_s``."""
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def launch_server(home: Path, *extra_args: str, timeout_s: float = 300.0, cwd: Path | None = None,
                  name: str = "chimein", log: Path | None = None) -> LaunchedServer:
    """``chimein serve --port 0 --plain-port 0 EXTRA...``; raises RuntimeError with its output if not ready.

    ``name`` labels it in errors and becomes ``$CHIMEIN_REPLICA`` (how a shared store records it);
    ``log``, when given, receives everything it prints as well.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CHIMEIN_HOME": str(home), "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
           "CHIMEIN_REPLICA": name}
    process = subprocess.Popen(
        [sys.executable, "-m", "chimein.cli", "serve", "--port", "0", "--plain-port", "0", *extra_args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        sink = log.open("a", buffering=1) if log is not None else None
        try:
            for line in process.stdout:
                output.append(line)
                lines.put(line)
                if sink is not None:
                    sink.write(line)
        finally:
            if sink is not None:
                sink.close()
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError(f"chimein serve ({name}) exited before it was ready:\n" + "".join(output[-40:]))
        if line.startswith("ready "):
            urls = line.split()[1:]
            tls = next(int(u.rsplit(":", 1)[1]) for u in urls if u.startswith("wss://"))
            plain = next((int(u.rsplit(":", 1)[1]) for u in urls if u.startswith("ws://")), None)
            return LaunchedServer(process, home, tls, plain, output, name)
    process.kill()
    raise RuntimeError(f"chimein serve ({name}) was not ready in time:\n" + "".join(output[-40:]))
