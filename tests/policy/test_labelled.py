"""The labelled turns (tests/policy/data/turns.yaml): held-back test floors and calibration.

Measured with the thresholds in code (``python -m chimein.policy.calibrate``): test split
accuracy 0.910, F1 0.913 (122 turns); instructions never seen in calibration F1 0.939
(48 turns). The floors below sit a little under those figures, so a change that loses three
or four test turns fails here.
"""

from __future__ import annotations

from collections import Counter

import pytest

from chimein.policy import proactivity
from chimein.policy.calibrate import DEFAULT_DATA, calibrate, compute_features, load_turns, score
from chimein.policy.proactivity import Thresholds, decide_from_features

TEST_ACCURACY_FLOOR = 0.88
TEST_F1_FLOOR = 0.88
UNSEEN_F1_FLOOR = 0.90


@pytest.fixture(scope="module")
def labelled():
    instructions, turns = load_turns(DEFAULT_DATA)
    policies, features, _ = compute_features(instructions, turns)
    return instructions, turns, policies, features


def test_data_set_shape(labelled) -> None:
    instructions, turns, _, _ = labelled
    assert len(turns) >= 160
    assert len(instructions) >= 8
    assert len({t.id for t in turns}) == len(turns)
    assert {t.split for t in turns} == {"dev", "test"}
    unseen = {t.instruction for t in turns if t.unseen}
    assert len(unseen) >= 2
    assert not any(t.split == "dev" for t in turns if t.unseen), "an unseen instruction leaked into dev"
    labels = Counter(t.answer for t in turns)
    assert labels[True] >= 50 and labels[False] >= 50
    texts = {t.text for t in turns}
    assert "I really like Italian food; do you know how to make a pizza?" in texts
    assert "Maria, do you want pizza tonight?" in texts


def test_test_split_meets_the_floor(labelled) -> None:
    _, turns, policies, features = labelled
    th = Thresholds()
    pairs = [(t, f) for t, f in zip(turns, features, strict=True) if t.split == "test"]
    predicted = [decide_from_features(policies[t.instruction].rules, f, th).answer for t, f in pairs]
    s = score([t.answer for t, _ in pairs], predicted)
    assert s.accuracy >= TEST_ACCURACY_FLOOR, s.line()
    assert s.f1 >= TEST_F1_FLOOR, s.line()
    unseen = [(t, p) for (t, _), p in zip(pairs, predicted, strict=True) if t.unseen]
    u = score([t.answer for t, _ in unseen], [p for _, p in unseen])
    assert u.f1 >= UNSEEN_F1_FLOOR, u.line()


def test_thresholds_in_code_are_the_ones_dev_calibration_chooses(labelled) -> None:
    """The constants come from the dev split (never the test split), and the run reproduces them."""
    _, turns, policies, features = labelled
    chosen, _ = calibrate(policies, turns, features)
    assert chosen.topic == pytest.approx(proactivity.TOPIC_THRESHOLD)
    assert chosen.follow_up == pytest.approx(proactivity.FOLLOW_UP_THRESHOLD)
    assert chosen.use_context is proactivity.USE_CONTEXT
