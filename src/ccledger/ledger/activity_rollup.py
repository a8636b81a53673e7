"""The activity rollup: tool uses, results, events and active time summed per 15-minute bucket.

Like ``rollup`` for usage, a cache over the rows it sums, never the source of truth, so that an
answer over a year reads thousands of rows instead of a million. It is built the first time an
activity answer asks for it (a first index does not wait for it), then kept up to date: the
indexer lists the buckets it touched in ``activity_dirty`` and :func:`refresh_activity_rollup`
rebuilds exactly those. Subagents' costs are summed with the prices in force, so a price change
has it built again, as the usage rollup is.

:data:`FACT_ROWS_SQL` is the one definition of what is summed, for the rollup's buckets and for
the unaligned edges of a question's window alike (see ``answers.activity``). Active time counts
the turn durations Claude Code wrote, and for a session with none, the gap before each of its
main-thread responses when it is at most five minutes (a longer one was idle); the gap before a
bucket's first response looks back into the previous bucket, so a bucket is dirty also when a
response lands in the last five minutes of the one before. A session's first turn duration
has its buckets summed again, without their gaps (a trigger: ``ledger.activity_daily``).

Beside it, the daily tables (``activity_daily``) sum the same rows per UTC day in the shapes
long windows read them: a year is thousands of their rows instead of hundreds of thousands.
They are rebuilt from the 15-minute rows, day by day, whenever those change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from .. import timestamps
from . import buckets
from .activity_daily import DELETE_DAYS_SQL, DELETE_MONTHS_SQL, INSERT_DAYS_SQL, INSERT_MONTHS_SQL
from .buckets import BUCKET_EXPR, day_after

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = [
    "FACT_PARTS",
    "FACT_ROWS_SQL",
    "GAP_LIMIT_SECONDS",
    "MARK_ACTIVITY_DIRTY_SQL",
    "build_activity_rollup",
    "dirty_activity_rows",
    "fact_rows_sql",
    "forget_activity_rollup",
    "is_built",
    "lookback",
    "refresh_activity_rollup",
]

GAP_LIMIT_SECONDS = 300

# One row per fact in [:lo, :hi), by kind: a tool called, a result, an event, a subagent's
# response, a gap of active time. {only} narrows each part further (a few sessions, say). The gaps
# are read from :lookback on (five minutes before :lo) so that the first one has its predecessor.
FACT_PARTS = {
    "tool": """
select r.timestamp_utc as timestamp_utc, 'tool' as kind, tool.value as name, r.session_id, r.repo_id, r.model,
       1 as uses, 0 as errors, 0 as rejected, 0 as lines_added, 0 as lines_removed, 0 as commits,
       0 as pull_requests, 0 as value
from responses as r, json_each(r.tools) as tool
where r.timestamp_utc >= :lo and r.timestamp_utc < :hi and r.tools is not null {only}""",
    "result": """
select timestamp_utc, 'tool', tool, session_id, repo_id, model, 0, outcome is 1, outcome is 2,
       coalesce(lines_added, 0), coalesce(lines_removed, 0),
       shape = 1 and outcome is null and coalesce(made, 1) = 1, shape = 2 and outcome is null and coalesce(made, 1) = 1,
       0
from tool_results where timestamp_utc >= :lo and timestamp_utc < :hi {only}""",
    "event": """
select timestamp_utc, 'event', kind || coalesce(':' || name, ''), session_id, repo_id, null, 1, 0, 0, 0, 0, 0, 0,
       coalesce(value, 0)
from activity_events where timestamp_utc >= :lo and timestamp_utc < :hi {only}""",
    "agent": """
select timestamp_utc, 'agent', coalesce(agent_id, 'subagent'), session_id, repo_id, model, 1, 0, 0, 0, 0, 0, 0,
       coalesce(cost_nanousd, 0)
from response_costs where timestamp_utc >= :lo and timestamp_utc < :hi and is_sidechain = 1 {only}""",
    "gap": f"""
select timestamp_utc, 'gap', null, session_id, repo_id, model, 0, 0, 0, 0, 0, 0, 0, gap_ms
from (
    select timestamp_utc, session_id, repo_id, model,
           cast(round((julianday(timestamp_utc) - julianday(lag(timestamp_utc) over (
               partition by session_id order by timestamp_utc))) * 86400000) as integer) as gap_ms
    from responses
    where timestamp_utc >= :lookback and timestamp_utc < :hi and is_sidechain = 0 and session_id is not null {{only}}
) as gaps
where timestamp_utc >= :lo and gap_ms <= {GAP_LIMIT_SECONDS * 1000}
    and not exists (select 1 from activity_events as e where e.kind = 'turn' and e.session_id = gaps.session_id)""",
}


def fact_rows_sql(only: str = "", kinds: Iterable[str] = FACT_PARTS) -> str:
    """The facts of ``kinds`` (all by default), each part narrowed by the SQL condition ``only``
    (``"and session_id in (...)"``; columns unqualified)."""
    return "\nunion all".join(FACT_PARTS[kind].replace("{only}", only) for kind in kinds) + "\n"


FACT_ROWS_SQL = fact_rows_sql()
"""Every fact: what the rollup sums, and what a window's unaligned edges are read from."""

