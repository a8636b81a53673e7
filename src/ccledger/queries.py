"""One function per question, shared by the MCP tools and the CLI.

Each takes the ledger first and keyword-only filters, and returns a result model from
``models.py``. Costs come from the ``response_costs`` view (see ``pricing.py``), summed in
integer nano-dollars and converted once at the end. A response whose model has no price has a
NULL cost: it is left out of ``cost_usd`` and listed in ``unpriced_models``, never counted as $0.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from datetime import UTC, datetime
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
from .periods import PeriodError, Window, local_time_sql, resolve_period

__all__ = [
    "GroupBy",
    "QueryError",
    "cost_by_repo",
    "index_status",
    "session_detail",
    "sessions",
    "usage_summary",
]

GroupBy = Literal["day", "week", "month", "repo", "branch", "model", "session", "machine"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)
TIME_GROUPS = ("day", "week", "month")


class QueryError(ValueError):
    """A bad argument; the message says what would work."""


USAGE_COLUMNS_SQL = """
    count(*) as responses,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
    coalesce(sum(cache_write_5m_tokens), 0) as cache_write_5m_tokens,
    coalesce(sum(cache_write_1h_tokens), 0) as cache_write_1h_tokens,
    coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
    coalesce(sum(total_tokens), 0) as total_tokens,
    coalesce(sum(web_search_requests), 0) as web_search_requests,
    coalesce(sum(cost_nanousd), 0) as cost_nanousd
"""

WINDOW_SQL = "timestamp_utc >= :start and timestamp_utc < :end"

GROUPED_USAGE_SQL = """
select {key} as key, {usage}
from response_costs
where {where}
group by 1
"""

TOTAL_USAGE_SQL = "select {usage} from response_costs where {where}"

UNPRICED_SQL = """
select model, count(*) as responses, coalesce(sum(total_tokens), 0) as total_tokens
from response_costs
where cost_nanousd is null and {where}
group by model
order by total_tokens desc
"""

REPO_COSTS_SQL = """
select coalesce(repo_id, '(no repo)') as repo_id, count(distinct session_id) as sessions, {usage}
from response_costs
where {where}
group by 1
order by cost_nanousd desc, total_tokens desc
"""

SESSIONS_SQL = """
select session_id,
       max(repo_id) as repo_id,
       min(timestamp_utc) as first_utc,
       max(timestamp_utc) as last_utc,
       group_concat(distinct model) as models,
       sum(is_sidechain) as subagent_responses,
       max(machine) as machine,
       {usage}
from response_costs
where session_id is not null and {where}
group by session_id
order by last_utc desc
limit :limit
"""

SESSION_COUNT_SQL = "select count(distinct session_id) from responses where session_id is not null and {where}"

LATEST_BRANCH_SQL = """
select git_branch from responses where session_id = :session_id order by timestamp_utc desc limit 1
"""

SESSION_FACTS_SQL = """
select min(timestamp_utc) as first_utc, max(timestamp_utc) as last_utc, max(repo_id) as repo_id
from responses where session_id = :session_id
"""

SESSION_DISTINCT_SQL = """
select distinct {column} as value from responses
where session_id = :session_id and {column} is not null order by 1
"""

SESSION_MATCH_SQL = """
select distinct session_id from responses where session_id like :prefix escape '\\' limit 5
"""

RECENT_SESSIONS_SQL = """
select session_id from responses where session_id is not null
group by session_id order by max(timestamp_utc) desc limit 5
"""

KNOWN_REPOS_SQL = "select distinct repo_id from responses where repo_id is not null order by 1"

LEDGER_FACTS_SQL = """
select count(*) as responses, min(timestamp_utc) as first_utc, max(timestamp_utc) as last_utc from responses
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

FIRST_TIMESTAMP_SQL = "select min(timestamp_utc) from response_costs where {where}"


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
    where, params = _filters(db, window, repo=repo, model=model)
    key_sql, key_params = _group_key(db, group_by, window, where, params)
    sql = GROUPED_USAGE_SQL.format(key=key_sql, usage=USAGE_COLUMNS_SQL, where=where)
    rows = [UsageRow(key=row["key"], **_usage(row)) for row in db.query(sql, {**params, **key_params})]
    if group_by in TIME_GROUPS:
        rows.sort(key=lambda row: row.key)
    else:
        rows.sort(key=lambda row: (-row.cost_usd, -row.total_tokens, row.key))
    filters = {name: value for name, value in (("repo", params.get("repo")), ("model", model)) if value}
    return UsageSummary(
        period=_period(window),
        group_by=group_by,
        filters=filters,
        rows=rows,
        totals=_total(db, where, params),
        unpriced_models=_unpriced(db, where, params),
    )


