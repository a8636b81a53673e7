"""The activity of a few named sessions, for the session list and a session's detail.

The same rules as ``answers.activity`` (see its docstring), read per session through the
session indexes: a page of sessions costs a few small lookups, whatever the ledger's size.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from .. import timestamps
from ..models import Activity

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = ["session_activity"]

EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")

TOOL_USES_SQL = """
select r.session_id, tool.value as tool, count(*)
from responses as r, json_each(r.tools) as tool
where r.timestamp_utc >= :first and r.timestamp_utc <= :last and r.session_id in ({placeholders})
  and r.tools is not null
group by 1, 2
"""
RESULTS_SQL = """
select session_id, tool, coalesce(sum(outcome = 1), 0), coalesce(sum(outcome = 2), 0),
       coalesce(sum(lines_added), 0), coalesce(sum(lines_removed), 0),
       coalesce(sum(shape = 1 and outcome is null and coalesce(made, 1) = 1), 0),
       coalesce(sum(shape = 2 and outcome is null and coalesce(made, 1) = 1), 0)
from tool_results
where timestamp_utc >= :first and timestamp_utc <= :last and session_id in ({placeholders})
group by 1, 2
"""
EVENTS_SQL = """
select session_id, kind, count(*), coalesce(sum(value), 0)
from activity_events
where timestamp_utc >= :first and timestamp_utc <= :last and session_id in ({placeholders})
group by 1, 2
"""
_KINDS = {
    "prompt": "prompts", "command": "slash_commands", "compaction": "compactions",
    "rate_limit": "rate_limit_hits", "api_error": "api_errors",
}  # fmt: skip


def session_activity(db: Database, session_ids: list[str], first_utc: str, last_utc: str) -> dict[str, Activity]:
    """Each session's activity (all of it, not a window's); cost is left at 0 for the caller.
    ``first_utc`` and ``last_utc`` span the sessions' responses: their results and events are
    read from that span through the time indexes (a prompt comes up to an hour before)."""
    if not session_ids:
        return {}
    span = {"first": timestamps.text(timestamps.parse(first_utc) - timedelta(hours=1)), "last": last_utc}
    found: dict[str, Counter[str]] = {session: Counter() for session in session_ids}
    for i in range(0, len(session_ids), 500):
        chunk = session_ids[i : i + 500]
        named = {**span, **{f"s{n}": session for n, session in enumerate(chunk)}}
        listed = ", ".join(f":s{n}" for n in range(len(chunk)))
        for session, tool, uses in db.execute(TOOL_USES_SQL.format(placeholders=listed), named):
            found[session]["tool_uses"] += uses
            if tool in EDIT_TOOLS:
                found[session]["edits_accepted"] += uses
        for session, tool, errors, rejected, added, removed, commits, prs in db.execute(
            RESULTS_SQL.format(placeholders=listed), named
        ):
            counts = found[session]
            counts.update(tool_errors=errors, lines_added=added, lines_removed=removed, commits=commits,
                          pull_requests=prs)  # fmt: skip
            if tool in EDIT_TOOLS:
                counts.update(edits_rejected=rejected)
                counts["edits_accepted"] -= rejected
        for session, kind, count, value in db.execute(EVENTS_SQL.format(placeholders=listed), named):
            if kind == "turn":
                found[session]["active_seconds"] += round(value / 1000)
            elif kind in _KINDS:
                found[session][_KINDS[kind]] += count
    return {session: Activity(sessions=1, **counts) for session, counts in found.items()}
