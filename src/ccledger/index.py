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

A large refresh shares the reading with a helper process (:class:`_Helper`) that writes nothing:
it sends what it parsed, and this process, the only writer, reads files of the shared list
itself whenever nothing of the helper's waits to be written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec
from sqlite_utils import Database

from . import paths
from .db import DEFERRABLE_INDEXES, MODEL_INDEX, create_missing_indexes, restore_indexes, write_transaction
from .file_result import FileResult, describe, no_gc, read_file
from .helper import DECODER, DoneMessage, ReadMessage, RollupMessage, read_frames
from .merge import FirstLoad, Rivals, merge
from .reader import new_buffer
from .repos import RepoCache
from .rollup import MARK_DIRTY_SQL, RollupShare, dirty_rows, forget_built

if TYPE_CHECKING:
    from .models import IndexStats

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
# A refresh with this much to read is shared with a helper process (a first index, mostly).
_PARALLEL_BYTES = 256 << 20
_PIPE_BYTES = 1 << 20  # the most an unprivileged process may ask for, by default
# This process's part of a rollup rebuild shared with the helper: the larger, because the helper
# checkpoints the ledger's log in the time left; the smaller when this process builds a first
# load's indexes meanwhile (see _Helper.aggregate).
_ROLLUP_PART = 0.6
_ROLLUP_PART_BESIDE_INDEXES = 0.35
_HELPER_COMMAND = [sys.executable, "-m", "ccledger.helper"]

KNOWN_FILES_SQL = """
select id, path, device, inode, size, mtime_ns, head_sha1, head_len, read_offset,
       missing_since_utc, error
from files
"""

INSERT_FILE_SQL = """
insert into files (path, root, first_indexed_utc) values (:path, :root, :now)
on conflict(path) do nothing
"""

