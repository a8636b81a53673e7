"""What the spend bought: activity over a period, beside its cost, and when in the week it happens.

Counted from the activity facts (``ledger.activity_rollup``) by ``activity_tally``; cost and
sessions come from the usage rollup, as every cost answer's do. The rules:

- a **commit** is a Bash command shaped as ``git commit`` whose result was not an error and,
  where its result was read with it, shows ``[branch sha]``; a **pull request** is ``gh pr
  create`` / ``glab mr create`` likewise (a URL to the new request), or an MCP tool named
  ``create_pull_request`` / ``create_merge_request`` whose result was not an error;
- an **edit** is a use of Edit, MultiEdit, Write or NotebookEdit: rejected when the user declined
  it, accepted otherwise;
- **active time** is an estimate: the turn durations Claude Code wrote (``system/turn_duration``)
  for the sessions that have them, else the gaps between a session's main-thread responses of
  at most five minutes (a longer gap was idle);
- **auxiliary cost** is what Claude Code's own session totals (``cost-state``) hold beyond the
  responses its transcripts wrote: per model and token kind, the excess, priced like any
  response. A fork's totals include what it copied, so its parent's part is taken off.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..choices import ACTIVITY_GROUP_BY_CHOICES, HEATMAP_METRICS
from ..ledger import buckets
from ..ledger.activity_daily import COUNT_COLUMNS, COUNT_SUMS_SQL, DAILY_DAYS_SQL
from ..ledger.activity_rollup import build_activity_rollup, is_built, lookback
from ..ledger.db import read_only, write_transaction
from ..models import (
    ActivityHeatmap,
    ActivityRow,
    ActivitySummary,
    ActivityTotals,
    AgentCost,
    CommandCount,
    ToolCount,
)
from .activity_tally import RAW_SOURCE, ROLLUP_SOURCE, UNGROUPED, Found, fields, gather, grouped
from .claude_totals import add_reported
from .facts import Facts, nano_to_usd
from .pages import paged
from .periods import Window, any_day, hour_in_one_group, local_day_sql, local_minute_sql, one_group
from .queries import QueryError, first_response, local_key, period_of, resolve_repo, window_of

__all__ = ["activity_heatmap", "activity_summary", "known_since"]

TOP = 15  # tools and commands listed

AGENT_TYPES_SQL = "select agent_id, agent_type from agent_types"
KNOWN_SINCE_SQL = "select known_since_utc from activity_state where id = 1"

HEATMAP_ROLLUP_SQL = """
select {cell} as cell, sum(responses) as responses, sum(cost_nanousd) as cost_nanousd
from (select responses, cost_nanousd, bucket_minute as m from usage_rollup
      where bucket_utc >= :start and bucket_utc < :end and source = 'dev' {repo})
group by 1
"""

# The 15-minute rollup over ranges [[lo, hi], ...].
RANGES_SOURCE = """
select r.*, r.bucket_minute as m from json_each(:ranges) as span
cross join activity_rollup as r on r.bucket_utc >= json_extract(span.value, '$[0]')
    and r.bucket_utc < json_extract(span.value, '$[1]')"""
# The daily tables over days [:lo, :hi) but :split (see ledger.activity_daily): each group's counts,
# active time included, and the window's tools, commands and subagent types.
_WHOLE_DAYS = "day_utc >= :lo and day_utc < :hi and day_utc not in (select value from json_each(:split)) {repo}"
DAILY_COUNTS_SQL = f"""
select {{key}} as key, {", ".join(f"sum({column})" for column in COUNT_COLUMNS)}
from (select *, day_minute as m from activity_daily where {_WHOLE_DAYS})
group by 1
"""
# The window's tools, commands and subagent types: whole months [:month_lo, :month_hi) from the
# monthly names, the days around them ([:lo, :month_lo) and [:month_hi, :hi)) from the daily ones.
# The hours [:lo, :hi) of days :split but :split_hours (the hours two groups share), per group.
HOURLY_COUNTS_SQL = f"""
select {{key}} as key, {", ".join(f"sum({column})" for column in COUNT_COLUMNS)}
from (select *, hour_minute as m from activity_hourly
      where hour_utc >= :lo and hour_utc < :hi and substr(hour_utc, 1, 10) in (select value from json_each(:split))
          and hour_utc not in (select value from json_each(:split_hours)) {{repo}})
