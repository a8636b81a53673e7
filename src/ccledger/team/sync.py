"""Pushing this machine's ledger to the team database: exact, idempotent and incremental.

What is sent is every response the local ledger wrote since the last sync: a merge writes a new
or better copy as a new row, and rowids only grow (``ingest.merge`` numbers a replacement past
the highest rowid before it deletes the rival), so the rowid of the last row sent is a
high-water mark. The mark is kept in the team database,
in the transaction that upserts the batch, so a sync killed half-way resumes where it stopped
and one rerun sends nothing twice; a row sent twice changes nothing anyway:

- each response is upserted by its key, and the copy with the higher rank stays
  (``transcript.rank_of``: not a sidechain, more tokens, ...), the machine's name breaking a tie,
  so the order in which machines sync never changes the result;
- a sidechain's replay of a response under another request id (the local ledger's cross-file
  rule) is dropped against the copy that outranks it, across machines as within one;
- the rollup hours a batch touched are summed again in the same transaction, under a lock that
  serialises machines syncing at once.

Prices go too: the team prices with the table of the newest ccledger that synced, and every
machine adds the models it resolved; so do production telemetry records (``prod_sync``).
Budgets stay local, and so do the official rate-limit readings (they are per account).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .. import __version__, paths, timestamps
from ..ledger.db import write_transaction
from .connect import TeamError, developer, on_team, redact
from .prod_sync import sync_prod
from .schema import ROLLUP_LOCK

if TYPE_CHECKING:
    import psycopg
    from sqlite_utils import Database

__all__ = ["BATCH_ROWS", "SyncResult", "sync"]

BATCH_ROWS = 20_000
"""Responses per batch: one COPY and one transaction each."""

_COLUMNS = (
    "key", "message_id", "request_id", "timestamp_utc", "session_id", "agent_id", "is_sidechain", "model",
    "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "web_search_requests", "speed", "from_progress", "repo_id", "git_branch",
)  # fmt: skip
_COLUMN_LIST = ", ".join(_COLUMNS)

LOCAL_ROWS_SQL = f"select rowid, {_COLUMN_LIST} from responses where rowid > ? order by rowid limit ?"
LOCAL_PENDING_SQL = "select count(*) from responses where rowid > ?"
LOCAL_STATE_SQL = "select ledger_id from team_sync where id = 1"
LOCAL_PRICES_SQL = "select fingerprint from price_sync where id = 1"
LOCAL_MODELS_SQL = "select model, canonical_model from model_prices where canonical_model is not null"
LOCAL_PERIODS_SQL = """
select model, valid_from_utc, valid_to_utc, speed, min_prompt_tokens, max_prompt_tokens, long_context, input_nanousd,
       output_nanousd, cache_write_5m_nanousd, cache_write_1h_nanousd, cache_read_nanousd, web_search_nanousd
from price_periods
"""
RECORD_ATTEMPT_SQL = """
update team_sync set last_attempt_utc = :now, last_error = :error,
    last_success_utc = case when :error is null then :now else last_success_utc end,
    responses_sent = responses_sent + :sent
