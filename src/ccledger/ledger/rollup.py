"""The usage rollup: ``response_costs`` summed per 15-minute bucket, kept exact.

A busy ledger holds millions of responses; summing them through the pricing join for every
question would take seconds. ``usage_rollup`` holds the same sums per bucket and per session,
model, repo, branch and machine, so a question over months reads thousands of rows. It is a
cache, never the source of truth:

- the indexer lists the buckets it touched in ``rollup_dirty`` (in the transaction that wrote
  the responses), and :func:`ensure_rollup` rebuilds exactly those buckets from the view;
- when the price table changes (its fingerprint in ``price_sync``), every bucket is rebuilt, so
  a price fix still reprices all history.

Queries read whole buckets from here and the unaligned edges of a window (under 15 minutes each)
from ``response_costs`` itself; see ``answers.facts``. ``usage_daily`` holds the same sums per
UTC day, for long windows: rebuilt from the 15-minute rows, whole or the dirty buckets' days, in
the transaction that rebuilds them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .. import timestamps
from . import buckets
from .activity_rollup import forget_activity_rollup
from .buckets import BUCKET_EXPR
from .usage_daily import USAGE_DAY_SUMS_SQL, USAGE_HOUR_SUMS_SQL

if TYPE_CHECKING:
    from sqlite3 import Connection

    from sqlite_utils import Database

__all__ = [
    "MARK_DIRTY_SQL",
    "RollupShare",
    "aggregate_rows",
    "dirty_rows",
    "ensure_rollup",
    "forget_built",
]

ROLLUP_COLUMNS = """
    bucket_utc, seq, bucket_minute, source, session_id, model, canonical_model, repo_id, git_branch, machine, responses,
    subagent_responses, input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    cache_read_tokens, total_tokens, web_search_requests, cost_nanousd, unpriced_responses, unpriced_tokens,
    first_utc, last_utc
"""

AGGREGATE_SQL = """
select {bucket} as bucket_utc, row_number() over (partition by {bucket}) as seq,
       cast(strftime('%s', {bucket}) as integer) / 60 as bucket_minute,
       'dev', session_id, model, canonical_model, repo_id, git_branch, machine,
       count(*), sum(is_sidechain), sum(input_tokens), sum(output_tokens), sum(cache_write_5m_tokens),
       sum(cache_write_1h_tokens), sum(cache_read_tokens), sum(total_tokens), sum(web_search_requests),
       coalesce(sum(cost_nanousd), 0), sum(cost_nanousd is null),
       sum(case when cost_nanousd is null then total_tokens else 0 end),
       min(timestamp_utc), max(timestamp_utc)
from {source}
group by 1, session_id, model, canonical_model, repo_id, git_branch, machine
"""

# The rows of the buckets from :since to before :until: all of them, or the dirty ones. A full
# rebuild without bounds reads response_costs whole instead: a range over everything would go
# through the time index for nothing.
RANGE_ROWS_SQL = "(select * from response_costs where timestamp_utc >= :since and timestamp_utc < :until)"
DIRTY_RANGE_ROWS_SQL = """
(select r.* from rollup_dirty as d
 join response_costs as r on r.timestamp_utc >= d.bucket_utc and r.timestamp_utc < d.end_utc
 where d.bucket_utc >= :since and d.bucket_utc < :until)
"""
# Where to share a rebuild: the bucket of the response, or the dirty bucket, at :share of the way.
# Responses are sampled: a first index builds the time index only meanwhile, and sorting them all
# would cost more than an approximate split does. About 1,000 rows at evenly spaced rowids are
# looked up rather than the table scanned (2 ms instead of 10 for 66,000 rows).
SPLIT_RESPONSES_SQL = """
with recursive
    bounds(low, high) as (select (select min(rowid) from responses), (select max(rowid) from responses)),
    step(size) as (select (high - low) / 1024 + 1 from bounds),
    at(id) as (select low from bounds union all select id + size from at, step, bounds where id + size <= high),
    sample as (select timestamp_utc from at join responses on responses.rowid = at.id)
