"""Prices, reports and the ``chimein usage`` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from chimein.usage.ledger import UsageEvent, api_key_id, open_ledger
from chimein.usage.report import (
    PricesError,
    format_report,
    load_prices,
    parse_since,
    usage_main,
    usage_report,
)

DAY1 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
DAY2 = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
KEY_A, KEY_B = api_key_id("key-a"), api_key_id("key-b")

PRICES_TOML = """
currency = "EUR"
[per_million_tokens.input]
audio = 2.5
text = 1
[per_million_tokens.output]
audio = 10
text = 4
"""


def ev(
    session: str, turn: int, at: datetime, outcome: str, key: str | None, pa: int, pt: int, ra: int, rt: int
) -> UsageEvent:
    return UsageEvent(
        session_id=session, turn_index=turn, api_key_id=key, model="m", at=at, outcome=outcome,
        prompt_audio_tokens=pa, prompt_text_tokens=pt, response_audio_tokens=ra, response_text_tokens=rt,
        input_audio_s=pa / 32, output_audio_s=ra / 32,
    )  # fmt: skip


EVENTS = [
    # session s1 (key A) on day 1: one hour listened in all, two answers, one declined turn
    ev("s1", 0, DAY1, "listening", KEY_A, 57_600, 0, 0, 0),  # 30 min of listening checkpoints
    ev("s1", 1, DAY1 + timedelta(minutes=31), "answered", KEY_A, 19_200, 12, 640, 0),
    ev("s1", 2, DAY1 + timedelta(minutes=45), "declined", KEY_A, 28_800, 0, 0, 0),
    ev("s1", 3, DAY1 + timedelta(minutes=59), "interrupted", KEY_A, 9_600, 0, 96, 0),
    # session s2 (key B) on day 2: a co-listened file and one text answer
    ev("s2", 0, DAY2, "co_listened", KEY_B, 11_520, 0, 0, 0),  # a 6-minute file
    ev("s2", 1, DAY2 + timedelta(minutes=1), "answered", KEY_B, 3_200, 40, 0, 25),
]


@pytest.fixture
def ledger_with_events(ledger_url: str) -> str:
    led = open_ledger(ledger_url)
    for e in EVENTS:
        led.record(e)
    led.close()
    return ledger_url


@pytest.fixture
def prices_path(tmp_path: Path) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(PRICES_TOML)
    return path


def test_report_numbers(ledger_with_events: str, prices_path: Path) -> None:
    led = open_ledger(ledger_with_events)
    try:
        report = usage_report(led, prices=load_prices(prices_path))
    finally:
        led.close()
    assert report["events"] == 6 and report["sessions"] == 2 and report["api_keys"] == 2
    assert report["turns"] == {"answered": 2, "declined": 1, "interrupted": 1, "total": 4}
    assert report["outcomes"]["listening"] == 1 and report["outcomes"]["co_listened"] == 1
    in_audio = 57_600 + 19_200 + 28_800 + 9_600 + 11_520 + 3_200
    assert report["tokens"]["input"] == {"audio": in_audio, "text": 52, "total": in_audio + 52}
    assert report["tokens"]["output"] == {"audio": 736, "text": 25, "total": 761}
    assert report["tokens"]["total"] == in_audio + 52 + 761
    # 118,400 tokens of live listening = 3,700 s; the file is 360 s; 736 tokens spoken = 23 s
    assert report["audio_hours"]["listening"] == pytest.approx(1.0 + 100 / 3600)
    assert report["audio_hours"]["co_listened"] == pytest.approx(0.1)
    assert report["audio_hours"]["speaking"] == pytest.approx(23 / 3600, abs=1e-6)
    expected = {
        "input": {"audio": 0.3248, "text": 0.000052, "total": 0.324852},
        "output": {"audio": 0.00736, "text": 0.0001, "total": 0.00746},
        "total": 0.332312,
        "currency": "EUR",
    }
    assert report["cost"] == expected
    assert Decimal(str(expected["input"]["audio"])) == Decimal(in_audio) * Decimal("2.5") / 1_000_000
    assert report["by_api_key"][KEY_A]["sessions"] == 1
    assert report["by_api_key"][KEY_B]["output_tokens"] == 25
    assert report["prices"]["example"] is False
    text = format_report(report)
    assert "2 answered, 1 declined, 1 interrupted" in text and "cost EUR" in text and "EXAMPLE" not in text


def test_report_filters(ledger_with_events: str, prices_path: Path) -> None:
    led = open_ledger(ledger_with_events)
    try:
        day2 = usage_report(led, since=DAY2, prices=load_prices(prices_path))
        key_a = usage_report(led, api_key_id=KEY_A, prices=load_prices(prices_path))
        s2 = usage_report(led, session_id="s2", prices=load_prices(prices_path))
    finally:
        led.close()
    assert day2["sessions"] == 1 and day2["turns"]["answered"] == 1 and day2["tokens"]["output"]["text"] == 25
    assert (
        key_a["sessions"] == 1 and key_a["turns"]["declined"] == 1 and key_a["tokens"]["output"]["text"] == 0
    )
    assert s2 == day2 | {"filters": s2["filters"]}


def test_usage_main_json(
    ledger_with_events: str, prices_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = usage_main(["--ledger", ledger_with_events, "--prices", str(prices_path), "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    report = json.loads(out)
    assert report["sessions"] == 2 and report["cost"]["total"] == 0.332312


def test_usage_main_since(
    ledger_with_events: str, prices_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        usage_main(
            ["--ledger", ledger_with_events, "--prices", str(prices_path), "--json", "--since", "2025-03-02"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == 2 and report["filters"]["since"] == "2025-03-02T00:00:00+00:00"
    assert report["tokens"]["input"]["audio"] == 11_520 + 3_200


def test_usage_main_text_and_key_filter(
    tmp_path: Path, prices_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite://{tmp_path / 'l.sqlite3'}"
    led = open_ledger(url)
    for e in EVENTS:
        led.record(e)
    led.close()
    assert usage_main(["--ledger", url, "--prices", str(prices_path), "--api-key-id", KEY_B]) == 0
    out = capsys.readouterr().out
    assert "1 answered, 0 declined" in out and "sessions: 1" in out


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01", "2025-02-30", "7x"])
def test_usage_main_bad_date(bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        usage_main(["--ledger", f"sqlite://{tmp_path / 'l.sqlite3'}", "--since", bad])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --since: invalid date" in err and "YYYY-MM-DD" in err and "Traceback" not in err


def test_usage_main_rejects_a_raw_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        usage_main(["--api-key-id", "AIzaSy-secret"])
    assert exc.value.code == 2
    assert "never the key" in capsys.readouterr().err


def test_usage_main_missing_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = usage_main(["--ledger", f"sqlite://{tmp_path / 'nope.sqlite3'}"])
    assert rc == 1
    assert "no usage ledger at" in capsys.readouterr().err
    assert not (tmp_path / "nope.sqlite3").exists()


def test_usage_main_unreachable_postgres(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]'")
    rc = usage_main(["--ledger", "postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2"])
    err = capsys.readouterr().err
    assert rc == 1 and "cannot open postgresql://u:***@127.0.0.1:1/db" in err and "hunter2" not in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        usage_main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--since", "--session", "--api-key-id", "--json", "--ledger", "--prices"):
        assert flag in out


def test_example_prices_are_labelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CHIMEIN_HOME", str(tmp_path))
    prices = load_prices()
    assert prices.example is True and "prices.example.toml" in prices.source
    led = open_ledger()
    led.record(EVENTS[1])
    led.close()
    assert usage_main([]) == 0
    assert "EXAMPLE prices" in capsys.readouterr().out
    # The operator's own table replaces it; one still marked example stays labelled.
    (tmp_path / "prices.toml").write_text(PRICES_TOML)
    assert load_prices().example is False and load_prices().currency == "EUR"
    (tmp_path / "prices.toml").write_text("example = true\n" + PRICES_TOML)
    assert load_prices().example is True


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[per_million_tokens.input]\naudio = 1\ntext = 1\n", r"missing \[per_million_tokens.output\] audio"),
        (PRICES_TOML.replace("audio = 10", "audio = -1"), "must be >= 0"),
        (PRICES_TOML.replace("text = 4", 'text = "four"'), "not a number"),
        ("currency = [", "not valid TOML"),
    ],
)
def test_bad_prices(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(toml)
    with pytest.raises(PricesError, match=message):
        load_prices(path)
    with pytest.raises(PricesError, match="no price table"):
        load_prices(tmp_path / "absent.toml")


def test_parse_since_forms() -> None:
    now = datetime(2025, 5, 10, 12, tzinfo=UTC)
    assert parse_since("2025-05-01") == datetime(2025, 5, 1, tzinfo=UTC)
    assert parse_since("2025-05-01T10:00:00+02:00") == datetime(2025, 5, 1, 8, tzinfo=UTC)
    assert parse_since("2025-05-01T10:00") == datetime(2025, 5, 1, 10, tzinfo=UTC)
    assert parse_since("7d", now=now) == datetime(2025, 5, 3, 12, tzinfo=UTC)
    assert parse_since("12h", now=now) == datetime(2025, 5, 10, tzinfo=UTC)
