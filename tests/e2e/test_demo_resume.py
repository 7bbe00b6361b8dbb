"""`chimein demo` continues its conversation across connections: goAway, then resumption with its handle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_demo_resumes_after_go_away(tmp_path: Path) -> None:
    script = tmp_path / "dialogue.txt"
    # Five lines: goAway comes 20 s into the 30 s connection, and however fast the answers, lines
    # remain to be said on the resumed connection (with three, a fast machine could finish first).
    script.write_text("A: Do you know how to make a pizza?\nB: What is the capital of Italy?\n"
                      "A: How long should pasta boil?\nB: Which cheese goes on a margherita?\n"
                      "A: What is risotto made from?\n")
    out = tmp_path / "timeline.json"
    done = subprocess.run(
        [sys.executable, "-m", "chimein.cli", "demo", "--script", str(script), "--no-proactive",
         "--max-connection-s", "30", "--out", str(tmp_path / "demo.wav"), "--json", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=900,
        env={**os.environ, "CHIMEIN_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    timeline = json.loads(out.read_text())
    assert timeline["resumptions"] >= 1, done.stdout[-3000:]
    # The conversation goes on after the switch: an answer comes on a resumed connection. (A line whose
    # answer takes longer than the goAway warning on a loaded machine may be lost with its connection,
    # as with the Live API, so not every line is required.)
    after = done.stdout.split("continued on a new connection, resumption 1", 1)[1]
    assert "assistant:" in after, done.stdout[-3000:]
    assert sum(line["outcome"] == "answered" for line in timeline["lines"]) >= 3, done.stdout[-3000:]