select timestamp_utc from sample order by timestamp_utc
limit 1 offset (select cast(count(*) * :share as integer) from sample)
"""
SPLIT_DIRTY_SQL = """
select bucket_utc from rollup_dirty order by bucket_utc
limit 1 offset (select cast(count(*) * :share as integer) from rollup_dirty)
"""
INSERT_ROWS_SQL = f"insert into usage_rollup ({ROLLUP_COLUMNS}) values ({', '.join('?' * 24)})"
_EARLIEST, _LATEST = "0000", "9999"  # bounds that every ledger timestamp sorts between
INSERT_AGGREGATE_SQL = f"insert into usage_rollup ({ROLLUP_COLUMNS}) " + AGGREGATE_SQL

DELETE_DIRTY_SQL = """
delete from usage_rollup where source = 'dev' and bucket_utc in (select bucket_utc from rollup_dirty)
"""
DELETE_ALL_SQL = "delete from usage_rollup where source = 'dev'"
CLEAR_DIRTY_SQL = "delete from rollup_dirty"
ANY_DIRTY_SQL = "select exists (select 1 from rollup_dirty)"
PRICES_FINGERPRINT_SQL = "select fingerprint from price_sync where id = 1"
ROLLUP_FINGERPRINT_SQL = "select fingerprint from rollup_state where id = 1"
SAVE_STATE_SQL = """
insert into rollup_state (id, fingerprint, built_utc) values (1, :fingerprint, :now)
on conflict(id) do update set fingerprint = excluded.fingerprint, built_utc = excluded.built_utc
"""

MARK_DIRTY_SQL = "insert or ignore into rollup_dirty (bucket_utc, end_utc) values (?, ?)"

# The daily and hourly levels (ledger.usage_daily), all of them or the days of the dirty buckets,
# each read through the rollup's key: a refresh touches a day or two.
_DIRTY_DAYS = "(select distinct substr(bucket_utc, 1, 10) as day from rollup_dirty)"
_DIRTY_DAY_ROWS = f"{_DIRTY_DAYS} as d cross join usage_rollup on bucket_utc >= d.day and bucket_utc < d.day || 'U'"
REBUILD_ALL_DAYS_SQL = (
    "delete from usage_daily",
    "delete from usage_hourly",
    USAGE_DAY_SUMS_SQL.format(rows="usage_rollup"),
    USAGE_HOUR_SUMS_SQL.format(rows="usage_rollup"),
)
REBUILD_DIRTY_DAYS_SQL = (
    f"delete from usage_daily where day_utc in {_DIRTY_DAYS}",
    f"delete from usage_hourly where substr(hour_utc, 1, 10) in {_DIRTY_DAYS}",
    USAGE_DAY_SUMS_SQL.format(rows=_DIRTY_DAY_ROWS),
    USAGE_HOUR_SUMS_SQL.format(rows=_DIRTY_DAY_ROWS),
)
FORGET_BUILT_SQL = "delete from rollup_state"


def dirty_rows(timestamps_utc: set[str]) -> list[tuple[str, str]]:
    """``rollup_dirty`` rows for the buckets holding these timestamps (for the indexer)."""
    # Thousands of timestamps share a few minutes, and minutes a few buckets: each bucket's
    # bounds are derived once.
    minutes = {ts[:16] for ts in timestamps_utc}
    return sorted(buckets.bounds(start) for start in {buckets.floor_text(minute) for minute in minutes})


def forget_built(db: Database) -> None:
    """Have the next :func:`ensure_rollup` rebuild every bucket, so that writes until then need
    not be listed in ``rollup_dirty`` (a first index's; in the caller's transaction)."""
    db.execute(FORGET_BUILT_SQL)


class RollupShare(Protocol):
    """Another process that can compute rollup rows on its own connection (index's helper)."""

    @property
    def caller_part(self) -> float:
        """The fraction of a rebuild (of the responses, or of the dirty buckets) the caller keeps."""
        ...

    def aggregate(self, dirty: bool, since: str) -> Callable[[], list[tuple[Any, ...]] | None]:
        """Start :func:`aggregate_rows` for the buckets from ``since`` on; the returned function
        waits for its rows (None if the other process failed)."""
        ...


def aggregate_rows(
    db: Database | Connection, dirty: bool, since: str | None, until: str | None
) -> list[tuple[Any, ...]]:
    """Rollup rows (ROLLUP_COLUMNS) for the buckets from ``since`` to before ``until``: all of them,
    or only the dirty ones. Reads only: the caller writes them."""
    return db.execute(*_over_range(dirty, since, until, insert=False)).fetchall()


def _over_range(dirty: bool, since: str | None, until: str | None, *, insert: bool) -> tuple[str, dict[str, str]]:
    """The aggregate over the buckets from ``since`` to before ``until`` (all, or the dirty ones),
    or the statement that inserts its rows into ``usage_rollup``; with its parameters."""
    template = INSERT_AGGREGATE_SQL if insert else AGGREGATE_SQL
    if dirty:
        source = DIRTY_RANGE_ROWS_SQL
    elif since or until:
        source = RANGE_ROWS_SQL
    else:
        source = "response_costs"
    return template.format(bucket=BUCKET_EXPR, source=source), {"since": since or _EARLIEST, "until": until or _LATEST}


def ensure_rollup(db: Database, share: RollupShare | None = None) -> bool:
    """Bring the rollup in line with the responses and the current prices; True if it changed.

    Cheap when nothing changed: two single-row reads. Call it after ``pricing.ensure_prices``.
    With ``share``, a rebuild is split at a bucket and the later part computed by the other
    process meanwhile: the aggregation is CPU-bound, and SQLite runs it on one core.
    """
    prices = db.execute(PRICES_FINGERPRINT_SQL).fetchone()
    built = db.execute(ROLLUP_FINGERPRINT_SQL).fetchone()
    current = prices[0] if prices else ""
    full = built is None or built[0] != current
    if not full and not db.execute(ANY_DIRTY_SQL).fetchone()[0]:
        return False
    from .db import write_transaction  # not at the top: the helper process imports this module

    with write_transaction(db):
        # Re-read under the lock: another process may have done the work meanwhile.
        built = db.execute(ROLLUP_FINGERPRINT_SQL).fetchone()
        full = built is None or built[0] != current
        if share is None or not _shared(db, share, dirty=not full):
            _rebuild(db, full)
        for sql in REBUILD_ALL_DAYS_SQL if full else REBUILD_DIRTY_DAYS_SQL:
            db.execute(sql)
        if full:
            db.execute(SAVE_STATE_SQL, {"fingerprint": current, "now": timestamps.now()})
            forget_activity_rollup(db)  # it sums subagents' costs: built again when asked
        db.execute(CLEAR_DIRTY_SQL)
    return True


def _rebuild(db: Database, full: bool) -> None:
    """Rebuild every bucket, or the dirty ones, in this process (in the caller's transaction)."""
    db.execute(DELETE_ALL_SQL if full else DELETE_DIRTY_SQL)
    db.execute(*_over_range(not full, None, None, insert=True))


def _shared(db: Database, share: RollupShare, *, dirty: bool) -> bool:
    """Rebuild the rollup (in the caller's transaction) with ``share`` computing the later part
    (see RollupShare.caller_part); False, having written nothing, when there is nothing to split."""
    split = db.execute(SPLIT_DIRTY_SQL if dirty else SPLIT_RESPONSES_SQL, {"share": share.caller_part}).fetchone()
    if split is None:
        return False
    since = buckets.floor_text(split[0])
    theirs = share.aggregate(dirty, since)
    # The other process reads what is committed: neither this delete nor these rows, which go
    # straight in (no round trip through Python) while it computes the later part.
    db.execute(DELETE_DIRTY_SQL if dirty else DELETE_ALL_SQL)
    db.execute(*_over_range(dirty, None, since, insert=True))
    later = theirs()
    if later is None:  # the other process failed: do its part here
        later = aggregate_rows(db, dirty, since, None)
    db.conn.executemany(INSERT_ROWS_SQL, later)
    return True
