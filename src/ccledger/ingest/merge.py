"""Merging one file's responses into the ledger: the cross-file half of de-duplication.

The rule (shared/reference/jsonl-format.md, section 7.3): responses are keyed globally; of
several copies the one that outranks the others is kept whole. A copy with the same message
id under another request id is the same response when either copy is a sidechain (``/btw``
side questions replay parent messages with new request ids). ``file_result`` has already kept
each file's best copy per key; this module weighs those against the copies the ledger holds.

Those are read from the ledger for each file (:meth:`Rivals.from_ledger`), except during a first
index into an empty ledger: then every copy the ledger holds is one this run wrote, and
:class:`FirstLoad` keeps them in memory instead, with the rowid it gave each. That spares a
lookup per file, and the key and message-id indexes during the load (see
``ledger.deferred``): more than half of the writer's time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..ledger.deferred import create_missing_indexes
from .file_result import KEY, MESSAGE_ID, TIMESTAMP, Candidates
from .transcript import Rank, rank_of

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = ["INSERT_RESPONSE_SQL", "FirstLoad", "Rivals", "merge"]

_SQL_VARIABLES = 500  # ids per IN (...) lookup, well under SQLite's variable limit

RIVALS_SQL = """
select key, message_id, is_sidechain, timestamp_utc,
       input_tokens + output_tokens + cache_write_5m_tokens + cache_write_1h_tokens
           + cache_read_tokens as total_tokens,
       speed is not null as has_speed, from_progress
from responses
where {column} in ({placeholders})
order by rowid
"""

# Positional parameters in the order of file_result's rows: named ones cost twice as much per row.
_COLUMNS = (
    "key, message_id, request_id, timestamp_utc, session_id, agent_id, is_sidechain, model, input_tokens, "
    "output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, web_search_requests, speed, "
    "service_tier, inference_geo, cwd, git_branch, repo_id, machine, cc_version, from_progress, tools, file_id"
)
# Nullable text arrives as "" for NULL (never a stored value: the reader keeps no empty strings)
# and flags as integers: the sqlite3 module sends a None or bool parameter through its adapter
# registry, three failed lookups each, and that was a quarter of the cost of an insert.
NULLABLE_TEXT = (
    "message_id", "request_id", "session_id", "agent_id", "speed", "service_tier", "inference_geo", "cwd",
    "git_branch", "repo_id", "cc_version", "tools",
)  # fmt: skip
_PLACES = ", ".join("nullif(?, '')" if column in NULLABLE_TEXT else "?" for column in _COLUMNS.split(", "))
INSERT_RESPONSE_SQL = f"insert or replace into responses ({_COLUMNS}) values ({_PLACES})"
# A first load's rows: rowids of its own choosing, and no key index to find a copy to replace by.
LOAD_RESPONSE_SQL = f"insert into responses (rowid, {_COLUMNS}) values (?, {_PLACES})"
REPLACE_AT_SQL = f"insert or replace into responses (rowid, {_COLUMNS}) values (?, {_PLACES})"
DELETE_RESPONSE_SQL = "delete from responses where key = ?"
DELETE_ROWID_SQL = "delete from responses where rowid = ?"
DATA_VERSION_SQL = "PRAGMA data_version"
NEXT_ROWID_SQL = "select coalesce(max(rowid), 0) + 1 from responses"


class Rivals:
    """Stored copies that new responses compete with: each one's rank (whose first element says
    it is not a sidechain), its timestamp (whose rollup bucket changes if it is replaced) and the
    keys stored under each message id, in the order they were written. A first load's know each
    copy's rowid instead of its timestamp (``rowids``; it rebuilds the whole rollup after), and
    the next rowid to give."""

    __slots__ = ("by_message", "next_rowid", "ranks", "rowids", "stored_at")

    def __init__(self, next_rowid: int | None = None) -> None:
        self.rowids: dict[str, int] | None = None if next_rowid is None else {}
        self.next_rowid = next_rowid or 0
        self.ranks: dict[str, Rank] = {}
        self.stored_at: dict[str, str] = {}
        self.by_message: dict[str, list[str]] = {}

    @classmethod
    def from_ledger(cls, db: Database, candidates: Candidates) -> Rivals:
        """The stored copies sharing a key, or a message id, with one of a file's responses."""
        rivals = cls()
        message_ids = sorted({row[MESSAGE_ID] for _, row in candidates if row[MESSAGE_ID]})
        keyless = sorted(row[KEY] for _, row in candidates if not row[MESSAGE_ID])
        for column, values in (("message_id", message_ids), ("key", keyless)):
            for i in range(0, len(values), _SQL_VARIABLES):
                chunk = values[i : i + _SQL_VARIABLES]
                sql = RIVALS_SQL.format(column=column, placeholders=", ".join("?" * len(chunk)))
                for key, message_id, is_sidechain, timestamp, total_tokens, has_speed, from_progress in db.execute(
                    sql, chunk
                ):
                    rivals.ranks[key] = rank_of(is_sidechain, total_tokens, has_speed, from_progress)
                    rivals.stored_at[key] = timestamp
                    if message_id:
                        rivals.by_message.setdefault(message_id, []).append(key)
        return rivals

    def __len__(self) -> int:
        return len(self.ranks)


