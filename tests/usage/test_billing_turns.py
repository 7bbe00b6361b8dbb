"""Turns reach the ledger even when the once-a-second listening checkpoint already took their tokens."""

from __future__ import annotations

import asyncio

from chimein.session.billing import Billing
from chimein.usage.ledger import open_ledger
from chimein.usage.report import load_prices, usage_report
from chimein.usage.tokens import UsageMeter


def test_an_answered_turn_is_counted_after_a_checkpoint_took_its_tokens(tmp_path):
    ledger = open_ledger(f"sqlite://{tmp_path / 'ledger.sqlite3'}")
    meter = UsageMeter()
    billing = Billing(meter, ledger, session_id="s1", api_key_id=None, model="m")

    async def run() -> None:
        meter.add_input_audio(16000, 16000)
        meter.add_output_audio(24000, 24000)  # the answer's audio went out during the last second
        await billing.record("listening")  # the checkpoint takes every token so far
        await billing.record("listening")  # nothing new: no empty listening event
        billing.turn_index += 1
        await billing.record("answered")  # nothing left for the turn itself, but it is still a turn

    asyncio.run(run())
    events = ledger.events(session_id="s1")
    assert [e.outcome for e in events] == ["listening", "answered"]
    assert sum(e.output_audio_s for e in events) == 1.0
    turns = usage_report(ledger, session_id="s1", prices=load_prices())["turns"]
    assert (turns["answered"], turns["total"]) == (1, 1)
    ledger.close()
