"""The pacer's clock decides what the listener heard: one truncation path, never past what was sent."""

from __future__ import annotations

from chimein.perception.history import AudioHistory
from chimein.session.pacing import PlaybackTracker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lead_and_played_position():
    clock = Clock()
    tracker = PlaybackTracker(clock=clock, lead_s=0.25)
    tracker.add_words(0.0, [("Here", 0.3), ("is", 0.5), ("a", 0.6), ("recipe", 1.1)])
    for _ in range(3):  # 300 ms sent at once: 50 ms over the lead
        assert tracker.wait_before_next() == 0.0 or tracker.sent_s <= 0.25
        tracker.on_sent(2400)
    assert abs(tracker.wait_before_next() - 0.05) < 1e-9
    clock.now += 0.55
    assert tracker.played_s() == 0.3  # never past what was sent
    assert tracker.heard_text() == "Here"
    clock.now += 1.0
    assert tracker.heard_text() == "Here"


def test_rebase_after_a_hold_keeps_the_position():
    clock = Clock()
    tracker = PlaybackTracker(clock=clock)
    tracker.on_sent(24000)
    clock.now += 0.4
    tracker.rebase()  # output was held; the listener is at 0.4 s
    assert abs(tracker.played_s() - 0.4) < 1e-9
    clock.now += 5.0  # a long hold: the buffer drains to what was sent
    tracker.rebase()
    assert tracker.played_s() == 1.0 and tracker.play_delay_s() == 0.0


def test_audio_history_ring():
    import numpy as np

    history = AudioHistory(max_s=1.0)
    x = np.arange(40000, dtype=np.float32)
    for i in range(0, 40000, 1600):
        history.append(x[i : i + 1600])
    assert (history.slice(1.5, 2.0) == x[24000:32000]).all()
    assert len(history.slice(0.0, 1.0)) == 0
    assert (history.slice(1.4, 3.0) == x[24000:40000]).all()


def test_pause_grace_for_unfinished_turns():
    from chimein.policy.endpointing import PAUSE_GRACE_S, PAUSE_GRACE_TEXT_S, pause_grace_s

    grace = pause_grace_s
    assert grace("I was thinking we could maybe.", 0.03) == PAUSE_GRACE_TEXT_S
    assert grace("Can you tell me?", 0.78) == PAUSE_GRACE_TEXT_S  # a request with nothing asked yet
    assert grace("So the thing about the train is that.", 0.55) == PAUSE_GRACE_TEXT_S
    assert grace("I like cooking.", 0.1) == PAUSE_GRACE_S  # sounded unfinished
    assert grace("What is the capital of France?", 0.9) == 0.0
    assert grace("Can you help me with that?", 0.9) == 0.0
    assert grace("What is the capital of France?", 0.1) == 0.0  # a question is complete whatever it sounded like
