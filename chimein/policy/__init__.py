"""Deciding: should the assistant answer this turn (proactivity), is an overlap a real interruption."""
