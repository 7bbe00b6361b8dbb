"""Hearing: voice activity, end of turn, speech recognition."""
