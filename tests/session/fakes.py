"""Scripted fakes for driving the turn controller on virtual time (no model, no event loop)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chimein.session import events as ev
from chimein.session.controller import TurnController
from chimein.session.options import TurnOptions

RATE = 16000


@dataclass
class FakeSenses:
    """What perception and the playout report, set by the test."""

    echo_path: bool = False
    loudspeaker: bool = False
    removed_db: float | None = None
    follows: float | None = None
    spoken: dict[str, str] = field(default_factory=dict)

    def echo_removed_db(self, start_s: float, end_s: float) -> float | None:
        return self.removed_db

    def follows_reference(self, start_s: float, end_s: float) -> float | None:
        return self.follows

    def spoken_text(self, reply_id: str) -> str:
        return self.spoken.get(reply_id, "")

    def recent_text(self, reply_id: str, seconds: float) -> str:
        return self.spoken.get(reply_id, "")


def audio(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def unit(seed: int) -> np.ndarray:
    """A voice print: a random unit vector (different seeds are near-orthogonal)."""
    v = np.random.default_rng(seed).standard_normal(256).astype(np.float32)
    return v / np.linalg.norm(v)


class Script:
    """A controller plus the actions it returned, with helpers that read like a conversation."""

    def __init__(self, **options: object) -> None:
        self.senses = FakeSenses()
        self.ctrl = TurnController(TurnOptions(**options), self.senses)  # type: ignore[arg-type]
        self.actions: list[ev.Action] = []

    def feed(self, event: ev.Event) -> list[ev.Action]:
        out = self.ctrl.handle(event)
        self.actions.extend(out)
        return out

    @property
    def state(self) -> str:
        return self.ctrl.state.value

    def at(self, clock_s: float) -> list[ev.Action]:
        return self.feed(ev.Heard(clock_s))

    def utterance(self, start_s: float, end_s: float, level_db: float = -20.0) -> list[ev.Action]:
        """Speech from start_s to end_s, ended by the silence timeout; the actions of the end."""
        self.at(start_s + 0.2)
        self.feed(ev.Started(start_s, level_db))
        self.at(end_s + 0.8)
        return self.feed(ev.Ended(end_s, audio(end_s - start_s + 0.55)))

    def turn(self, start_s: float, end_s: float, text: str, *, level_db: float = -20.0, embedding: np.ndarray | None = None,
             voiced_s: float | None = None) -> list[ev.Action]:
        """A whole spoken turn up to its transcript; returns the actions of the transcript."""
        end = self.utterance(start_s, end_s, level_db)
        turn = one(end, ev.EndTurn).turn
        return self.feed(ev.TurnTranscribed(turn.id, text, level_db, voiced_s if voiced_s is not None else end_s - start_s,
                                            end_s - start_s + 0.55, embedding))

    def answered(self, start_s: float, end_s: float, text: str = "What time is it?", **kw: object) -> str:
        """A turn that is answered and starts speaking; returns the reply id."""
        respond = one(self.turn(start_s, end_s, text, **kw), ev.Respond)  # type: ignore[arg-type]
        self.feed(ev.Decided(respond.reply_id, None))
        self.feed(ev.ReplyAudible(respond.reply_id))
        return respond.reply_id

    def quiet_speech_over_answer(self, level_db: float = -40.0, *, answer_words: str | None = None) -> tuple[str, list[ev.Action]]:
        """An answer playing (its turn at -20 dB) and, from 5.0 s, speech at ``level_db`` over it;
        returns the reply id and the actions of that speech's start."""
        rid = self.answered(1.0, 2.0, level_db=-20.0)
        if answer_words is not None:
            self.senses.spoken[rid] = answer_words
        self.at(5.2)
        return rid, self.feed(ev.Started(5.0, level_db))


def of(actions: list[ev.Action], kind: type) -> list:
    return [a for a in actions if isinstance(a, kind)]


def one(actions: list[ev.Action], kind: type):  # noqa: ANN201 - the action's own type
    found = of(actions, kind)
    assert len(found) == 1, f"expected one {kind.__name__} in {actions}"
    return found[0]


def emitted(actions: list[ev.Action], kind: str) -> list[dict]:
    return [a.fields for a in actions if isinstance(a, ev.Emit) and a.kind == kind]