where id = 1
"""

INCOMING_SQL = """
CREATE TEMP TABLE IF NOT EXISTS team_incoming (
    key TEXT, message_id TEXT, request_id TEXT, timestamp_utc TEXT, session_id TEXT, agent_id TEXT,
    is_sidechain BOOLEAN, model TEXT, input_tokens BIGINT, output_tokens BIGINT, cache_write_5m_tokens BIGINT,
    cache_write_1h_tokens BIGINT, cache_read_tokens BIGINT, web_search_requests BIGINT, speed TEXT,
    from_progress BOOLEAN, repo_id TEXT, git_branch TEXT
) ON COMMIT DELETE ROWS
"""
COPY_SQL = f"COPY team_incoming ({_COLUMN_LIST}) FROM STDIN"

MACHINE_SQL = """
INSERT INTO team_machines (ledger_id, machine, developer) VALUES (%(ledger)s, %(machine)s, %(developer)s)
ON CONFLICT (ledger_id) DO UPDATE SET machine = excluded.machine, developer = excluded.developer
RETURNING high_water
"""
ADVANCE_SQL = """
UPDATE team_machines SET high_water = %(high)s, responses_sent = responses_sent + %(sent)s, last_synced_utc = now()
WHERE ledger_id = %(ledger)s
"""
TOUCH_SQL = "UPDATE team_machines SET last_synced_utc = now() WHERE ledger_id = %(ledger)s"

# A copy's rank (transcript.rank_of), then the tie-breaker: the lower machine name, then key.
_RANK = (
    "(NOT {t}.is_sidechain, {t}.input_tokens + {t}.output_tokens + {t}.cache_write_5m_tokens + "
    "{t}.cache_write_1h_tokens + {t}.cache_read_tokens, {t}.speed IS NOT NULL, NOT {t}.from_progress"
)


def _ranked(table: str, *tie: str) -> str:
    return _RANK.format(t=table) + "".join(f", {column}" for column in tie) + ")"


# The (hour, developer, machine) rollup rows a batch changes: its own, and those of the copies
# it replaces or drops (another machine's, or another developer's).
TOUCHED_SQL = """
CREATE TEMP TABLE IF NOT EXISTS team_touched (hour_utc TIMESTAMPTZ, developer TEXT, machine TEXT)
ON COMMIT DELETE ROWS
"""
TOUCHED_BEFORE_SQL = """
INSERT INTO team_touched
SELECT hour_utc, developer, machine FROM team_responses WHERE key IN (SELECT key FROM team_incoming)
UNION SELECT DISTINCT date_trunc('hour', timestamp_utc::timestamptz), %(developer)s, %(machine)s FROM team_incoming
"""
_SET = ", ".join(f"{column} = excluded.{column}" for column in (*_COLUMNS[1:], "hour_utc", "developer", "machine"))
UPSERT_SQL = f"""
INSERT INTO team_responses AS t ({_COLUMN_LIST}, hour_utc, developer, machine)
SELECT DISTINCT ON (key) {_COLUMN_LIST}, date_trunc('hour', timestamp_utc::timestamptz), %(developer)s, %(machine)s
FROM team_incoming ORDER BY key
ON CONFLICT (key) DO UPDATE SET {_SET}, synced_utc = now()
WHERE {_ranked("excluded", "t.machine")} >= {_ranked("t", "excluded.machine")}
"""
# Only message ids held under two keys, one a sidechain's, can hold a replay: few, or none.
DROP_REPLAYS_SQL = f"""
WITH shared AS (
    SELECT t.message_id FROM team_responses AS t
    JOIN (SELECT DISTINCT message_id FROM team_incoming WHERE message_id IS NOT NULL) AS i USING (message_id)
    GROUP BY t.message_id HAVING count(*) > 1 AND bool_or(t.is_sidechain)
), dropped AS (
    DELETE FROM team_responses AS r USING team_responses AS s
    WHERE r.message_id IN (SELECT message_id FROM shared)
        AND s.message_id = r.message_id AND s.key <> r.key AND (r.is_sidechain OR s.is_sidechain)
        AND {_ranked("s", "r.machine", "r.key")} > {_ranked("r", "s.machine", "s.key")}
    RETURNING r.hour_utc, r.developer, r.machine
)
INSERT INTO team_touched SELECT * FROM dropped
"""

_HOURLY_SUMS = """
SELECT c.hour_utc, c.developer, c.machine, c.repo_id, c.model, c.canonical_model, count(*),
       count(*) FILTER (WHERE c.is_sidechain), sum(c.input_tokens), sum(c.output_tokens), sum(c.cache_write_5m_tokens),
       sum(c.cache_write_1h_tokens), sum(c.cache_read_tokens), sum(c.total_tokens), sum(c.web_search_requests),
       coalesce(sum(c.cost_nanousd), 0), count(*) FILTER (WHERE c.cost_nanousd IS NULL),
       coalesce(sum(c.total_tokens) FILTER (WHERE c.cost_nanousd IS NULL), 0)
FROM team_response_costs AS c {join}
GROUP BY 1, 2, 3, 4, 5, 6
"""
_DAILY_SUMS = """
SELECT date_trunc('day', r.hour_utc), r.developer, r.machine, r.repo_id, r.model, r.canonical_model, sum(r.responses),
       sum(r.subagent_responses), sum(r.input_tokens), sum(r.output_tokens), sum(r.cache_write_5m_tokens),
       sum(r.cache_write_1h_tokens), sum(r.cache_read_tokens), sum(r.total_tokens), sum(r.web_search_requests),
       sum(r.cost_nanousd), sum(r.unpriced_responses), sum(r.unpriced_tokens)
