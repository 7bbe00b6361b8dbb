"""Turn boundaries between people (#11): a new voice or a clear gap starts a new turn."""

from __future__ import annotations

import pytest

from chimein.policy.turns import CLEAR_GAP_S, NEW_VOICE_SIMILARITY, continued_words, split_reason


def test_a_new_voice_or_a_clear_gap_is_a_new_turn() -> None:
    assert "new voice" in split_reason(0.8, NEW_VOICE_SIMILARITY - 0.2)
    assert "clear gap" in split_reason(CLEAR_GAP_S + 0.5, 0.8)
    assert split_reason(1.5, 0.75) is None  # one speaker pausing mid-sentence
    assert split_reason(1.0, None) is None  # too short for a voice print, and no clear gap


@pytest.mark.parametrize(("earlier", "joined", "new"), [
    ("I really like Italian food;", "I really like Italian food. Do you know how to make a pizza?",
     "Do you know how to make a pizza?"),
    ("Good evening.", "Good evening. I really love cooking, don't you?", "I really love cooking, don't you?"),
    # The joined clip heard its start differently (a real 5 dB bench scene): not sent twice.
    ("No, it's but I'm glad to see you again, sir.",
     "Lord, but I'm glad to see you again, sir. Not at this particular case, Tom.", "Not at this particular case, Tom."),
    ("I really like Italian food", "I really love Italian food today", "today"),
    ("one two three four five six", "one two four five six seven eight", "seven eight"),
])
def test_a_continued_turn_sends_only_the_words_after_the_earlier_ones(earlier: str, joined: str, new: str) -> None:
    assert continued_words(earlier, joined) == new


@pytest.mark.parametrize(("earlier", "joined"), [
    ("Good evening.", "Good morning. I really love cooking"),  # two words: only an exact match
    ("one two three four five six", "something else entirely was said here and more"),
])
def test_a_joined_transcript_that_does_not_continue_the_earlier_words_is_sent_whole(earlier: str, joined: str) -> None:
    assert continued_words(earlier, joined) is None


@pytest.mark.parametrize(("earlier", "joined"), [
    ("I really like Italian food", "I really like Italian food"),
    ("I really like Italian food", "I really like Italian"),
    # 8 sessions under load (latency bench): the speaker went on for 0.3 s and the joined clip was
    # heard as the same sentence; it reached the client twice.
    ("not really just what he's talking about, duplication of effort.",
     "not really just what he's talking about, duplication of effort."),
])
def test_a_joined_transcript_that_adds_no_words_adds_nothing(earlier: str, joined: str) -> None:
    assert continued_words(earlier, joined) == ""


@pytest.mark.slow
def test_a_request_right_after_someone_else_speaks_keeps_its_words(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Through the session code (bench fast runner, real models): B's wake-phrase question starts
    1 s after A's unfinished sentence, before any answer began. It is B's own turn, answered; both
    people's words are in the transcript."""
    from chimein.bench.builder import render
    from chimein.bench.configs import CHIMEIN
    from chimein.bench.fast import FastRunner
    from chimein.bench.scenario import parse_scenario
    from chimein.bench.scoring import score
    from chimein.session.services import Services

    scene = render(parse_scenario({
        "category": "wake_phrase",
        "setup": {"instruction": "You are a kitchen helper. Only respond when someone says 'hey chef'.", "max_output_tokens": 24},
        "timeline": [
            {"say": "So the meeting got moved to Thursday, and then", "voice": "joe", "speaker": "A", "expect": "silent"},
            {"pause": 1.0},
            {"say": "Hey chef, how long do I boil an egg?", "voice": "heart", "speaker": "B", "expect": "answer"},
            {"pause": 20.0},  # idle time is skipped; room for a loaded machine's compute
        ],
    }))
    ledger = tmp_path_factory.mktemp("turns") / "ledger.sqlite3"
    runner = FastRunner(Services.load(ledger_url=f"sqlite:///{ledger}", progress=lambda _: None))
    try:
        trace = runner.run(scene, CHIMEIN)
    finally:
        runner.close()
    assert trace.error is None
    heard = " ".join(m.data["text"] for m in trace.messages if m.kind == "input_text").lower()
    assert "thursday" in heard and ("egg" in heard or "boil" in heard), heard
    answered = [e["answer_id"] for e in trace.events if e["type"] == "decision" and e["answer"]]
    decided = [e["text"].lower() for e in trace.events if e["type"] == "transcribed" and e["answer_id"] in answered]
    assert decided and not any("thursday" in text for text in decided), f"B's speech was joined to A's turn: {decided}"
    result = score(scene, trace)
    outcomes = [(lab.expect, lab.outcome) for lab in result.labels]
    assert outcomes[-1] == ("answer", "answered"), (outcomes, heard)
