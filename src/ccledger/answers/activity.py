"""What the spend bought: activity over a period, beside its cost, and when in the week it happens.

Counted from ``tool_uses`` and ``activity_events`` (see ``ledger.activity``); cost and sessions
come from the usage rollup, as every cost answer's do. The rules, written once:

- a **commit** is a Bash command shaped as ``git commit`` whose result was not an error and,
  where its result was read with it, shows ``[branch sha]``; a **pull request** is ``gh pr
  create`` / ``glab mr create`` likewise (a URL to the new request), or an MCP tool named
  ``create_pull_request`` / ``create_merge_request`` whose result was not an error;
- an **edit** is a use of Edit, MultiEdit, Write or NotebookEdit: rejected when the user declined
  it, accepted otherwise;
- **active time** is an estimate: the turn durations Claude Code wrote (``system/turn_duration``)
  for the sessions that have them, else the gaps between a session's main-thread responses,
  each capped at five minutes;
- **auxiliary cost** is what Claude Code's own session totals (``cost-state``) hold beyond the
  responses its transcripts wrote: per model and token kind, the excess, priced like any
  response. A fork's totals include what it copied, so its parent's part is taken off.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..choices import ACTIVITY_GROUP_BY_CHOICES, HEATMAP_METRICS
from ..models import (
    ActivityHeatmap,
    ActivityRow,
    ActivitySummary,
    ActivityTotals,
    AgentCost,
    CommandCount,
    ToolCount,
)
from ..pricing.table import cost as price_of
from ..pricing.table import load_prices
from .facts import nano_to_usd
from .pages import paged
from .periods import Window, local_day_sql, local_minute_sql
from .queries import QueryError, first_response, local_key, period_of, resolve_repo, usage_summary, window_of

__all__ = ["EDIT_TOOLS", "activity_heatmap", "activity_summary"]

EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")
GAP_CAP_SECONDS = 300
TOP = 15  # tools and commands listed

# The rows of a table in the window, with `m`, their minute since 1970 UTC, for the group key.
_IN_WINDOW = """(select *, cast(strftime('%s', timestamp_utc) as integer) / 60 as m from {table}
    where timestamp_utc >= :start and timestamp_utc < :end {repo})"""

# Tool uses, from the responses that called them; then what their results said.
TOOL_USES_SQL = f"""
select {{key}} as key, tool.value as tool, count(*) as uses
from {_IN_WINDOW.format(table="responses", repo="{repo} and tools is not null")} as r, json_each(r.tools) as tool
group by 1, 2
"""

TOOL_RESULTS_SQL = f"""
select {{key}} as key, tool, coalesce(sum(outcome = 1), 0) as errors, coalesce(sum(outcome = 2), 0) as rejected,
       coalesce(sum(lines_added), 0) as lines_added, coalesce(sum(lines_removed), 0) as lines_removed,
       coalesce(sum(shape = 1 and outcome is null and coalesce(made, 1) = 1), 0) as commits,
       coalesce(sum(shape = 2 and outcome is null and coalesce(made, 1) = 1), 0) as pull_requests
from {_IN_WINDOW.format(table="tool_results", repo="{repo}")}
group by 1, 2
"""

EVENT_FACTS_SQL = f"""
select {{key}} as key, kind, name, count(*) as count, coalesce(sum(value), 0) as value
from {_IN_WINDOW.format(table="activity_events", repo="{repo}")}
group by 1, 2, 3
"""

# Sessions with responses, from the rollup (whole 15-minute buckets: day-aligned windows are exact).
SESSION_FACTS_SQL = """
select {key} as key, count(distinct session_id) as sessions
from (select session_id, repo_id, model, bucket_minute as m from usage_rollup
      where bucket_utc >= :start and bucket_utc < :end and source = 'dev' and session_id is not null {repo})
group by 1
"""

SESSIONS_IN_SQL = """
select distinct session_id from usage_rollup
where bucket_utc >= :start and bucket_utc < :end and source = 'dev' and session_id is not null {repo}
"""

# Active time where no turn durations were written: capped gaps between main-thread responses.
GAP_SECONDS_SQL = f"""
select key, sum(min(gap, {GAP_CAP_SECONDS})) as seconds from (
    select {{key}} as key,
           (julianday(timestamp_utc) - julianday(lag(timestamp_utc) over (
                partition by session_id order by timestamp_utc))) * 86400.0 as gap
    from {_IN_WINDOW.format(table="responses", repo="{repo} and is_sidechain = 0 and session_id is not null")}
    where session_id not in (
        select session_id from activity_events
        where kind = 'turn' and timestamp_utc >= :start and timestamp_utc < :end and session_id is not null)
)
where gap is not null
group by key
"""

AGENT_COSTS_SQL = """
select coalesce(a.agent_type, 'unknown') as agent_type, count(*) as responses,
       coalesce(sum(r.cost_nanousd), 0) as cost_nanousd