FROM team_rollup AS r {join}
GROUP BY 1, 2, 3, 4, 5, 6
"""
_TOUCHED = "(SELECT DISTINCT hour_utc, developer, machine FROM team_touched)"
_TOUCHED_DAYS = "(SELECT DISTINCT date_trunc('day', hour_utc) AS day_utc, developer, machine FROM team_touched)"
_ON_HOURS = "JOIN {t} AS t ON {a}.hour_utc = t.hour_utc AND {a}.developer = t.developer AND {a}.machine = t.machine"
_ON_DAYS = (
    "JOIN {t} AS t ON {a}.{column} >= t.day_utc AND {a}.{column} < t.day_utc + interval '1 day' "
    "AND {a}.developer = t.developer AND {a}.machine = t.machine"
)
REBUILD_TOUCHED_SQL = (
    f"DELETE FROM team_rollup AS r USING {_TOUCHED} AS t "
    "WHERE r.hour_utc = t.hour_utc AND r.developer = t.developer AND r.machine = t.machine",
    "INSERT INTO team_rollup " + _HOURLY_SUMS.format(join=_ON_HOURS.format(t=_TOUCHED, a="c")),
    f"DELETE FROM team_daily AS d USING {_TOUCHED_DAYS} AS t "
    "WHERE d.day_utc = t.day_utc AND d.developer = t.developer AND d.machine = t.machine",
    "INSERT INTO team_daily " + _DAILY_SUMS.format(join=_ON_DAYS.format(t=_TOUCHED_DAYS, a="r", column="hour_utc")),
)
REBUILD_MODELS_SQL = (
    "DELETE FROM team_rollup WHERE model = ANY(%(models)s)",
    "INSERT INTO team_rollup " + _HOURLY_SUMS.format(join="WHERE c.model = ANY(%(models)s)"),
    "DELETE FROM team_daily WHERE model = ANY(%(models)s)",
    "INSERT INTO team_daily " + _DAILY_SUMS.format(join="WHERE r.model = ANY(%(models)s)"),
)
REBUILD_ALL_SQL = (
    "TRUNCATE team_rollup, team_daily",
    "INSERT INTO team_rollup " + _HOURLY_SUMS.format(join=""),
    "INSERT INTO team_daily " + _DAILY_SUMS.format(join=""),
)

TEAM_PRICES_SQL = "SELECT fingerprint, version FROM team_prices WHERE id = 1"
UPSERT_MODEL_SQL = """
INSERT INTO team_model_prices (model, canonical_model) VALUES (%s, %s)
ON CONFLICT (model) DO UPDATE SET canonical_model = excluded.canonical_model
WHERE team_model_prices.canonical_model IS DISTINCT FROM excluded.canonical_model
RETURNING model
"""
INSERT_PERIOD_SQL = "INSERT INTO team_price_periods VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
SAVE_PRICES_SQL = """
INSERT INTO team_prices (id, fingerprint, version) VALUES (1, %(fingerprint)s, %(version)s)
ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, version = excluded.version, synced_utc = now()
"""


class SyncResult(BaseModel):
    """What one sync sent to the team database."""

    team: str = Field(description="The team database, its password masked.")
    developer: str
    machine: str
    sent: int = Field(description="Responses sent this time (new or better copies since the last sync).")
    batches: int
    pending: int = Field(0, description="Responses still to send (a sync stopped by max_batches).")
    prod_records_sent: int = Field(0, description="Production telemetry records sent (sources that changed).")
    prices_updated: bool = Field(description="Whether this sync replaced the team's price table or added models.")
    seconds: float


def sync(
    db: Database,
    url: str,
    *,
    who: str | None = None,
    machine: str | None = None,
    batch_rows: int = BATCH_ROWS,
    max_batches: int | None = None,
    version: str = __version__,
) -> SyncResult:
    """Send what the local ledger wrote since the last sync (all of it, or ``max_batches`` batches).

    Raises TeamError when the database cannot be reached or refuses a statement; the local
    ledger records the failure (``team_sync``) and is otherwise untouched.
    """
    started = time.perf_counter()
    who = who or developer()
    machine = machine or paths.machine_name()
    ledger_id = db.execute(LOCAL_STATE_SQL).fetchone()[0]
    progress = [0, 0]  # responses sent, batches: what a failure half-way still records

    def push(conn: psycopg.Connection) -> tuple[int, bool, int]:
        with conn.transaction():
            high = conn.execute(MACHINE_SQL, {"ledger": ledger_id, "machine": machine, "developer": who})
            (high_water,) = high.fetchone() or (0,)
        prices_updated = _sync_prices(conn, db, version)
        conn.execute(INCOMING_SQL)  # this session's, emptied at every commit
        conn.execute(TOUCHED_SQL)
        while max_batches is None or progress[1] < max_batches:
            rows = db.execute(LOCAL_ROWS_SQL, [high_water, batch_rows]).fetchall()
            if not rows:
                break
            _send_batch(conn, rows, ledger_id, who, machine)
            high_water, progress[0], progress[1] = rows[-1][0], progress[0] + len(rows), progress[1] + 1
        if not progress[1]:
            with conn.transaction():
                conn.execute(TOUCH_SQL, {"ledger": ledger_id})
        return high_water, prices_updated, sync_prod(conn, db, ledger=ledger_id, who=who, machine=machine)

    try:
        high_water, prices_updated, prod_sent = on_team(url, push)
    except TeamError as exc:
        _record(db, str(exc), progress[0])
        raise
    _record(db, None, progress[0])
    (pending,) = db.execute(LOCAL_PENDING_SQL, [high_water]).fetchone()
    return SyncResult(
        team=redact(url), developer=who, machine=machine, sent=progress[0], batches=progress[1], pending=pending,
        prod_records_sent=prod_sent, prices_updated=prices_updated, seconds=round(time.perf_counter() - started, 3),
    )  # fmt: skip


def _send_batch(conn: psycopg.Connection, rows: list[tuple[Any, ...]], ledger: str, who: str, machine: str) -> None:
    """Upsert one batch, drop the replays it beat, sum its hours again and advance the mark:
    one transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        with conn.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for row in rows:
                copy.write_row(row[1:])
        conn.execute("ANALYZE team_incoming")  # a temp table has no statistics: the joins need its size
        who_where = {"developer": who, "machine": machine}
        conn.execute(TOUCHED_BEFORE_SQL, who_where)
        conn.execute(UPSERT_SQL, who_where)
        conn.execute(DROP_REPLAYS_SQL)
        conn.execute("ANALYZE team_touched")
        for sql in REBUILD_TOUCHED_SQL:
            conn.execute(sql)
        conn.execute(ADVANCE_SQL, {"high": rows[-1][0], "sent": len(rows), "ledger": ledger})


