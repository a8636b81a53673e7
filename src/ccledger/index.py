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
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from . import paths
from .db import write_transaction
from .models import FileError, IndexStats
from .repos import RepoIdentity, resolve_repo
from .rollup import MARK_DIRTY_SQL, dirty_rows
from .transcript import Response, parse_line

__all__ = ["ProgressCallback", "refresh"]

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes done, bytes planned) as files are read."""

_CHUNK_BYTES = 4 << 20
_HEAD_BYTES = 4096
_SQL_VARIABLES = 500  # ids per IN (...) lookup, well under SQLite's variable limit

KNOWN_FILES_SQL = """
select id, path, device, inode, size, mtime_ns, head_sha1, head_len, read_offset,
       missing_since_utc, error
from files
"""

RIVALS_SQL = """
select key, message_id, is_sidechain, timestamp_utc,
       input_tokens + output_tokens + cache_write_5m_tokens + cache_write_1h_tokens
           + cache_read_tokens as total_tokens,
       speed is not null as has_speed, from_progress
from responses
where {column} in ({placeholders})
"""

INSERT_RESPONSE_SQL = """
insert or replace into responses (
    key, message_id, request_id, timestamp_utc, session_id, agent_id, is_sidechain, model,
    input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,
    web_search_requests, speed, service_tier, inference_geo, cwd, git_branch, repo_id, machine,
    cc_version, from_progress, file_id
) values (
    :key, :message_id, :request_id, :timestamp_utc, :session_id, :agent_id, :is_sidechain, :model,
    :input_tokens, :output_tokens, :cache_write_5m_tokens, :cache_write_1h_tokens, :cache_read_tokens,
    :web_search_requests, :speed, :service_tier, :inference_geo, :cwd, :git_branch, :repo_id, :machine,
    :cc_version, :from_progress, :file_id
)
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

MARK_MISSING_SQL = "update files set missing_since_utc = :now where id = :id and missing_since_utc is null"

INSERT_RUN_SQL = """
insert into index_runs (started_utc, finished_utc, files_seen, files_read, new_responses,
                        updated_responses, bad_lines, seconds)
values (:started_utc, :finished_utc, :files_seen, :files_read, :new_responses,
        :updated_responses, :bad_lines, :seconds)
"""


@dataclass(slots=True)
class _Known:
    id: int
    device: int | None
    inode: int | None
    size: int
    mtime_ns: int
    head_sha1: str | None
    head_len: int
    read_offset: int
    missing: bool
    error: str | None


@dataclass(slots=True)
class _Found:
    path: str
    root: str
    stat: os.stat_result


@dataclass(slots=True)
class _Read:
    """What reading one file produced, before it is written to the ledger."""

    responses: list[Response] = field(default_factory=list)
    lines: int = 0
    usage_lines: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    problem_offsets: dict[str, int] = field(default_factory=dict)
    synthetic: int = 0
    end_offset: int = 0  # just past the last complete line
    bytes_read: int = 0


