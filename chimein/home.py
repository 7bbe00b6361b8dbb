"""Where chimein keeps its state: TLS material, the usage ledger, caches.

Everything lives under ``$CHIMEIN_HOME`` (default ``~/.chimein``) so that a user can see,
back up or delete it in one place.
"""

from __future__ import annotations

import os
from pathlib import Path


def chimein_home() -> Path:
    """The state directory, created on first use."""
    home = Path(os.environ.get("CHIMEIN_HOME") or Path.home() / ".chimein").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
