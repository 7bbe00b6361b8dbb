"""One tiny scene through the fast runner, on the real models: chimein and a baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from chimein.bench.builder import render
from chimein.bench.configs import BASELINES, CHIMEIN
from chimein.bench.fast import FastRunner
from chimein.bench.metrics import summarize
from chimein.bench.scenario import parse_scenario
from chimein.bench.scoring import score
from chimein.perception.wer import word_error_rate

SCENE = {
    "category": "name_gating",
    "setup": {"instruction": "Your name is Nova. Only respond when someone addresses you by name.",
              "max_output_tokens": 24},
    "timeline": [
        {"say": "What time does the bakery open tomorrow?", "voice": "joe", "expect": "silent"},
        {"pause": 7.0},
    ],
}


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory):
    from chimein.session.services import Services

    ledger = tmp_path_factory.mktemp("bench") / "ledger.sqlite3"
    services = Services.load(ledger_url=f"sqlite:///{ledger}", progress=lambda _: None)
    fast = FastRunner(services)
    yield fast
    fast.close()


def test_a_scene_through_chimein_and_the_proactivity_off_baseline(runner: FastRunner, tmp_path: Path) -> None:
    scene = render(parse_scenario(SCENE))
    said = scene.labels[0].reference or ""

    declined = runner.run(scene, CHIMEIN)
    assert declined.error is None
    assert len(scene.audio) <= declined.sent_samples < len(scene.audio) + 1600 * 25  # the scene, then <= 2.5 s open mic
    heard = [m.data["text"] for m in declined.messages if m.kind == "input_text"]
    assert heard and word_error_rate(said, " ".join(heard)) < 0.5  # the audio arrived whole and in order
    result = score(scene, declined)
    assert result.billing["ledger_exact"], result.billing  # the session billed exactly the audio it was fed
    assert [e["type"] for e in declined.events if e["type"] == "decision"]  # chimein explained itself

    answered = runner.run(scene, BASELINES["proactivity-off"])
    assert answered.error is None
    result = score(scene, answered)
    (turn,) = result.labels
    assert turn.outcome == "answered"  # proactivity off answers every turn, this one included
    assert turn.latency_s > 0.2  # on the virtual clock, after the speech ended (how fast is the bench's to report)
    assert result.billing["exact"], result.billing
    summary = summarize([result])
    assert summary["false_triggers"]["off_topic"]["triggered"] == 1
