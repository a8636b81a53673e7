"""What a first load leaves out while it writes, and builds once it is done.

Indexes and triggers are kept up to date row by row; a first index into an empty ledger (see
``ingest.index``) drops those it does not read from, loads, and builds them once after, or when
another writer appears (``ingest.merge.FirstLoad``); ``db.open_db`` builds any that a killed
load left out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from sqlite_utils import Database

from .activity import TIME_INDEXES
from .activity_daily import TRIGGERS

__all__ = [
    "DEFERRABLE_ACTIVITY",
    "DEFERRABLE_INDEXES",
    "KEY_INDEX",
    "MODEL_INDEX",
    "create_missing_indexes",
    "drop_deferrable",
    "missing_indexes",
]

# Indexes that a large first index drops while it loads the responses and builds again after
# (see ``index.refresh``): kept up to date row by row they cost about 0.55 s per 66,000 rows
# (1 GiB of transcripts), built once 0.12 s. The key and message-id indexes serve the merge, which
# such a load does in memory (merge.FirstLoad); the key's uniqueness holds through it, and the
# index's build checks it.
MODEL_INDEX = "responses_model"
KEY_INDEX = "responses_key"
DEFERRABLE_INDEXES = {
    KEY_INDEX: "CREATE UNIQUE INDEX IF NOT EXISTS responses_key ON responses(key)",
    "responses_time": "CREATE INDEX IF NOT EXISTS responses_time ON responses(timestamp_utc)",
    MODEL_INDEX: "CREATE INDEX IF NOT EXISTS responses_model ON responses(model)",
    "responses_message": "CREATE INDEX IF NOT EXISTS responses_message ON responses(message_id)",
}
# The activity tables' time indexes and triggers, deferred the same way: a first load builds the
# activity rollup whole after it, and its triggers mark buckets of a built one only.
DEFERRABLE_ACTIVITY = {**TIME_INDEXES, **TRIGGERS}
_DEFERRABLE = {**DEFERRABLE_INDEXES, **DEFERRABLE_ACTIVITY}
_PRESENT_SQL = "select name from sqlite_master where type in ('index', 'trigger')"
DROP_SUPERSEDED_COPIES_SQL = "delete from responses where rowid not in (select max(rowid) from responses group by key)"


def drop_deferrable(db: Database) -> None:
    """Drop the deferrable indexes and triggers (a first load's start, in its transaction)."""
    for name, sql in _DEFERRABLE.items():
        kind = "trigger" if sql.startswith("CREATE TRIGGER") else "index"
        db.execute(f"drop {kind} if exists {name}")


def create_missing_indexes(db: Database, names: Iterable[str] | None = None) -> None:
    """:func:`restore_indexes` inside the caller's write transaction (of ``names`` only, if given)."""
    for sql in missing_indexes(db, names):
        try:
            db.execute(sql)
        except sqlite3.IntegrityError:
            # Only the key index is unique. A first index writes each key once, but another
            # process writing while it loads (its REPLACE had no index to find the first copy
            # by) may have added a second copy; a copy is only ever written to outrank the
            # earlier one, so the last written stays.
            db.execute(DROP_SUPERSEDED_COPIES_SQL)
            db.execute(sql)


def missing_indexes(db: Database, names: Iterable[str] | None = None) -> list[str]:
    """The statements that create the deferrable indexes and triggers that are missing (of
    ``names`` only, if given)."""
    present = {name for (name,) in db.execute(_PRESENT_SQL)}
    wanted = _DEFERRABLE.keys() if names is None else set(names)
    return [sql for name, sql in _DEFERRABLE.items() if name in wanted and name not in present]
