"""A stronger model judges the borderline topic decisions, and only those (#11, policy/judge.py).

The embedded decisions are real (MiniLM); the judge here is scripted, as a model behind
``--llm-url`` would answer. tests/e2e/test_judge.py runs a real OpenAI-compatible server."""

from __future__ import annotations

import pytest

from chimein.policy.embedding import TextEmbedder
from chimein.policy.judge import JUDGE_BAND, TurnJudge, in_middle_band, judge_prompt, parse_verdict
from chimein.policy.proactivity import TOPIC_THRESHOLD, ProactivityPolicy, Turn

CHESS = "You are a chess coach at the club. Only answer questions about chess."
BORDERLINE = "Who won the checkers tournament last year?"  # a neighbour MiniLM puts near the threshold
CLEAR = "How do I castle in chess?"


class ScriptedModel:
    """Answers every question with ``reply`` and keeps what it was asked."""

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.asked: list[tuple[str, str]] = []

    def __call__(self, system: str, user: str) -> str:
        self.asked.append((system, user))
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder.shared()


def _policy(embedder: TextEmbedder, model: ScriptedModel, instruction: str = CHESS) -> ProactivityPolicy:
    return ProactivityPolicy(instruction, embedder=embedder, judge=TurnJudge(model, where="http://judge.test/v1"))


def test_the_verdict_is_the_first_word_or_the_only_yes_or_no():
    assert parse_verdict("YES") is True and parse_verdict("No.") is False and parse_verdict(" yes, it is") is True
    assert parse_verdict("I think no") is False and parse_verdict("The answer is yes.") is True
    assert parse_verdict("The assistant should not") is None and parse_verdict("") is None
    assert parse_verdict("maybe: yes or no, hard to say") is None


def test_only_topic_decisions_near_the_threshold_are_judged():
    assert in_middle_band("topic", TOPIC_THRESHOLD + JUDGE_BAND / 2, TOPIC_THRESHOLD)
    assert in_middle_band("off_topic", TOPIC_THRESHOLD - JUDGE_BAND / 2, TOPIC_THRESHOLD)
    assert not in_middle_band("topic", TOPIC_THRESHOLD + 2 * JUDGE_BAND, TOPIC_THRESHOLD)
    assert not in_middle_band("name", TOPIC_THRESHOLD, TOPIC_THRESHOLD)
    assert not in_middle_band("topic", None, TOPIC_THRESHOLD)


def test_a_borderline_turn_is_the_judges_and_the_reason_says_so(embedder):
    model = ScriptedModel("NO")
    context = [Turn("A", "I'm going to the club tonight."), Turn("assistant", "Have fun!"), Turn("B", "Same here.")]
    decision = _policy(embedder, model).decide(BORDERLINE, context)
    assert not decision.answer and decision.rule == "judged" and decision.scores["judged"] == 0.0
    assert "the language model at http://judge.test/v1" in decision.reason and "embedded policy" in decision.reason
    system, user = model.asked[0]
    assert "YES or NO" in system and CHESS in user and BORDERLINE in user
    assert "Person A: I'm going to the club tonight." in user and "Assistant: Have fun!" in user
    assert _policy(embedder, ScriptedModel("Yes.")).decide(BORDERLINE).answer


def test_a_clear_turn_never_waits_for_the_judge(embedder):
    model = ScriptedModel("NO")
    policy = _policy(embedder, model)
    assert policy.decide(CLEAR).rule == "topic" and policy.decide(CLEAR).answer
    assert not policy.decide("Sam, can you pass me the water?").answer
    assert model.asked == []


def test_no_verdict_leaves_the_embedded_decision_and_says_why(embedder):
    unclear = _policy(embedder, ScriptedModel("The assistant should not")).decide(BORDERLINE)
    embedded = ProactivityPolicy(CHESS, embedder=embedder).decide(BORDERLINE)
    assert unclear.answer == embedded.answer and unclear.rule == embedded.rule
    assert "gave no verdict (The assistant should not)" in unclear.reason
    failed = _policy(embedder, ScriptedModel(ConnectionError("refused"))).decide(BORDERLINE)
    assert failed.answer == embedded.answer and "the judge failed: refused" in failed.reason


def test_the_level_check_and_instructions_without_topics_never_ask(embedder):
    model = ScriptedModel("NO")
    assert _policy(embedder, model).decide(BORDERLINE, consult_judge=False).rule != "judged"
    named = _policy(embedder, model, "Your name is Nova. Only respond when someone says your name.")
    assert named.judge is None and named.decide("Nova, who won the checkers tournament?").answer
    assert model.asked == []


def test_the_prompt_keeps_the_last_four_lines():
    context = [Turn("A", f"line {i}") for i in range(6)]
    _, user = judge_prompt(CHESS, context, "What now?")
    assert "line 1" not in user and "line 2" in user and "line 5" in user
