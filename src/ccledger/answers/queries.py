"""One function per question, shared by the MCP tools and the CLI.

Each takes the ledger first and keyword-only filters, and returns a result model from
``models.py``. Every question is answered from *facts*: rows with the same columns whether they
come from ``usage_rollup`` (whole 15-minute buckets, see ``rollup.py``) or from
``response_costs`` itself (the parts of a window that do not fill a bucket, under 15 minutes at
each end). Each part is aggregated by SQLite on its own and the parts are merged here, so
answers are exact to the response and quick on a ledger of millions of responses. Costs are
summed in integer nano-dollars and converted once at the end. A response whose model has no
price is left out of ``cost_usd`` and listed in ``unpriced_models``, never counted as $0.

The caller brings the ledger up to date first (``index.refresh``, ``pricing.ensure_prices``,
``rollup.ensure_rollup``), as the server and the CLI do before every answer.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from .. import timestamps
from ..choices import GROUP_BY_CHOICES, SOURCE_CHOICES, GroupBy, Source
from ..ledger import buckets
from ..models import (
    IndexStats,
    IndexStatus,
    Period,
    ProblemCount,
    RepoCost,
    RepoCosts,
    RootStatus,
    SessionDetail,
    SessionList,
    SessionSummary,
    UnpricedModel,
    Usage,
    UsageRow,
    UsageSummary,
    UsageTotals,
)
from .periods import PeriodError, Window, local_date, local_day_sql, resolve_period

__all__ = [
    "GroupBy",
    "QueryError",
    "Source",
    "cost_by_repo",
    "data_span",
    "index_status",
    "nano_to_usd",
    "period_of",
    "resolve_repo",
    "session_detail",
    "sessions",
    "totals_in",
    "usage_fields",
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

FACT_COLUMNS = """
    source, session_id, model, canonical_model, repo_id, git_branch, machine, responses, subagent_responses,
    input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, total_tokens,
    web_search_requests, cost_nanousd, unpriced_responses, unpriced_tokens, first_utc, last_utc
"""

ROLLUP_FACTS_SQL = """
select bucket_utc as t, bucket_minute as m, {columns}
from usage_rollup
where bucket_utc >= :start and bucket_utc < :end {filters}
"""

# One response as a fact: the same columns as a rollup row.
RAW_FACTS_SQL = """
select timestamp_utc as t, cast(strftime('%s', timestamp_utc) as integer) / 60 as m, 'dev' as source,
       session_id, model, canonical_model, repo_id, git_branch, machine,
       1 as responses, is_sidechain as subagent_responses, input_tokens, output_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens, cache_read_tokens, total_tokens, web_search_requests,
       coalesce(cost_nanousd, 0) as cost_nanousd, cost_nanousd is null as unpriced_responses,
       case when cost_nanousd is null then total_tokens else 0 end as unpriced_tokens,
       timestamp_utc as first_utc, timestamp_utc as last_utc
from response_costs
where timestamp_utc >= :start and timestamp_utc < :end {filters}
"""

# A production record as a fact: the same columns, NULL for what only Claude Code has (session,
# branch, machine). ``responses`` counts the requests a record stands for: 1 for one request, and
# 1 per Admin API bucket row, which does not report how many (0 for a cost-report line). Prod rows
# are few (hourly buckets or single requests), so they are read straight from the view.
PROD_FACTS_SQL = """
select * from (
    select bucket_start_utc as t, cast(strftime('%s', bucket_start_utc) as integer) / 60 as m, 'prod' as source,
           null as session_id, model, canonical_model, repo_id, null as git_branch, null as machine,
           coalesce(requests, 1) as responses, 0 as subagent_responses, input_tokens, output_tokens,
           cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, total_tokens, web_search_requests,
           coalesce(cost_nanousd, 0) as cost_nanousd,
           case when cost_nanousd is null then coalesce(requests, 1) else 0 end as unpriced_responses,
           case when cost_nanousd is null then total_tokens else 0 end as unpriced_tokens,
           bucket_start_utc as first_utc, bucket_end_utc as last_utc, provider_cost_nanousd
    from prod_costs
    where bucket_start_utc >= :start and bucket_start_utc < :end
) where 1 {filters}
"""

# Read in the same pass over the prod part: what the sources reported themselves.
PROVIDER_COST_SQL = ", sum(provider_cost_nanousd) as provider_cost_nanousd"

USAGE_SUMS_SQL = """
    coalesce(sum(responses), 0) as responses,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
    coalesce(sum(cache_write_5m_tokens), 0) as cache_write_5m_tokens,
    coalesce(sum(cache_write_1h_tokens), 0) as cache_write_1h_tokens,
    coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
    coalesce(sum(total_tokens), 0) as total_tokens,
    coalesce(sum(web_search_requests), 0) as web_search_requests,
    coalesce(sum(cost_nanousd), 0) as cost_nanousd