def cost_by_repo(
    db: Database, *, since: str | None = None, until: str | None = None, zone: ZoneInfo, now: datetime
) -> RepoCosts:
    """Spend per repository over a period, biggest first, with each repo's share of the total."""
    window = _window(since, until, zone, now)
    where, params = _filters(db, window)
    totals = _total(db, where, params)
    repos = []
    for row in db.query(REPO_COSTS_SQL.format(usage=USAGE_COLUMNS_SQL, where=where), params):
        usage = _usage(row)
        share = usage["cost_usd"] / totals.cost_usd if totals.cost_usd else 0.0
        repos.append(RepoCost(repo_id=row["repo_id"], sessions=row["sessions"], share=round(share, 4), **usage))
    return RepoCosts(period=_period(window), repos=repos, totals=totals, unpriced_models=_unpriced(db, where, params))


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
    where, params = _filters(db, window, repo=repo)
    found = []
    for row in db.query(SESSIONS_SQL.format(usage=USAGE_COLUMNS_SQL, where=where), {**params, "limit": limit}):
        branch = db.execute(LATEST_BRANCH_SQL, {"session_id": row["session_id"]}).fetchone()
        found.append(
            SessionSummary(
                session_id=row["session_id"],
                repo_id=row["repo_id"],
                git_branch=branch[0] if branch else None,
                machine=row["machine"],
                first_utc=row["first_utc"],
                last_utc=row["last_utc"],
                models=sorted(set((row["models"] or "").split(","))),
                subagent_responses=row["subagent_responses"] or 0,
                **_usage(row),
            )
        )
    total = db.execute(SESSION_COUNT_SQL.format(where=where), params).fetchone()[0]
    return SessionList(
        period=_period(window),
        sessions=found,
        total_sessions=total,
        unpriced_models=_unpriced(db, where, params),
    )


def session_detail(db: Database, session_id: str) -> SessionDetail:
    """One session in full: totals, models, subagents, branches (a unique id prefix is enough)."""
    session_id = _resolve_session(db, session_id)
    where = "session_id = :session_id"
    params: dict[str, Any] = {"session_id": session_id}
    facts = next(db.query(SESSION_FACTS_SQL, params))

    def grouped(key: str) -> list[UsageRow]:
        sql = GROUPED_USAGE_SQL.format(key=key, usage=USAGE_COLUMNS_SQL, where=where)
        rows = [UsageRow(key=row["key"], **_usage(row)) for row in db.query(sql, params)]
        return sorted(rows, key=lambda row: (-row.cost_usd, -row.total_tokens))

    def distinct(column: str) -> list[str]:
        return [row["value"] for row in db.query(SESSION_DISTINCT_SQL.format(column=column), params)]

    first, last = _parse(facts["first_utc"]), _parse(facts["last_utc"])
    return SessionDetail(
        session_id=session_id,
        repo_id=facts["repo_id"],
        cwds=distinct("cwd"),
        git_branches=distinct("git_branch"),
        machines=distinct("machine"),
        cc_versions=distinct("cc_version"),
        first_utc=facts["first_utc"],
        last_utc=facts["last_utc"],
        duration_minutes=round((last - first).total_seconds() / 60, 1),
        totals=_total(db, where, params),
        by_model=grouped("model"),
        by_agent=grouped("case when is_sidechain then coalesce(agent_id, 'subagent') else 'main' end"),
        unpriced_models=_unpriced(db, where, params),
    )


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
    everything = "1 = 1"
    unpriced = _unpriced(db, everything, {})
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


def _window(since: str | None, until: str | None, zone: ZoneInfo, now: datetime) -> Window:
    try:
        return resolve_period(since, until, zone=zone, now=now)
    except PeriodError as exc:
        raise QueryError(str(exc)) from exc


def _period(window: Window) -> Period:
    return Period(label=window.label, since_utc=window.start_utc, until_utc=window.end_utc, timezone=window.zone.key)


def _filters(
    db: Database, window: Window, *, repo: str | None = None, model: str | None = None
) -> tuple[str, dict[str, Any]]:
    clauses = [WINDOW_SQL]
    params: dict[str, Any] = {"start": window.start_utc or "", "end": window.end_utc}
    if repo:
        clauses.append("repo_id = :repo")
        params["repo"] = _resolve_repo(db, repo)
    if model:
        clauses.append("(model = :model or canonical_model = :model)")
        params["model"] = model
    return " and ".join(clauses), params


def _group_key(
    db: Database, group_by: str, window: Window, where: str, params: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    if group_by in TIME_GROUPS:
        start = window.start or _first_timestamp(db, where, params) or window.end
        local, local_params = local_time_sql("timestamp_utc", window.zone, start, window.end)
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
        "machine": "machine",
    }[group_by], {}


def _first_timestamp(db: Database, where: str, params: dict[str, Any]) -> datetime | None:
    row = db.execute(FIRST_TIMESTAMP_SQL.format(where=where), params).fetchone()
    return _parse(row[0]) if row and row[0] else None


def _total(db: Database, where: str, params: dict[str, Any]) -> Usage:
    row = next(db.query(TOTAL_USAGE_SQL.format(usage=USAGE_COLUMNS_SQL, where=where), params))
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


def _unpriced(db: Database, where: str, params: dict[str, Any]) -> list[UnpricedModel]:
    return [UnpricedModel(**row) for row in db.query(UNPRICED_SQL.format(where=where), params)]


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
    escaped = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    matches = [row["session_id"] for row in db.query(SESSION_MATCH_SQL, {"prefix": escaped + "%"})]
    if session_id in matches:
        return session_id
    if len(matches) == 1 and session_id:
        return matches[0]
    if len(matches) > 1:
        raise QueryError(f"session_id={session_id!r} is ambiguous: {', '.join(matches)}; pass more of it")
    recent = [row["session_id"] for row in db.query(RECENT_SESSIONS_SQL)]
    hint = f" Recent sessions: {', '.join(recent)}." if recent else ""
    raise QueryError(f"session_id={session_id!r} is not in the ledger; call sessions() to list them.{hint}")


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