group by 1
"""
# The counts of 15-minute buckets in ranges [[lo, hi], ...] (the hours two groups share), per group.
RANGES_COUNTS_SQL = f"""
select {{key}} as key, {COUNT_SUMS_SQL}
from ({RANGES_SOURCE}) where kind != 'agent' {{repo}}
group by 1
"""
DAILY_NAMES_SQL = """
select kind, name, sum(uses), sum(errors), sum(rejected), sum(value)
from (
    select kind, name, repo_id, uses, errors, rejected, value from activity_names
    where (day_utc >= :lo and day_utc < :month_lo) or (day_utc >= :month_hi and day_utc < :hi)
    union all
    select kind, name, repo_id, uses, errors, rejected, value from activity_names_monthly
    where month_utc >= substr(:month_lo, 1, 7) and month_utc < substr(:month_hi, 1, 7)
) where 1 {repo}
group by 1, 2
"""

_DIMENSIONS = {
    "none": "'total'",
    "repo": "coalesce(repo_id, '(no repo)')",
    "session": "coalesce(session_id, '(no session)')",
    "model": "coalesce(model, '(no model)')",
}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def activity_summary(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    repo: str | None = None,
    group_by: str = "none",
    limit: int | None = None,
    offset: int = 0,
    zone: ZoneInfo,
    now: datetime,
) -> ActivitySummary:
    """What Claude Code did over a period: totals (with cost, Claude Code's own reported figures
    and cost per commit and per 100 lines), the top tools, slash commands and subagent types, and
    with ``group_by`` one row per day, week, month, repo, session or model (a page of them)."""
    if group_by not in ACTIVITY_GROUP_BY_CHOICES:
        raise QueryError(f"group_by={group_by!r} is not one of: {', '.join(ACTIVITY_GROUP_BY_CHOICES)}")
    window = window_of(since, until, zone, now)
    repo_id = resolve_repo(db, repo) if repo else None
    query = _Query(db, window, repo_id, group_by)
    found = query.facts()
    groups, tools, commands = gather(found, group_by)
    costs, sessions = query.usage()
    for key, ids in sessions.items():
        groups[key]["sessions"] = len(ids)
    summed: Counter[str] = Counter()
    for counts in groups.values():
        summed.update(counts)
    summed["sessions"] = len(set().union(*sessions.values()))
    totals = _totals(summed, nano_to_usd(sum(costs.values())))
    add_reported(db, totals, query.params, query.repo)
    keys = sorted((groups.keys() | costs.keys()) - {UNGROUPED}) if group_by != "none" else []
    rows = [ActivityRow(key=key, **fields(groups.get(key, {}), nano_to_usd(costs.get(key, 0)))) for key in keys]
    if group_by in ("day", "week", "month"):
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, -row.tool_uses, row.key))
    page = paged(rows, limit, offset, noun="rows", newest_last=group_by in ("day", "week", "month"))
    ranked = sorted(tools.items(), key=lambda item: (-item[1]["uses"], item[0]))
    return ActivitySummary(
        period=period_of(window),
        group_by=group_by,
        filters={"repo": repo_id} if repo_id else {},
        activity_known_since=known_since(db, window),
        totals=totals,
        tools_total=len(ranked),
        tools=[
            ToolCount(name=name, uses=counts["uses"], errors=counts["errors"], rejected=counts["rejected"])
            for name, counts in ranked[:TOP]
        ],
        slash_commands=[CommandCount(name=name, uses=uses) for name, uses in _ranked(commands)[:TOP]],
        agents=_agents(db, found),
        rows_total=page.total,
        showing=page.showing if group_by != "none" else "",
        next_offset=page.next_offset,
        rows=page.items,
    )


def _agents(db: Database, found: Found) -> list[AgentCost]:
    """Subagent responses and cost by agent type, costliest first."""
    types = dict(db.execute(AGENT_TYPES_SQL).fetchall())
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for row in found.facts:
        if row["kind"] == "agent":
            by_type[types.get(row["name"], "unknown")].update(responses=row["uses"], nano=row["value"])
    for kind, agent_type, uses, _, _, nano in found.names:
        if kind == "agent_type":
            by_type[agent_type].update(responses=uses, nano=nano)
    ranked = sorted(by_type.items(), key=lambda item: (-item[1]["nano"], -item[1]["responses"], item[0]))
    return [
        AgentCost(agent_type=name, responses=counts["responses"], cost_usd=nano_to_usd(counts["nano"]))
        for name, counts in ranked
    ]


def activity_heatmap(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    repo: str | None = None,
    metric: str = "responses",
    zone: ZoneInfo,
    now: datetime,
) -> ActivityHeatmap:
    """A 7 x 24 grid of ``metric`` by local weekday (Monday first) and hour, like a contribution
    graph: responses, cost (USD), prompts, or active time (seconds)."""
    if metric not in HEATMAP_METRICS:
        raise QueryError(f"metric={metric!r} is not one of: {', '.join(HEATMAP_METRICS)}")
    window = window_of(since, until, zone, now)
    repo_id = resolve_repo(db, repo) if repo else None
    # Prompts and active time are events and gaps: the rest of the rollup (tool uses, most of it) is not read.
    only = "" if metric in ("responses", "cost") else "and kind in ('event', 'gap')"
    query = _Query(db, window, repo_id, "cell", only=only)
    cells: Counter[int] = Counter()
    if metric in ("responses", "cost"):
        for row in query.rows(HEATMAP_ROLLUP_SQL):
            cells[row["cell"]] += row["responses"] if metric == "responses" else (row["cost_nanousd"] or 0)
    else:
        found = query.facts()
        groups, _, _ = gather(found, "cell")
        field = "prompts" if metric == "prompts" else "active_seconds"
        for cell, counts in groups.items():
            cells[int(cell)] += counts[field]
    scale = 1e-9 if metric == "cost" else 1
    grid = [[round(cells.get(day * 24 + hour, 0) * scale, 4) for hour in range(24)] for day in range(7)]
    busiest = max(((value, day, hour) for day, hours in enumerate(grid) for hour, value in enumerate(hours)))
    return ActivityHeatmap(
        period=period_of(window),
        metric=metric,
        filters={"repo": repo_id} if repo_id else {},
        total=round(sum(map(sum, grid)), 4),
        busiest=f"{_WEEKDAYS[busiest[1]]} {busiest[2]:02d}:00" if busiest[0] else None,
        grid=grid,
        activity_known_since=known_since(db, window) if metric in ("prompts", "active_time") else None,
    )


def known_since(db: Database, window: Window | None) -> str | None:
    """When activity is known from, if the window (None: all time) starts before it."""
    row = db.execute(KNOWN_SINCE_SQL).fetchone()
    since = row[0] if row else None
    if since is None or (window is not None and window.start_utc is not None and window.start_utc > since):
        return None
    return since


class _Query:
    """The window, filter and group key that every part of one answer is read with."""

    def __init__(self, db: Database, window: Window, repo_id: str | None, group_by: str, *, only: str = "") -> None:
        self.db, self.window, self.repo_id = db, window, repo_id
        self.params: dict[str, Any] = {
            "start": window.start_utc or "0000", "end": window.end_utc, "repo_id": repo_id,
        }  # fmt: skip
        self.key_params: dict[str, Any] = {}
        self.repo = "and repo_id = :repo_id " if repo_id else ""
        self.row_filter = self.repo + only  # the rows read: the repo's, and ``only`` (more conditions on them)
        self.local: Callable[[int], str] | None = None
        self.by_session = group_by in ("session", "cell")  # the daily rollup keeps no sessions, no hours
        self.whole: Callable[[str], bool] = any_day
        self.whole_hour: Callable[[datetime], bool] | None = None
        if group_by in ("day", "week", "month", "cell"):  # keys in local time: the offsets since the start
            start = window.start or first_response(db) or window.end
        if group_by in ("day", "week", "month"):
            day_sql, self.key_params = local_day_sql("m", window.zone, start, window.end)
            self.key, self.local = day_sql, local_key(group_by)
            self.whole = one_group(window.zone, self.local)
            self.whole_hour = hour_in_one_group(window.zone, self.local)
        elif group_by == "cell":
            minute_sql, self.key_params = local_minute_sql("m", window.zone, start, window.end)
            self.key = f"((({minute_sql} / 1440) + 3) % 7 * 24 + ({minute_sql} % 1440) / 60)"
        else:
            self.key = _DIMENSIONS[group_by]
        self.params.update(self.key_params)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        found = list(self.db.query(self._sql(sql), params or self.params))
        if self.local is not None:
            for row in found:
                row["key"] = self._local(row["key"])
        return found

    def _sql(self, sql: str) -> str:
        return sql.format(key=self.key, cell=self.key, repo=self.row_filter)

    def _local(self, key: Any) -> Any:
        # None: a subagent's row, ranked by name alone
        return self.local(key) if self.local is not None and key is not None else key

    def usage(self) -> tuple[Counter[str], dict[str, set[str]]]:
        """Each group's cost (nano-dollars) and sessions, from the usage rollups, as every cost answer's."""
        facts = Facts(self.window, {"repo_id": self.repo_id}, whole=self.whole, whole_hour=self.whole_hour)
        costs: Counter[str] = Counter()
        sessions: dict[str, set[str]] = defaultdict(set)
        found_costs, found_sessions = facts.cost_and_sessions(self.db, self.key, params=self.key_params)
        for key, nanousd in found_costs.items():
            costs[self._local(key)] += nanousd
        for key, ids in found_sessions.items():
            sessions[self._local(key)] |= ids
        return costs, sessions

    def facts(self) -> Found:
        """The window's activity: its whole buckets from the rollups, built first if they are not
        yet (a read-only ledger reads the rows themselves), its edges from the rows."""
        start, end = self.params["start"], self.params["end"]
        if not is_built(self.db) and not read_only(self.db):
            with write_transaction(self.db):
                if not is_built(self.db):
                    build_activity_rollup(self.db)
        if not is_built(self.db):
            return Found(self._raw(start, end))
        low = buckets.ceil_text(start) if start != "0000" else start
        high = max(buckets.floor_text(end), low)
        plan = None if self.by_session else buckets.day_plan(low, high, self._days, self.whole)
        if plan is None:
            facts = self.rows(grouped(ROLLUP_SOURCE), {**self.params, "lo": low, "hi": high})
        else:
            first, last, split, _ = plan
            facts = self._ranges([(lo, hi) for lo, hi in ((low, first), (last, high)) if lo < hi])
        for edge in ((start, low), (high, end)):
            if edge[0] < edge[1]:
                facts.extend(self._raw(*edge))
        return Found(facts) if plan is None else self._daily(facts, first, last, split)

    def _daily(self, facts: list[dict[str, Any]], first: str, last: str, split: list[str]) -> Found:
        """The whole days [first, last) from the daily tables, beside ``facts``, the rest of the
        window. A ``split`` day (see ``buckets.day_plan``: a day of New York's is two of UTC's, so
        by day only UTC's are whole) has its counts read by hour, and the hour two groups share
        (Kolkata's midnight is half past a UTC hour) by bucket, summed in SQL as the daily counts
        are; its names, ranked over the whole window, are read with the other days'."""
        params = {**self.params, "lo": first, "hi": last, "split": json.dumps(split)}
        counts = self.db.execute(self._sql(DAILY_COUNTS_SQL), params).fetchall()
        if split:  # only by day, week or month, which set whole_hour
            assert self.whole_hour is not None
            hours_lo, hours_hi, shared, ranges = buckets.hour_plan(split, self.whole_hour)
            hours = {**params, "lo": hours_lo, "hi": hours_hi, "split_hours": json.dumps(shared)}
            counts += self.db.execute(self._sql(HOURLY_COUNTS_SQL), hours).fetchall()
            if ranges:
                hours["ranges"] = json.dumps(ranges)
                counts += self.db.execute(self._sql(RANGES_COUNTS_SQL), hours).fetchall()
        month_lo, month_hi = buckets.whole_months(first, last) or (last, last)
        names = self.db.execute(self._sql(DAILY_NAMES_SQL), {**params, "month_lo": month_lo, "month_hi": month_hi})
        return Found(
            facts,
            counts=[(self._local(key), *sums) for key, *sums in counts],
            names=names.fetchall(),
        )

    def _ranges(self, ranges: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return self.rows(grouped(RANGES_SOURCE), {**self.params, "ranges": json.dumps(ranges)}) if ranges else []

    def _days(self, first: str, last: str) -> list[str]:
        return [day for (day,) in self.db.execute(DAILY_DAYS_SQL, {"lo": first, "hi": last})]

    def _raw(self, lo: str, hi: str) -> list[dict[str, Any]]:
        params = {**self.params, "lo": lo, "hi": hi, "lookback": lookback(lo)}
        return self.rows(grouped(RAW_SOURCE), params)


def _totals(summed: dict[str, Any], cost_usd: float) -> ActivityTotals:
    totals = ActivityTotals(**fields(summed, cost_usd))
    changed = totals.lines_added + totals.lines_removed
    if totals.commits:
        totals.cost_per_commit_usd = round(cost_usd / totals.commits, 4)
    if changed:
        totals.cost_per_100_lines_usd = round(cost_usd * 100 / changed, 4)
    return totals


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