"""
USAGE_FIELDS = (
    "responses", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "cache_read_tokens", "total_tokens", "web_search_requests", "cost_nanousd",
)  # fmt: skip

# Each part is aggregated on its own (SQLite flattens a plain subquery into the aggregate; it
# would not flatten a UNION ALL of the parts) in ONE scan that also yields the unpriced sums per
# model; the parts and groups are merged in Python.
SCAN_SQL = """
select {key} as key, model, {usage},
       coalesce(sum(unpriced_responses), 0) as unpriced_responses,
       coalesce(sum(unpriced_tokens), 0) as unpriced_tokens,
       max(canonical_model) is not null as model_known {columns}
from ({facts}) {where}
group by 1, 2
"""

# A group's sessions as one JSON array: far cheaper than a result row per session (thousands
# over all time), and the parts of a window can still share a session without counting it twice.
SESSION_IDS_SQL = ", json_group_array(distinct session_id) as session_ids"

SESSION_COLUMNS_SQL = """,
    min(first_utc) as first_utc, max(last_utc) as last_utc, coalesce(sum(subagent_responses), 0) as subagent_responses,
    max(repo_id) as repo_id, max(machine) as machine
"""

# Each listed session's branches with their latest use: the latest one is the session's branch.
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

KNOWN_REPOS_SQL = "select repo_id from repos union select repo_id from prod_usage order by 1"

LEDGER_FACTS_SQL = """
select coalesce(sum(responses), 0) as responses, min(first_utc) as first_utc, max(last_utc) as last_utc
from usage_rollup where source = 'dev'
"""

FILE_FACTS_SQL = """
select count(*) as files,
       coalesce(sum(missing_since_utc is not null), 0) as deleted,
       coalesce(sum(error is null and size > read_offset), 0) as partial
