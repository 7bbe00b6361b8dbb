"""Session resumption handles: the stores live in :mod:`chimein.server.state` (in-process, or
PostgreSQL shared by replicas); this module keeps the names sessions and older code import."""

from __future__ import annotations

from chimein.server.state import (
    HANDLE_VALIDITY_S,
    MAX_HANDLES,
    HandleStore,
    InProcessStore,
    ResumableState,
    ResumptionError,
)

ResumptionStore = InProcessStore

__all__ = ["HANDLE_VALIDITY_S", "MAX_HANDLES", "HandleStore", "ResumableState", "ResumptionError", "ResumptionStore"]
