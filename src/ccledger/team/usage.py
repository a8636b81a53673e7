"""Usage across the team, summed in PostgreSQL: never rows pulled to the laptop.

A window is read as the local answers read it (``answers.facts``): its whole UTC days from
``team_daily``, but for a day two of the answer's groups share (``periods.one_group``: by month,
the day holding a local month's start), whose hours come from ``team_rollup`` with the other
whole hours, and the minutes before the first whole hour and after the last from the priced
responses themselves, through the hour index. So an answer is exact to the response for any
window. Days, weeks and months follow the asker's zone (PostgreSQL's own ``AT TIME ZONE``); in a
zone whose offset is not a whole number of hours (India, Nepal, parts of Australia) an hour of the
rollup can hold two local days, so answers by day, week or month there read the priced
responses whole instead (slower, as exact).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .. import timestamps
from ..answers.periods import Window, offset_spans, one_group
from ..answers.queries import local_key
from ..choices import SOURCE_CHOICES, TEAM_GROUP_BY_CHOICES
from ..models import Period, UnpricedModel, Usage, UsageRow
from .connect import on_team, redact

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    import psycopg

__all__ = ["TeamTotals", "TeamUsage", "team_usage", "team_usage_at"]

_TIME_KEYS = {
    "day": "to_char(moment AT TIME ZONE %(zone)s, 'YYYY-MM-DD')",
    "week": "to_char(date_trunc('week', moment AT TIME ZONE %(zone)s), 'YYYY-MM-DD')",
    "month": "to_char(moment AT TIME ZONE %(zone)s, 'YYYY-MM')",
}
_KEYS = {
    "developer": "developer",
    "machine": "machine",
    "repo": "coalesce(repo_id, '(no repo)')",
    "model": "model",
    **_TIME_KEYS,
}
_FILTERS = {"developer": "developer", "repo": "repo_id", "model": "model"}

_SUMS = (
    "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "total_tokens", "web_search_requests", "cost_nanousd", "unpriced_responses", "unpriced_tokens",
)  # fmt: skip
_COLUMNS = f"developer, machine, repo_id, model, responses, {', '.join(_SUMS)}, 'dev' AS source"
# Whole hours from the hourly rollup: a range (before the first whole day, after the last, or all
# of a window without one), and the hours of the days two of the answer's groups share.
_HOUR_ROWS = f"""
SELECT hour_utc AS moment, {_COLUMNS}
FROM team_rollup WHERE hour_utc >= %({{name}}_from)s AND hour_utc < %({{name}}_to)s {{only}}"""
_SPLIT_DAY_ROWS = f"""
SELECT r.hour_utc AS moment, {_COLUMNS}
FROM unnest(%(split)s::timestamptz[]) AS s(day)
JOIN team_rollup AS r ON r.hour_utc >= s.day AND r.hour_utc < s.day + interval '1 day' WHERE true {{only}}"""
_DAY_ROWS = f"""
SELECT day_utc AS moment, {_COLUMNS}
FROM team_daily WHERE day_utc >= %(days_from)s AND day_utc < %(days_to)s AND day_utc <> ALL(%(split)s::timestamptz[])
    {{only}}"""
FIRST_HOUR_SQL = "SELECT min(hour_utc) FROM team_rollup"
# A response as a rollup row (every column named: the first part of a UNION names them all).
_RESPONSE_SUMS = (
    "input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, total_tokens, "
    "web_search_requests, coalesce(cost_nanousd, 0) AS cost_nanousd, "
    "(cost_nanousd IS NULL)::int AS unpriced_responses, "
    "CASE WHEN cost_nanousd IS NULL THEN total_tokens ELSE 0 END AS unpriced_tokens, 'dev' AS source"
)
_EDGE_ROWS = f"""
SELECT timestamp_utc::timestamptz AS moment, developer, machine, repo_id, model, 1 AS responses, {_RESPONSE_SUMS}
FROM team_response_costs WHERE hour_utc = %({{name}}_hour)s
    AND timestamp_utc >= %({{name}}_from)s AND timestamp_utc < %({{name}}_to)s {{only}}"""
_ALL_RESPONSE_ROWS = f"""
SELECT timestamp_utc::timestamptz AS moment, developer, machine, repo_id, model, 1 AS responses, {_RESPONSE_SUMS}
FROM team_response_costs WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s {{only}}"""

# Production records (pulled telemetry, ``prod``) by their bucket's start, as the local answers
# read them: under '(prod)' as developer and machine, a record counting the requests it reports.
_PROD_ROWS = """
SELECT bucket_start_utc::timestamptz AS moment, '(prod)' AS developer, '(prod)' AS machine, repo_id, model,
       coalesce(requests, 1) AS responses, input_tokens, output_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens, cache_read_tokens, total_tokens, web_search_requests,
       coalesce(cost_nanousd, 0) AS cost_nanousd,
       CASE WHEN cost_nanousd IS NULL THEN coalesce(requests, 1) ELSE 0 END AS unpriced_responses,
       CASE WHEN cost_nanousd IS NULL THEN total_tokens ELSE 0 END AS unpriced_tokens, 'prod' AS source
