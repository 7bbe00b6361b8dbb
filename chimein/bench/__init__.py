"""``chimein bench``: scripted scenes, two runners (live via the SDK, fast in process), metrics, reports.

scenario.py (the YAML schema, SCHEMA.md) -> builder.py (16 kHz scene + labels) -> fast.py / live.py
(run it, record a trace; mixer.py adds what depends on the assistant) -> scoring.py (per label)
-> metrics.py (per category, overall) -> report.py (results.json, report.md, plots); cli.py ties
them together. docs/benchmarks.md has the metric definitions and the current figures.
"""
