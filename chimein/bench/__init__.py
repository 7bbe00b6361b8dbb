"""The benchmark: scenarios, runners, metrics."""
