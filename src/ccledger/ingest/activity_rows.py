"""One file's activity made ledger rows, and written: the upserts that keep it exact.

Every row is keyed, and every write sets rather than adds, so a file read twice, a copy in a
fork or a resumed session, or a line seen half-written and then whole changes nothing:

- a response's tool uses are a column of its row (``responses.tools``), so they are counted
  once with the response, whichever copy of it the ledger keeps;
- a tool result worth recording (an error, a rejection, an edit's lines, a commit) is keyed by
  its tool use and names the tool; when the tool use was read before (a live session, indexed
  between the call and its result), the file's ``pending_tools`` remembers it until then;
- an event of a fork's copied history belongs to the session it was copied from (the copy is
  kept only if the original's file is gone); the original's own line always wins;
- Claude Code's running totals for a session are replaced by later ones (by its elapsed time).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from .activity import Activity, key_of
from .transcript import Response

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = [
    "ACTIVITY_TIMED",
    "PENDING_LIMIT",
    "ActivityRows",
    "Batch",
    "Pending",
    "cwds_of",
    "prepare",
    "rows_of",
    "tools_by_response",
    "write_batch",
]

PENDING_LIMIT = 32
"""Tool uses a file remembers for results still to come: its last response's calls."""

UPSERT_RESULT_SQL = """
insert into tool_results (key, tool, shape, timestamp_utc, session_id, repo_id, model, outcome, made, lines_added,
                          lines_removed, file_id)
values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
on conflict(key) do update set
    outcome = coalesce(excluded.outcome, outcome), made = coalesce(excluded.made, made),
    lines_added = coalesce(excluded.lines_added, lines_added),
    lines_removed = coalesce(excluded.lines_removed, lines_removed)
"""

_INSERT_EVENT = """
insert into activity_events (key, kind, name, timestamp_utc, session_id, repo_id, value, value2, file_id)
values (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# The original line's session wins over a copy's.
INSERT_EVENT_SQL = (
    _INSERT_EVENT
    + """on conflict(key) do update set
    session_id = excluded.session_id, repo_id = excluded.repo_id, file_id = excluded.file_id
where session_id is not excluded.session_id"""
)
INSERT_COPIED_EVENT_SQL = _INSERT_EVENT + "on conflict(key) do nothing"

UPSERT_SESSION_COST_SQL = """
insert into session_costs (session_id, cost_usd, lines_added, lines_removed, duration_ms, api_duration_ms,
                           model_usage, file_id)
values (?, ?, ?, ?, ?, ?, ?, ?)
on conflict(session_id) do update set
    cost_usd = excluded.cost_usd, lines_added = excluded.lines_added, lines_removed = excluded.lines_removed,
    duration_ms = excluded.duration_ms, api_duration_ms = excluded.api_duration_ms,
    model_usage = excluded.model_usage, file_id = excluded.file_id
