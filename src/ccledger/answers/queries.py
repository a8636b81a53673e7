"""One function per question, shared by the MCP tools and the CLI.

Each takes the ledger first and keyword-only filters, and returns a result model from
``models.py``. Every question is answered from *facts*: rows with the same columns whether they
come from ``usage_rollup`` (whole 15-minute buckets, see ``ledger.rollup``) or from
``response_costs`` itself (the parts of a window that do not fill a bucket, under 15 minutes at
each end). Each part is aggregated by SQLite on its own and the parts are merged here, so
answers are exact to the response and quick on a ledger of millions of responses. Costs are
summed in integer nano-dollars and converted once at the end. A response whose model has no
price is left out of ``cost_usd`` and listed in ``unpriced_models``, never counted as $0.

The caller brings the ledger up to date first (``ccledger.update.update``), as the server and
the CLI do before every answer. ``facts`` holds the parts and their merge; ``status`` the
ledger's own state.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from .. import timestamps
from ..choices import GROUP_BY_CHOICES, SOURCE_CHOICES, GroupBy, Source
from ..ingest.repos import repos_named
from ..models import (
    Period,
    RepoCost,
    RepoCosts,
    SessionDetail,
    SessionList,
    SessionSummary,
    UnpricedModel,
    Usage,
    UsageRow,
    UsageSummary,
)
from .facts import USAGE_FIELDS, Facts, nano_to_usd, split_total, total, usage_fields
from .pages import paged
from .periods import (
    PeriodError,
    Window,
    any_day,
    hour_in_one_group,
    local_date,
    local_day_sql,
    one_group,
    resolve_period,
)
from .session_activity import session_activity

__all__ = [
    "GroupBy",
    "QueryError",
    "Source",
    "cost_by_repo",
    "data_span",
    "first_response",
    "local_key",
    "period_of",
    "resolve_repo",
    "session_detail",
    "sessions",
    "totals_in",
    "usage_summary",
    "window_of",
]

TIME_GROUPS = ("day", "week", "month")

# Production rows have no session, branch or machine: they group under '(prod)'.
DIMENSION_KEYS = {
    "repo": "coalesce(repo_id, '(no repo)')",
    "branch": "coalesce(repo_id, '(no repo)') || ' @ ' "
    "|| coalesce(git_branch, case source when 'prod' then '(prod)' else '(no branch)' end)",
    "model": "model",
    "session": "coalesce(session_id, case source when 'prod' then '(prod)' else '(no session)' end)",
    "machine": "coalesce(machine, case source when 'prod' then '(prod)' else '(unknown)' end)",
}


class QueryError(ValueError):
    """A bad argument; the message says what would work."""


# --- facts ---------------------------------------------------------------------------------------


SESSION_COLUMNS_SQL = """,
    min(first_utc) as first_utc, max(last_utc) as last_utc, coalesce(sum(subagent_responses), 0) as subagent_responses,
    max(repo_id) as repo_id, max(machine) as machine
"""

# Each listed session's branches with their latest use: the latest one is the session's branch.
FORKED_FROM_SQL = "select session_id, forked_from from session_forks where session_id in ({placeholders})"

SESSION_BRANCHES_SQL = """
select session_id, git_branch, max(last_utc) as last_utc
from usage_rollup
where session_id in ({placeholders}) and git_branch is not null
group by session_id, git_branch
"""

SESSION_SPAN_SQL = """
select min(first_utc) as first_utc, max(last_utc) as last_utc, max(repo_id) as repo_id
from usage_rollup where session_id = :session_id
"""

# What only the raw rows know (cwd, versions, subagent ids), read over the session's time span.
SESSION_DISTINCT_SQL = """
select distinct {column} as value from responses
where timestamp_utc >= :first_utc and timestamp_utc <= :last_utc
  and session_id = :session_id and {column} is not null
order by 1
"""

BY_AGENT_SQL = """
select case when is_sidechain then coalesce(agent_id, 'subagent') else 'main' end as key,
       count(*) as responses,
       sum(input_tokens) as input_tokens,
       sum(output_tokens) as output_tokens,
       sum(cache_write_5m_tokens) as cache_write_5m_tokens,
       sum(cache_write_1h_tokens) as cache_write_1h_tokens,
       sum(cache_read_tokens) as cache_read_tokens,
       sum(total_tokens) as total_tokens,
       sum(web_search_requests) as web_search_requests,
       coalesce(sum(cost_nanousd), 0) as cost_nanousd
