"""The session's usage in the ledger: per turn, and listening time about once a second."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from chimein.usage.ledger import Ledger, UsageEvent
from chimein.usage.tokens import UsageMeter

LEDGER_CHECKPOINT_S = 1.0


class Billing:
    def __init__(self, meter: UsageMeter, ledger: Ledger | None, *, session_id: str, api_key_id: str | None,
                 model: str) -> None:
        self.meter, self.ledger = meter, ledger
        self.session_id, self.api_key_id, self.model = session_id, api_key_id, model
        self.turn_index = 0

    async def record(self, outcome: str) -> None:
        """Commit what the ledger has not seen yet (off the event loop); no-op without a ledger."""
        if self.ledger is None:
            return
        usage = self.meter.take_unrecorded()
        if not usage.total_tokens:
            return
        event = UsageEvent.from_usage(
            usage, session_id=self.session_id, turn_index=self.turn_index, api_key_id=self.api_key_id,
            model=self.model, at=datetime.now(UTC), outcome=outcome,  # type: ignore[arg-type]
        )
        await asyncio.to_thread(self.ledger.record, event)

    async def checkpoint_listening(self) -> None:
        """Record listening time about once a second, so a killed server loses at most that second."""
        while True:
            await asyncio.sleep(LEDGER_CHECKPOINT_S)
            await self.record("listening")