where coalesce(excluded.duration_ms, 0) >= coalesce(duration_ms, 0)
"""

# Written only when new or changed: a trigger has the rollup sum the agent's buckets again (ledger.activity_daily).
UPSERT_AGENT_SQL = """
insert into agent_types (agent_id, agent_type) values (?, ?)
on conflict (agent_id) do update set agent_type = excluded.agent_type where agent_type != excluded.agent_type
"""
PENDING_SQL = "select pending_tools from files where id = ?"

Pending = list[list[Any]]
"""Tool uses waiting for their results: [id, tool, shape, timestamp, session, repo, model] each."""


class ActivityRows(msgspec.Struct, array_like=True):
    """The rows of one file's activity, in the statements' column order but for the file id;
    results whose tool use an earlier read saw wait in ``unresolved`` for the writer."""

    results: list[tuple[Any, ...]] = []
    unresolved: list[tuple[Any, ...]] = []  # (tool use id, outcome, made, lines added, lines removed)
    pending: Pending = []
    events: list[tuple[Any, ...]] = []
    copied_events: list[tuple[Any, ...]] = []
    costs: list[tuple[Any, ...]] = []
    agents: list[tuple[str, str]] = []


def tools_by_response(activity: Activity) -> dict[str, list[str]]:
    """Of each response (by key), the tools it called, in order; a tool use id counts once."""
    tools: dict[str, list[str]] = {}
    for call in activity.calls.values():
        named = tools.get(call.response)
        if named is None:
            tools[call.response] = [call.tool]
        else:
            named.append(call.tool)
    return tools


def rows_of(
    activity: Activity,
    responses: list[Response],
    repo_id: Callable[[str | None], str | None],
    forks: dict[str, list[str]],
    agent: tuple[str, str] | None,
) -> ActivityRows:
    """The rows for ``activity``, with repos resolved; ``forks`` are the file's (see
    ``file_result.forks_of``): its events up to a fork's last copied response are copies."""
    rows = ActivityRows()
    calls = activity.calls
    by_key: dict[str, Response] = {}

    def call_row(call_id: str) -> list[Any] | None:
        call = calls.get(call_id)
        if call is None:
            return None
        if not by_key:
            by_key.update((response.key, response) for response in responses)
        response = by_key.get(call.response)
        if response is None:
            return None
        return [
            call_id, call.tool, call.shape, response.timestamp_utc, response.session_id, repo_id(response.cwd),
            response.model,
        ]  # fmt: skip

    answered = set()
    for result in activity.results:
        answered.add(result.id)
        outcome = (result.outcome, result.made, result.lines_added, result.lines_removed)
        row = call_row(result.id)
        if row is None:
            rows.unresolved.append((result.id, *outcome))
        else:
            rows.results.append((key_of(result.id), *row[1:], *outcome))
    # A commit or PR counts from its call; its result only says it failed, or (read with it) whether it was made.
    for call_id, call in calls.items():
        if call.shape and call_id not in answered and (row := call_row(call_id)) is not None:
            rows.results.append((key_of(call_id), *row[1:], None, None, None, None))
    # Results come before the next request: only the read's last response can still be waiting.
    last = responses[-1].key if responses else None
    waiting = []
    for call_id in reversed(calls):
        if calls[call_id].response != last:
            break
        if call_id not in answered and (row := call_row(call_id)) is not None:
            waiting.append(row)
    rows.pending = waiting[::-1][-PENDING_LIMIT:]
    for event in activity.events:
        session_id = event.session_id
        fork = forks.get(session_id) if session_id is not None else None
        copied = fork is not None and event.timestamp_utc <= fork[1]
        event_row = (
            event.key, event.kind, event.name, event.timestamp_utc, fork[0] if copied and fork else session_id,
            repo_id(event.cwd), event.value, event.value2,
        )  # fmt: skip
        (rows.copied_events if copied else rows.events).append(event_row)
    rows.costs = [
        (
            cost.session_id,
            cost.cost_usd,
            cost.lines_added,
            cost.lines_removed,
            cost.duration_ms,
            cost.api_duration_ms,
            json.dumps(cost.model_usage, sort_keys=True, separators=(",", ":")),
        )
        for cost in activity.costs.values()
    ]
    if agent is not None:
        rows.agents = [agent]
    return rows


def cwds_of(activity: Activity) -> set[str]:
    """The working directories ``activity``'s events name, to resolve to repos."""
    return {event.cwd for event in activity.events if event.cwd}


Batch = dict[str, list[tuple[Any, ...]]]
"""Rows to write, by statement (see :func:`write_batch`)."""


def prepare(db: Database, rows: ActivityRows, file_id: int, *, first_read: bool) -> tuple[Batch, str | None]:
    """One file's rows by statement, its results resolved against the tool uses it remembered,
    and what it remembers now (``files.pending_tools``). Reads only. ``first_read``: the file
    remembered nothing."""
    results = [(*row, file_id) for row in rows.results]
    remembered: dict[str, list[Any]] = {}
    if not first_read:
        (saved,) = db.execute(PENDING_SQL, [file_id]).fetchone() or (None,)
        remembered = {call[0]: call for call in json.loads(saved)} if saved else {}
    for call_id, *outcome in rows.unresolved:
        call = remembered.pop(call_id, None)
        if call is not None:
            results.append((key_of(call_id), *call[1:], *outcome, file_id))
    remembered.update((call[0], call) for call in rows.pending)
    batch: Batch = {}
    for sql, found in (
        (UPSERT_RESULT_SQL, results),
        (INSERT_EVENT_SQL, [(*row, file_id) for row in rows.events]),
        (INSERT_COPIED_EVENT_SQL, [(*row, file_id) for row in rows.copied_events]),
        (UPSERT_SESSION_COST_SQL, [(*row, file_id) for row in rows.costs]),
        (UPSERT_AGENT_SQL, rows.agents),
    ):
        if found:
            batch[sql] = found
    kept = list(remembered.values())[-PENDING_LIMIT:]
    return batch, json.dumps(kept, separators=(",", ":")) if kept else None


_WRITE_ORDER = (UPSERT_RESULT_SQL, INSERT_COPIED_EVENT_SQL, INSERT_EVENT_SQL, UPSERT_SESSION_COST_SQL, UPSERT_AGENT_SQL)
ACTIVITY_TIMED = (UPSERT_RESULT_SQL, INSERT_COPIED_EVENT_SQL, INSERT_EVENT_SQL)
"""The statements whose rows carry a timestamp in their fourth column (for the activity rollup)."""


def write_batch(db: Database, batch: Batch) -> None:
    """Write the rows :func:`prepare` made for a batch of files, one statement at a time, in order:
    a session's later totals after its earlier ones, an original event after its copy."""
    for sql in _WRITE_ORDER:
        if sql in batch:
            db.conn.executemany(sql, batch[sql])
