"""How fast usage goes: 5-hour blocks, the burn rate, pace over a week or month, plan value.

Block figures are local estimates (``blocks``): Claude's real windows also count claude.ai and
other machines. The official percentages recorded by the statusline (``limits.py``) are reported
beside them, labelled as official.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from .. import timestamps
from ..choices import PLANS
from ..models import BlockInfo, BlockList, BurnRateReport, OfficialLimit, PlanValue, UsagePace, UsageRow
from . import blocks, facts, limits, queries
from .pages import paged

__all__ = ["burn_rate", "plan_value", "usage_blocks", "usage_pace"]


BLOCKS_NOTE = (
    "Estimates from this machine's Claude Code transcripts, with ccusage's algorithm: a block starts at its "
    "first response floored to the UTC hour and lasts 5 hours; more than 5 hours after its start or after the "
    "previous response, a new block begins. Claude's real window also counts claude.ai and other machines."
)

# The latest response is in the latest bucket, the first in the first: two seeks, not a scan.
LAST_RESPONSE_SQL = """
select max(last_utc) from usage_rollup
where source = 'dev' and bucket_utc = (select max(bucket_utc) from usage_rollup where source = 'dev')
"""
FIRST_RESPONSE_SQL = """
select min(first_utc) from usage_rollup where bucket_utc = (select min(bucket_utc) from usage_rollup)
"""

# `+model`: without it SQLite walks the whole model index to skip a sort of a few hundred rows
# (every response of the ledger: 1.7 s at 5,000,000), instead of the time index's hours.
BLOCK_MODELS_SQL = """
select model as key, count(*) as responses, sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
       sum(cache_write_5m_tokens) as cache_write_5m_tokens, sum(cache_write_1h_tokens) as cache_write_1h_tokens,
       sum(cache_read_tokens) as cache_read_tokens, sum(total_tokens) as total_tokens,
       sum(web_search_requests) as web_search_requests, coalesce(sum(cost_nanousd), 0) as cost_nanousd
from response_costs
where timestamp_utc >= :start and timestamp_utc <= :end
group by +model
order by cost_nanousd desc
"""


def usage_blocks(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    zone: ZoneInfo,
    now: datetime,
) -> BlockList:
    """The 5-hour blocks (and gaps) that started in a period, oldest first; with ``limit``, the
    most recent page of them (see ``pages``)."""
    window = queries.window_of(since or "last 3 days", until, zone, now)
    found = blocks.blocks_between(db.conn, window.start, min(window.end, now + timedelta(seconds=1)))
    page = paged(found, limit, offset, noun="blocks and gaps", newest_last=True)
    return BlockList(
        period=queries.period_of(window), blocks_total=page.total, showing=page.showing,
        next_offset=page.next_offset, blocks=[_info(block, now) for block in page.items], note=BLOCKS_NOTE,
    )  # fmt: skip


def burn_rate(db: Database, *, now: datetime) -> BurnRateReport:
    """The active block's burn and projection (estimates), and the latest official limits."""
    recent = blocks.blocks_between(db.conn, now - timedelta(days=2), now + timedelta(seconds=1))
    official = _official(db, now)
    active = blocks.active_block(recent, now)
    if active is None:
        finished = [block for block in recent if not block.is_gap]
        last_seen = db.execute(LAST_RESPONSE_SQL).fetchone()[0]
        if not finished and last_seen:  # idle for longer: the block around the latest response
            latest = timestamps.parse(last_seen)
            around = blocks.blocks_between(db.conn, latest - timedelta(hours=6), latest + timedelta(seconds=1))
            finished = [block for block in around if not block.is_gap]
        return BurnRateReport(
            active_block=None,
            last_block=_info(finished[-1], now) if finished else None,
            official=official,
            note="No active block: no Claude Code response in the last 5 hours. " + BLOCKS_NOTE,
        )
    rate = blocks.burn_rate(active, now)
    assert active.first is not None
    params = {"start": timestamps.text(active.first), "end": timestamps.text(now)}
    by_model = [UsageRow(key=row["key"], **facts.usage_fields(row)) for row in db.query(BLOCK_MODELS_SQL, params)]
    return BurnRateReport(
        active_block=_info(active, now),
        minutes_left=round((active.end - now).total_seconds() / 60, 1),
        tokens_per_minute=round(rate.tokens_per_minute, 1) if rate else None,
        cost_per_hour_usd=facts.nano_to_usd(round(rate.cost_per_hour_nanousd)) if rate else None,
        projected_tokens=rate.projected_tokens if rate else None,
        projected_cost_usd=facts.nano_to_usd(rate.projected_cost_nanousd) if rate else None,
        by_model=by_model,
        official=official,
        note=(
            "Burn rate and projection are estimates: the pace from the block's first to its last response, "
            "carried on to the block's end. " + BLOCKS_NOTE
        ),
    )


