"""The ledger: one SQLite file, and the one way to open it and write to it.

Its schema and migrations are in ``schema``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from .. import paths
from .deferred import create_missing_indexes, missing_indexes
from .schema import MIGRATIONS

__all__ = ["LedgerError", "open_db", "read_only", "restore_indexes", "write_transaction"]

# How long a writer waits for another process's transaction before giving up. Indexing one
# file commits in milliseconds, so this only runs out when something is badly wrong.
BUSY_TIMEOUT_SECONDS = 60.0


class LedgerError(Exception):
    """The ledger cannot be used as it is; the message says why and what to do."""


def open_db(path: Path | str | None = None) -> Database:
    """Open the ledger (``CCLEDGER_DB`` by default), creating it or upgrading its schema.

    Safe to call from several processes at once: pending migrations are applied under a
    write lock and re-checked once it is held. A ledger this process may not write (a read-only
    mount, another user's file) is opened read-only: it answers every question, and a write
    raises :class:`LedgerError` (see :func:`read_only`). A folder, a file that is not a ledger,
    a place that cannot be created, or a ledger written by a newer ccledger raise
    :class:`LedgerError` too.
    """
    path = Path(path) if path is not None else paths.db_path()
    memory = str(path) == ":memory:"
    writable = memory or _writable(path)
    # mcp runs sync tools on worker threads, so the connection must not be pinned to one.
    target, uri = (str(path), False) if writable else (paths.sqlite_uri(str(path), mode="ro"), True)
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        # No sqlite-utils plugins: the ledger's SQL is ccledger's own, and finding them reads
        # every installed distribution's entry points (about 50 ms of each first answer).
        return _prepare(Database(conn, execute_plugins=False), writable)
    except sqlite3.OperationalError as exc:  # e.g. a folder it may not create files in
        problem = f"cannot open the ledger at {path} ({exc}); set CCLEDGER_DB to a file you can write"
    except sqlite3.DatabaseError as exc:
        problem = f"{path} is not a ccledger ledger ({exc}); move it away, or set CCLEDGER_DB to another file"
    except LedgerError as exc:
        problem = f"the ledger at {path} {exc}"
    if conn is not None:
        conn.close()
    raise LedgerError(problem)


def _writable(path: Path) -> bool:
    """Whether this process may write the ledger at ``path`` (creating its folder if need be)."""
    if path.is_dir():
        raise LedgerError(f"CCLEDGER_DB names a folder ({path}); name a file in it, e.g. {path / 'ledger.db'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if path.exists():
            return False  # a ledger in a folder this process cannot write into: read it
        raise LedgerError(
            f"cannot create the ledger's folder {path.parent} ({exc.strerror or exc}); "
            "set CCLEDGER_DB to a file in a folder you can write"
        ) from exc
    if not path.exists():
        return True
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)  # WAL writes beside it


def _prepare(db: Database, writable: bool) -> Database:
    conn = db.conn
    if not writable:
        conn.execute("PRAGMA query_only=ON")  # read_only() asks this; SQLite refuses writes anyway
    else:
        # Rows of about 400 bytes under four indexes insert a fifth faster in 8 KiB pages than in
        # the default 4 KiB. It applies to a new ledger only (before WAL and the first table).
        conn.execute("PRAGMA page_size=8192")
        _enter_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; at worst a crash loses a commit
    # Random-keyed indexes (message ids) thrash the default 2 MB page cache during a cold index.
    conn.execute("PRAGMA cache_size=-65536")
    _check_known(db)
    if _pending(db):
        if not writable:
            raise LedgerError(
                "is read-only and needs its schema upgraded by this ccledger: open it once where it can be written"
            )
        with write_transaction(db):
            MIGRATIONS.apply(db)
    if writable:
        restore_indexes(db)
    return db


def _enter_wal(conn: sqlite3.Connection) -> None:
    """Switch the ledger to WAL (a no-op once it is), waiting for another process doing the same.

    Entering WAL rewrites the file's header from inside a read: SQLite then refuses a second
    process at once, not through the busy timeout (waiting while holding a read could deadlock).
    Two indexers creating one ledger at once meet exactly here, so wait for the other one here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _check_known(db: Database) -> None:
    """Refuse a ledger written by a newer ccledger: its schema holds what this one cannot read."""
    if not db[MIGRATIONS.migrations_table].exists():
        return
    known = {migration.name for migration in MIGRATIONS._migrations}
    unknown = sorted({migration.name for migration in MIGRATIONS.applied(db)} - known)
    if unknown:
        raise LedgerError(
            f"was written by a newer ccledger (it has migration {unknown[-1]!r}, which this version does not "
            "know); upgrade ccledger (pip install -U ccledger), or set CCLEDGER_DB to another file"
        )


def read_only(db: Database) -> bool:
    """Whether the ledger was opened read-only (see :func:`open_db`)."""
    return bool(db.execute("PRAGMA query_only").fetchone()[0])


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
def write_transaction(db: Database, *, foreign_keys: bool = False) -> Iterator[Database]:
    """A transaction that takes the write lock up front.

    ``BEGIN IMMEDIATE`` makes a second writer wait (up to the busy timeout) at the start,
    instead of failing with "database is locked" when a read transaction tries to upgrade.
    With ``foreign_keys`` the schema's foreign keys are enforced, and their ON DELETE CASCADE
    done, for this transaction: not for every one, because checking each response's file on
    insert would cost a first index of a million rows about a second.
    """
    if read_only(db):
        raise LedgerError(
            "the ledger is read-only here (a read-only mount, or a file this user may not write) and this "
            "needs to write to it; every question that only reads still answers"
        )
    if foreign_keys:
        db.conn.execute("PRAGMA foreign_keys=ON")  # a no-op inside a transaction: set before it
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()
    finally:
        if foreign_keys:
            db.conn.execute("PRAGMA foreign_keys=OFF")