from response_costs as r left join agent_types as a on a.agent_id = r.agent_id
where r.timestamp_utc >= :start and r.timestamp_utc < :end and r.is_sidechain = 1 {repo}
group by 1
order by 3 desc, 2 desc, 1
"""

SESSION_COSTS_SQL = "select session_id, lines_added, lines_removed, model_usage from session_costs"
FORKS_SQL = "select session_id, forked_from, copied_utc from session_forks"
# What a session's own transcript lines hold, per model (for the auxiliary cost); `until` bounds a
# fork's parent to what the fork copied.
SESSION_TOKENS_SQL = """
select session_id, model, max(last_utc) as last_utc, sum(input_tokens), sum(output_tokens),
       sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(cache_read_tokens), sum(web_search_requests)
from usage_rollup
where source = 'dev' and session_id in ({placeholders})
group by 1, 2
"""
COPIED_TOKENS_SQL = """
select model, sum(input_tokens), sum(output_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens),
       sum(cache_read_tokens), sum(web_search_requests)
from usage_rollup
where source = 'dev' and session_id = :session_id and bucket_utc <= :until
group by 1
"""
KNOWN_SINCE_SQL = "select known_since_utc from activity_state where id = 1"

HEATMAP_ROLLUP_SQL = """
select {cell} as cell, sum(responses) as responses, sum(cost_nanousd) as cost_nanousd
from (select responses, cost_nanousd, bucket_minute as m from usage_rollup
      where bucket_utc >= :start and bucket_utc < :end and source = 'dev' {repo})
group by 1
"""

_DIMENSIONS = {
    "none": "'total'",
    "repo": "coalesce(repo_id, '(no repo)')",
    "session": "coalesce(session_id, '(no session)')",
    "model": "coalesce(model, '(no model)')",
}
_UNGROUPED = "\0"  # counted in the totals, in no row
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
    groups, tools, commands = _gather(query, group_by)
    usage = usage_summary(
        db, since=since, until=until, group_by="repo" if group_by == "none" else group_by, repo=repo,
        source="dev", zone=zone, now=now,
    )  # fmt: skip
    costs: dict[str, float] = defaultdict(float)
    for usage_row in usage.rows:
        costs[usage_row.key if group_by != "none" else "total"] += usage_row.cost_usd
    summed: Counter[str] = Counter()
    for fields in groups.values():
        summed.update(fields)
    totals = _totals(summed, usage.totals.cost_usd)
    _add_reported(db, totals, query)
    keys = sorted((groups.keys() | costs.keys()) - {_UNGROUPED})
    rows = [ActivityRow(key=key, **_fields(groups.get(key, {}), costs.get(key, 0.0))) for key in keys]
    if group_by == "none":
        rows = []
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
        agents=[
            AgentCost(
                agent_type=row["agent_type"], responses=row["responses"], cost_usd=nano_to_usd(row["cost_nanousd"])
            )
            for row in query.rows(AGENT_COSTS_SQL, keyed=False, alias="r")
        ],
        rows_total=page.total,
        showing=page.showing if group_by != "none" else "",
        next_offset=page.next_offset,
        rows=page.items,
    )


def _gather(query: _Query, group_by: str) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]], Counter[str]]:
    """Activity per group, per tool and per slash command, from every part of the ledger."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    tools: dict[str, Counter[str]] = defaultdict(Counter)
    commands: Counter[str] = Counter()
    for row in query.rows(TOOL_USES_SQL):
        groups[row["key"]]["tool_uses"] += row["uses"]
        tools[row["tool"]]["uses"] += row["uses"]
        if row["tool"] in EDIT_TOOLS:
            groups[row["key"]]["edits_accepted"] += row["uses"]
    for row in query.rows(TOOL_RESULTS_SQL):
        _add_results(groups[row["key"]], row)
        tools[row["tool"]].update(errors=row["errors"], rejected=row["rejected"])
    # Events have no model: by model, they count in the totals only.
    for row in query.rows(EVENT_FACTS_SQL.replace("{key}", "''") if group_by == "model" else EVENT_FACTS_SQL):
        _add_event(groups[row["key"] if group_by != "model" else _UNGROUPED], row)
        if row["kind"] == "command":
            commands[row["name"]] += row["count"]
    for row in query.rows(GAP_SECONDS_SQL):
        groups[row["key"]]["active_seconds"] += round(row["seconds"] or 0)
    for row in query.rows(SESSION_FACTS_SQL):
        groups[row["key"]]["sessions"] += row["sessions"]
    return groups, tools, commands


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
    query = _Query(db, window, repo_id, "cell")
    cells: Counter[int] = Counter()
    if metric in ("responses", "cost"):
        for row in query.rows(HEATMAP_ROLLUP_SQL):
            cells[row["cell"]] += row["responses"] if metric == "responses" else (row["cost_nanousd"] or 0)
    else:
        for row in query.rows(EVENT_FACTS_SQL):
            if metric == "prompts" and row["kind"] == "prompt":
                cells[row["key"]] += row["count"]
            elif metric == "active_time" and row["kind"] == "turn":
                cells[row["key"]] += row["value"] / 1000
        if metric == "active_time":
            for row in query.rows(GAP_SECONDS_SQL):
                cells[row["key"]] += row["seconds"] or 0
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

    def __init__(self, db: Database, window: Window, repo_id: str | None, group_by: str) -> None:
        self.db, self.window = db, window
        start = window.start or first_response(db) or window.end
        self.params: dict[str, Any] = {
            "start": window.start_utc or "0000", "end": window.end_utc, "repo_id": repo_id,
        }  # fmt: skip
        self.repo = "and repo_id = :repo_id" if repo_id else ""
        self.local: Callable[[int], str] | None = None
        if group_by in ("day", "week", "month"):
            day_sql, day_params = local_day_sql("m", window.zone, start, window.end)
            self.key, self.local = day_sql, local_key(group_by)
            self.params.update(day_params)
        elif group_by == "cell":
            minute_sql, minute_params = local_minute_sql("m", window.zone, start, window.end)
            self.key = f"((({minute_sql} / 1440) + 3) % 7 * 24 + ({minute_sql} % 1440) / 60)"
            self.params.update(minute_params)
        else:
            self.key = _DIMENSIONS[group_by]

    def rows(self, sql: str, *, keyed: bool = True, alias: str = "") -> list[dict[str, Any]]:
        repo = self.repo.replace("repo_id", f"{alias}.repo_id", 1) if alias else self.repo
        found = list(self.db.query(sql.format(key=self.key, cell=self.key, repo=repo), self.params))
        if keyed and self.local is not None:
            for row in found:
                row["key"] = self.local(row["key"])
        return found


