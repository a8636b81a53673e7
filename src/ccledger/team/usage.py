"""Usage across the team, summed in PostgreSQL: never rows pulled to the laptop.

A window's whole UTC hours are read from ``team_rollup``; the minutes before its first whole
hour and after its last are read from the priced responses themselves, through the hour index.
So an answer is exact to the response for any window, as the local ones are. Days, weeks and
months follow the asker's zone (PostgreSQL's own ``AT TIME ZONE``); in a zone whose offset is
not a whole number of hours (India, Nepal, parts of Australia) an hour of the rollup can hold
two local days, so those answers read the priced responses whole instead (slower, as exact).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .. import timestamps
from ..answers.periods import Window
from ..models import Period, UnpricedModel, Usage, UsageRow

if TYPE_CHECKING:
    import psycopg

__all__ = ["TEAM_GROUP_BY", "TeamTotals", "TeamUsage", "team_usage"]

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
TEAM_GROUP_BY = tuple(_KEYS)
"""What a team answer can be grouped by."""
_FILTERS = {"developer": "developer", "repo": "repo_id", "model": "model"}

_SUMS = (
    "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "total_tokens", "web_search_requests", "cost_nanousd", "unpriced_responses", "unpriced_tokens",
)  # fmt: skip
_ROLLUP_ROWS = f"""
SELECT hour_utc AS moment, developer, machine, repo_id, model, responses, {", ".join(_SUMS)}
FROM team_rollup WHERE hour_utc >= %(whole_from)s AND hour_utc < %(whole_to)s {{only}}"""
_RESPONSE_SUMS = (
    "input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, total_tokens, "
    "web_search_requests, coalesce(cost_nanousd, 0), (cost_nanousd IS NULL)::int, "
    "CASE WHEN cost_nanousd IS NULL THEN total_tokens ELSE 0 END"
)
_EDGE_ROWS = f"""
SELECT timestamp_utc::timestamptz, developer, machine, repo_id, model, 1, {_RESPONSE_SUMS}
FROM team_response_costs WHERE hour_utc = %({{name}}_hour)s
    AND timestamp_utc >= %({{name}}_from)s AND timestamp_utc < %({{name}}_to)s {{only}}"""
_ALL_RESPONSE_ROWS = f"""
SELECT timestamp_utc::timestamptz, developer, machine, repo_id, model, 1, {_RESPONSE_SUMS}
FROM team_response_costs WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s {{only}}"""

_SUMMED = "sum(responses), " + ", ".join(f"sum({column})" for column in _SUMS)
GROUPED_SQL = "WITH rows AS ({rows}) SELECT {key} AS key, " + _SUMMED + " FROM rows GROUP BY 1"
TOTALS_SQL = (
    "WITH rows AS ({rows}) SELECT count(DISTINCT developer), count(DISTINCT machine), " + _SUMMED + " FROM rows"
)
UNPRICED_SQL = """
WITH rows AS ({rows}) SELECT model, sum(unpriced_responses), sum(unpriced_tokens) FROM rows
GROUP BY model HAVING sum(unpriced_responses) > 0 ORDER BY 3 DESC
"""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


class TeamTotals(Usage):
    """Usage of the whole team over a period."""

    developers: int = Field(description="Developers with usage in the period.")
    machines: int = Field(description="Machines with usage in the period.")


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
    limit: int = 50,
    offset: int = 0,
) -> TeamUsage:
    """The team's usage over ``window`` by ``group_by`` (one of TEAM_GROUP_BY), filtered by
    developer, repo and model; rows by cost (largest first), or in time order by day, week, month."""
    if group_by not in _KEYS:
        raise ValueError(f"group_by must be one of {', '.join(TEAM_GROUP_BY)}, not {group_by!r}")
    filters = {name: value for name, value in (filters or {}).items() if value}
    unknown = set(filters) - set(_FILTERS)
    if unknown:
        raise ValueError(f"unknown filter {sorted(unknown)[0]!r}: use developer, repo or model")
    rows_sql, params = _rows(window, filters)
    params["zone"] = window.zone.key
    grouped = conn.execute(GROUPED_SQL.format(rows=rows_sql, key=_KEYS[group_by]), params).fetchall()
    totals = conn.execute(TOTALS_SQL.format(rows=rows_sql), params).fetchone()
    unpriced = conn.execute(UNPRICED_SQL.format(rows=rows_sql), params).fetchall()
    rows = [UsageRow(key=key, **_usage(values)) for key, *values in grouped]
    if group_by in _TIME_KEYS:
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, row.key))
    assert totals is not None  # an aggregate without GROUP BY returns one row
    developers, machines, *sums = totals
    page = rows[offset : offset + limit]
    return TeamUsage(
        team=team,
        period=Period(
            label=window.label, since_utc=window.start_utc, until_utc=window.end_utc, timezone=window.zone.key
        ),
        group_by=group_by,
        filters=filters,
        totals=TeamTotals(developers=developers, machines=machines, **_usage(sums)),
        rows_total=len(rows),
        next_offset=offset + limit if offset + limit < len(rows) else None,
        rows=page,
        unpriced_models=[
            UnpricedModel(model=model, responses=int(count), total_tokens=int(tokens))
            for model, count, tokens in unpriced
        ],
    )


def _usage(values: list[Any]) -> dict[str, Any]:
    """Usage fields from the summed columns (responses, then _SUMS); NULL sums (no rows) are 0."""
    responses, *sums = (int(value or 0) for value in values)
    named = dict(zip(_SUMS, sums, strict=True))
    return {
        "responses": responses,
        **{name: named[name] for name in _SUMS[:7]},
        "cost_usd": round(named["cost_nanousd"] / 1e9, 6),
    }


def _rows(window: Window, filters: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The SQL of the window's rows (rollup hours and edge responses) and its parameters."""
    only = "".join(f" AND {_FILTERS[name]} = %(filter_{name})s" for name in filters)
    params: dict[str, Any] = {f"filter_{name}": value for name, value in filters.items()}
    start, end = (window.start or _EARLIEST).astimezone(UTC), window.end.astimezone(UTC)
    params.update(start=_text(start), end=_text(end))
    if not _whole_hours(window):
        return _ALL_RESPONSE_ROWS.format(only=only), params
    whole_from, whole_to = _ceil_hour(start), end.replace(minute=0, second=0, microsecond=0)
    if whole_from >= whole_to:  # no whole hour: the window lies within one or two hours
        whole_from = whole_to = _ceil_hour(start)
    parts = [_ROLLUP_ROWS.format(only=only)]
    params.update(whole_from=whole_from, whole_to=whole_to)
    # Each edge lies within one hour: before the first whole hour, and from the last one on.
    for name, low, high in (("head", start, min(whole_from, end)), ("tail", max(whole_to, start), end)):
        if low < high:
            params[f"{name}_hour"] = low.replace(minute=0, second=0, microsecond=0)
            params[f"{name}_from"], params[f"{name}_to"] = _text(low), _text(high)
            parts.append(_EDGE_ROWS.format(name=name, only=only))
    return " UNION ALL ".join(parts), params


def _whole_hours(window: Window) -> bool:
    """Whether the zone's offset is a whole number of hours over the window (sampled monthly)."""
    start = window.start or window.end - timedelta(days=366)
    days = max(1, (window.end - start).days)
    moments = [window.end, *(start + timedelta(days=day) for day in range(0, days, 30))]
    return all(_offset(moment, window) % timedelta(hours=1) == timedelta() for moment in moments)


def _offset(moment: datetime, window: Window) -> timedelta:
    return moment.astimezone(window.zone).utcoffset() or timedelta()


def _ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def _text(moment: datetime) -> str:
    """A moment as the ledger writes timestamps (2026-12-03T12:00:00.000Z)."""
    return timestamps.text(moment)
