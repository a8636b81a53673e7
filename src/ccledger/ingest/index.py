"""Incremental indexing of Claude Code transcripts into the ledger.

Each file is remembered by its identity (device, inode), size, mtime and the byte offset just
past the last complete line read, so a refresh reads only new complete lines. A half-written
last line is left for next time. A file that shrank, was replaced or was rewritten in place is
read again from the start; that never double counts, because responses are keyed and merged
(:meth:`transcript.Response.outranks`) rather than added. A file that disappears keeps its
rows: the ledger outlives Claude Code's 30-day clean-up.

Parsing happens outside any lock. Each file's results are then written in one transaction that
first checks nobody else recorded that file in the meantime, so two indexers running at once
neither fail nor double count, and a run killed half-way leaves whole files only.

A large refresh shares the reading with a helper process (``speedups.helper_client.Helper``)
that writes nothing: it sends what it parsed, and this process, the only writer, reads files of
the shared list itself whenever nothing of the helper's waits to be written.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from .. import paths, timestamps
from ..ledger.activity_rollup import MARK_ACTIVITY_DIRTY_SQL, dirty_activity_rows, forget_activity_rollup
from ..ledger.db import restore_indexes, write_transaction
from ..ledger.deferred import MODEL_INDEX, create_missing_indexes, drop_deferrable
from ..ledger.rollup import MARK_DIRTY_SQL, RollupShare, dirty_rows, forget_built
from .activity_rows import ACTIVITY_TIMED, ActivityRows, Batch, prepare, write_batch
from .file_result import Outcome, read_planned
from .lines import new_buffer
from .merge import FirstLoad, Rivals, merge
from .repos import RepoCache
from .scan import Error, Found, Known, Plan, ScanCache, known_files, make_plans, planned_bytes, scan, split
from .speedups.gcpause import no_gc
from .speedups.helper_client import Helper
from .speedups.spawn import worth_sharing
from .stats import FileError, IndexStats

if TYPE_CHECKING:
    from .speedups.headstart import HeadStart

__all__ = ["ProgressCallback", "ScanCache", "refresh"]

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes done, bytes planned) as files are read."""

# A batch of files is written in one transaction, committed when this much was read, this many
# files were done or this long has passed: short enough that a tool call refreshing the ledger
# from another process never waits long for the write lock.
_BATCH_BYTES = 64 << 20
_BATCH_FILES = 500
_BATCH_SECONDS = 1.0
# Sharing a refresh, the writer commits what it has whenever the helper has nothing waiting, if
# the batch is this old: every commit rewrites the index pages it touched, so not more often.
_EAGER_BATCH_SECONDS = 0.1

INSERT_FILE_SQL = """
insert into files (path, root, first_indexed_utc) values (:path, :root, :now)
on conflict(path) do nothing
"""

# The optimistic check: the row must still say what it said when this run planned the read.
UPDATE_FILE_SQL = """
update files set
    root = :root, device = :device, inode = :inode, size = :size, mtime_ns = :mtime_ns,
    head_sha1 = :head_sha1, head_len = :head_len, read_offset = :read_offset, tail_sha1 = :tail_sha1,
    pending_tools = :pending_tools,
    lines = case when :reset then :lines else lines + :lines end,
    usage_lines = case when :reset then :usage_lines else usage_lines + :usage_lines end,
    bad_lines = case when :reset then :bad_lines else bad_lines + :bad_lines end,
    last_read_utc = :now, missing_since_utc = null, error = null
where id = :id and read_offset = :planned_offset and inode is :planned_inode
"""

UPSERT_PROBLEM_SQL = """
insert into file_problems (file_id, kind, count, last_offset) values (:file_id, :kind, :count, :last_offset)
on conflict(file_id, kind) do update set
    count = count + excluded.count, last_offset = excluded.last_offset
"""

# A fork, as its copies show it; the latest copy names its parent (a fork of a fork copies the
# grandparent's responses too, before its parent's).
UPSERT_FORK_SQL = """
insert into session_forks (session_id, forked_from, copied_utc) values (:session_id, :forked_from, :copied_utc)
on conflict(session_id) do update set forked_from = excluded.forked_from, copied_utc = excluded.copied_utc
where excluded.copied_utc >= copied_utc
"""

