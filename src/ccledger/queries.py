"""One function per question, shared by the MCP tools and the CLI.

Each takes the ledger first and keyword-only filters, and returns a result model from
``models.py``. Every question is answered from *facts*: rows with the same columns whether
they come from ``usage_rollup`` (whole 15-minute buckets, see ``rollup.py``) or from
``response_costs`` itself (the part of a window that does not fill a bucket, at most 15
minutes at each end). So answers are exact to the response and take milliseconds on a ledger of
millions of responses. Costs are summed in integer nano-dollars and converted once at the end. A
response whose model has no price is left out of ``cost_usd`` and listed in ``unpriced_models``,
never counted as $0.

The caller brings the ledger up to date first (``index.refresh``, ``pricing.ensure_prices``,
``rollup.ensure_rollup``), as the server and the CLI do before every answer.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from .models import (
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
)
from .periods import PeriodError, Window, iso_utc, local_time_sql, resolve_period
from .rollup import BUCKET_MINUTES

__all__ = [
    "GroupBy",
    "QueryError",
    "cost_by_repo",
    "index_status",
    "nano_to_usd",
    "session_detail",
    "sessions",
    "usage_summary",
]

GroupBy = Literal["day", "week", "month", "repo", "branch", "model", "session", "machine"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)
TIME_GROUPS = ("day", "week", "month")


class QueryError(ValueError):
    """A bad argument; the message says what would work."""


# --- facts ---------------------------------------------------------------------------------------

FACT_COLUMNS = """
    source, session_id, model, canonical_model, repo_id, git_branch, machine, responses, subagent_responses,
    input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, total_tokens,
    web_search_requests, cost_nanousd, unpriced_responses, unpriced_tokens, first_utc, last_utc
"""

ROLLUP_FACTS_SQL = """
select bucket_utc as t, {columns}
from usage_rollup
where bucket_utc >= :rollup_start and bucket_utc < :rollup_end {filters}
"""

# One response as a fact; the same columns as a rollup row.
RAW_FACTS_SQL = """
select timestamp_utc as t, 'dev' as source, session_id, model, canonical_model, repo_id, git_branch, machine,
       1 as responses, is_sidechain as subagent_responses, input_tokens, output_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens, cache_read_tokens, total_tokens, web_search_requests,
       coalesce(cost_nanousd, 0) as cost_nanousd, cost_nanousd is null as unpriced_responses,
       case when cost_nanousd is null then total_tokens else 0 end as unpriced_tokens,
       timestamp_utc as first_utc, timestamp_utc as last_utc
from response_costs
where timestamp_utc >= :{start} and timestamp_utc < :{end} {filters}
"""

USAGE_COLUMNS_SQL = """
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

GROUPED_USAGE_SQL = "select {key} as key, {usage} from ({facts}) group by 1"

TOTAL_USAGE_SQL = "select {usage} from ({facts})"

UNPRICED_SQL = """
select model, sum(unpriced_responses) as responses, sum(unpriced_tokens) as total_tokens
from ({facts})
where unpriced_responses > 0
group by model
order by total_tokens desc
"""

REPO_COSTS_SQL = """
select coalesce(repo_id, '(no repo)') as repo_id, count(distinct session_id) as sessions, {usage}
from ({facts})
group by 1
order by cost_nanousd desc, total_tokens desc
"""

SESSIONS_SQL = """
select session_id, max(repo_id) as repo_id, min(first_utc) as first_utc, max(last_utc) as last_utc,
       group_concat(distinct model) as models, sum(subagent_responses) as subagent_responses,
       max(machine) as machine, {usage}
from ({facts})
where session_id is not null
group by session_id
order by last_utc desc, session_id
limit :limit
"""

SESSION_COUNT_SQL = "select count(distinct session_id) from ({facts}) where session_id is not null"

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

