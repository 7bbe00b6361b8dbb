"""WebSocket serving: TLS and plain ports, paths, API keys, frame limits, close codes."""
