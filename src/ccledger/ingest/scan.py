"""What a refresh must read: the transcript files on disk, and where to start reading each.

A file is planned when the ledger has not recorded it exactly as it is now (identity, size,
mtime). Its plan starts just past the last complete line read, or at 0 when the file is new,
shrank or was replaced. This module touches the filesystem and reads rows it is given; it
imports nothing slow, so that ``ccledger index`` can plan before the rest of it has loaded
(see ``headstart``).
"""

from __future__ import annotations

import math
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import paths

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    from sqlite_utils import Database

__all__ = [
    "KNOWN_FILES_SQL",
    "Error",
    "Found",
    "Known",
    "Plan",
    "ScanCache",
    "describe",
    "is_regular",
    "known_files",
    "make_plans",
    "planned_bytes",
    "scan",
    "split",
    "unchanged",
    "walk",
]

KNOWN_FILES_SQL = """
select id, path, device, inode, size, mtime_ns, head_sha1, head_len, read_offset,
       missing_since_utc, error, tail_sha1
from files
"""


class Known(NamedTuple):
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
    tail_sha1: str | None  # of the bytes before read_offset: catches a rewrite that kept the head

    @property
    def missing(self) -> bool:
        return self.missing_since_utc is not None


def known_files(conn: sqlite3.Connection) -> dict[str, tuple[Any, ...]]:
    """The ledger's files table by path, as plain KNOWN_FILES_SQL rows: a no-change refresh
    compares thousands of files and builds nothing."""
    return {row[1]: row for row in conn.execute(KNOWN_FILES_SQL)}


class Found(NamedTuple):
    """A transcript file on disk, as a scan found it."""

    path: str
    root: str
    stat: os.stat_result


Error = tuple[str, str]  # a path that could not be read, and why
Plan = tuple[Found, "Known | None", int]  # a file, its row if known, and where to start reading


Listing = list[tuple[str, str, bool]]
"""A folder's entries: name, path, and whether it is a folder (a link to one is not: loops)."""


def walk(
    roots: Iterable[Path],
    errors: list[Error],
    listing: Callable[[str, list[Error]], tuple[Listing, bool] | None],
    stat_file: Callable[[str, str, str, bool, list[Error]], Found | None],
) -> Iterator[Found]:
    """Every ``*.jsonl`` below each root's ``projects`` folder, recursively: the one walk, for a
    full scan (:func:`scan`) and a cached one (:class:`ScanCache`). ``listing`` gives a folder's
    entries and whether they were listed just now (None: skip the folder); ``stat_file`` makes a
    file found from its name, path and root, told whether its folder was listed just now (None:
    skip the file)."""
    for root in roots:
        root_text = str(root)
        stack = [str(paths.projects_dir(root))]
        while stack:
            listed = listing(stack.pop(), errors)
            if listed is None:
                continue
            entries, fresh = listed
            for name, path, is_dir in entries:
                if name.endswith(".jsonl"):
                    item = stat_file(name, path, root_text, fresh, errors)
                    if item is not None:
                        yield item
                if is_dir:
                    stack.append(path)  # a folder named x.jsonl may still hold transcripts


def scan(roots: Iterable[Path], errors: list[Error]) -> Iterator[Found]:
    """Every ``*.jsonl`` below each root's ``projects`` folder, listed and stat'ed now."""
    return walk(roots, errors, _list_now, _stat_now)


_MOST_SESSIONS = 64  # Claude Code processes worth looking at; more is not a person at work


def running_sessions(roots: Iterable[Path]) -> set[str]:
    """The transcript names (``<sessionId>.jsonl``) of the sessions Claude Code is running now:
    each running process describes itself in ``<root>/sessions/<pid>.json``. Read as the
    untrusted files they are (small regular files only, a few dozen at most)."""
    import json

    from .repos import read_small

    names: set[str] = set()
    for root in roots:
        try:
            entries = [entry for entry in os.scandir(os.path.join(root, "sessions")) if entry.name.endswith(".json")]
        except OSError:
            continue
        for entry in entries[:_MOST_SESSIONS]:
            text = read_small(entry.path) if entry.is_file(follow_symlinks=False) else None
            try:
                session = json.loads(text).get("sessionId") if text else None
            except (ValueError, AttributeError):
                continue
            if isinstance(session, str) and session and "/" not in session and "\\" not in session:
                names.add(f"{session}.jsonl")
    return names


def _list_now(directory: str, errors: list[Error]) -> tuple[Listing, bool] | None:
    try:
        return [(entry.name, entry.path, entry.is_dir(follow_symlinks=False)) for entry in os.scandir(directory)], True
    except FileNotFoundError:
        return None
    except OSError as exc:
        errors.append((directory, describe(exc)))
        return None


def _stat_now(name: str, path: str, root: str, fresh: bool, errors: list[Error]) -> Found | None:
    try:
        return Found(path, root, os.stat(path))
    except OSError as exc:
        errors.append((path, describe(exc)))
        return None


def describe(exc: OSError) -> str:
    """An OS error as a file's stored error: ``permission denied``, ``is a directory``, ..."""
    return (exc.strerror or type(exc).__name__).lower()