def refresh(
    db: Database,
    roots: Iterable[Path] | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> IndexStats:
    """Bring the ledger up to date with the transcripts under ``roots`` (default: Claude's)."""
    started = time.perf_counter()
    started_utc = _now()
    roots = list(roots) if roots is not None else paths.claude_roots()
    machine = paths.machine_name()
    known = {row["path"]: _known(row) for row in db.query(KNOWN_FILES_SQL)}
    errors: list[FileError] = []
    found = list(_scan(roots, errors))
    seen_paths = {item.path for item in found}

    plans: list[tuple[_Found, _Known | None, int]] = []
    for item in found:
        previous = known.get(item.path)
        start = _plan(item, previous)
        if start is not None:
            plans.append((item, previous, start))

    stats = IndexStats(
        roots=[str(root) for root in roots],
        files_seen=len(found),
        files_read=0,
        new_responses=0,
        bad_lines=0,
        seconds=0.0,
    )
    problems: Counter[str] = Counter()
    repos = _RepoCache(db)
    total_bytes = sum(max(item.stat.st_size - start, 0) for item, _, start in plans)
    done_bytes = 0
    for item, previous, start in plans:
        outcome = _index_file(db, item, previous, start, repos, machine, errors)
        if outcome is not None:
            read, new, updated = outcome
            stats.files_read += 1
            stats.bytes_read += read.bytes_read
            stats.lines_read += read.lines
            stats.new_responses += new
            stats.updated_responses += updated
            stats.synthetic_skipped += read.synthetic
            problems.update(read.problems)
        done_bytes += max(item.stat.st_size - start, 0)
        if progress is not None:
            progress(done_bytes, total_bytes)

    stats.files_missing = _mark_missing(db, known, seen_paths, roots)
    stats.problems = dict(problems)
    stats.bad_lines = sum(problems.values())
    stats.errors = errors
    stats.seconds = round(time.perf_counter() - started, 4)
    if plans or stats.files_missing:
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
    return stats


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _known(row: dict[str, Any]) -> _Known:
    return _Known(
        id=row["id"],
        device=row["device"],
        inode=row["inode"],
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        head_sha1=row["head_sha1"],
        head_len=row["head_len"],
        read_offset=row["read_offset"],
        missing=row["missing_since_utc"] is not None,
        error=row["error"],
    )


def _scan(roots: Iterable[Path], errors: list[FileError]) -> Iterator[_Found]:
    """Every ``*.jsonl`` below each root's ``projects`` folder, recursively."""
    for root in roots:
        top = paths.projects_dir(root)
        stack = [str(top)]
        while stack:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except FileNotFoundError:
                continue
            except OSError as exc:
                errors.append(FileError(path=directory, error=_describe(exc)))
                continue
            for entry in entries:
                try:
                    # Directory symlinks are not followed: a loop would never end.
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if entry.name.endswith(".jsonl"):
                        st = entry.stat()
                        yield _Found(path=entry.path, root=str(root), stat=st)
                    elif is_dir:
                        stack.append(entry.path)
                except OSError as exc:
                    errors.append(FileError(path=entry.path, error=_describe(exc)))
                    continue
                if is_dir and entry.name.endswith(".jsonl"):
                    stack.append(entry.path)  # a folder named x.jsonl may still hold transcripts


def _plan(item: _Found, previous: _Known | None) -> int | None:
    """The offset to read ``item`` from, or None when nothing changed."""
    st = item.stat
    if previous is None:
        return 0
    unchanged = (
        previous.error is None
        and not previous.missing
        and previous.device == st.st_dev
        and previous.inode == st.st_ino
        and previous.size == st.st_size
        and previous.mtime_ns == st.st_mtime_ns
    )
    if unchanged:
        return None
    same_file = previous.device == st.st_dev and previous.inode == st.st_ino
    if not same_file or st.st_size < previous.read_offset:
        return 0
    return previous.read_offset  # confirmed against the head hash once the file is open


def _index_file(
    db: Database,
    item: _Found,
    previous: _Known | None,
    start: int,
    repos: _RepoCache,
    machine: str,
    errors: list[FileError],
) -> tuple[_Read, int, int] | None:
    if not _is_regular(item.stat):
        _record_error(db, item, "not a regular file", previous, errors)
        return None
    try:
        with open(item.path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
            if start and previous is not None and previous.head_sha1 != _sha1(head[: previous.head_len]):
                start = 0  # same inode, different start: the file was rewritten in place
            handle.seek(start)
            read = _read_lines(handle, start)
    except OSError as exc:
        _record_error(db, item, _describe(exc), previous, errors)
        return None
    identities = repos.resolve_all({r.cwd for r in read.responses if r.cwd})
    reset = start == 0
    with write_transaction(db):
        if previous is None:
            cursor = db.execute(INSERT_FILE_SQL, {"path": item.path, "root": item.root, "now": _now()})
            if cursor.rowcount == 0:
                db.conn.rollback()  # another indexer recorded this file first
                return None
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
                "head_sha1": _sha1(head),
                "head_len": len(head),
                "read_offset": read.end_offset,
                "reset": reset,
                "lines": read.lines,
                "usage_lines": read.usage_lines,
                "bad_lines": read.problems.total(),
                "now": _now(),
            },
        )
        if cursor.rowcount == 0:
            db.conn.rollback()  # another indexer read this file meanwhile; its result stands
            return None
        repos.save(identities)
        if reset:
            db.execute("delete from file_problems where file_id = ?", [file_id])
        for kind, count in read.problems.items():
            db.execute(
                UPSERT_PROBLEM_SQL,
                {"file_id": file_id, "kind": kind, "count": count, "last_offset": read.problem_offsets[kind]},
            )
        new, updated = _merge(db, read.responses, file_id, machine, repos.lookup(identities))
    repos.remember(identities)
    return read, new, updated


def _is_regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode)