FROM team_prod_costs WHERE bucket_start_utc >= %(start)s AND bucket_start_utc < %(end)s {only}"""

_SUMMED = "sum(responses), " + ", ".join(f"sum({column})" for column in _SUMS)
_FIELDS = ("responses", *_SUMS)
# Three statements over the same rows, not one UNION of their three aggregates: measured at
# 2,000,000 responses, all time by month, the one statement took 85 ms against 69 (240 against 122
# in New York).
GROUPED_SQL = "WITH rows AS ({rows}) SELECT {key}, " + _SUMMED + " FROM rows GROUP BY 1"
TOTALS_SQL = (
    "WITH rows AS ({rows}) SELECT count(DISTINCT developer) FILTER (WHERE source = 'dev'), "
    "count(DISTINCT machine) FILTER (WHERE source = 'dev'), "
    "coalesce(sum(cost_nanousd) FILTER (WHERE source = 'prod'), 0), " + _SUMMED + " FROM rows"
)
UNPRICED_SQL = """
WITH rows AS ({rows}) SELECT model, sum(unpriced_responses), sum(unpriced_tokens) FROM rows
GROUP BY model HAVING sum(unpriced_responses) > 0 ORDER BY 3 DESC
"""


class TeamTotals(Usage):
    """Usage of the whole team over a period."""

    developers: int = Field(description="Developers with usage in the period.")
    machines: int = Field(description="Machines with usage in the period.")
    dev_cost_usd: float = Field(description="The part of cost_usd spent in Claude Code, on every machine.")
    prod_cost_usd: float = Field(description="The part of cost_usd spent by shipped apps (pulled telemetry, synced).")


class TeamUsage(BaseModel):
    """Usage and cost across every machine synced to the team database, grouped one way."""

    team: str = Field(description="The team database, its password masked.")
    period: Period
    group_by: str
    filters: dict[str, str] = Field(default_factory=dict, description="developer / repo / model filters applied.")
    totals: TeamTotals = Field(description="The whole period, every row included: the answer.")
    rows_total: int = Field(0, description="Rows in the whole answer; `rows` holds one page of them.")
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null: no more.")
    rows: list[UsageRow]
    unpriced_models: list[UnpricedModel] = Field(default_factory=list)


def team_usage(
    conn: psycopg.Connection,
    window: Window,
    *,
    team: str,
    group_by: str = "developer",
    filters: dict[str, str] | None = None,
    source: str = "all",
    limit: int = 50,
    offset: int = 0,
) -> TeamUsage:
    """The team's usage over ``window`` by ``group_by`` (one of choices.TEAM_GROUP_BY_CHOICES), filtered by
    developer, repo and model; rows by cost (largest first), or in time order by day, week, month.
    ``source``: dev (Claude Code), prod (pulled telemetry) or all."""
    if source not in SOURCE_CHOICES:
        raise ValueError(f"source must be one of {', '.join(SOURCE_CHOICES)}, not {source!r}")
    if group_by not in TEAM_GROUP_BY_CHOICES:
        raise ValueError(f"group_by must be one of {', '.join(TEAM_GROUP_BY_CHOICES)}, not {group_by!r}")
    filters = {name: value for name, value in (filters or {}).items() if value}
    unknown = set(filters) - set(_FILTERS)
    if unknown:
        raise ValueError(f"unknown filter {sorted(unknown)[0]!r}: use developer, repo or model")
    first = conn.execute(FIRST_HOUR_SQL).fetchone()
    only = "".join(f" AND {_FILTERS[name]} = %(filter_{name})s" for name in filters)
    rows_sql, params = _rows(window, group_by, only, first[0] if first else None)
    params.update({f"filter_{name}": value for name, value in filters.items()}, zone=window.zone.key)
    if source != "dev":
        prod = _PROD_ROWS.format(only=only)
        rows_sql = prod if source == "prod" else f"{rows_sql} UNION ALL {prod}"
    grouped = conn.execute(GROUPED_SQL.format(rows=rows_sql, key=_KEYS[group_by]), params).fetchall()
    totals = conn.execute(TOTALS_SQL.format(rows=rows_sql), params).fetchone()
    assert totals is not None  # an aggregate without GROUP BY returns one row
    unpriced = conn.execute(UNPRICED_SQL.format(rows=rows_sql), params).fetchall()
    developers, machines, prod_nanousd, *sums = totals
    total = _named(sums)
    rows = [UsageRow(key=key, **_usage(_named(sums))) for key, *sums in grouped]
    if group_by in _TIME_KEYS:
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, row.key))
    return TeamUsage(
        team=team,
        period=Period(
            label=window.label, since_utc=window.start_utc, until_utc=window.end_utc, timezone=window.zone.key
        ),
        group_by=group_by,
        filters=filters,
        totals=TeamTotals(
            developers=developers,
            machines=machines,
            dev_cost_usd=round((total["cost_nanousd"] - int(prod_nanousd)) / 1e9, 6),
            prod_cost_usd=round(int(prod_nanousd) / 1e9, 6),
            **_usage(total),
        ),
        rows_total=len(rows),
        next_offset=offset + limit if offset + limit < len(rows) else None,
        rows=rows[offset : offset + limit],
        unpriced_models=[
            UnpricedModel(model=model, responses=int(count), total_tokens=int(tokens))
            for model, count, tokens in unpriced
        ],
    )


def team_usage_at(url: str, window: Window, **options: Any) -> TeamUsage:
    """:func:`team_usage` of the team database at ``url`` (see ``connect.on_team``), with
    ``options`` as its keywords but ``team``."""
    return on_team(url, lambda conn: team_usage(conn, window, team=redact(url), **options))


def _named(sums: list[Any]) -> dict[str, int]:
    """The summed columns (responses, then _SUMS) by name; a NULL sum (no rows) is 0."""
    return dict(zip(_FIELDS, (int(value or 0) for value in sums), strict=True))


def _usage(sums: dict[str, int]) -> dict[str, Any]:
    """The Usage fields of a part's sums."""
    return {
        "responses": sums["responses"],
        **{name: sums[name] for name in _SUMS[:7]},
        "cost_usd": round(sums["cost_nanousd"] / 1e9, 6),
    }


