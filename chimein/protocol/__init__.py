"""Live API wire messages: decoded once at the edge into typed events, encoded back to camelCase JSON."""