_COLUMNS = (
    "bucket_utc, bucket_minute, kind, name, session_id, repo_id, model, uses, errors, rejected, lines_added, "
    "lines_removed, commits, pull_requests, value"
)
INSERT_RANGE_SQL = f"""
insert into activity_rollup ({_COLUMNS})
select {BUCKET_EXPR}, cast(strftime('%s', {BUCKET_EXPR}) as integer) / 60, kind, name, session_id, repo_id, model,
       sum(uses), sum(errors), sum(rejected), sum(lines_added), sum(lines_removed), sum(commits),
       sum(pull_requests), sum(value)
from ({FACT_ROWS_SQL})
group by 1, kind, name, session_id, repo_id, model
"""
DELETE_RANGE_SQL = "delete from activity_rollup where bucket_utc >= :lo and bucket_utc < :hi"
MARK_ACTIVITY_DIRTY_SQL = "insert or ignore into activity_dirty (bucket_utc, end_utc) values (?, ?)"
DIRTY_SQL = "select bucket_utc, end_utc from activity_dirty order by bucket_utc"
CLEAR_DIRTY_SQL = "delete from activity_dirty"
BUILT_SQL = "select activity_rollup_built_utc from activity_state where id = 1"
SET_BUILT_SQL = "update activity_state set activity_rollup_built_utc = ? where id = 1"


def dirty_activity_rows(timestamps_utc: set[str]) -> list[tuple[str, str]]:
    """``activity_dirty`` rows for these timestamps' buckets, and for the next bucket of any in
    the last five minutes of its own: that bucket's first gap may end at them."""
    found = set()
    for minute in {ts[:16] for ts in timestamps_utc}:
        start, end = buckets.bounds(minute + ":00.000Z")
        found.add((start, end))
        if int(minute[14:16]) % buckets.BUCKET_MINUTES >= buckets.BUCKET_MINUTES - GAP_LIMIT_SECONDS // 60 - 1:
            found.add(buckets.bounds(end))
    return sorted(found)


def lookback(lo: str) -> str:
    """Five minutes before ``lo``: where the gaps of [lo, ...) start looking for predecessors."""
    if len(lo) < 20:  # an open start: nothing before it
        return lo
    return timestamps.text(timestamps.parse(lo) - timedelta(seconds=GAP_LIMIT_SECONDS))


def is_built(db: Database) -> bool:
    row = db.execute(BUILT_SQL).fetchone()
    return bool(row and row[0])


def forget_activity_rollup(db: Database) -> None:
    """Have the next build start over (a first index: no dirty bucket is listed meanwhile)."""
    db.execute(SET_BUILT_SQL, [None])


def build_activity_rollup(db: Database) -> None:
    """Build the whole rollup (in the caller's write transaction)."""
    db.execute("delete from activity_rollup")
    _insert_range(db, "0000", "9999")
    _rebuild_days(db, "0000", "9999")
    db.execute(CLEAR_DIRTY_SQL)
    db.execute(SET_BUILT_SQL, [timestamps.now()])


def refresh_activity_rollup(db: Database) -> bool:
    """Rebuild the dirty buckets, if the rollup is built; True if anything changed. Cheap when
    nothing changed: two single-row reads."""
    if not is_built(db) or db.execute("select not exists (select 1 from activity_dirty)").fetchone()[0]:
        return False
    from .db import write_transaction  # not at the top: the helper process imports the ledger package

    with write_transaction(db):
        if not is_built(db):
            return False
        for lo, hi in _ranges(db.execute(DIRTY_SQL).fetchall()):
            db.execute(DELETE_RANGE_SQL, {"lo": lo, "hi": hi})
            _insert_range(db, lo, hi)
            _rebuild_days(db, lo[:10], day_after(hi))  # every day the range touches, whole
        db.execute(CLEAR_DIRTY_SQL)
    return True


def _insert_range(db: Database, lo: str, hi: str) -> None:
    db.execute(INSERT_RANGE_SQL, {"lo": lo, "hi": hi, "lookback": lookback(lo)})


def _rebuild_days(db: Database, lo: str, hi: str) -> None:
    """The daily tables' days [lo, hi), and the months those touch."""
    for sql in (*DELETE_DAYS_SQL, *INSERT_DAYS_SQL):
        db.execute(sql, {"lo": lo, "hi": hi})
    months = {"lo": buckets.month_start(lo), "hi": buckets.month_ceil(hi)}
    db.execute(DELETE_MONTHS_SQL, months)
    db.execute(INSERT_MONTHS_SQL, months)


def _ranges(dirty: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Adjacent dirty buckets joined into ranges."""
    ranges: list[list[str]] = []
    for start, end in dirty:
        if ranges and ranges[-1][1] == start:
            ranges[-1][1] = end
        else:
            ranges.append([start, end])
    return [(start, end) for start, end in ranges]