RECORD_ERROR_SQL = """
insert into files (path, root, first_indexed_utc, error) values (:path, :root, :now, :error)
on conflict(path) do update set error = excluded.error
"""

ANY_RESPONSE_SQL = "select exists (select 1 from responses)"

MARK_MISSING_SQL = "update files set missing_since_utc = :now where id = :id and missing_since_utc is null"

INSERT_RUN_SQL = """
insert into index_runs (started_utc, finished_utc, files_seen, files_read, new_responses,
                        updated_responses, bad_lines, seconds)
values (:started_utc, :finished_utc, :files_seen, :files_read, :new_responses,
        :updated_responses, :bad_lines, :seconds)
"""


def refresh(
    db: Database,
    roots: Iterable[Path] | None = None,
    *,
    progress: ProgressCallback | None = None,
    parallel: bool = True,
    cache: ScanCache | None = None,
    finish: Callable[[RollupShare | None], None] | None = None,
    head_start: HeadStart | None = None,
) -> IndexStats:
    """Bring the ledger up to date with the transcripts under ``roots`` (default: Claude's).

    A large amount of new data (a first index of months of history) is shared with a helper
    process when ``parallel`` allows and the machine has a second core. A long-running caller
    passes the same ``cache`` each time to make the check for changes nearly free. ``finish``
    is called once everything is written, with the helper (if there is one) still running to
    share the rollup's rebuild: pass what follows a refresh (prices, then the rollup). A
    ``head_start`` made for this refresh (see ``headstart``) replaces its scan, and its helper
    the one it would start, when its plans still hold.
    """
    roots = list(roots) if roots is not None else paths.claude_roots()
    ledger = _ledger_file(db)
    if head_start is not None and not head_start.holds_for(roots, ledger):
        head_start.close()
        head_start = None
    started = head_start.started if head_start is not None else time.perf_counter()
    started_utc = timestamps.now(ago=time.perf_counter() - started)
    known, found, errors = _look(db, roots, cache, head_start)
    plans = make_plans(found, known)
    total_bytes = sum(planned_bytes(plan) for plan in plans)
    plans, helper = _share(plans, total_bytes, ledger if parallel else None, head_start)
    try:
        stats = IndexStats(
            roots=[str(root) for root in roots], files_seen=len(found), files_read=0, new_responses=0,
            bad_lines=0, seconds=0.0,
        )  # fmt: skip
        problems: Counter[str] = Counter()

        def report(done: int) -> None:
            if progress is not None:
                progress(done, total_bytes)

        # The run record and `finish` come before the log's checkpoint limit is back: the
        # helper checkpoints what is committed while this process goes on (see helper_client.Helper).
        with _bulk_writes(db, total_bytes), _first_load(db) as load:
            _index_plans(db, plans, stats, problems, errors, report, helper, load)
            stats.files_missing = _mark_missing(db, known, {item.path for item in found}, roots)
            if cache is not None and (plans or helper or stats.files_missing):
                cache.forget_known()  # this process's own writes do not change data_version
            stats.problems = dict(problems)
            stats.bad_lines = sum(problems.values())
            stats.errors = [FileError(path=path, error=error) for path, error in errors]
            stats.seconds = round(time.perf_counter() - started, 4)
            if plans or helper or stats.files_missing:
                _record_run(db, stats, started_utc)
            share = helper if helper is not None and not helper.closed else None
            if load is not None:
                _restore_indexes_beside(db, share)
            if finish is not None:
                finish(share)
    finally:
        if helper is not None:
            helper.close()
    return stats


def _look(
    db: Database, roots: list[Path], cache: ScanCache | None, head_start: HeadStart | None
) -> tuple[dict[str, tuple[Any, ...]], list[Found], list[Error]]:
    """The ledger's files table, the transcripts on disk and what could not be read: from the
    server's cache, the head start's scan, or a scan made now."""
    errors: list[Error] = []
    if cache is not None:
        return cache.known(db), cache.scan(roots, errors), errors
    if head_start is not None:
        return known_files(db.conn), head_start.found, list(head_start.errors)
    return known_files(db.conn), list(scan(roots, errors)), errors


