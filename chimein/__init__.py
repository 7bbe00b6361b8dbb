"""chimein: a self-hosted, offline Live API server with Proactive Audio."""

__version__ = "0.1.0"