from files
"""

ROOT_FILES_SQL = "select count(*) from files where root = :root"

UNREADABLE_SQL = "select path, error from files where error is not null order by path"

PROBLEMS_SQL = """
select kind, sum(count) as lines, count(distinct file_id) as files
from file_problems group by kind order by lines desc
"""

LAST_CHANGE_SQL = "select max(finished_utc) from index_runs"

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


class _Facts:
    """The facts of one question: a window and filters, as parts with the same columns.

    Whole 15-minute buckets come from the rollup; the parts of the window that do not fill a
    bucket come from the raw view. With ``source`` 'prod' or 'all', production records (read from
    ``prod_costs`` by their bucket start) are one more part; 'dev' keeps Claude Code's alone.
    """

    def __init__(self, window: Window | None, filters: dict[str, Any], *, source: str = "dev") -> None:
        clauses = []
        self._filters: dict[str, Any] = {}
        for column, value in filters.items():
            if value is None:
                continue
            if column == "model":
                clauses.append("and (model = :model or canonical_model = :model)")
            else:
                clauses.append(f"and {column} = :{column}")  # column names come from this module only
            self._filters[column] = value
        where = " ".join(clauses)
        start = window.start_utc if window and window.start else ""
        end = window.end_utc if window else "9999"
        rollup_start, rollup_end = buckets.ceil_text(start), buckets.floor_text(end)
        self.parts: list[tuple[str, dict[str, Any], str]] = []  # (SQL, parameters, 'dev' or 'prod')
        if source != "dev":
            self._add(PROD_FACTS_SQL, where, start, end, source="prod")
        if source == "prod":
            return
        if rollup_start >= rollup_end:  # shorter than a bucket: the raw rows answer it all
            self._add(RAW_FACTS_SQL, where, start, end)
            return
        self._add(ROLLUP_FACTS_SQL, where, rollup_start, rollup_end)
        self._add(RAW_FACTS_SQL, where, start, rollup_start)
        self._add(RAW_FACTS_SQL, where, rollup_end, end)

    def _add(self, template: str, where: str, start: str, end: str, *, source: str = "dev") -> None:
        if start < end:
            sql = template.format(columns=FACT_COLUMNS, filters=where)
            self.parts.append((sql, {**self._filters, "start": start, "end": end}, source))

    def scan(
        self,
        db: Database,
        key: str,
        *,
        params: dict[str, Any] | None = None,
        by_session: bool = False,
        columns: str = "",
        where: str = "",
    ) -> _Tally:
        """One pass over each part, grouped by the SQL expression ``key`` and model, merged into a
        tally; with ``by_session`` each group also lists its distinct sessions."""
        tally = _Tally()
        for sql, part_params, source in self.parts:
            extra = columns + (PROVIDER_COST_SQL if source == "prod" else "") + (SESSION_IDS_SQL if by_session else "")
            query = SCAN_SQL.format(key=key, usage=USAGE_SUMS_SQL, columns=extra, facts=sql, where=where)
            for row in db.query(query, {**part_params, **(params or {})}):
                tally.add(row, source)
        return tally


class _Tally:
    """Scanned rows merged: usage per key, unpriced usage per model, sessions per key, each key's
    cost split into dev and prod nano-dollars, and what the prod sources reported (None: nothing)."""

    def __init__(self) -> None:
        self.groups: dict[Any, dict[str, int]] = {}
        self.unpriced: dict[str, list[int]] = {}  # model -> [responses, tokens, 1 if the table knows it]
        self.sessions: dict[Any, set[str]] = {}
        self.split: dict[Any, list[int]] = {}
        self.provider_nanousd: int | None = None
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any], source: str = "dev") -> None:
        self.split.setdefault(row["key"], [0, 0])[source == "prod"] += row["cost_nanousd"]
        if row.get("provider_cost_nanousd") is not None:
            self.provider_nanousd = (self.provider_nanousd or 0) + row["provider_cost_nanousd"]
        target = self.groups.setdefault(row["key"], dict.fromkeys(USAGE_FIELDS, 0))
        for field in USAGE_FIELDS:
            target[field] += row[field]
        if row["unpriced_responses"]:
            counts = self.unpriced.setdefault(row["model"], [0, 0, 0])
            counts[0] += row["unpriced_responses"]
            counts[1] += row["unpriced_tokens"]
            # A model the table resolves is priced for every time and size; only its fast mode may
            # have no price (pricing.cost() leaves such responses out rather than guess).
            counts[2] |= row["model_known"]
        if row.get("session_ids") is not None:
            found = {session for session in json.loads(row["session_ids"]) if session is not None}
            self.sessions.setdefault(row["key"], set()).update(found)
        self.rows.append(row)

    def regroup(self, key: Callable[[Any], str]) -> dict[str, dict[str, int]]:
        """The groups merged again under ``key(group)``: local day numbers into weeks, say."""
        merged: dict[str, dict[str, int]] = {}
        for group, sums in self.groups.items():
            target = merged.setdefault(key(group), dict.fromkeys(USAGE_FIELDS, 0))
            for field in USAGE_FIELDS:
                target[field] += sums[field]
        return merged

    def unpriced_models(self) -> list[UnpricedModel]:
        found = [
            UnpricedModel(
                model=model, responses=n, total_tokens=tokens, reason="no fast-mode price" if known else "unknown model"
            )
            for model, (n, tokens, known) in self.unpriced.items()
        ]
        return sorted(found, key=lambda model: (-model.total_tokens, model.model))


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
    zone: ZoneInfo,
    now: datetime,
) -> UsageSummary:
    """Usage and cost over a period, grouped by time or by a dimension, from Claude Code ('dev'),
    shipped apps' pulled telemetry ('prod') or both ('all'), with the cost split in the totals."""
    if group_by not in GROUP_BY_CHOICES:
        raise QueryError(f"group_by={group_by!r} is not one of: {', '.join(GROUP_BY_CHOICES)}")
    _check_source(source)
    window = window_of(since, until, zone, now)
    repo_id = _resolve_repo(db, repo) if repo else None
    facts = _Facts(window, {"repo_id": repo_id, "model": model}, source=source)
    if group_by in TIME_GROUPS:
        first = window.start or _first_response(db, source) or window.end
        day_sql, day_params = local_day_sql("m", window.zone, first, window.end)
        tally = facts.scan(db, day_sql, params=day_params)
        merged = tally.regroup(_local_key(group_by))
    else:
        tally = facts.scan(db, DIMENSION_KEYS[group_by])
        merged = tally.regroup(str)
    rows = [UsageRow(key=key, **usage_fields(sums)) for key, sums in merged.items()]
    if group_by in TIME_GROUPS:
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, -row.total_tokens, row.key))
    filters = {name: value for name, value in (("repo", repo_id), ("model", model)) if value}
    return UsageSummary(
        period=period_of(window),
        group_by=group_by,
        filters=filters,
        source=source,
        rows=rows,
        totals=_split_total(tally, merged),
        unpriced_models=tally.unpriced_models(),
    )