# What only the raw rows know (cwd, versions), read over the session's own time span.
SESSION_DISTINCT_SQL = """
select distinct {column} as value from responses
where timestamp_utc >= :first_utc and timestamp_utc <= :last_utc
  and session_id = :session_id and {column} is not null
order by 1
"""

SESSION_PREFIX_SQL = """
select distinct session_id from usage_rollup
where session_id >= :prefix and session_id < :prefix || char(1114111)
limit 6
"""

RECENT_SESSIONS_SQL = """
select session_id from usage_rollup where session_id is not null order by bucket_utc desc limit 200
"""

KNOWN_REPOS_SQL = "select distinct repo_id from repos order by 1"

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

FIRST_FACT_SQL = "select min(bucket_utc) from usage_rollup"


class _Facts:
    """The facts of one question: a window and filters, as SQL with its parameters."""

    def __init__(self, window: Window | None, filters: dict[str, Any]) -> None:
        self.params: dict[str, Any] = {}
        clauses = []
        for column, value in filters.items():
            if value is None:
                continue
            if column == "model":
                clauses.append("and (model = :model or canonical_model = :model)")
            else:
                clauses.append(f"and {column} = :{column}")  # column names come from this module only
            self.params[column] = value
        where = " ".join(clauses)
        start = window.start_utc if window and window.start else ""
        end = window.end_utc if window else "9999"
        rollup_start, rollup_end = _ceil_bucket(start), _floor_bucket(end)
        if rollup_start >= rollup_end:  # shorter than a bucket: the raw rows answer it all
            self.params.update(start=start, end=end)
            self.sql = RAW_FACTS_SQL.format(start="start", end="end", filters=where)
            return
        self.params.update(start=start, end=end, rollup_start=rollup_start, rollup_end=rollup_end)
        self.sql = " union all ".join(
            [
                ROLLUP_FACTS_SQL.format(columns=FACT_COLUMNS, filters=where),
                RAW_FACTS_SQL.format(start="start", end="rollup_start", filters=where),
                RAW_FACTS_SQL.format(start="rollup_end", end="end", filters=where),
            ]
        )


def _floor_bucket(timestamp: str) -> str:
    if not timestamp or timestamp >= "9999":
        return timestamp
    minute = int(timestamp[14:16]) // BUCKET_MINUTES * BUCKET_MINUTES
    return f"{timestamp[:14]}{minute:02d}:00.000Z"


def _ceil_bucket(timestamp: str) -> str:
    floor = _floor_bucket(timestamp)
    if floor == timestamp or not timestamp:
        return floor
    moment = datetime.fromisoformat(floor.replace("Z", "+00:00")) + timedelta(minutes=BUCKET_MINUTES)
    return iso_utc(moment)


# --- questions ---------------------------------------------------------------------------------


def usage_summary(
    db: Database,
    *,
    since: str | None = None,
    until: str | None = None,
    group_by: str = "day",
    repo: str | None = None,
    model: str | None = None,
    zone: ZoneInfo,
    now: datetime,
) -> UsageSummary:
    """Usage and cost over a period, grouped by time or by a dimension."""
    if group_by not in GROUP_BY_CHOICES:
        raise QueryError(f"group_by={group_by!r} is not one of: {', '.join(GROUP_BY_CHOICES)}")
    window = _window(since, until, zone, now)
    repo_id = _resolve_repo(db, repo) if repo else None
    facts = _Facts(window, {"repo_id": repo_id, "model": model})
    key_sql, key_params = _group_key(db, group_by, window)
    sql = GROUPED_USAGE_SQL.format(key=key_sql, usage=USAGE_COLUMNS_SQL, facts=facts.sql)
    rows = [UsageRow(key=row["key"], **_usage(row)) for row in db.query(sql, {**facts.params, **key_params})]
    if group_by in TIME_GROUPS:
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, -row.total_tokens, row.key))
    filters = {name: value for name, value in (("repo", repo_id), ("model", model)) if value}
    return UsageSummary(
        period=_period(window),
        group_by=group_by,
        filters=filters,
        rows=rows,
        totals=_total(db, facts),
        unpriced_models=_unpriced(db, facts),
    )


