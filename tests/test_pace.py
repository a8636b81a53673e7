"""Plan value and pace, with a fixed clock and responses of known cost."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import assistant_line, write_lines

from ccledger.answers import pace, queries
from ccledger.ingest import index
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def three_dollars(message_id: str, day: str) -> str:
    """A Sonnet 4.5 response of 1,000,000 input tokens: exactly $3.00."""
    return assistant_line(
        message_id=message_id,
        timestamp=f"{day}T10:00:00.000Z",
        input_tokens=1_000_000,
        output_tokens=0,
        cache_write_5m=0,
        cache_write_1h=0,
        cache_read=0,
    )


@pytest.fixture
def ledger(db, claude_dir):
    days = [
        "2026-11-02",
        "2026-11-05",
        "2026-11-09",
        "2026-11-12",
        "2026-11-17",
        "2026-11-18",
        "2026-11-20",
        "2026-11-21",
    ]
    days.append("2026-11-21")
    write_lines(claude_dir / "projects" / "p" / "s.jsonl", *(three_dollars(f"m{n}", day) for n, day in enumerate(days)))
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    return db


def test_plan_value_prorates_the_price_by_day(ledger):
    value = pace.plan_value(ledger, plan="pro", since="2026-11-01", until="2026-11-10", zone=UTC_ZONE, now=NOW)
    assert value.api_equivalent_usd == 9.0  # three responses in those ten days
    assert value.subscription_usd == round(20 * 10 / 30, 2)
    assert value.value_ratio == round(9.0 / (20 * 10 / 30), 2)
    assert value.savings_usd == round(9.0 - 20 * 10 / 30, 2)


def test_plan_value_this_month_counts_up_to_now(ledger):
    value = pace.plan_value(ledger, plan="max5", zone=UTC_ZONE, now=NOW)
    assert value.api_equivalent_usd == 27.0
    assert value.subscription_usd == round(100 * 21.5 / 30, 2)  # 21 days and 12 hours of November


def test_the_api_plan_has_no_ratio(ledger):
    value = pace.plan_value(ledger, plan="api", zone=UTC_ZONE, now=NOW)
    assert value.subscription_usd == 0 and value.value_ratio is None and value.savings_usd == 27.0


def test_an_unknown_plan_says_what_exists(ledger):
    with pytest.raises(queries.QueryError, match="pro, max5, max20, api"):
        pace.plan_value(ledger, plan="ultra", zone=UTC_ZONE, now=NOW)


def test_pace_this_month(ledger):
    result = pace.usage_pace(ledger, period="month", zone=UTC_ZONE, now=NOW)
    assert result.spent_usd == 27.0
    assert result.days_elapsed == 21.5 and result.days_in_period == 30
    assert result.daily_average_usd == round(27 / 21.5, 2)
    assert result.projected_usd == round(27 + 27 / 21.5 * 8.5, 2)
    # last 7 days (Nov 16-22): $15 -> $2.14/day; the 7 before (Nov 9-15): $6 -> $0.86/day
    assert (result.last_7_days_daily_usd, result.previous_7_days_daily_usd) == (round(15 / 7, 2), round(6 / 7, 2))
    assert result.trend == "increasing" and "10%" in result.trend_rule


def test_pace_this_week_in_a_timezone(ledger):
    result = pace.usage_pace(ledger, period="week", zone=ZoneInfo("Asia/Tokyo"), now=NOW)
    assert result.period.since_utc == "2026-11-15T15:00:00.000Z"  # Monday 16 November, Tokyo
    assert result.spent_usd == 15.0
    with pytest.raises(queries.QueryError, match="'week' or 'month'"):
        pace.usage_pace(ledger, period="year", zone=UTC_ZONE, now=NOW)