def _share(
    plans: list[Plan], total_bytes: int, ledger: str | None, head_start: HeadStart | None
) -> tuple[list[Plan], Helper | None]:
    """This process's plans and the helper reading the rest, when the refresh is worth one and
    the ledger is a file the helper can open (None: this process reads everything)."""
    if ledger is None or not worth_sharing(total_bytes):
        if head_start is not None:
            head_start.close()
        return plans, None
    plans, shared = split(plans)
    helper = head_start.adopt(shared) if head_start is not None else None
    return plans, helper if helper is not None else Helper(ledger, shared)


def _restore_indexes_beside(db: Database, share: Helper | None) -> None:
    """A first load's indexes back. Prices come first in ``finish`` and look the models up: that
    index now, the others while the helper computes its part of the rollup, or on the way out."""
    with write_transaction(db):
        create_missing_indexes(db, [MODEL_INDEX])
    if share is not None:
        share.meanwhile(lambda: create_missing_indexes(db))


def _record_run(db: Database, stats: IndexStats, started_utc: str) -> None:
    with write_transaction(db):
        db.execute(
            INSERT_RUN_SQL,
            {
                "started_utc": started_utc,
                "finished_utc": timestamps.now(),
                "files_seen": stats.files_seen,
                "files_read": stats.files_read,
                "new_responses": stats.new_responses,
                "updated_responses": stats.updated_responses,
                "bad_lines": stats.bad_lines,
                "seconds": stats.seconds,
            },
        )


def _index_plans(
    db: Database,
    plans: list[Plan],
    stats: IndexStats,
    problems: Counter[str],
    errors: list[Error],
    report: Callable[[int], None],
    helper: Helper | None = None,
    load: FirstLoad | None = None,
) -> None:
    """Read planned files, take the helper's results as they come, and write them in batches."""
    machine = paths.machine_name()
    repos = RepoCache(db)
    buffer = new_buffer() if plans or helper else bytearray()
    batch = _Batch(db, repos, stats, problems, errors, report, load)
    for item, previous, start in plans:
        batch.add(read_planned(item, previous, start, repos, machine, buffer))
    if helper is not None:
        while True:
            for outcome in helper.ready():
                batch.add(outcome)
            # Nothing of the helper's is waiting: write what is, then read a plan of its share.
            # Writing first keeps this process (the only writer) from falling behind the helper,
            # and so does writing at once what would outlast the helper's remaining reading.
            if batch.worth_writing() or 0 < helper.open_bytes <= batch.pending_bytes:
                batch.write()
                continue
            claimed = helper.claim()
            if not claimed:
                break
            for plan in claimed:
                batch.add(read_planned(*plan, repos, machine, buffer))
        for outcome in helper.rest():
            batch.add(outcome)
        if helper.unread:  # the helper failed: read the rest here, nothing is lost or doubled
            helper.close()
            import logging  # not at the top: a first index waits for its imports, and this is rare

            log = logging.getLogger(__name__)
            log.warning("the helper indexer failed (%s); reading its files here", helper.failure)
            for item, previous, start in helper.unread:
                batch.add(read_planned(item, previous, start, repos, machine, buffer))
    batch.write()


class _Batch:
    """Outcomes waiting to be written in one transaction (see _write_batch)."""

    def __init__(
        self,
        db: Database,
        repos: RepoCache,
        stats: IndexStats,
        problems: Counter[str],
        errors: list[Error],
        report: Callable[[int], None],
        load: FirstLoad | None,
    ) -> None:
        self._db, self._repos, self._stats, self._problems = db, repos, stats, problems
        self._errors, self._report, self._load = errors, report, load
        self._outcomes: list[Outcome] = []
        self._bytes = 0
        self._started = time.monotonic()
        self._done_bytes = 0
        self._done_paths: set[str] = set()  # a plan read by both processes counts once

    def add(self, outcome: Outcome) -> None:
        """Add an outcome, and write the batch once it is large or old enough."""
        result = outcome.result
        if result.error is not None:
            self._errors.append((outcome.item.path, result.error))
        self._outcomes.append(outcome)
        self._bytes += result.read.bytes_read if result.read else 0
        if (
            self._bytes >= _BATCH_BYTES
            or len(self._outcomes) >= _BATCH_FILES
            or time.monotonic() - self._started >= _BATCH_SECONDS
        ):
            self.write()
        if outcome.item.path not in self._done_paths:
            self._done_paths.add(outcome.item.path)
            self._done_bytes += planned_bytes((outcome.item, outcome.previous, outcome.start))
            self._report(self._done_bytes)

    @property
    def pending_bytes(self) -> int:
        """Bytes read for the outcomes not yet written."""
        return self._bytes

    def worth_writing(self) -> bool:
        """Whether the batch has gathered long enough to be worth a commit while nothing else waits."""
        return bool(self._outcomes) and time.monotonic() - self._started >= _EAGER_BATCH_SECONDS

    def write(self) -> None:
        if self._outcomes:
            _write_batch(self._db, self._outcomes, self._repos, self._stats, self._problems, self._load)
        self._outcomes, self._bytes, self._started = [], 0, time.monotonic()