def _rows(window: Window, group_by: str, only: str, first: datetime | None) -> tuple[str, dict[str, Any]]:
    """The SQL of the window's Claude Code rows, each part filtered by ``only``, and its
    parameters (see the module docstring). ``first``: the earliest hour the team has."""
    end = window.end.astimezone(UTC)
    start = (window.start or first or end).astimezone(UTC)
    params: dict[str, Any] = {"start": timestamps.text(start), "end": timestamps.text(end)}
    if group_by in _TIME_KEYS and not _whole_hours(window.zone, start, end):  # other groupings: hours are hours
        return _ALL_RESPONSE_ROWS.format(only=only), params
    whole_from, whole_to = _ceil(start, _HOUR), _floor(end, _HOUR)
    if whole_from >= whole_to:  # no whole hour: the window lies within one or two hours
        whole_from = whole_to = _ceil(start, _HOUR)
    days_from, days_to = _ceil(whole_from, _DAY), _floor(whole_to, _DAY)
    parts = []
    hours: tuple[tuple[str, datetime, datetime], ...]
    if days_from < days_to:
        split = _split_days(window.zone, group_by, days_from, days_to)
        params.update(days_from=days_from, days_to=days_to, split=split)
        parts += [_DAY_ROWS.format(only=only), _SPLIT_DAY_ROWS.format(only=only)]
        hours = (("head_hours", whole_from, days_from), ("tail_hours", days_to, whole_to))
    else:
        hours = (("hours", whole_from, whole_to),)
    for name, low, high in hours:
        if low < high:
            params[f"{name}_from"], params[f"{name}_to"] = low, high
            parts.append(_HOUR_ROWS.format(name=name, only=only))
    # Each edge lies within one hour: before the first whole hour, and from the last one on.
    for name, low, high in (("head", start, min(whole_from, end)), ("tail", max(whole_to, start), end)):
        if low < high:
            params[f"{name}_hour"] = _floor(low, _HOUR)
            params[f"{name}_from"], params[f"{name}_to"] = timestamps.text(low), timestamps.text(high)
            parts.append(_EDGE_ROWS.format(name=name, only=only))
    if not parts:  # an empty window
        params.update(hours_from=start, hours_to=start)
        parts.append(_HOUR_ROWS.format(name="hours", only=only))
    return " UNION ALL ".join(parts), params


def _split_days(zone: ZoneInfo, group_by: str, low: datetime, high: datetime) -> list[datetime]:
    """The UTC days in [low, high) whose hours fall in two of the answer's groups
    (``periods.one_group``: by day outside UTC, every one); none for other groupings."""
    if group_by not in _TIME_KEYS:
        return []
    whole = one_group(zone, local_key(group_by))
    days = (low + _DAY * n for n in range((high - low) // _DAY))
    return [day for day in days if not whole(day.date().isoformat())]


_HOUR, _DAY = timedelta(hours=1), timedelta(days=1)


def _whole_hours(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether every offset the zone has from ``start`` to ``end`` is a whole number of hours."""
    return all(minutes % 60 == 0 for _, minutes in offset_spans(zone, start, end))


def _floor(moment: datetime, step: timedelta) -> datetime:
    """``moment`` (UTC) down to a whole hour or day."""
    return datetime.fromtimestamp(moment.timestamp() // step.total_seconds() * step.total_seconds(), UTC)


def _ceil(moment: datetime, step: timedelta) -> datetime:
    floor = _floor(moment, step)
    return floor if floor == moment else floor + step