def cost_by_repo(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    source: str = "all",
    zone: ZoneInfo,
    now: datetime,
) -> RepoCosts:
    """Spend per repository over a period, biggest first, with each repo's share of the total and
    its split between Claude Code (dev) and its shipped app (prod)."""
    _check_source(source)
    window = window_of(since, until, zone, now)
    tally = _Facts(window, {}, source=source).scan(db, DIMENSION_KEYS["repo"], by_session=True)
    rows = [UsageRow(key=key, **usage_fields(sums)) for key, sums in tally.groups.items()]
    totals = _split_total(tally, tally.groups)
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
    return RepoCosts(
        period=period_of(window), source=source, repos=repos, totals=totals, unpriced_models=tally.unpriced_models()
    )


def sessions(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    repo: str | None = None,
    limit: int = 20,
    zone: ZoneInfo,
    now: datetime,
) -> SessionList:
    """Sessions active in a period, most recent first."""
    if not 1 <= limit <= 500:
        raise QueryError(f"limit={limit} is out of range; use 1 to 500")
    window = window_of(since, until, zone, now)
    facts = _Facts(window, {"repo_id": _resolve_repo(db, repo) if repo else None})
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
    latest = sorted(ordered, key=lambda row: row["last_utc"], reverse=True)[:limit]
    branches = _latest_branches(db, [row["key"] for row in latest])
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
            **usage_fields(row),
        )
        for row in latest
    ]
    return SessionList(
        period=period_of(window), sessions=found, total_sessions=len(merged), unpriced_models=tally.unpriced_models()
    )