def _sync_prices(conn: psycopg.Connection, db: Database, version: str) -> bool:
    """Add the models this ledger resolved, and replace the team's price table when this
    ccledger is newer than the one that wrote it; reprice what either change affects."""
    local = db.execute(LOCAL_PRICES_SQL).fetchone()
    if local is None:
        return False  # this ledger has priced nothing yet
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        team = conn.execute(TEAM_PRICES_SQL).fetchone()
        newer = team is None or (team[0] != local[0] and _version(version) > _version(team[1]))
        if newer:
            conn.execute("DELETE FROM team_price_periods")
            with conn.cursor() as cursor:
                cursor.executemany(INSERT_PERIOD_SQL, db.execute(LOCAL_PERIODS_SQL).fetchall())
            conn.execute(SAVE_PRICES_SQL, {"fingerprint": local[0], "version": version})
        changed = []
        with conn.cursor() as cursor:
            cursor.executemany(UPSERT_MODEL_SQL, db.execute(LOCAL_MODELS_SQL).fetchall(), returning=True)
            while True:
                changed += [model for (model,) in cursor.fetchall()]
                if not cursor.nextset():
                    break
        if newer:
            for sql in REBUILD_ALL_SQL:
                conn.execute(sql)
        elif changed:
            for sql in REBUILD_MODELS_SQL:
                conn.execute(sql, {"models": changed})
    return newer or bool(changed)


def _version(text: str) -> tuple[int, ...]:
    """A version's numbers, for ordering (``0.1.0`` -> (0, 1, 0)); a non-number part ends it."""
    numbers = []
    for part in text.split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


def _record(db: Database, error: str | None, sent: int) -> None:
    """Note the attempt in the local ledger (a read-only one is left alone)."""
    # A convenience: never in the way of the sync's own outcome.
    with contextlib.suppress(sqlite3.Error), write_transaction(db):
        db.execute(RECORD_ATTEMPT_SQL, {"now": timestamps.now(), "error": error, "sent": sent})
