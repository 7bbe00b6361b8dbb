"""Usage reports and the ``chimein usage`` command: tokens, listening hours, turns and cost.

Costs come from a price table the operator edits (``$CHIMEIN_HOME/prices.toml``). Without
one, the shipped ``prices.example.toml`` is used and every report says the prices are
EXAMPLE prices.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from chimein.home import chimein_home

from .ledger import API_KEY_ID_PATTERN, OUTCOMES, Ledger, UsageEvent, open_ledger, redact_url

EXAMPLE_PRICES_RESOURCE = "prices.example.toml"
_MILLION = Decimal(1_000_000)
_COST_PLACES = Decimal("0.000001")


class PricesError(ValueError):
    """The price table is missing a price or has a malformed one."""


@dataclass(frozen=True)
class Prices:
    """Prices per one million tokens, by direction and modality."""

    input_audio: Decimal
    input_text: Decimal
    output_audio: Decimal
    output_text: Decimal
    currency: str = "USD"
    example: bool = False
    """True for the shipped example table (or any table still marked ``example = true``)."""
    source: str = ""

    def cost(self, tokens: int, direction: str, modality: str) -> Decimal:
        """Cost of ``tokens`` at the price for (``input``|``output``, ``audio``|``text``)."""
        per_million: Decimal = getattr(self, f"{direction}_{modality}")
        return tokens * per_million / _MILLION


def _price(table: dict, direction: str, modality: str, source: str) -> Decimal:
    try:
        raw = table["per_million_tokens"][direction][modality]
    except (KeyError, TypeError):
        raise PricesError(
            f"{source}: missing [per_million_tokens.{direction}] {modality} = <price>"
        ) from None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise PricesError(
            f"{source}: per_million_tokens.{direction}.{modality} must be a number, got {raw!r}"
        )
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise PricesError(
            f"{source}: per_million_tokens.{direction}.{modality} is not a number: {raw!r}"
        ) from None
    if not value.is_finite() or value < 0:
        raise PricesError(f"{source}: per_million_tokens.{direction}.{modality} must be >= 0, got {raw!r}")
    return value


def _parse_prices(text: str, source: str, *, fallback_example: bool) -> Prices:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PricesError(f"{source}: not valid TOML: {e}") from None
    currency = table.get("currency", "USD")
    if not isinstance(currency, str) or not currency.strip():
        raise PricesError(f"{source}: currency must be a non-empty string")
    return Prices(
        input_audio=_price(table, "input", "audio", source),
        input_text=_price(table, "input", "text", source),
        output_audio=_price(table, "output", "audio", source),
        output_text=_price(table, "output", "text", source),
        currency=currency.strip(),
        example=fallback_example or bool(table.get("example", False)),
        source=source,
    )


def example_prices_text() -> str:
    """The shipped example price table, as text."""
    return resources.files("chimein.usage").joinpath(EXAMPLE_PRICES_RESOURCE).read_text("utf-8")


def load_prices(path: Path | None = None) -> Prices:
    """The operator's price table: ``path``, else ``$CHIMEIN_HOME/prices.toml``.

    Without ``path`` and without ``$CHIMEIN_HOME/prices.toml`` the shipped example table is
    returned with ``example=True``. An explicit ``path`` that does not exist is an error.
    """
    if path is None:
        home_prices = chimein_home() / "prices.toml"
        if not home_prices.exists():
            return _parse_prices(
                example_prices_text(), f"shipped {EXAMPLE_PRICES_RESOURCE}", fallback_example=True
            )
        path = home_prices
    path = Path(path).expanduser()
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise PricesError(f"no price table at {path}") from None
    return _parse_prices(text, str(path), fallback_example=False)


def _money(value: Decimal) -> float:
    return float(value.quantize(_COST_PLACES))


def _sum_tokens(events: list[UsageEvent]) -> dict[str, dict[str, int]]:
    tokens = {
        "input": {
            "audio": sum(e.prompt_audio_tokens for e in events),
            "text": sum(e.prompt_text_tokens for e in events),
        },
        "output": {
            "audio": sum(e.response_audio_tokens for e in events),
            "text": sum(e.response_text_tokens for e in events),
        },
    }
    for direction in tokens.values():
        direction["total"] = direction["audio"] + direction["text"]
    return tokens


def _costs(tokens: dict[str, dict[str, int]], prices: Prices) -> dict[str, Any]:
    cost: dict[str, Any] = {}
    total = Decimal(0)
    for direction in ("input", "output"):
        parts = {m: prices.cost(tokens[direction][m], direction, m) for m in ("audio", "text")}
        subtotal = sum(parts.values(), Decimal(0))
        total += subtotal
        cost[direction] = {m: _money(v) for m, v in parts.items()} | {"total": _money(subtotal)}
    cost["total"] = _money(total)
    return cost


def usage_report(
    ledger: Ledger,
    *,
    since: datetime | None = None,
    session_id: str | None = None,
    api_key_id: str | None = None,
    prices: Prices | None = None,
) -> dict:
    """Aggregate the ledger's events into a JSON-ready report (``prices=None``: :func:`load_prices`).

    Turns are events whose outcome is answered, declined or interrupted; ``listening`` events
    are checkpoints of audio heard between turns and ``co_listened`` events are files the
    client asked the assistant to listen to (billed as input audio by duration).
    """
    if prices is None:
        prices = load_prices()
    events = ledger.events(since=since, session_id=session_id, api_key_id=api_key_id)
    outcomes = Counter(e.outcome for e in events)
    tokens = _sum_tokens(events)
    listening_s = sum(e.input_audio_s for e in events if e.outcome != "co_listened")
    co_listened_s = sum(e.input_audio_s for e in events if e.outcome == "co_listened")
    speaking_s = sum(e.output_audio_s for e in events)

    by_key: dict[str, list[UsageEvent]] = {}
    for e in events:
        by_key.setdefault(e.api_key_id or "(no key)", []).append(e)
    key_rows = {}
    for key, key_events in sorted(by_key.items()):
        key_tokens = _sum_tokens(key_events)
        key_rows[key] = {
            "sessions": len({e.session_id for e in key_events}),
            "input_tokens": key_tokens["input"]["total"],
            "output_tokens": key_tokens["output"]["total"],
            "cost": _costs(key_tokens, prices)["total"],
        }

    return {
        "filters": {
            "since": since.astimezone(UTC).isoformat() if since else None,
            "session_id": session_id,
            "api_key_id": api_key_id,
        },
        "period": {
            "first": events[0].at.isoformat() if events else None,
            "last": events[-1].at.isoformat() if events else None,
        },
        "events": len(events),
        "sessions": len({e.session_id for e in events}),
        "api_keys": len({e.api_key_id for e in events if e.api_key_id}),
        "outcomes": {o: outcomes.get(o, 0) for o in OUTCOMES},
        "turns": {
            "answered": outcomes.get("answered", 0),
            "declined": outcomes.get("declined", 0),
            "interrupted": outcomes.get("interrupted", 0),
            "total": sum(outcomes.get(o, 0) for o in ("answered", "declined", "interrupted")),
        },
        "tokens": tokens | {"total": tokens["input"]["total"] + tokens["output"]["total"]},
        "audio_hours": {
            "listening": round(listening_s / 3600, 6),
            "co_listened": round(co_listened_s / 3600, 6),
            "speaking": round(speaking_s / 3600, 6),
        },
        "cost": _costs(tokens, prices) | {"currency": prices.currency},
        "by_api_key": key_rows,
        "prices": {
            "example": prices.example,
            "source": prices.source,
            "currency": prices.currency,
            "per_million_tokens": {
                "input": {"audio": float(prices.input_audio), "text": float(prices.input_text)},
                "output": {"audio": float(prices.output_audio), "text": float(prices.output_text)},
            },
        },
    }


def format_report(report: dict) -> str:
    """A plain-text table of a :func:`usage_report` for a terminal."""
    t, c, h = report["tokens"], report["cost"], report["audio_hours"]
    cur = c["currency"]
    filters = ", ".join(f"{k}={v}" for k, v in report["filters"].items() if v) or "none"
    first, last = report["period"]["first"], report["period"]["last"]
    period = f"{first} .. {last}" if first else "no events"
    turns = report["turns"]
    lines = [
        "chimein usage",
        f"  filters: {filters}",
        f"  period:  {period}",
        f"  sessions: {report['sessions']:,}   API keys: {report['api_keys']:,}   events: {report['events']:,}",
        f"  turns: {turns['answered']:,} answered, {turns['declined']:,} declined, "
        f"{turns['interrupted']:,} interrupted ({turns['total']:,} in all)",
        f"  audio: listening {h['listening']:.3f} h, co-listened files {h['co_listened']:.3f} h, "
        f"speaking {h['speaking']:.3f} h",
        "",
        f"  {'tokens':<16}{'audio':>14}{'text':>12}{'total':>14}{'cost ' + cur:>16}",
    ]
    for direction, label in (("input", "input (prompt)"), ("output", "output (reply)")):
        row = t[direction]
        lines.append(
            f"  {label:<16}{row['audio']:>14,}{row['text']:>12,}{row['total']:>14,}"
            f"{c[direction]['total']:>16.6f}"
        )
    lines.append(f"  {'total':<16}{'':>14}{'':>12}{t['total']:>14,}{c['total']:>16.6f}")
    if len(report["by_api_key"]) > 1 or (report["by_api_key"] and not report["filters"]["api_key_id"]):
        lines += [
            "",
            f"  {'by API key':<16}{'sessions':>10}{'input tok':>14}{'output tok':>14}{'cost ' + cur:>16}",
        ]
        for key, row in report["by_api_key"].items():
            lines.append(
                f"  {key:<16}{row['sessions']:>10,}{row['input_tokens']:>14,}"
                f"{row['output_tokens']:>14,}{row['cost']:>16.6f}"
            )
    p = report["prices"]
    lines.append("")
    if p["example"]:
        lines.append(
            f"  Costs use EXAMPLE prices ({p['source']}), not real prices: "
            "put your own in $CHIMEIN_HOME/prices.toml."
        )
    else:
        lines.append(f"  Prices per million tokens from {p['source']}.")
    return "\n".join(lines)


_RELATIVE = re.compile(r"(\d+)\s*([dh])")


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC), an ISO 8601 date-time (naive means UTC), or ``7d``/``12h`` ago."""
    text = text.strip()
    m = _RELATIVE.fullmatch(text)
    if m:
        amount, unit = int(m.group(1)), m.group(2)
        delta = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
        return (now or datetime.now(UTC)) - delta
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid date {text!r}: use YYYY-MM-DD, an ISO 8601 date-time such as "
            "2025-06-01T09:30:00+02:00, or a relative age such as 7d or 12h"
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _key_id_arg(text: str) -> str:
    if not API_KEY_ID_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f'{text!r} is not an API key id: ids look like k_0123456789ab ("k_" + 12 hex digits of '
            "the key's SHA-256); pass the id, never the key"
        )
    return text