def _add_results(group: dict[str, Any], row: dict[str, Any]) -> None:
    group["tool_errors"] += row["errors"]
    group["lines_added"] += row["lines_added"]
    group["lines_removed"] += row["lines_removed"]
    group["commits"] += row["commits"]
    group["pull_requests"] += row["pull_requests"]
    if row["tool"] in EDIT_TOOLS:  # counted as accepted with the uses
        group["edits_rejected"] += row["rejected"]
        group["edits_accepted"] -= row["rejected"]


_EVENT_FIELDS = {
    "prompt": "prompts", "command": "slash_commands", "compaction": "compactions",
    "rate_limit": "rate_limit_hits", "api_error": "api_errors",
}  # fmt: skip


def _add_event(group: dict[str, Any], row: dict[str, Any]) -> None:
    if row["kind"] == "turn":
        group["active_seconds"] += round(row["value"] / 1000)
    elif row["kind"] in _EVENT_FIELDS:
        group[_EVENT_FIELDS[row["kind"]]] += row["count"]


_COUNTS = (
    "sessions", "prompts", "slash_commands", "tool_uses", "tool_errors", "lines_added", "lines_removed", "commits",
    "pull_requests", "edits_accepted", "edits_rejected", "compactions", "rate_limit_hits", "api_errors",
    "active_seconds",
)  # fmt: skip


def _fields(fields: Mapping[str, int], cost_usd: float) -> dict[str, Any]:
    return {**{name: int(fields.get(name, 0)) for name in _COUNTS}, "cost_usd": round(cost_usd, 6)}


def _totals(summed: dict[str, Any], cost_usd: float) -> ActivityTotals:
    totals = ActivityTotals(**_fields(summed, cost_usd))
    changed = totals.lines_added + totals.lines_removed
    if totals.commits:
        totals.cost_per_commit_usd = round(cost_usd / totals.commits, 4)
    if changed:
        totals.cost_per_100_lines_usd = round(cost_usd * 100 / changed, 4)
    return totals


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