def _read_lines(handle: Any, start: int) -> _Read:
    """Parse every complete line from ``start``; a trailing partial line is left for next time.

    A last line without a newline that already parses is used (a finished file need not end
    in one), but the offset stays before it, so it is read again once it is complete.
    """
    read = _Read(end_offset=start)
    offset = start
    carry: list[bytes] = []
    while True:
        chunk = handle.read(_CHUNK_BYTES)
        if not chunk:
            break
        read.bytes_read += len(chunk)
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry.append(chunk)  # a line longer than a chunk
            continue
        block = b"".join([*carry, chunk[:cut]]) if carry else chunk[:cut]
        carry = [chunk[cut + 1 :]] if cut + 1 < len(chunk) else []
        for line in block.split(b"\n"):
            _parse_into(read, line, offset, complete=True)
            offset += len(line) + 1
        read.end_offset = offset
    tail = b"".join(carry)
    if tail.strip():
        _parse_into(read, tail, offset, complete=False)
    return read


def _parse_into(read: _Read, line: bytes, offset: int, *, complete: bool) -> None:
    parsed = parse_line(line)
    if complete:
        read.lines += 1
    elif parsed.response is None:
        return  # still being written, most likely: not a problem yet
    if parsed.problem is not None and complete:
        read.problems[parsed.problem] += 1
        read.problem_offsets[parsed.problem] = offset
    if parsed.synthetic:
        read.synthetic += 1
    if parsed.response is not None:
        read.usage_lines += complete
        read.responses.append(parsed.response)


def _record_error(db: Database, item: _Found, error: str, previous: _Known | None, errors: list[FileError]) -> None:
    errors.append(FileError(path=item.path, error=error))
    if previous is not None and previous.error == error:
        return
    with write_transaction(db):
        db.execute(RECORD_ERROR_SQL, {"path": item.path, "root": item.root, "now": _now(), "error": error})