@contextmanager
def _first_load(db: Database) -> Iterator[FirstLoad | None]:
    """During a first index (no responses yet), whatever its size and whether or not a helper
    shares it (most histories are under the helper's threshold), keep what is written in memory for the
    merge (:class:`merge.FirstLoad`), drop the indexes that loading does not use and build them
    once it is done (see ledger.deferred), or when it fails; a run killed before that
    leaves them to the next ``open_db``."""
    if db.execute(ANY_RESPONSE_SQL).fetchone()[0]:
        yield None
        return
    with write_transaction(db):  # the check again, and the load's start, under the write lock
        load = None if db.execute(ANY_RESPONSE_SQL).fetchone()[0] else FirstLoad(db)
        if load is not None:
            drop_deferrable(db)
            forget_built(db)  # the whole rollup is rebuilt after: no bucket need be listed dirty
            forget_activity_rollup(db)
    if load is None:
        yield None
        return
    try:
        yield load
    finally:
        load.forget()  # freed now, not in the collector's first pass once it runs again (see no_gc)
        restore_indexes(db)


@contextmanager
def _bulk_writes(db: Database, planned_bytes: int) -> Iterator[None]:
    """While a lot is read and written: fewer WAL checkpoints (each one costs a sync of the whole
    log) and no cyclic garbage collection (see :func:`no_gc`)."""
    if planned_bytes < _BATCH_BYTES:
        yield
        return
    db.conn.execute("PRAGMA wal_autocheckpoint=16384")
    try:
        with no_gc():
            yield
    finally:
        db.conn.execute("PRAGMA wal_autocheckpoint=1000")


def _ledger_file(db: Database) -> str | None:
    """The ledger's file, when it has one a helper process can open."""
    for _, name, file in db.conn.execute("PRAGMA database_list"):
        if name == "main" and file:
            return str(file)
    return None


def _write_batch(
    db: Database,
    batch: list[Outcome],
    repos: RepoCache,
    stats: IndexStats,
    problems: Counter[str],
    load: FirstLoad | None = None,
) -> None:
    """Write a batch of files in one transaction.

    One commit per file was the main cost of a cold index. The per-file guarantee holds without
    a savepoint per file (which doubled the cost of every insert): :func:`_write_file` makes its
    checks before it writes anything, so a file another indexer recorded first is skipped whole.
    """
    written: list[tuple[Outcome, int, int]] = []
    now = timestamps.now()
    touched: set[str] = set()  # timestamps whose rollup buckets must be rebuilt
    try:
        with write_transaction(db):
            rivals = load.rivals(db) if load is not None else None
            activity: Batch = {}
            for outcome in batch:
                if outcome.result.error is not None:
                    _record_error(db, outcome, now)
                    continue
                counts = _write_file(db, outcome, repos, now, touched, rivals, activity)
                if counts is not None:
                    written.append((outcome, *counts))
            write_batch(db, activity)
            if rivals is None:  # else a first load, whose rollups are rebuilt whole (see _first_load)
                db.conn.executemany(MARK_DIRTY_SQL, dirty_rows(touched))
                moments = touched | {row[3] for sql in ACTIVITY_TIMED for row in activity.get(sql, ())}
                db.conn.executemany(MARK_ACTIVITY_DIRTY_SQL, dirty_activity_rows(moments))
    except BaseException:
        if load is not None:
            load.forget()  # what it remembers of this batch was rolled back
        raise
    for outcome, new, updated in written:
        read = outcome.result.read
        assert read is not None
        repos.remember(outcome.result.identities)
        stats.files_read += 1
        stats.bytes_read += read.bytes_read
        stats.lines_read += read.lines
        stats.new_responses += new
        stats.updated_responses += updated
        stats.synthetic_skipped += read.synthetic
        problems.update(read.problems)


