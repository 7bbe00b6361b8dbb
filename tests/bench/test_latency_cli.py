"""``chimein bench latency``: clear errors for bad options, and the report's shape (the live run itself
needs two real servers for many minutes: it is run by hand, see docs/latency.md)."""

from __future__ import annotations

from pathlib import Path

from chimein.bench.latency import latency_main, markdown


def test_bad_options_are_refused_with_a_reason(tmp_path: Path, capsys) -> None:
    assert latency_main(["--out", str(tmp_path), "--sessions", "four"]) == 2
    assert "--sessions takes numbers" in capsys.readouterr().err
    assert latency_main(["--out", str(tmp_path), "--baseline-tree", str(tmp_path)]) == 2
    assert "not a chimein checkout" in capsys.readouterr().err
    assert latency_main(["--out", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "meeting recording" in capsys.readouterr().err


def test_report_puts_the_baseline_beside_the_current_tree() -> None:
    def target(lat: list[float | None]) -> dict:
        got = [x for x in lat if x is not None]
        stats = {"n": len(lat), "answered": len(got), "median_s": sorted(got)[len(got) // 2], "max_s": max(got)}
        return {"long_session": {"latency_by_turn_s": lat, "all": stats, "first_half": stats, "second_half": stats},
                "sweep": [{"sessions": 4, "n": 4, "answered": 4, "median_s": 1.0, "max_s": 2.0,
                           "cpu_per_audio_s": 0.2, "peak_rss_mib": 900.0}]}

    text = markdown({"command": "chimein bench latency --out x", "load_average_start": (1.0, 1.0, 1.0),
                     "targets": {"current": target([0.5, 0.6, None]), "baseline abc": target([1.0, 1.2, 1.1])}})
    assert "| all median_s | 0.600 | 1.100 |" in text
    assert "current / baseline abc: 0.55" in text
    assert "| 4 | current | 4/4 |" in text and "| 4 | baseline abc | 4/4 |" in text