# The optimistic check: the row must still say what it said when this run planned the read.
UPDATE_FILE_SQL = """
update files set
    root = :root, device = :device, inode = :inode, size = :size, mtime_ns = :mtime_ns,
    head_sha1 = :head_sha1, head_len = :head_len, read_offset = :read_offset,
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


class _Known(NamedTuple):
    """A file as the ledger last recorded it (the columns of KNOWN_FILES_SQL, in order)."""

    id: int
    path: str
    device: int | None
    inode: int | None
    size: int
    mtime_ns: int
    head_sha1: str | None
    head_len: int
    read_offset: int
    missing_since_utc: str | None
    error: str | None

    @property
    def missing(self) -> bool:
        return self.missing_since_utc is not None


class _Found(NamedTuple):
    """A transcript file on disk, as a scan found it."""

    path: str
    root: str
    stat: os.stat_result


_Error = tuple[str, str]  # a path that could not be read, and why


def refresh(
    db: Database,
    roots: Iterable[Path] | None = None,
    *,
    progress: ProgressCallback | None = None,
    parallel: bool = True,
    cache: ScanCache | None = None,
    finish: Callable[[RollupShare | None], None] | None = None,
) -> IndexStats:
    """Bring the ledger up to date with the transcripts under ``roots`` (default: Claude's).

    A large amount of new data (a first index of months of history) is shared with a helper
    process when ``parallel`` allows and the machine has a second core. A long-running caller
    passes the same ``cache`` each time to make the check for changes nearly free. ``finish``
    is called once everything is written, with the helper (if there is one) still running to
    share the rollup's rebuild: pass what follows a refresh (prices, then the rollup).
    """
    started = time.perf_counter()
    started_utc = _now()
    roots = list(roots) if roots is not None else paths.claude_roots()
    errors: list[_Error] = []
    if cache is not None:
        known = cache.known(db)
        found = cache.scan(roots, errors)
    else:
        # Plain rows: a no-change refresh compares thousands of files and builds nothing.
        known = {row[1]: row for row in db.conn.execute(KNOWN_FILES_SQL)}
        found = list(_scan(roots, errors))
    plans = _plans(found, known)
    total_bytes = sum(_planned_bytes(plan) for plan in plans)
    helper = None
    ledger = _ledger_file(db)
    if parallel and total_bytes >= _PARALLEL_BYTES and (os.cpu_count() or 1) > 1 and ledger:
        plans, shared = _split(plans)
        helper = _Helper(ledger, shared)
    try:
        # Not at the top of the module: pydantic is slow to import, and a helper waits for nothing else.
        from .models import FileError, IndexStats

        stats = IndexStats(
            roots=[str(root) for root in roots], files_seen=len(found), files_read=0, new_responses=0,
            bad_lines=0, seconds=0.0,
        )  # fmt: skip
        problems: Counter[str] = Counter()

        def report(done: int) -> None:
            if progress is not None:
                progress(done, total_bytes)

        # The run record and `finish` come before the log's checkpoint limit is back: the
        # helper checkpoints what is committed while this process goes on (see _Helper).
        with _bulk_writes(db, total_bytes), _first_load(db, large=helper is not None) as load:
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
                # Prices come first in `finish` and look the models up: that index now, the
                # others while the helper computes its part of the rollup, or on the way out.
                with write_transaction(db):
                    create_missing_indexes(db, [MODEL_INDEX])
                if share is not None:
                    share.meanwhile(lambda: create_missing_indexes(db))
            if finish is not None:
                finish(share)
    finally:
        if helper is not None:
            helper.close()
    return stats


def _record_run(db: Database, stats: IndexStats, started_utc: str) -> None:
    with write_transaction(db):
        db.execute(
            INSERT_RUN_SQL,
            {
                "started_utc": started_utc,
                "finished_utc": _now(),
                "files_seen": stats.files_seen,
                "files_read": stats.files_read,
                "new_responses": stats.new_responses,
                "updated_responses": stats.updated_responses,
                "bad_lines": stats.bad_lines,
                "seconds": stats.seconds,
            },
        )


_Plan = tuple[_Found, "_Known | None", int]


def _plans(found: Iterable[_Found], known: dict[str, tuple[Any, ...]]) -> list[_Plan]:
    """Where to start reading each new or changed file."""
    plans: list[_Plan] = []
    for item in found:
        row = known.get(item.path)
        if row is not None and _unchanged(row, item.stat):
            continue
        previous = _Known._make(row) if row is not None else None
        plans.append((item, previous, _plan(item, previous)))
    return plans


def _planned_bytes(plan: _Plan) -> int:
    item, _, start = plan
    return max(item.stat.st_size - start, 0)


def _index_plans(
    db: Database,
    plans: list[_Plan],
    stats: IndexStats,
    problems: Counter[str],
    errors: list[_Error],
    report: Callable[[int], None],
    helper: _Helper | None = None,
    load: FirstLoad | None = None,
) -> None:
    """Read planned files, take the helper's results as they come, and write them in batches."""
    machine = paths.machine_name()
    repos = RepoCache(db)
    buffer = new_buffer() if plans or helper else bytearray()
    batch = _Batch(db, repos, stats, problems, errors, report, load)
    for item, previous, start in plans:
        batch.add(_read_file(item, previous, start, repos, machine, buffer))
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
            plan = helper.claim()
            if plan is None:
                break
            batch.add(_read_file(*plan, repos, machine, buffer))
        for outcome in helper.rest():
            batch.add(outcome)
        if helper.unread:  # the helper failed: read the rest here, nothing is lost or doubled
            helper.close()
            import logging  # not at the top: a first index waits for its imports, and this is rare

            log = logging.getLogger(__name__)
            log.warning("the helper indexer failed (%s); reading its files here", helper.failure)
            for item, previous, start in helper.unread:
                batch.add(_read_file(item, previous, start, repos, machine, buffer))
    batch.write()


class _Batch:
    """Outcomes waiting to be written in one transaction (see _write_batch)."""

    def __init__(
        self,
        db: Database,
        repos: RepoCache,
        stats: IndexStats,
        problems: Counter[str],
        errors: list[_Error],
        report: Callable[[int], None],
        load: FirstLoad | None,
    ) -> None:
        self._db, self._repos, self._stats, self._problems = db, repos, stats, problems
        self._errors, self._report, self._load = errors, report, load
        self._outcomes: list[_Outcome] = []
        self._bytes = 0
        self._started = time.monotonic()
        self._done_bytes = 0
        self._done_paths: set[str] = set()  # a plan read by both processes counts once

    def add(self, outcome: _Outcome) -> None:
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
            self._done_bytes += _planned_bytes((outcome.item, outcome.previous, outcome.start))
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
def _first_load(db: Database, large: bool) -> Iterator[FirstLoad | None]:
    """During a large first index (no responses yet), keep what is written in memory for the
    merge (:class:`merge.FirstLoad`), drop the indexes that loading does not use and build them
    once it is done (see db.DEFERRABLE_INDEXES), or when it fails; a run killed before that
    leaves them to the next ``open_db``."""
    if not large or db.execute(ANY_RESPONSE_SQL).fetchone()[0]:
        yield None
        return
    with write_transaction(db):  # the check again, and the load's start, under the write lock
        load = None if db.execute(ANY_RESPONSE_SQL).fetchone()[0] else FirstLoad(db)
        if load is not None:
            for name in DEFERRABLE_INDEXES:
                db.execute(f"drop index if exists {name}")
            forget_built(db)  # the whole rollup is rebuilt after: no bucket need be listed dirty
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


def _split(plans: list[_Plan]) -> tuple[list[_Plan], list[_Plan]]:
    """The plans this process reads itself (not regular files: nothing to read) and the ones it
    shares with the helper, largest first."""
    mine = [plan for plan in plans if not _is_regular(plan[0].stat)]
    shared = sorted((plan for plan in plans if _is_regular(plan[0].stat)), key=_planned_bytes, reverse=True)
    return mine, shared


class _Helper:
    """A second process (``python -m ccledger.helper``) reading files of a large refresh.

    It writes nothing: its results come back over a pipe (msgpack frames, see ``helper.py``)
    and this process writes them, so the two never wait on each other for the write lock. The
    helper reads the shared plans from the front; whenever this process has nothing of the
    helper's to write, it claims the last unclaimed plan and reads that itself (:meth:`claim`).
    The split so follows what each process gets done on this machine. A plan read twice (a claim
    crossing the helper's start on it) is written once: the second write of a file finds its plan
    already taken (see _write_file).
    Whatever a failed helper did not send is in ``unread`` afterwards.

    Once it has read its share, the helper copies the committed log into the ledger file (a
    passive checkpoint: the writer goes on meanwhile) and then computes rollup rows on request
    (:meth:`aggregate`, a :class:`rollup.RollupShare`) until :meth:`close`; this process can
    have work of its own done meanwhile (:meth:`meanwhile`).
    """

    def __init__(self, ledger: str, plans: list[_Plan]) -> None:
        self.plans = plans
        self.failure = ""
        self.closed = False
        self._meanwhile: Callable[[], None] | None = None
        self._received: set[int] = set()
        self._highest = -1  # the highest plan number received
        self._claimed = len(plans)  # plans from here on are this process's
        # Bytes of the plans neither received nor claimed: the helper's reading still to come.
        self.open_bytes = sum(_planned_bytes(plan) for plan in plans)
        # Frames as they arrive (None: the helper's output ended); this thread decodes them.
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._read_all = False  # its reading is done (or it failed): no more ReadMessages
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._process = subprocess.Popen(
            _HELPER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        request = {
            "ledger": ledger,
            "plans": [
                [item.path, start, [previous.head_sha1, previous.head_len] if previous else None]
                for item, previous, start in plans
            ],
        }
        self._tell(request)
        # Both pipes are served by threads: the request fills the pipe long before the new
        # interpreter has imported enough to read it, and this process has work to get on with.
        self._writer = threading.Thread(target=self._send, daemon=True)
        self._reader = threading.Thread(target=self._receive, daemon=True)
        self._writer.start()
        self._reader.start()
        # Results need not wait for this process's reader thread (which waits its turn for the
        # interpreter) if the pipe holds more of them: 0.05 s blocked instead of 0.18 (Linux).
        if sys.platform == "linux":
            import fcntl

            assert self._process.stdout is not None
            with contextlib.suppress(OSError):  # a lower limit set by the administrator
                fcntl.fcntl(self._process.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)

    def _tell(self, message: dict[str, Any]) -> None:
        self._outbox.put(json.dumps(message).encode() + b"\n")

    def _send(self) -> None:
        assert self._process.stdin is not None
        try:
            with self._process.stdin:
                while (message := self._outbox.get()) is not None:
                    self._process.stdin.write(message)
                    self._process.stdin.flush()
        except OSError:
            pass  # the helper has ended; `unread` has what it left, and close() says how

    def _receive(self) -> None:
        # Frames only: decoding here would hold the interpreter lock that the writing thread
        # takes back after every SQLite call, and it would wait for each decode to finish.
        assert self._process.stdout is not None
        try:
            for frame in read_frames(self._process.stdout):
                self._frames.put(frame)
        except (OSError, ValueError) as exc:
            self.failure = f"unreadable message: {exc}"
        finally:  # the end, or a failure: nothing more will come
            self._frames.put(None)

    def _next(self, wait: bool) -> ReadMessage | DoneMessage | RollupMessage | None:
        """The next message; None when none has arrived (without ``wait``) or none will."""
        try:
            frame = self._frames.get(block=wait)
        except queue.Empty:
            return None
        if frame is None:
            self._frames.put(None)  # for whoever asks next
            self._read_all = True
            return None
        try:
            return DECODER.decode(frame)
        except msgspec.DecodeError as exc:
            self.failure = f"unreadable message: {exc}"
            self._frames.put(None)
            self._read_all = True
            return None

    def claim(self) -> _Plan | None:
        """The last plan neither side has started, now this process's to read; None if none is left."""
        number = self._claimed - 1
        if number <= self._highest:
            return None
        self._tell({"claim": number})  # the helper stops before this plan
        self._claimed = number
        self.open_bytes -= _planned_bytes(self.plans[number])
        return self.plans[number]

    def ready(self) -> Iterator[_Outcome]:
        """The results that have arrived, without waiting."""
        yield from self._results(wait=False)

    def rest(self) -> Iterator[_Outcome]:
        """The remaining results as they arrive, until the helper has read its share. Claims no more."""
        yield from self._results(wait=True)

    def _results(self, wait: bool) -> Iterator[_Outcome]:
        while not self._read_all:
            message = self._next(wait)
            if message is None:
                return
            if isinstance(message, DoneMessage):
                self._read_all = True
                return
            if isinstance(message, ReadMessage):
                yield self._outcome(message)

    @property
    def unread(self) -> list[_Plan]:
        """Plans the helper was to read but sent no result for (none, unless it failed)."""
        return [plan for number, plan in enumerate(self.plans[: self._claimed]) if number not in self._received]

    @property
    def caller_part(self) -> float:
        """This process's part of a shared rollup rebuild (see rollup.RollupShare)."""
        return _ROLLUP_PART if self._meanwhile is None else _ROLLUP_PART_BESIDE_INDEXES

    def meanwhile(self, work: Callable[[], None]) -> None:
        """Have ``work`` done in this process while the helper computes its part of the next
        rollup rebuild (in that rebuild's transaction); the helper's part grows to match."""
        self._meanwhile = work

    def aggregate(self, dirty: bool, since: str) -> Callable[[], list[tuple[Any, ...]] | None]:
        """Have the helper compute rollup rows from ``since`` on (see rollup.RollupShare)."""
        self._tell({"rollup": [dirty, since]})
        work, self._meanwhile = self._meanwhile, None
        if work is not None:
            work()

        def rows() -> list[tuple[Any, ...]] | None:
            while (message := self._next(wait=True)) is not None:
                if isinstance(message, RollupMessage):
                    return message.rows
            return None

        return rows

    def _outcome(self, message: ReadMessage) -> _Outcome:
        number = message.number
        if number < self._claimed and number not in self._received:
            self.open_bytes -= _planned_bytes(self.plans[number])
        self._received.add(number)
        self._highest = max(self._highest, number)
        item, previous, start = self.plans[number]
        return _Outcome(item, previous, start, message.result)

    def close(self) -> None:
        """End the helper and wait for it; ``failure`` says how it failed, if it did."""
        assert self._process.stderr is not None
        if self.closed:
            return
        self.closed = True
        self._outbox.put(None)  # its stdin ends: it exits
        stderr = self._process.stderr.read().decode(errors="replace")
        code = self._process.wait()
        self._writer.join()
        self._reader.join()
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()
        if code != 0 and not self.failure:
            self.failure = f"exit code {code}: {stderr.strip().splitlines()[-1:] or ''}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ScanCache:
    """What a long-running process (the MCP server) remembers between refreshes.

    Every answer must include the turn that just happened, and that turn is in a transcript
    modified moments ago. So a refresh with this cache lists only folders whose modification time
    changed (new or deleted files), stats only files modified in the last day, re-reads the
    ledger's files table only when another process changed the ledger, and checks everything
    at least every ``sweep_seconds``: an old transcript appended to is noticed within a minute.
    """

    def __init__(self, *, hot_seconds: float = 86_400, sweep_seconds: float = 60) -> None:
        self.hot_seconds = hot_seconds
        self.sweep_seconds = sweep_seconds
        self._listings: dict[str, tuple[int, list[tuple[str, str, bool]]]] = {}  # name, path, is_dir
        self._files: dict[str, _Found] = {}
        self._known: dict[str, tuple[Any, ...]] | None = None
        self._data_version: int | None = None
        self._last_sweep = -math.inf

    def known(self, db: Database) -> dict[str, tuple[Any, ...]]:
        """The files table as plain rows, re-read when another connection changed the ledger."""
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if self._known is None or version != self._data_version:
            self._known = {row[1]: row for row in db.conn.execute(KNOWN_FILES_SQL)}
            self._data_version = version
        return self._known

    def forget_known(self) -> None:
        self._known = None

    def scan(self, roots: Iterable[Path], errors: list[_Error]) -> list[_Found]:
        """Like a full scan, but reusing what has not changed (see the class docstring)."""
        now = time.time()
        sweep = now - self._last_sweep >= self.sweep_seconds
        if sweep:
            self._last_sweep = now
            self._files = {}
        found: list[_Found] = []
        for root in roots:
            root_text = str(root)
            stack = [str(paths.projects_dir(root))]
            while stack:
                directory = stack.pop()
                listing = self._listing(directory, sweep, errors)
                if listing is None:
                    continue
                entries, relisted = listing
                for name, path, is_dir in entries:
                    if name.endswith(".jsonl"):
                        item = self._file(path, root_text, relisted, now, errors)
                        if item is not None:
                            found.append(item)
                    if is_dir:
                        stack.append(path)  # links to folders are not followed: loops
        return found

    def _listing(
        self, directory: str, sweep: bool, errors: list[_Error]
    ) -> tuple[list[tuple[str, str, bool]], bool] | None:
        try:
            mtime = os.stat(directory).st_mtime_ns
            cached = self._listings.get(directory)
            if cached is not None and cached[0] == mtime and not sweep:
                return cached[1], False
            entries = [(entry.name, entry.path, entry.is_dir(follow_symlinks=False)) for entry in os.scandir(directory)]
        except FileNotFoundError:
            self._listings.pop(directory, None)
            return None
        except OSError as exc:
            errors.append((directory, describe(exc)))
            return None
        self._listings[directory] = (mtime, entries)
        return entries, True

    def _file(self, path: str, root: str, relisted: bool, now: float, errors: list[_Error]) -> _Found | None:
        previous = self._files.get(path)
        if previous is not None and not relisted and now - previous.stat.st_mtime > self.hot_seconds:
            return previous  # cold: left for the next sweep
        try:
            item = _Found(path, root, os.stat(path))
        except OSError as exc:
            errors.append((path, describe(exc)))
            return None
        self._files[path] = item
        return item


def _scan(roots: Iterable[Path], errors: list[_Error]) -> Iterator[_Found]:
    """Every ``*.jsonl`` below each root's ``projects`` folder, recursively."""
    for root in roots:
        root_text = str(root)
        stack = [str(paths.projects_dir(root))]
        while stack:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except FileNotFoundError:
                continue
            except OSError as exc:
                errors.append((directory, describe(exc)))
                continue
            for entry in entries:
                try:
                    if entry.name.endswith(".jsonl"):
                        yield _Found(entry.path, root_text, entry.stat())
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)  # a folder named x.jsonl may still hold transcripts
                    elif entry.is_dir(follow_symlinks=False):  # links to folders are not followed: loops
                        stack.append(entry.path)
                except OSError as exc:
                    errors.append((entry.path, describe(exc)))


def _unchanged(row: tuple[Any, ...], st: os.stat_result) -> bool:
    """Whether a known file (a KNOWN_FILES_SQL row) is exactly as it was last read."""
    _, _, device, inode, size, mtime_ns, _, _, _, missing_since, error = row
    return (
        error is None
        and missing_since is None
        and device == st.st_dev
        and inode == st.st_ino
        and size == st.st_size
        and mtime_ns == st.st_mtime_ns
    )


def _plan(item: _Found, previous: _Known | None) -> int:
    """The offset to read a changed or new file from."""
    st = item.stat
    if previous is None:
        return 0
    same_file = previous.device == st.st_dev and previous.inode == st.st_ino
    if not same_file or st.st_size < previous.read_offset:
        return 0
    return previous.read_offset  # confirmed against the head hash once the file is open


@dataclass(slots=True)
class _Outcome:
    """A planned file and what reading it produced, waiting to be written with its batch."""

    item: _Found
    previous: _Known | None
    start: int  # as planned
    result: FileResult


def _read_file(
    item: _Found, previous: _Known | None, start: int, repos: RepoCache, machine: str, buffer: bytearray
) -> _Outcome:
    """Read a planned file. Touches the filesystem only: no lock is held."""
    if not _is_regular(item.stat):
        return _Outcome(item, previous, start, FileResult(start, error="not a regular file"))
    known_head = (previous.head_sha1, previous.head_len) if previous is not None else None
    return _Outcome(item, previous, start, read_file(item.path, start, known_head, repos, machine, buffer))


def _write_batch(
    db: Database,
    batch: list[_Outcome],
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
    written: list[tuple[_Outcome, int, int]] = []
    now = _now()
    touched: set[str] = set()  # timestamps whose rollup buckets must be rebuilt
    try:
        with write_transaction(db):
            rivals = load.rivals(db) if load is not None else None
            for outcome in batch:
                if outcome.result.error is not None:
                    _record_error(db, outcome, now)
                    continue
                counts = _write_file(db, outcome, repos, now, touched, rivals)
                if counts is not None:
                    written.append((outcome, *counts))
            if rivals is None:  # else a first load, whose rollup is rebuilt whole (see _first_load)
                db.conn.executemany(MARK_DIRTY_SQL, dirty_rows(touched))
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
    db: Database, outcome: _Outcome, repos: RepoCache, now: str, touched: set[str], rivals: Rivals | None
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
        planned_offset, planned_inode = 0, None
    else:
        file_id = previous.id
        planned_offset, planned_inode = previous.read_offset, previous.inode
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
    return merge(db, result.merge, file_id, touched, rivals)


def _is_regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode)


def _record_error(db: Database, outcome: _Outcome, now: str) -> None:
    """Remember why a file could not be read (inside the batch's transaction)."""
    error = outcome.result.error
    if outcome.previous is not None and outcome.previous.error == error:
        return
    item = outcome.item
    db.execute(RECORD_ERROR_SQL, {"path": item.path, "root": item.root, "now": now, "error": error})


def _mark_missing(db: Database, known: dict[str, tuple[Any, ...]], seen: set[str], roots: list[Path]) -> int:
    """Note files that were under a scanned root and are gone. Their responses stay."""
    live_roots = [str(paths.projects_dir(root)) + os.sep for root in roots if paths.projects_dir(root).is_dir()]
    gone = [
        row[0]
        for path, row in known.items()
        if path not in seen and row[9] is None and any(path.startswith(root) for root in live_roots)
    ]
    if gone:
        now = _now()
        with write_transaction(db):
            for file_id in gone:
                db.execute(MARK_MISSING_SQL, {"now": now, "id": file_id})
    return len(gone)