def plan_value(
    db: Database,
    *,
    plan: str,
    since: str | None = None,
    until: str | None = None,
    zone: ZoneInfo,
    now: datetime,
) -> PlanValue:
    """API-equivalent spend against a plan's price over a period, prorated by day."""
    if plan not in PLANS:
        raise queries.QueryError(f"plan={plan!r} is not one of: {', '.join(PLANS)} (pro $20, max5 $100, max20 $200)")
    summary = queries.usage_summary(db, since=since or "this month", until=until, source="dev", zone=zone, now=now)
    window = queries.window_of(since or "this month", until, zone, now)
    start = window.start
    if start is None:  # 'all': from the first response
        first = db.execute(FIRST_RESPONSE_SQL).fetchone()[0]
        start = timestamps.parse(first) if first else now
    end = min(window.end, now)
    subscription = _prorated(PLANS[plan], start, end, zone)
    spent = summary.totals.cost_usd
    return PlanValue(
        period=summary.period,
        plan=plan,
        plan_monthly_usd=PLANS[plan],
        subscription_usd=round(subscription, 2),
        api_equivalent_usd=round(spent, 2),
        value_ratio=round(spent / subscription, 2) if subscription else None,
        savings_usd=round(spent - subscription, 2),
        rule=(
            "The monthly price is spread evenly over the days of each month; the period counts up to now. "
            "A value ratio above 1 means the plan costs less than the same usage would at API prices."
        ),
    )


def usage_pace(db: Database, *, period: str = "month", zone: ZoneInfo, now: datetime) -> UsagePace:
    """Spend so far this week or month, the daily average, the trend and the projected total."""
    if period not in ("week", "month"):
        raise queries.QueryError(f"period={period!r} is not 'week' or 'month'")
    phrase = f"this {period}"
    summary = queries.usage_summary(db, since=phrase, source="dev", zone=zone, now=now)
    window = queries.window_of(phrase, None, zone, now)
    assert window.start is not None
    days_in_period = (window.end - window.start).total_seconds() / 86_400
    elapsed = min(max((now - window.start).total_seconds() / 86_400, 1 / 24), days_in_period)
    spent = summary.totals.cost_usd
    average = spent / elapsed
    recent = _daily_cost(db, "last 7 days", zone, now)
    before_start = (now.astimezone(zone) - timedelta(days=7)).date() - timedelta(days=6)
    before = _daily_cost(db, before_start.isoformat(), zone, now, until=(before_start + timedelta(days=6)).isoformat())
    if before == 0:
        trend = "increasing" if recent > 0 else "stable"
    else:
        change = (recent - before) / before
        trend = "increasing" if change > 0.10 else "decreasing" if change < -0.10 else "stable"
    return UsagePace(
        period=summary.period,
        days_elapsed=round(elapsed, 2),
        days_in_period=round(days_in_period, 2),
        spent_usd=round(spent, 2),
        daily_average_usd=round(average, 2),
        projected_usd=round(spent + average * (days_in_period - elapsed), 2),
        last_7_days_daily_usd=round(recent, 2),
        previous_7_days_daily_usd=round(before, 2),
        trend=trend,
        trend_rule=(
            "The average daily cost of the last 7 days (today included) against the 7 days before: more than "
            "10% higher is increasing, more than 10% lower is decreasing, otherwise stable."
        ),
    )


def _daily_cost(db: Database, since: str, zone: ZoneInfo, now: datetime, until: str | None = None) -> float:
    summary = queries.usage_summary(db, since=since, until=until, group_by="model", source="dev", zone=zone, now=now)
    return summary.totals.cost_usd / 7


def _prorated(monthly: float, start: datetime, end: datetime, zone: ZoneInfo) -> float:
    """The monthly price over [start, end): each day of a month costs price / days in that month."""
    total = 0.0
    cursor = start.astimezone(zone)
    stop = end.astimezone(zone)
    while cursor < stop:
        days = calendar.monthrange(cursor.year, cursor.month)[1]
        first_of_next = (cursor.replace(day=1) + timedelta(days=32)).replace(day=1)
        following = datetime(first_of_next.year, first_of_next.month, 1, tzinfo=zone)
        piece_end = min(following, stop)
        # Wall-clock local time: a DST day is still one day of the month, 23 or 25 hours long, so
        # a whole month comes to exactly the monthly price.
        seconds = (piece_end.replace(tzinfo=None) - cursor.replace(tzinfo=None)).total_seconds()
        total += monthly / days * seconds / 86_400
        cursor = piece_end
    return total


def _info(block: blocks.Block, now: datetime) -> BlockInfo:
    return BlockInfo(
        start_utc=timestamps.text(block.start),
        end_utc=timestamps.text(block.end),
        is_gap=block.is_gap,
        is_active=block.is_active(now),
        first_response_utc=timestamps.text(block.first) if block.first else None,
        last_response_utc=timestamps.text(block.last) if block.last else None,
        responses=block.responses,
        input_tokens=block.input_tokens,
        output_tokens=block.output_tokens,
        cache_write_tokens=block.cache_write_tokens,
        cache_read_tokens=block.cache_read_tokens,
        total_tokens=block.total_tokens,
        cost_usd=facts.nano_to_usd(block.cost_nanousd),
        unpriced_responses=block.unpriced_responses,
        models=sorted(block.models),
    )


def _official(db: Database, now: datetime) -> list[OfficialLimit]:
    found = []
    for reading in limits.latest_limits(db.conn).values():
        age = reading.age_seconds(now)
        found.append(
            OfficialLimit(
                window=reading.window,
                used_percentage=reading.used_percentage,
                resets_at_utc=timestamps.text(reading.resets_at) if reading.resets_at else None,
                captured_utc=timestamps.text(reading.captured_at),
                age_minutes=round(age / 60, 1),
                current=reading.is_current(now) and age <= limits.STALE_SECONDS,
            )
        )
    return found