def _parser(now: datetime | None) -> argparse.ArgumentParser:
    def since_arg(text: str) -> datetime:
        try:
            return parse_since(text, now=now)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parser = argparse.ArgumentParser(
        prog="chimein usage",
        description=(
            "Report token usage and cost from the usage ledger: tokens by modality and direction, "
            "sessions, listening hours, answered vs declined turns. Input audio is billed for "
            "everything the assistant listened to; output only for what it actually said."
        ),
        epilog=(
            "Prices come from $CHIMEIN_HOME/prices.toml (per million tokens); without it the "
            "shipped EXAMPLE prices are used and the report says so."
        ),
    )
    parser.add_argument(
        "--since",
        type=since_arg,
        metavar="DATE",
        help="only events at or after DATE: YYYY-MM-DD (UTC), ISO 8601 date-time, or 7d / 12h ago",
    )
    parser.add_argument("--session", metavar="ID", help="only this session id")
    parser.add_argument(
        "--api-key-id",
        type=_key_id_arg,
        metavar="ID",
        help="only this API key id (k_ + 12 hex digits, as shown in reports; never the key itself)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help="ledger to read: sqlite:///PATH or postgresql://... (default $CHIMEIN_HOME/ledger.sqlite3)",
    )
    parser.add_argument(
        "--prices", type=Path, metavar="PATH", help="price table (default $CHIMEIN_HOME/prices.toml)"
    )
    return parser


def usage_main(argv: list[str] | None = None, *, now: datetime | None = None) -> int:
    """``chimein usage``: 0 on success, 2 for bad arguments, 1 when the ledger or prices fail."""
    args = _parser(now).parse_args(argv)  # exits 2 with a message on bad arguments
    where = redact_url(args.ledger) if args.ledger else "the default ledger"
    try:
        prices = load_prices(args.prices)
        ledger = open_ledger(args.ledger, create=False)
    except (OSError, ValueError) as e:
        print(f"chimein usage: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # driver errors (e.g. PostgreSQL unreachable), never a traceback
        print(f"chimein usage: error: cannot open {where}: {e}", file=sys.stderr)
        return 1
    try:
        report = usage_report(
            ledger, since=args.since, session_id=args.session, api_key_id=args.api_key_id, prices=prices
        )
    except Exception as e:
        print(f"chimein usage: error: cannot read {where}: {e}", file=sys.stderr)
        return 1
    finally:
        ledger.close()
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