def _write_file(
    db: Database,
    outcome: Outcome,
    repos: RepoCache,
    now: str,
    touched: set[str],
    rivals: Rivals | None,
    activity: Batch,
) -> tuple[int, int] | None:
    """Record one file and merge its responses; None, having written nothing, when another
    indexer got there first.

    Both checks come before any write. The second cannot fail after the first inserted the row
    (the write lock is held, and a new row matches the plan of a file never read).
    """
    item, previous, result = outcome.item, outcome.previous, outcome.result
    read = result.read
    assert read is not None and result.merge is not None
    reset = result.start == 0
    if previous is None:
        cursor = db.execute(INSERT_FILE_SQL, {"path": item.path, "root": item.root, "now": now})
        if cursor.rowcount == 0:
            return None  # another indexer recorded this file first
        file_id = cursor.lastrowid
        assert file_id is not None  # an insert that added a row has its rowid
        planned_offset, planned_inode = 0, None
    else:
        file_id = previous.id
        planned_offset, planned_inode = previous.read_offset, previous.inode
    rows, pending = prepare(db, result.activity or ActivityRows(), file_id, first_read=previous is None)
    cursor = db.execute(
        UPDATE_FILE_SQL,
        {
            "id": file_id,
            "planned_offset": planned_offset,
            "planned_inode": planned_inode,
            "root": item.root,
            "device": item.stat.st_dev,
            "inode": item.stat.st_ino,
            "size": item.stat.st_size,
            "mtime_ns": item.stat.st_mtime_ns,
            "head_sha1": result.head_sha1,
            "head_len": result.head_len,
            "read_offset": read.end_offset,
            "tail_sha1": result.tail_sha1,
            "pending_tools": pending,
            "reset": reset,
            "lines": read.lines,
            "usage_lines": read.usage_lines,
            "bad_lines": sum(read.problems.values()),
            "now": now,
        },
    )
    if cursor.rowcount == 0:
        return None  # another indexer read this file meanwhile; its result stands
    repos.save(result.identities, now)
    if reset:
        db.execute("delete from file_problems where file_id = ?", [file_id])
    for kind, count in read.problems.items():
        db.execute(
            UPSERT_PROBLEM_SQL,
            {"file_id": file_id, "kind": kind, "count": count, "last_offset": read.problem_offsets[kind]},
        )
    for fork, (parent, copied_utc) in result.forks.items():
        db.execute(UPSERT_FORK_SQL, {"session_id": fork, "forked_from": parent, "copied_utc": copied_utc})
    for sql, found in rows.items():
        activity.setdefault(sql, []).extend(found)
    return merge(db, result.merge, file_id, touched, rivals)


def _record_error(db: Database, outcome: Outcome, now: str) -> None:
    """Remember why a file could not be read (inside the batch's transaction)."""
    error = outcome.result.error
    if outcome.previous is not None and outcome.previous.error == error:
        return
    item = outcome.item
    db.execute(RECORD_ERROR_SQL, {"path": item.path, "root": item.root, "now": now, "error": error})


def _mark_missing(db: Database, known: dict[str, tuple[Any, ...]], seen: set[str], roots: list[Path]) -> int:
    """Note files that were under a scanned root and are gone. Their responses stay."""
    live_roots = [str(paths.projects_dir(root)) + os.sep for root in roots if paths.projects_dir(root).is_dir()]
    unseen = (Known._make(row) for path, row in known.items() if path not in seen)
    gone = [file.id for file in unseen if not file.missing and any(file.path.startswith(r) for r in live_roots)]
    if gone:
        now = timestamps.now()
        with write_transaction(db):
            for file_id in gone:
                db.execute(MARK_MISSING_SQL, {"now": now, "id": file_id})
    return len(gone)