def _describe(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _mark_missing(db: Database, known: dict[str, _Known], seen: set[str], roots: list[Path]) -> int:
    """Note files that were under a scanned root and are gone. Their responses stay."""
    live_roots = [str(paths.projects_dir(root)) + os.sep for root in roots if paths.projects_dir(root).is_dir()]
    gone = [
        entry.id
        for path, entry in known.items()
        if path not in seen and not entry.missing and any(path.startswith(root) for root in live_roots)
    ]
    if gone:
        now = _now()
        with write_transaction(db):
            for file_id in gone:
                db.execute(MARK_MISSING_SQL, {"now": now, "id": file_id})
    return len(gone)


class _RepoCache:
    """Repo identity per cwd: the ledger's ``repos`` table first, the filesystem once."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._ids: dict[str, str] = {}
        self._roots: dict[str, str] = {}
        for row in db.query("select cwd, repo_id, root, how from repos"):
            self._remember(row["cwd"], row["repo_id"], row["root"], row["how"])

    def _remember(self, cwd: str, repo_id: str, root: str | None, how: str) -> None:
        self._ids.setdefault(cwd, repo_id)
        if root and how in ("remote", "git-root"):
            self._roots.setdefault(root, repo_id)

    def resolve_all(self, cwds: set[str]) -> dict[str, RepoIdentity]:
        """Identities for the cwds not seen before; existing directories go first, so their
        roots are known when a vanished sibling is resolved."""
        resolved: dict[str, RepoIdentity] = {}
        roots = dict(self._roots)
        for cwd in sorted(cwds - self._ids.keys(), key=lambda c: not os.path.isdir(c)):
            identity = resolve_repo(cwd, roots)
            resolved[cwd] = identity
            if identity.root and identity.how in ("remote", "git-root"):
                roots.setdefault(identity.root, identity.repo_id)
        return resolved

    def save(self, identities: dict[str, RepoIdentity]) -> None:
        """Write newly resolved identities (inside the caller's transaction)."""
        now = _now()
        for cwd, identity in identities.items():
            self._db.execute(
                "insert or ignore into repos (cwd, repo_id, root, remote, how, resolved_utc) values (?, ?, ?, ?, ?, ?)",
                [cwd, identity.repo_id, identity.root, identity.remote, identity.how, now],
            )

    def remember(self, identities: dict[str, RepoIdentity]) -> None:
        """Keep identities in memory once the transaction that saved them has committed."""
        for cwd, identity in identities.items():
            self._remember(cwd, identity.repo_id, identity.root, identity.how)

    def lookup(self, pending: dict[str, RepoIdentity]) -> Callable[[str | None], str | None]:
        """A cwd -> repo id function over the cache plus identities not yet remembered."""

        def repo_id(cwd: str | None) -> str | None:
            if not cwd:
                return None
            return pending[cwd].repo_id if cwd in pending else self._ids.get(cwd)

        return repo_id


def _rank(row: dict[str, Any]) -> tuple[bool, int, bool, bool]:
    return (not row["is_sidechain"], row["total_tokens"], bool(row["has_speed"]), not row["from_progress"])


def _merge(
    db: Database,
    records: list[Response],
    file_id: int,
    machine: str,
    repo_id: Callable[[str | None], str | None],
) -> tuple[int, int]:
    """Merge one file's responses into the ledger; returns (added, replaced).

    The rule (shared/reference/jsonl-format.md, section 7.3): responses are keyed globally;
    of several copies the one that outranks the others is kept whole. A copy with the same
    message id under another request id is the same response when either copy is a sidechain
    (``/btw`` side questions replay parent messages with new request ids).
    """
    if not records:
        return 0, 0
    best: dict[str, Response] = {}
    for record in records:
        kept = best.get(record.key)
        if kept is None or record.outranks(kept):
            best[record.key] = record
    ranks: dict[str, tuple[bool, int, bool, bool]] = {}
    sidechain: dict[str, bool] = {}
    stored_at: dict[str, str] = {}  # key -> timestamp of the copy in the ledger
    by_message: dict[str, list[str]] = {}
    message_ids = sorted({r.message_id for r in best.values() if r.message_id})
    keyless = sorted(k for k, r in best.items() if not r.message_id)
    for column, values in (("message_id", message_ids), ("key", keyless)):
        for i in range(0, len(values), _SQL_VARIABLES):
            chunk = values[i : i + _SQL_VARIABLES]
            sql = RIVALS_SQL.format(column=column, placeholders=", ".join("?" * len(chunk)))
            for row in db.query(sql, chunk):
                ranks[row["key"]] = _rank(row)
                sidechain[row["key"]] = bool(row["is_sidechain"])
                stored_at[row["key"]] = row["timestamp_utc"]
                if row["message_id"]:
                    by_message.setdefault(row["message_id"], []).append(row["key"])

    to_write: list[Response] = []
    to_delete: list[str] = []
    touched: set[str] = set()  # timestamps whose rollup buckets must be rebuilt
    added = replaced = 0
    for record in best.values():
        rank = record.rank()
        if record.key in ranks:
            if rank > ranks[record.key]:
                to_write.append(record)
                replaced += 1
                ranks[record.key] = rank
                if record.key in stored_at:
                    touched.add(stored_at[record.key])
            continue
        siblings = by_message.get(record.message_id, []) if record.message_id else []
        rival = next((k for k in siblings if sidechain[k] or record.is_sidechain), None)
        if rival is not None:
            if rank > ranks[rival]:
                to_delete.append(rival)
                if rival in stored_at:
                    touched.add(stored_at[rival])
                siblings.remove(rival)
                del ranks[rival]
                replaced += 1
            else:
                continue
        else:
            added += 1
        to_write.append(record)
        ranks[record.key] = rank
        sidechain[record.key] = record.is_sidechain
        if record.message_id:
            by_message.setdefault(record.message_id, []).append(record.key)

    if to_delete:
        db.conn.executemany("delete from responses where key = ?", [(key,) for key in to_delete])
    db.conn.executemany(
        INSERT_RESPONSE_SQL,
        [_row(record, file_id, machine, repo_id(record.cwd)) for record in to_write],
    )
    touched.update(record.timestamp_utc for record in to_write)
    db.conn.executemany(MARK_DIRTY_SQL, dirty_rows(touched))
    return added, replaced


def _row(record: Response, file_id: int, machine: str, repo_id: str | None) -> dict[str, Any]:
    return {
        "key": record.key,
        "message_id": record.message_id,
        "request_id": record.request_id,
        "timestamp_utc": record.timestamp_utc,
        "session_id": record.session_id,
        "agent_id": record.agent_id,
        "is_sidechain": record.is_sidechain,
        "model": record.model,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cache_write_5m_tokens": record.cache_write_5m_tokens,
        "cache_write_1h_tokens": record.cache_write_1h_tokens,
        "cache_read_tokens": record.cache_read_tokens,
        "web_search_requests": record.web_search_requests,
        "speed": record.speed,
        "service_tier": record.service_tier,
        "inference_geo": record.inference_geo,
        "cwd": record.cwd,
        "git_branch": record.git_branch,
        "repo_id": repo_id,
        "machine": machine,
        "cc_version": record.cc_version,
        "from_progress": record.from_progress,
        "file_id": file_id,
    }