def session_detail(db: Database, session_id: str) -> SessionDetail:
    """One session in full: totals, models, subagents, branches (a unique id prefix is enough)."""
    session_id = _resolve_session(db, session_id)
    span = next(db.query(SESSION_SPAN_SQL, {"session_id": session_id}))
    facts = _Facts(None, {"session_id": session_id})
    tally = facts.scan(db, "model")
    by_model = [UsageRow(key=key, **usage_fields(sums)) for key, sums in tally.groups.items()]
    params = {"session_id": session_id, **span}
    by_agent = [UsageRow(key=row["key"], **usage_fields(row)) for row in db.query(BY_AGENT_SQL, params)]

    def distinct(column: str) -> list[str]:
        return [row["value"] for row in db.query(SESSION_DISTINCT_SQL.format(column=column), params)]

    first, last = timestamps.parse(span["first_utc"]), timestamps.parse(span["last_utc"])
    return SessionDetail(
        session_id=session_id,
        repo_id=span["repo_id"],
        cwds=distinct("cwd"),
        git_branches=distinct("git_branch"),
        machines=distinct("machine"),
        cc_versions=distinct("cc_version"),
        first_utc=span["first_utc"],
        last_utc=span["last_utc"],
        duration_minutes=round((last - first).total_seconds() / 60, 1),
        totals=_total(tally.groups),
        by_model=_by_cost(by_model),
        by_agent=_by_cost(by_agent),
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
    tally = _Facts(window, {"repo_id": repo_id, "model": model}, source=source).scan(db, "'total'")
    return _total(tally.groups), tally.unpriced_models()


def resolve_repo(db: Database, repo: str) -> str:
    """A repo id from an id or a unique short name; the error lists close matches."""
    return _resolve_repo(db, repo)


def index_status(
    db: Database,
    *,
    roots: Iterable[os.PathLike[str] | str],
    ledger_path: str,
    prices_path: str,
    refresh: IndexStats | None = None,
) -> IndexStatus:
    """The ledger's state: files, responses, problems, unpriced models and how to price them."""
    facts = next(db.query(LEDGER_FACTS_SQL))
    files = next(db.query(FILE_FACTS_SQL))
    # Production rows too: an unpriced model from a pulled source must not hide either.
    unpriced = _Facts(None, {}, source="all").scan(db, "model", where="where unpriced_responses > 0").unpriced_models()
    problems = [ProblemCount(**row) for row in db.query(PROBLEMS_SQL)]
    return IndexStatus(
        ledger_path=ledger_path,
        ledger_bytes=sum(_size(ledger_path + suffix) for suffix in ("", "-wal")),
        roots=[
            RootStatus(
                path=str(root),
                exists=os.path.isdir(os.path.join(root, "projects")),
                files=db.execute(ROOT_FILES_SQL, {"root": str(root)}).fetchone()[0],
            )
            for root in roots
        ],
        files=files["files"],
        files_deleted=files["deleted"],
        files_unreadable=[{"path": row["path"], "error": row["error"]} for row in db.query(UNREADABLE_SQL)],
        files_with_partial_last_line=files["partial"],
        responses=facts["responses"],
        first_response_utc=facts["first_utc"],
        last_response_utc=facts["last_utc"],
        last_change_utc=db.execute(LAST_CHANGE_SQL).fetchone()[0],
        bad_lines=sum(problem.lines for problem in problems),
        problems=problems,
        unpriced_models=unpriced,
        how_to_add_prices=_how_to_price(unpriced, prices_path),
        refresh=refresh,
    )


def _how_to_price(unpriced: list[UnpricedModel], prices_path: str) -> str | None:
    """What to put in the prices file for the models (or fast modes) that have no price."""
    unknown = [model.model for model in unpriced if model.reason == "unknown model"]
    no_fast = [model.model for model in unpriced if model.reason == "no fast-mode price"]
    hints = []
    if unknown:
        hints.append(
            f"No price is known for: {', '.join(unknown)}. Their tokens are counted but their cost is left out. "
            f"Add an entry per model to {prices_path} (or pass --prices FILE), e.g. "
            f'[models."{unknown[0]}"] then [[models."{unknown[0]}".periods]] with '
            "from = 2025-01-01, input_mtok = 3, output_mtok = 15 (USD per million tokens)."
        )
    if no_fast:
        hints.append(
            f"No fast-mode price is known for: {', '.join(no_fast)}. Their responses with speed 'fast' are "
            "counted but their cost is left out (standard prices would understate them several times). If the "
            f"model has a fast mode, copy its entry into {prices_path} and add to its period "
            "fast = { input_mtok = ..., output_mtok = ... } (USD per million tokens)."
        )
    if not hints:
        return None
    return " ".join(hints) + " Every answer then prices all history; nothing is re-indexed."


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


def _local_key(group_by: str) -> Callable[[int], str]:
    """A local day number -> the day, the Monday of its week, or its month."""

    def key(day_number: int) -> str:
        day = local_date(day_number)
        if group_by == "week":
            return (day - timedelta(days=day.weekday())).isoformat()
        if group_by == "month":
            return day.isoformat()[:7]
        return day.isoformat()

    return key


def _first_response(db: Database, source: str = "dev") -> datetime | None:
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


def usage_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The Usage fields of a row of sums (its nano-dollars as cost_usd)."""
    usage: dict[str, Any] = {field: row[field] for field in USAGE_FIELDS if field != "cost_nanousd"}
    usage["cost_usd"] = nano_to_usd(row["cost_nanousd"])
    return usage


def _total(merged: dict[str, dict[str, int]]) -> Usage:
    """The exact total of merged groups (summed in nano-dollars, converted once)."""
    totals = dict.fromkeys(USAGE_FIELDS, 0)
    for sums in merged.values():
        for field in USAGE_FIELDS:
            totals[field] += sums[field]
    return Usage(**usage_fields(totals))


def _split_total(tally: _Tally, merged: dict[Any, dict[str, int]]) -> UsageTotals:
    """The exact total with its dev / prod split and what the prod sources reported themselves."""
    provider = tally.provider_nanousd
    return UsageTotals(
        **_total(merged).model_dump(),
        dev_cost_usd=nano_to_usd(sum(split[0] for split in tally.split.values())),
        prod_cost_usd=nano_to_usd(sum(split[1] for split in tally.split.values())),
        prod_provider_cost_usd=None if provider is None else nano_to_usd(provider),
    )


def _by_cost(rows: list[UsageRow]) -> list[UsageRow]:
    return sorted(rows, key=lambda row: (-row.cost_usd, -row.total_tokens, row.key))


def nano_to_usd(nanousd: int | None) -> float:
    """Integer nano-dollars as dollars, rounded to a millionth (well below any displayed cent)."""
    return round((nanousd or 0) / 1_000_000_000, 6)


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
    if repo in known:
        return repo
    wanted = repo.strip().lower().rstrip("/")
    by_name = [r for r in known if r.lower().rstrip("/").rsplit("/", 1)[-1] == wanted or r.lower() == wanted]
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
    raise QueryError(f"session_id={session_id!r} is not in the ledger; call sessions() to list them.{hint}")


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