from response_costs
where timestamp_utc >= :first_utc and timestamp_utc <= :last_utc and session_id = :session_id
group by 1
"""

SESSION_PREFIX_SQL = """
select distinct session_id from usage_rollup
where session_id >= :prefix and session_id < :prefix || char(1114111)
limit 6
"""

RECENT_SESSIONS_SQL = """
select session_id from usage_rollup where session_id is not null order by bucket_utc desc limit 200
"""

# The models a name may mean: every id the ledger has seen (with its canonical id) and every
# model the price table prices.
KNOWN_MODELS_SQL = """
select model, coalesce(canonical_model, model) from model_prices
union select model, model from price_periods
union select distinct model, model from prod_usage
"""
KNOWN_REPOS_SQL = "select repo_id from repos union select repo_id from prod_usage order by 1"


FIRST_BUCKET_SQL = "select min(bucket_utc) from usage_rollup"
FIRST_PROD_SQL = "select min(bucket_start_utc) from prod_usage"

# Both ends come from the time indexes: one seek each, however big the ledger.
DATA_SPAN_SQL = """
select min(first_utc), max(last_utc) from (
    select min(timestamp_utc) as first_utc, max(timestamp_utc) as last_utc from responses
    union all
    select min(bucket_start_utc), max(bucket_start_utc) from prod_usage
)
"""


# --- questions ---------------------------------------------------------------------------------


def usage_summary(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    group_by: str = "day",
    repo: str | None = None,
    model: str | None = None,
    source: str = "all",
    limit: int | None = None,
    offset: int = 0,
    zone: ZoneInfo,
    now: datetime,
) -> UsageSummary:
    """Usage and cost over a period, grouped by time or by a dimension, from Claude Code ('dev'),
    shipped apps' pulled telemetry ('prod') or both ('all'), with the cost split in the totals.
    With ``limit``, one page of rows (the most recent periods, or the costliest groups; see
    ``pages``); the totals always cover every row."""
    if group_by not in GROUP_BY_CHOICES:
        raise QueryError(f"group_by={group_by!r} is not one of: {', '.join(GROUP_BY_CHOICES)}")
    _check_source(source)
    window = window_of(since, until, zone, now)
    repo_id = _resolve_repo(db, repo) if repo else None
    models = resolve_models(db, model) if model else None
    whole: Callable[[str], bool] = any_day
    whole_hour: Callable[[datetime], bool] | None = None
    if group_by in TIME_GROUPS:
        key = local_key(group_by)
        whole, whole_hour = one_group(window.zone, key), hour_in_one_group(window.zone, key)
    filters = {"repo_id": repo_id, "model": json.dumps(models) if models else None}
    facts = Facts(window, filters, source=source, whole=whole, whole_hour=whole_hour)
    if group_by in TIME_GROUPS:
        first = window.start or first_response(db, source) or window.end
        day_sql, day_params = local_day_sql("m", window.zone, first, window.end)
        tally = facts.scan(db, day_sql, params=day_params)
        merged = tally.regroup(local_key(group_by))
    else:
        tally = facts.scan(db, DIMENSION_KEYS[group_by])
        merged = tally.regroup(str)
    rows = [UsageRow(key=key, **usage_fields(sums)) for key, sums in merged.items()]
    if group_by in TIME_GROUPS:
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, -row.total_tokens, row.key))
    filters = {name: value for name, value in (("repo", repo_id), ("model", ", ".join(models or ()))) if value}
    page = paged(rows, limit, offset, noun="rows", newest_last=group_by in TIME_GROUPS)
    return UsageSummary(
        period=period_of(window),
        group_by=group_by,
        filters=filters,
        source=source,
        totals=split_total(tally, merged),
        rows_total=page.total,
        showing=page.showing,
        next_offset=page.next_offset,
        rows=page.items,
        unpriced_models=tally.unpriced_models(),
    )


def cost_by_repo(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    source: str = "all",
    limit: int | None = None,
    offset: int = 0,
    zone: ZoneInfo,
    now: datetime,
) -> RepoCosts:
    """Spend per repository over a period, biggest first, with each repo's share of the total and
    its split between Claude Code (dev) and its shipped app (prod)."""
    _check_source(source)
    window = window_of(since, until, zone, now)
    tally = Facts(window, {}, source=source, whole=any_day).scan(db, DIMENSION_KEYS["repo"], by_session=True)
    rows = [UsageRow(key=key, **usage_fields(sums)) for key, sums in tally.groups.items()]
    totals = split_total(tally, tally.groups)
    repos = [
        RepoCost(
            repo_id=row.key,
            sessions=len(tally.sessions.get(row.key, ())),
            share=round(row.cost_usd / totals.cost_usd, 4) if totals.cost_usd else 0.0,
            dev_cost_usd=nano_to_usd(tally.split[row.key][0]),
            prod_cost_usd=nano_to_usd(tally.split[row.key][1]),
            **row.model_dump(exclude={"key"}),
        )
        for row in sorted(rows, key=lambda row: (-row.cost_usd, -row.total_tokens, row.key))
    ]
    page = paged(repos, limit, offset, noun="repos")
    return RepoCosts(
        period=period_of(window), source=source, totals=totals, repos_total=page.total, showing=page.showing,
        next_offset=page.next_offset, repos=page.items, unpriced_models=tally.unpriced_models(),
    )  # fmt: skip


def sessions(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    repo: str | None = None,
    limit: int = 20,
    offset: int = 0,
    zone: ZoneInfo,
    now: datetime,
) -> SessionList:
    """Sessions active in a period, most recent first; ``limit`` of them from ``offset``."""
    if not 1 <= limit <= 500:
        raise QueryError(f"limit={limit} is out of range; use 1 to 500")
    window = window_of(since, until, zone, now)
    facts = Facts(window, {"repo_id": _resolve_repo(db, repo) if repo else None}, whole=any_day)
    tally = facts.scan(db, "session_id", columns=SESSION_COLUMNS_SQL, where="where session_id is not null")
    merged: dict[str, dict[str, Any]] = {}
    for row in tally.rows:
        target = merged.get(row["key"])
        if target is None:
            merged[row["key"]] = {**row, "models": {row["model"]}}
            continue
        for field in (*USAGE_FIELDS, "subagent_responses"):
            target[field] += row[field]
        target["first_utc"] = min(target["first_utc"], row["first_utc"])
        target["last_utc"] = max(target["last_utc"], row["last_utc"])
        target["models"].add(row["model"])
        target["repo_id"] = max(filter(None, (target["repo_id"], row["repo_id"])), default=None)
        target["machine"] = max(filter(None, (target["machine"], row["machine"])), default=None)
    # Latest first, ties by id: two stable sorts, since the timestamps sort as text.
    ordered = sorted(merged.values(), key=lambda row: row["key"])
    page = paged(sorted(ordered, key=lambda row: row["last_utc"], reverse=True), limit, offset, noun="sessions")
    latest = page.items
    branches = _latest_branches(db, [row["key"] for row in latest])
    forks = _forked_from(db, [row["key"] for row in latest])
    done = session_activity(
        db, [row["key"] for row in latest], min((row["first_utc"] for row in latest), default="0000"),
        max((row["last_utc"] for row in latest), default="0000"),
    )  # fmt: skip
    found = [
        SessionSummary(
            session_id=row["key"],
            repo_id=row["repo_id"],
            git_branch=branches.get(row["key"]),
            machine=row["machine"] or "",
            first_utc=row["first_utc"],
            last_utc=row["last_utc"],
            models=sorted(row["models"]),
            subagent_responses=row["subagent_responses"],
            forked_from=forks.get(row["key"]),
            **done[row["key"]].model_dump(include={"prompts", "tool_uses", "lines_added", "lines_removed", "commits"}),
            **usage_fields(row),
        )
        for row in latest
    ]
    return SessionList(
        period=period_of(window), total_sessions=page.total, showing=page.showing, next_offset=page.next_offset,
        sessions=found, unpriced_models=tally.unpriced_models(),
    )  # fmt: skip


def session_detail(db: Database, session_id: str, *, agents: int | None = None) -> SessionDetail:
    """One session in full: totals, models, subagents, branches (a unique id prefix is enough);
    with ``agents``, only that many of the costliest agents."""
    session_id = _resolve_session(db, session_id)
    span = next(db.query(SESSION_SPAN_SQL, {"session_id": session_id}))
    facts = Facts(None, {"session_id": session_id})
    tally = facts.scan(db, "model")
    by_model = [UsageRow(key=key, **usage_fields(sums)) for key, sums in tally.groups.items()]
    params = {"session_id": session_id, **span}
    by_agent = [UsageRow(key=row["key"], **usage_fields(row)) for row in db.query(BY_AGENT_SQL, params)]

    def distinct(column: str) -> list[str]:
        return [row["value"] for row in db.query(SESSION_DISTINCT_SQL.format(column=column), params)]

    first, last = timestamps.parse(span["first_utc"]), timestamps.parse(span["last_utc"])
    totals = total(tally.groups)
    activity = session_activity(db, [session_id], span["first_utc"], span["last_utc"])[session_id]
    return SessionDetail(
        session_id=session_id,
        repo_id=span["repo_id"],
        cwds=distinct("cwd"),
        git_branches=distinct("git_branch"),
        machines=distinct("machine"),
        cc_versions=distinct("cc_version"),
        forked_from=_forked_from(db, [session_id]).get(session_id),
        first_utc=span["first_utc"],
        last_utc=span["last_utc"],
        duration_minutes=round((last - first).total_seconds() / 60, 1),
        totals=totals,
        by_model=_by_cost(by_model),
        agents_total=len(by_agent),
        by_agent=_by_cost(by_agent)[:agents],
        activity=activity.model_copy(update={"cost_usd": totals.cost_usd}),
        unpriced_models=tally.unpriced_models(),
    )


def totals_in(
    db: Database,
    window: Window,
    *,
    repo_id: str | None = None,
    model: str | None = None,
    source: str = "dev",
) -> tuple[Usage, list[UnpricedModel]]:
    """Usage and unpriced models over a window already resolved (for budgets)."""
    _check_source(source)
    filters = {"repo_id": repo_id, "model": json.dumps([model]) if model else None}
    tally = Facts(window, filters, source=source, whole=any_day).scan(db, "'total'")
    return total(tally.groups), tally.unpriced_models()


def resolve_models(db: Database, name: str) -> list[str]:
    """The canonical model ids a name means, as people say them: an id as logged or canonical
    (``claude-opus-4-5``, ``claude-opus-4-5-20251101``), or a family or short name made of its
    parts (``opus-4-5``, ``sonnet``, ``haiku-4``). An unknown name is a QueryError naming close
    matches: a filter or budget that can match nothing would say $0 and be believed."""
    wanted = name.strip().lower()
    pairs = [(model.lower(), canonical) for model, canonical in db.execute(KNOWN_MODELS_SQL)]
    exact = sorted({canonical for model, canonical in pairs if wanted in (model, canonical.lower())})
    if exact:
        return exact
    parts = [part for part in re.split(r"[-_.@\s]+", wanted.removeprefix("claude-")) if part]
    found = sorted({canonical for _, canonical in pairs if parts and _contains(_model_parts(canonical), parts)})
    if found:
        return found
    names = sorted({canonical for _, canonical in pairs})
    close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.4) or names[:8]
    hint = f" Known models include: {', '.join(close)}." if close else " The ledger knows no models yet."
    raise QueryError(f"model={name!r} matches no model this ledger knows or prices.{hint}")


def _model_parts(model: str) -> list[str]:
    """A model id's name parts, without 'claude' or a release date: claude-opus-4-5-20251101 ->
    [opus, 4, 5]; claude-3-5-sonnet-20241022 -> [3, 5, sonnet]."""
    parts = re.split(r"[-_.@]+", model.lower().rsplit("/", 1)[-1])
    return [part for part in parts if part and part != "claude" and not re.fullmatch(r"\d{8}|v\d+(:\d+)?", part)]


def _contains(parts: list[str], wanted: list[str]) -> bool:
    return any(parts[i : i + len(wanted)] == wanted for i in range(len(parts) - len(wanted) + 1))


def resolve_repo(db: Database, repo: str) -> str:
    """A repo id from an id or a unique short name; the error lists close matches."""
    return _resolve_repo(db, repo)


# --- helpers -----------------------------------------------------------------------------------


def window_of(since: str | None, until: str | None, zone: ZoneInfo, now: datetime) -> Window:
    """The window of a question; a bad phrase is a QueryError."""
    try:
        return resolve_period(since, until, zone=zone, now=now)
    except PeriodError as exc:
        raise QueryError(str(exc)) from exc


def period_of(window: Window) -> Period:
    """A window as the result models report it."""
    return Period(label=window.label, since_utc=window.start_utc, until_utc=window.end_utc, timezone=window.zone.key)


@cache
def local_key(group_by: str) -> Callable[[int], str]:
    """A local day number -> the day, the Monday of its week, or its month. Remembered, one
    function per grouping, as its answers: a year of rows names a few hundred days, tens of
    thousands of times (and ``periods.one_group`` remembers by it)."""

    @cache
    def key(day_number: int) -> str:
        day = local_date(day_number)
        if group_by == "week":
            return (day - timedelta(days=day.weekday())).isoformat()
        if group_by == "month":
            return day.isoformat()[:7]
        return day.isoformat()

    return key


def first_response(db: Database, source: str = "dev") -> datetime | None:
    wanted = [sql for sql, part in ((FIRST_BUCKET_SQL, "dev"), (FIRST_PROD_SQL, "prod")) if source in (part, "all")]
    firsts = [row[0] for row in (db.execute(sql).fetchone() for sql in wanted) if row and row[0]]
    return timestamps.parse(min(firsts)) if firsts else None


def data_span(db: Database) -> tuple[str, str] | None:
    """The first and last times the ledger holds usage for (Claude Code or pulled), or None."""
    first, last = db.execute(DATA_SPAN_SQL).fetchone()
    return (first, last) if first else None


def _check_source(source: str) -> None:
    if source not in SOURCE_CHOICES:
        raise QueryError(
            f"source={source!r} is not one of: dev (Claude Code), prod (shipped apps' pulled telemetry), all (both)"
        )


def _by_cost(rows: list[UsageRow]) -> list[UsageRow]:
    return sorted(rows, key=lambda row: (-row.cost_usd, -row.total_tokens, row.key))


def _forked_from(db: Database, session_ids: list[str]) -> dict[str, str]:
    """Of these sessions, the forks: each with the session it was forked from."""
    if not session_ids:
        return {}
    sql = FORKED_FROM_SQL.format(placeholders=", ".join("?" * len(session_ids)))
    return dict(db.execute(sql, session_ids).fetchall())


def _latest_branches(db: Database, session_ids: list[str]) -> dict[str, str]:
    if not session_ids:
        return {}
    sql = SESSION_BRANCHES_SQL.format(placeholders=", ".join("?" * len(session_ids)))
    latest: dict[str, tuple[str, str]] = {}
    for session_id, branch, last_utc in db.execute(sql, session_ids):
        if session_id not in latest or last_utc > latest[session_id][1]:
            latest[session_id] = (branch, last_utc)
    return {session_id: branch for session_id, (branch, _) in latest.items()}


def _resolve_repo(db: Database, repo: str) -> str:
    """An exact repo id, or a unique name such as 'api-server' for 'github.com/acme/api-server'."""
    known = [row["repo_id"] for row in db.query(KNOWN_REPOS_SQL)]
    by_name = repos_named(repo, known)
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise QueryError(f"repo={repo!r} matches several repos: {', '.join(by_name)}; pass one of them")
    close = difflib.get_close_matches(repo, known, n=5, cutoff=0.4) or known[:10]
    suggestion = f" Known repos include: {', '.join(close)}." if close else " The ledger has no repos yet."
    raise QueryError(f"repo={repo!r} is not in the ledger.{suggestion}")


def _resolve_session(db: Database, session_id: str) -> str:
    session_id = session_id.strip()
    matches = [row["session_id"] for row in db.query(SESSION_PREFIX_SQL, {"prefix": session_id})] if session_id else []
    if session_id in matches:
        return session_id
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise QueryError(f"session_id={session_id!r} is ambiguous: {', '.join(matches[:5])}; pass more of it")
    recent = list(dict.fromkeys(row["session_id"] for row in db.query(RECENT_SESSIONS_SQL)))[:5]
    hint = f" Recent sessions: {', '.join(recent)}." if recent else ""
    raise QueryError(f"session_id={session_id!r} is not in the ledger; the sessions list shows them.{hint}")
