"""The conversation as the assistant remembers it."""