# --- Claude Code's own session totals ----------------------------------------------------------


def _add_reported(db: Database, totals: ActivityTotals, query: _Query) -> None:
    """Claude Code's own figures for the sessions active in the window: the lines its totals say
    were added and removed, and the auxiliary cost (see the module docstring)."""
    states = {row[0]: row for row in db.execute(SESSION_COSTS_SQL)}
    if not states:
        return
    active = {row["session_id"] for row in query.rows(SESSIONS_IN_SQL, keyed=False)} & states.keys()
    if not active:
        return
    forks = {fork: (parent, copied) for fork, parent, copied in db.execute(FORKS_SQL)}
    lineage = {session: _lineage(session, forks) for session in active}
    wanted = active | {chain[0][0] for chain in lineage.values() if chain}
    tokens = _session_tokens(db, wanted)
    prices = load_prices()
    aux_nano = 0
    added = removed = 0
    for session in sorted(active):
        _, lines_added, lines_removed, model_usage = states[session]
        parent = lineage[session][0][0] if lineage[session] else None
        inherited = states.get(parent) if parent is not None else None
        added += max(0, (lines_added or 0) - ((inherited[1] or 0) if inherited else 0))
        removed += max(0, (lines_removed or 0) - ((inherited[2] or 0) if inherited else 0))
        excess = _excess(db, json.loads(model_usage), session, lineage[session], tokens)
        if inherited is not None and parent is not None:
            parent_chain = _lineage(parent, forks)
            parent_excess = _excess(db, json.loads(inherited[3]), parent, parent_chain, tokens)
            excess = {model: _minus(counts, parent_excess.get(model)) for model, counts in excess.items()}
        at = max((last for (owner, _), (last, _) in tokens.items() if owner == session), default=None)
        for model, counts in excess.items():
            if any(counts) and at is not None:
                tokens_in, tokens_out, write_5m, write_1h, read, searches = counts
                usd = price_of(
                    prices, model, at=at, input_tokens=tokens_in, output_tokens=tokens_out,
                    cache_write_5m_tokens=write_5m, cache_write_1h_tokens=write_1h, cache_read_tokens=read,
                    web_search_requests=searches,
                )  # fmt: skip
                aux_nano += int((usd or Decimal(0)) * 10**9)
    totals.lines_added_reported = added
    totals.lines_removed_reported = removed
    totals.auxiliary_cost_usd = nano_to_usd(aux_nano)


_TOKEN_KINDS = (
    "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "web_search_requests",
)  # fmt: skip


def _lineage(session: str, forks: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """The sessions a fork copied from, nearest first, each with the time up to which it copied."""
    chain: list[tuple[str, str]] = []
    seen = {session}
    while session in forks and len(chain) < 20:
        parent, copied = forks[session]
        if parent in seen:
            break
        copied = min(copied, chain[-1][1]) if chain else copied
        chain.append((parent, copied))
        seen.add(parent)
        session = parent
    return chain


def _session_tokens(db: Database, sessions: set[str]) -> dict[tuple[str, str], tuple[str, list[int]]]:
    """(session, model) -> (its last response's time, its token counts in _TOKEN_KINDS order)."""
    found: dict[tuple[str, str], tuple[str, list[int]]] = {}
    ordered = sorted(sessions)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        sql = SESSION_TOKENS_SQL.format(placeholders=", ".join("?" * len(chunk)))
        for session, model, last, *counts in db.execute(sql, chunk):
            found[(session, model)] = (last, [int(count or 0) for count in counts])
    return found


def _excess(
    db: Database,
    reported: dict[str, list[int]],
    session: str,
    chain: list[tuple[str, str]],
    tokens: dict[tuple[str, str], tuple[str, list[int]]],
) -> dict[str, list[int]]:
    """Per model, what Claude Code's totals hold beyond the session's transcript lines (and the
    lines a fork copied: its parents' up to the copy)."""
    copied: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    for parent, until in chain:
        for model, *counts in db.execute(COPIED_TOKENS_SQL, {"session_id": parent, "until": until}):
            copied[model] = [a + int(b or 0) for a, b in zip(copied[model], counts, strict=True)]
    excess: dict[str, list[int]] = {}
    for model, counts in reported.items():
        written = tokens.get((session, model), ("", [0] * 6))[1]
        excess[model] = _minus(_minus(counts, written), copied.get(model))
    return excess


def _minus(counts: list[int], other: list[int] | None) -> list[int]:
    if other is None:
        return counts
    return [max(0, a - b) for a, b in zip(counts, other, strict=True)]
