"""The labelled turns: held-back floors, the data set's shape, and calibration on dev only.

Data: tests/policy/data/turns.yaml (dev + test splits), chimein/policy/data/dev.yaml, dev2.yaml and
dev3.yaml (dev), and three held-back sets of whole instructions, never tuned on: heldout3.yaml (18
instructions, written blind to the code and the other sets, only ever reported), heldout2.yaml (15,
written blind) and heldout.yaml (12). Measured with the thresholds in code (``python -m
chimein.policy.calibrate``): held back 3 F1 0.897 (precision 0.874, recall 0.921, 331 turns); held
back 2 F1 0.918 (0.891 / 0.946, 260 turns); held back F1 0.927 (0.944 / 0.910, 239 turns); old test
split F1 0.947 (122 turns). The floors sit a little under those figures, so a change that loses a
handful of turns fails here.
"""

from __future__ import annotations

from collections import Counter

import pytest

from chimein.policy import proactivity
from chimein.policy.calibrate import calibrate, compute_features, load_all, score
from chimein.policy.proactivity import Thresholds, decide_from_features

HELDOUT_F1_FLOOR = 0.90
HELDOUT_PRECISION_FLOOR = 0.92
HELDOUT2_F1_FLOOR = 0.89
HELDOUT2_PRECISION_FLOOR = 0.87
HELDOUT3_F1_FLOOR = 0.87
HELDOUT3_PRECISION_FLOOR = 0.85
TEST_ACCURACY_FLOOR = 0.93
TEST_F1_FLOOR = 0.93
UNSEEN_F1_FLOOR = 0.94


@pytest.fixture(scope="module")
def labelled():
    instructions, turns = load_all()
    policies, features, _ = compute_features(instructions, turns)
    return instructions, turns, policies, features


def _scores(labelled, keep):
    _, turns, policies, features = labelled
    th = Thresholds()
    pairs = [(t, f) for t, f in zip(turns, features, strict=True) if keep(t)]
    predicted = [decide_from_features(policies[t.instruction].rules, f, th).answer for t, f in pairs]
    return score([t.answer for t, _ in pairs], predicted)


def test_data_set_shape(labelled) -> None:
    instructions, turns, _, _ = labelled
    assert len(turns) >= 600
    assert len(instructions) >= 25
    assert len({t.id for t in turns}) == len(turns)
    assert {t.split for t in turns} == {"dev", "test", "heldout", "heldout2", "heldout3"}
    for split in ("heldout", "heldout2", "heldout3"):
        held = {t.instruction for t in turns if t.split == split}
        assert len(held) >= 10
        assert not any(t.instruction in held for t in turns if t.split != split), "a held-back instruction leaked into dev/test"
        assert len({t.family for t in turns if t.split == split}) >= 6, "held-back instructions in several phrasings"
    labels = Counter(t.answer for t in turns)
    assert labels[True] >= 200 and labels[False] >= 200
    texts = {t.text for t in turns}
    assert "I really like Italian food; do you know how to make a pizza?" in texts
    assert "Maria, do you want pizza tonight?" in texts


def test_held_back_instructions_meet_the_floor(labelled) -> None:
    s = _scores(labelled, lambda t: t.split == "heldout")
    print(f"held back: {s.line()}")
    assert s.f1 >= HELDOUT_F1_FLOOR, s.line()
    assert s.precision >= HELDOUT_PRECISION_FLOOR, s.line()


def test_second_held_back_set_written_blind_meets_the_floor(labelled) -> None:
    s = _scores(labelled, lambda t: t.split == "heldout2")
    print(f"held back 2: {s.line()}")
    assert s.f1 >= HELDOUT2_F1_FLOOR, s.line()
    assert s.precision >= HELDOUT2_PRECISION_FLOOR, s.line()


def test_third_held_back_set_written_blind_meets_the_floor(labelled) -> None:
    s = _scores(labelled, lambda t: t.split == "heldout3")
    print(f"held back 3: {s.line()}")
    assert s.f1 >= HELDOUT3_F1_FLOOR, s.line()
    assert s.precision >= HELDOUT3_PRECISION_FLOOR, s.line()


def test_test_split_meets_the_floor(labelled) -> None:
    s = _scores(labelled, lambda t: t.split == "test")
    assert s.accuracy >= TEST_ACCURACY_FLOOR, s.line()
    assert s.f1 >= TEST_F1_FLOOR, s.line()
    u = _scores(labelled, lambda t: t.split == "test" and t.unseen)
    assert u.f1 >= UNSEEN_F1_FLOOR, u.line()


def test_thresholds_in_code_are_the_ones_dev_calibration_chooses(labelled) -> None:
    """The constants come from the dev turns (never test or held back), and the run reproduces them."""
    _, turns, policies, features = labelled
    chosen, _ = calibrate(policies, turns, features)
    assert chosen.topic == pytest.approx(proactivity.TOPIC_THRESHOLD)
    assert chosen.topic_floor == pytest.approx(proactivity.TOPIC_FLOOR)
    assert chosen.follow_up == pytest.approx(proactivity.FOLLOW_UP_THRESHOLD)
    assert chosen.use_context is proactivity.USE_CONTEXT
