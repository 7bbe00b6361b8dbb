"""A stronger language model's verdict on the turns the embedded policy finds hardest (#11).

The embedded policy ranks a request against the instruction's topics with MiniLM; where its margin
over the nearest other subject lies close to the threshold, it cannot tell a topic from its
neighbour (checkers under chess, tapas under Italian cooking). With a strong model configured
(``chimein serve --llm-url``), those turns, and only those, are put to that model as a yes/no
question with the instruction and the last lines of the conversation; its answer decides, and the
decision's ``reason`` says so. Everything else is decided as before, so the model's latency is paid
on about one topic-gated turn in six.

On the dev turns (930, `scripts/judge_decisions.py --oracle`), a judge that is always right
inside a band of 0.15 around the topic threshold would lift F1 from 0.909 to 0.965 (precision
0.875 -> 0.960) while asking about 16% of the turns. A judge is only as good as its model: the tiny
models that packages ship (SmolLM2-135M behind ``llama_cpp.server``) are near chance at it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chimein.policy.proactivity import Turn

log = logging.getLogger(__name__)

__all__ = ["JUDGE_BAND", "TurnJudge", "in_middle_band", "judge_prompt", "parse_verdict"]

JUDGE_BAND = 0.15
"""How far either side of the topic threshold a turn's relevance may lie to be judged. Chosen on the
dev turns by what a perfect judge gains per turn asked (module docstring)."""

JUDGE_RULES = ("topic", "off_topic")
"""The embedded decisions a judge may overrule: a request whose topic relevance decided it."""

_SYSTEM = (
    "You decide whether a voice assistant that listens to a conversation between people should "
    "answer the latest line. It answers only what its instructions ask it to answer, and stays "
    "silent on everything else, including questions on neighbouring topics. Reply with one word: "
    "YES or NO."
)


def in_middle_band(rule: str, relevance: float | None, threshold: float, band: float = JUDGE_BAND) -> bool:
    """Whether the embedded decision is one a judge should make: a topic decision near the threshold."""
    return rule in JUDGE_RULES and relevance is not None and abs(relevance - threshold) <= band


def judge_prompt(instruction: str, context: Sequence[Turn], utterance: str) -> tuple[str, str]:
    """The (system, user) messages for one verdict."""
    lines = [f"{'Assistant' if t.is_assistant else 'Person ' + t.speaker}: {t.text}" for t in context[-4:] if t.text.strip()]
    before = "\n".join(lines) if lines else "(nothing yet)"
    user = (f"The assistant's instructions:\n{instruction.strip()}\n\nThe conversation so far:\n{before}\n\n"
            f"The latest line:\n{utterance.strip()}\n\nShould the assistant answer the latest line? YES or NO.")
    return _SYSTEM, user


def parse_verdict(text: str) -> bool | None:
    """YES -> True, NO -> False: the first word, else the only "yes" or "no" in the reply; anything
    else -> None (the embedded decision stands)."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    if words and words[0] in ("yes", "no"):
        return words[0] == "yes"
    said = {w for w in words if w in ("yes", "no")}
    return (said == {"yes"}) if len(said) == 1 else None


class TurnJudge:
    """Asks a language model YES/NO through ``ask(system, user) -> text``; thread-safe if ``ask`` is.

    ``where`` names the model in decision reasons ("the language model at http://...").
    A failed or unclear answer returns None, so the embedded decision stands (and says why).
    """

    def __init__(self, ask: Callable[[str, str], str], where: str, band: float = JUDGE_BAND) -> None:
        self._ask = ask
        self.where = where
        self.band = band

    def verdict(self, instruction: str, context: Sequence[Turn], utterance: str) -> tuple[bool | None, str]:
        """(the verdict or None, what the model said or why it said nothing)."""
        system, user = judge_prompt(instruction, context, utterance)
        try:
            said = self._ask(system, user)
        except Exception as exc:  # noqa: BLE001 - any backend failure: the embedded decision stands
            log.warning("the turn judge at %s failed: %s", self.where, exc)
            return None, f"the judge failed: {exc}"
        return parse_verdict(said), said.strip()[:40]