def cost_by_repo(
    db: Database, *, since: str | None = None, until: str | None = None, zone: ZoneInfo, now: datetime
) -> RepoCosts:
    """Spend per repository over a period, biggest first, with each repo's share of the total."""
    window = _window(since, until, zone, now)
    facts = _Facts(window, {})
    totals = _total(db, facts)
    repos = []
    for row in db.query(REPO_COSTS_SQL.format(usage=USAGE_COLUMNS_SQL, facts=facts.sql), facts.params):
        usage = _usage(row)
        share = usage["cost_usd"] / totals.cost_usd if totals.cost_usd else 0.0
        repos.append(RepoCost(repo_id=row["repo_id"], sessions=row["sessions"], share=round(share, 4), **usage))
    return RepoCosts(period=_period(window), repos=repos, totals=totals, unpriced_models=_unpriced(db, facts))


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
    window = _window(since, until, zone, now)
    facts = _Facts(window, {"repo_id": _resolve_repo(db, repo) if repo else None})
    rows = list(
        db.query(SESSIONS_SQL.format(usage=USAGE_COLUMNS_SQL, facts=facts.sql), {**facts.params, "limit": limit})
    )
    branches = _latest_branches(db, [row["session_id"] for row in rows])
    found = [
        SessionSummary(
            session_id=row["session_id"],
            repo_id=row["repo_id"],
            git_branch=branches.get(row["session_id"]),
            machine=row["machine"],
            first_utc=row["first_utc"],
            last_utc=row["last_utc"],
            models=sorted(set((row["models"] or "").split(","))),
            subagent_responses=row["subagent_responses"] or 0,
            **_usage(row),
        )
        for row in rows
    ]
    total = db.execute(SESSION_COUNT_SQL.format(facts=facts.sql), facts.params).fetchone()[0]
    return SessionList(
        period=_period(window), sessions=found, total_sessions=total, unpriced_models=_unpriced(db, facts)
    )


def session_detail(db: Database, session_id: str) -> SessionDetail:
    """One session in full: totals, models, subagents, branches (a unique id prefix is enough)."""
    session_id = _resolve_session(db, session_id)
    span = next(db.query(SESSION_SPAN_SQL, {"session_id": session_id}))
    facts = _Facts(None, {"session_id": session_id})

    def grouped(key: str) -> list[UsageRow]:
        sql = GROUPED_USAGE_SQL.format(key=key, usage=USAGE_COLUMNS_SQL, facts=facts.sql)
        rows = [UsageRow(key=row["key"], **_usage(row)) for row in db.query(sql, facts.params)]
        return sorted(rows, key=lambda row: (-row.cost_usd, -row.total_tokens))

    def distinct(column: str) -> list[str]:
        sql = SESSION_DISTINCT_SQL.format(column=column)
        return [row["value"] for row in db.query(sql, {"session_id": session_id, **span})]

    first, last = _parse(span["first_utc"]), _parse(span["last_utc"])
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
        totals=_total(db, facts),
        by_model=grouped("model"),
        by_agent=_by_agent(db, session_id, span),
        unpriced_models=_unpriced(db, facts),
    )


BY_AGENT_SQL = """
select case when is_sidechain then coalesce(agent_id, 'subagent') else 'main' end as key,
       count(*) as responses,
       coalesce(sum(input_tokens), 0) as input_tokens,
       coalesce(sum(output_tokens), 0) as output_tokens,
       coalesce(sum(cache_write_5m_tokens), 0) as cache_write_5m_tokens,
       coalesce(sum(cache_write_1h_tokens), 0) as cache_write_1h_tokens,
       coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
       coalesce(sum(total_tokens), 0) as total_tokens,
       coalesce(sum(web_search_requests), 0) as web_search_requests,
       coalesce(sum(cost_nanousd), 0) as cost_nanousd
from response_costs
where timestamp_utc >= :first_utc and timestamp_utc <= :last_utc and session_id = :session_id
group by 1
"""