def unchanged(row: tuple[Any, ...], st: os.stat_result) -> bool:
    """Whether a known file (a KNOWN_FILES_SQL row) is exactly as it was last read."""
    _, _, device, inode, size, mtime_ns, _, _, _, missing_since, error, _ = row
    return (
        error is None
        and missing_since is None
        and device == st.st_dev
        and inode == st.st_ino
        and size == st.st_size
        and mtime_ns == st.st_mtime_ns
    )


def make_plans(found: Iterable[Found], known: dict[str, tuple[Any, ...]]) -> list[Plan]:
    """Where to start reading each new or changed file; ``known`` maps paths to KNOWN_FILES_SQL rows."""
    plans: list[Plan] = []
    for item in found:
        row = known.get(item.path)
        if row is not None and unchanged(row, item.stat):
            continue
        previous = Known._make(row) if row is not None else None
        start = _start(item, previous)
        if not start and row is not None and previous is not None and item.stat.st_size < previous.read_offset:
            # Smaller than what the ledger has read of it: shrunk, or only scanned before another
            # indexer read on (a head start scans first and reads the ledger after). A fresh
            # look tells them apart; a whole re-read of an active transcript would be waste.
            fresh = _restat(item)
            if fresh is not None and fresh.stat.st_size >= previous.read_offset:
                if unchanged(row, fresh.stat):
                    continue
                item, start = fresh, _start(fresh, previous)
        plans.append((item, previous, start))
    return plans


def _restat(item: Found) -> Found | None:
    try:
        return Found(item.path, item.root, os.stat(item.path))
    except OSError:
        return None


def _start(item: Found, previous: Known | None) -> int:
    """The offset to read a changed or new file from."""
    st = item.stat
    if previous is None:
        return 0
    same_file = previous.device == st.st_dev and previous.inode == st.st_ino
    if not same_file or st.st_size < previous.read_offset:
        return 0
    return previous.read_offset  # confirmed against the head hash once the file is open


def planned_bytes(plan: Plan) -> int:
    item, _, start = plan
    return max(item.stat.st_size - start, 0)


def is_regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode)


def split(plans: list[Plan]) -> tuple[list[Plan], list[Plan]]:
    """The plans a refresh reads itself (not regular files: nothing to read) and the ones it
    shares with a helper process, largest first."""
    mine = [plan for plan in plans if not is_regular(plan[0].stat)]
    shared = sorted((plan for plan in plans if is_regular(plan[0].stat)), key=planned_bytes, reverse=True)
    return mine, shared


class ScanCache:
    """What a long-running process (the MCP server) remembers between refreshes.

    Every answer must include the turn that just happened, and that turn is in a transcript
    modified moments ago. So a refresh with this cache lists only folders whose modification time
    changed (new or deleted files), stats only files modified in the last day, re-reads the
    ledger's files table only when another process changed the ledger, and checks everything
    at least every ``sweep_seconds``. The transcript of every session Claude Code is running now
    (``<root>/sessions/<pid>.json`` names it) is stat-ed on every refresh too, however old: a
    session resumed days later answers with the turn that just happened.
    """

    def __init__(self, *, hot_seconds: float = 86_400, sweep_seconds: float = 60) -> None:
        self.hot_seconds = hot_seconds
        self.sweep_seconds = sweep_seconds
        self._listings: dict[str, tuple[int, Listing]] = {}  # by folder: its mtime, its entries
        self._files: dict[str, Found] = {}
        self._known: dict[str, tuple[Any, ...]] | None = None
        self._data_version: int | None = None
        self._last_sweep = -math.inf
        self._sweeping = True  # this scan lists and stats everything again (set by scan())
        self._running: set[str] = set()
        self._cold_before = -math.inf

    def known(self, db: Database) -> dict[str, tuple[Any, ...]]:
        """The files table as plain rows, re-read when another connection changed the ledger."""
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if self._known is None or version != self._data_version:
            self._known = known_files(db.conn)
            self._data_version = version
        return self._known

    def forget_known(self) -> None:
        self._known = None

    def scan(self, roots: Iterable[Path], errors: list[Error]) -> list[Found]:
        """Like a full scan, but reusing what has not changed (see the class docstring)."""
        now = time.time()
        self._sweeping = now - self._last_sweep >= self.sweep_seconds
        if self._sweeping:
            self._last_sweep = now
            self._files = {}
        self._cold_before = now - self.hot_seconds  # a file last modified before is cold
        self._running = running_sessions(roots)
        # Bound methods, not closures: one call less for each of thousands of files.
        return list(walk(roots, errors, self._listing, self._file))

    def _listing(self, directory: str, errors: list[Error]) -> tuple[Listing, bool] | None:
        try:
            mtime = os.stat(directory).st_mtime_ns
            cached = self._listings.get(directory)
            if cached is not None and cached[0] == mtime and not self._sweeping:
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

    def _file(self, name: str, path: str, root: str, relisted: bool, errors: list[Error]) -> Found | None:
        previous = self._files.get(path)
        if (
            previous is not None
            and not relisted
            and previous.stat.st_mtime < self._cold_before
            and name not in self._running
        ):
            return previous  # cold: left for the next sweep
        try:
            item = Found(path, root, os.stat(path))
        except OSError as exc:
            errors.append((path, describe(exc)))
            return None
        self._files[path] = item
        return item
