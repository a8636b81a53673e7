"""The activity of a few named sessions, for the session list and a session's detail.

The same facts and rules as ``answers.activity`` (``activity_tally``), read for the named
sessions only, over the span of their responses through the time indexes: a page of sessions
costs a few small lookups, whatever the ledger's size.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .. import timestamps
from ..ledger.activity_rollup import fact_rows_sql, lookback
from ..models import Activity
from .activity_tally import Found, fields, gather, grouped, raw_source

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = ["session_activity"]

# A prompt comes before the response it asked for; a minute is plenty, an hour is safe.
_BEFORE_FIRST = timedelta(hours=1)


def session_activity(db: Database, session_ids: list[str], first_utc: str, last_utc: str) -> dict[str, Activity]:
    """Each session's activity (all of it, not a window's); cost is left at 0 for the caller.
    ``first_utc`` and ``last_utc`` span the sessions' responses."""
    if not session_ids:
        return {}
    lo = timestamps.text(timestamps.parse(first_utc) - _BEFORE_FIRST)
    span = {"lo": lo, "hi": timestamps.text(timestamps.parse(last_utc) + timedelta(milliseconds=1)),
            "lookback": lookback(lo)}  # fmt: skip
    found = {session: Activity(sessions=1) for session in session_ids}
    for i in range(0, len(session_ids), 500):
        chunk = session_ids[i : i + 500]
        named = {**span, **{f"s{n}": session for n, session in enumerate(chunk)}}
        only = "and session_id in (" + ", ".join(f":s{n}" for n in range(len(chunk))) + ")"
        facts = fact_rows_sql(only, ("tool", "result", "event", "gap"))
        sql = grouped(raw_source(facts)).format(key="session_id", repo="")
        groups, _, _ = gather(Found([dict(row) for row in db.query(sql, named)]), "session")
        for session, counts in groups.items():
            if session in found:
                found[session] = Activity(**{**fields(counts, 0.0), "sessions": 1})
    return found