def _by_agent(db: Database, session_id: str, span: dict[str, Any]) -> list[UsageRow]:
    # Subagent ids live on the raw rows only; one session's rows are few.
    params = {"session_id": session_id, **span}
    rows = [UsageRow(key=row["key"], **_usage(row)) for row in db.query(BY_AGENT_SQL, params)]
    return sorted(rows, key=lambda row: (-row.cost_usd, -row.total_tokens))


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
    unpriced = _unpriced(db, _Facts(None, {}))
    hint = None
    if unpriced:
        names = ", ".join(model.model for model in unpriced)
        hint = (
            f"No price is known for: {names}. Their tokens are counted but their cost is left out. "
            f"Add an entry per model to {prices_path} (or pass --prices FILE), e.g. "
            f'[models."{unpriced[0].model}"] then [[models."{unpriced[0].model}".periods]] with '
            "from = 2025-01-01, input_mtok = 3, output_mtok = 15 (USD per million tokens). "
            "Every answer then prices all history; nothing is re-indexed."
        )
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
        bad_lines=sum(row["lines"] for row in db.query(PROBLEMS_SQL)),
        problems=[ProblemCount(**row) for row in db.query(PROBLEMS_SQL)],
        unpriced_models=unpriced,
        how_to_add_prices=hint,
        refresh=refresh,
    )


# --- helpers -----------------------------------------------------------------------------------


def _window(since: str | None, until: str | None, zone: ZoneInfo, now: datetime) -> Window:
    try:
        return resolve_period(since, until, zone=zone, now=now)
    except PeriodError as exc:
        raise QueryError(str(exc)) from exc


def _period(window: Window) -> Period:
    return Period(label=window.label, since_utc=window.start_utc, until_utc=window.end_utc, timezone=window.zone.key)


def _group_key(db: Database, group_by: str, window: Window) -> tuple[str, dict[str, str]]:
    if group_by in TIME_GROUPS:
        first = db.execute(FIRST_FACT_SQL).fetchone()[0]
        start = window.start or (_parse(first) if first else window.end)
        local, local_params = local_time_sql("t", window.zone, start, window.end)
        key = {
            "day": f"date({local})",
            "week": f"date({local}, 'weekday 0', '-6 days')",  # the Monday of the week
            "month": f"strftime('%Y-%m', {local})",
        }[group_by]
        return key, local_params
    return {
        "repo": "coalesce(repo_id, '(no repo)')",
        "branch": "coalesce(repo_id, '(no repo)') || ' @ ' || coalesce(git_branch, '(no branch)')",
        "model": "model",
        "session": "coalesce(session_id, '(no session)')",
        "machine": "coalesce(machine, '(unknown)')",
    }[group_by], {}


def _total(db: Database, facts: _Facts) -> Usage:
    row = next(db.query(TOTAL_USAGE_SQL.format(usage=USAGE_COLUMNS_SQL, facts=facts.sql), facts.params))
    return Usage(**_usage(row))


def _usage(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "responses": row["responses"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_write_5m_tokens": row["cache_write_5m_tokens"],
        "cache_write_1h_tokens": row["cache_write_1h_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "total_tokens": row["total_tokens"],
        "web_search_requests": row["web_search_requests"],
        "cost_usd": nano_to_usd(row["cost_nanousd"]),
    }


def nano_to_usd(nanousd: int | None) -> float:
    """Integer nano-dollars as dollars, rounded to a millionth (well below any displayed cent)."""
    return round((nanousd or 0) / 1_000_000_000, 6)


def _unpriced(db: Database, facts: _Facts) -> list[UnpricedModel]:
    return [UnpricedModel(**row) for row in db.query(UNPRICED_SQL.format(facts=facts.sql), facts.params)]


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


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
