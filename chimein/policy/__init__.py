"""Deciding: should the assistant answer this turn (proactivity), is an overlap a real interruption.

Text-level proactivity (``proactivity.ProactivityPolicy``): the instruction is parsed into
gating rules (``instruction``), each completed turn is read for cues (``cues``) and, for
topic-gated instructions, scored with a sentence embedding (``embedding``). Thresholds come
from ``python -m chimein.policy.calibrate`` on the dev split of tests/policy/data/turns.yaml.
"""

from chimein.policy.embedding import TextEmbedder
from chimein.policy.instruction import GatingRules, parse_instruction
from chimein.policy.proactivity import Decision, ProactivityPolicy, Turn

__all__ = ["Decision", "GatingRules", "ProactivityPolicy", "TextEmbedder", "Turn", "parse_instruction"]
