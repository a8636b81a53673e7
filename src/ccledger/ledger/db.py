"""The ledger: one SQLite file, and the one way to open it and write to it.

Its schema and migrations are in ``schema``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from .. import paths
from .schema import MIGRATIONS, create_missing_indexes, missing_indexes

__all__ = ["open_db", "restore_indexes", "write_transaction"]

# How long a writer waits for another process's transaction before giving up. Indexing one
# file commits in milliseconds, so this only runs out when something is badly wrong.
BUSY_TIMEOUT_SECONDS = 60.0


def open_db(path: Path | str | None = None) -> Database:
    """Open the ledger (``CCLEDGER_DB`` by default), creating it or upgrading its schema.

    Safe to call from several processes at once: pending migrations are applied under a
    write lock and re-checked once it is held.
    """
    path = Path(path) if path is not None else paths.db_path()
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    # mcp runs sync tools on worker threads, so the connection must not be pinned to one.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    # Rows of about 400 bytes under four indexes insert a fifth faster in 8 KiB pages than in the
    # default 4 KiB. It applies to a new ledger only (before WAL and the first table); others keep theirs.
    conn.execute("PRAGMA page_size=8192")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; at worst a crash loses a commit
    # Random-keyed indexes (message ids) thrash the default 2 MB page cache during a cold index.
    conn.execute("PRAGMA cache_size=-65536")
    db = Database(conn)
    if _pending(db):
        with write_transaction(db):
            MIGRATIONS.apply(db)
    restore_indexes(db)
    return db


def restore_indexes(db: Database) -> None:
    """Build the deferrable indexes that are missing: a first index was killed before it built
    them again, or is loading right now (it then finds them built, and goes on)."""
    if missing_indexes(db):
        with write_transaction(db):
            create_missing_indexes(db)


def _pending(db: Database) -> bool:
    try:
        return bool(MIGRATIONS.pending(db))
    except sqlite3.OperationalError:
        return True


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """A transaction that takes the write lock up front.

    ``BEGIN IMMEDIATE`` makes a second writer wait (up to the busy timeout) at the start,
    instead of failing with "database is locked" when a read transaction tries to upgrade.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()