class FirstLoad:
    """The copies a first index has written, kept in memory while nobody else writes.

    Valid while the ledger holds only what this connection wrote since it was found empty:
    :meth:`rivals` checks ``PRAGMA data_version`` (which moves when another connection commits)
    under the write lock, and from the first sign of another writer, or once the load is too
    large to keep in memory, hands the merge back to the ledger and builds the indexes that
    reads from it need.
    """

    MAX_KEYS = 500_000  # about 100 MiB; some 7 GiB of transcripts

    def __init__(self, db: Database) -> None:
        self._version: int | None = db.execute(DATA_VERSION_SQL).fetchone()[0]
        self._rivals = Rivals(next_rowid=db.execute(NEXT_ROWID_SQL).fetchone()[0])

    def rivals(self, db: Database) -> Rivals | None:
        """The in-memory copies, or None once the ledger must be asked. Call it holding the
        write lock, in each transaction that merges files, before the first of them."""
        if self._version is None:
            return None
        if len(self._rivals) > self.MAX_KEYS or db.execute(DATA_VERSION_SQL).fetchone()[0] != self._version:
            self.forget()
            create_missing_indexes(db)
            return None
        return self._rivals

    def forget(self) -> None:
        """Stop using memory: a write failed (the copies may not be in the ledger) or another came in."""
        self._version = None
        self._rivals = Rivals()


def merge(
    db: Database, candidates: Candidates, file_id: int, touched: set[str], rivals: Rivals | None = None
) -> tuple[int, int]:
    """Merge one file's responses into the ledger; returns (added, replaced).

    ``rivals`` are the ledger's copies (:class:`FirstLoad`'s); by default they are read from it.
    Either way they are updated to what this writes. ``touched`` gains the timestamps whose
    rollup buckets change (but for a first load's, which rebuilds the whole rollup).
    """
    if not candidates:
        return 0, 0
    if rivals is None:
        rivals = Rivals.from_ledger(db, candidates)
    ranks, stored_at, by_message = rivals.ranks, rivals.stored_at, rivals.by_message
    # A first load's rows go in with their rowids, and its copies are replaced by rowid; it keeps
    # no timestamps. This loop runs for every response of a first index: it does little else.
    rowids = rivals.rowids
    next_rowid = rivals.next_rowid
    rows: list[tuple[Any, ...]] = []
    to_delete: list[str] = []  # by key
    gone: list[tuple[int]] = []  # by rowid (a first load's)
    added = replaced = 0
    for rank, row in candidates:
        key, message_id = row[KEY], row[MESSAGE_ID]
        stored = ranks.get(key)
        if stored is not None:
            if not rank > stored:
                continue
            if rowids is None:  # REPLACE finds the old copy by the key index
                touched.add(stored_at[key])
            else:  # without a key index, REPLACE would not find it
                gone.append((rowids[key],))
            replaced += 1
            # The replacement is a new row: now the last written under its message id.
            if message_id and (siblings := by_message.get(message_id)) and key in siblings:
                siblings.remove(key)
                siblings.append(key)
        else:
            siblings = by_message.get(message_id) if message_id else None
            if siblings:
                # A copy under another request id is the same response if either is a sidechain.
                sidechain = not rank[0]
                rival = next((k for k in siblings if sidechain or not ranks[k][0]), None)
                if rival is not None:
                    if not rank > ranks[rival]:
                        continue
                    if rowids is None:
                        to_delete.append(rival)
                        touched.add(stored_at.pop(rival))
                    else:
                        gone.append((rowids.pop(rival),))
                    siblings.remove(rival)
                    del ranks[rival]
                    replaced += 1
                else:
                    added += 1
                siblings.append(key)
            else:
                added += 1
                if message_id:
                    if siblings is None:
                        by_message[message_id] = [key]
                    else:  # emptied by a replacement
                        siblings.append(key)
        ranks[key] = rank
        if rowids is None:
            timestamp_utc = row[TIMESTAMP]
            stored_at[key] = timestamp_utc
            touched.add(timestamp_utc)
            rows.append((*row, file_id))
        else:
            rowids[key] = next_rowid
            rows.append((next_rowid, *row, file_id))
            next_rowid += 1
    rivals.next_rowid = next_rowid
    _write(db, to_delete, gone, rows, first_load=rowids is not None)
    return added, replaced


def _write(
    db: Database, to_delete: list[str], gone: list[tuple[int]], rows: list[tuple[Any, ...]], *, first_load: bool
) -> None:
    """What :func:`merge` decided: outranked copies deleted (by key, or a first load's by rowid),
    then the new rows inserted."""
    if to_delete:
        # Rowids only ever grow (a team sync sends what lies past the last one it sent): the
        # replacements are numbered past the highest before the rivals, which may hold it, go.
        (next_rowid,) = db.execute(NEXT_ROWID_SQL).fetchone()
        db.conn.executemany(DELETE_RESPONSE_SQL, [(key,) for key in to_delete])
        db.conn.executemany(REPLACE_AT_SQL, [(next_rowid + i, *row) for i, row in enumerate(rows)])
        return
    if gone:
        db.conn.executemany(DELETE_ROWID_SQL, gone)
    db.conn.executemany(LOAD_RESPONSE_SQL if first_load else INSERT_RESPONSE_SQL, rows)
