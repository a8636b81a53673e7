"""What a refresh must read: the transcript files on disk, and where to start reading each.

A file is planned when the ledger has not recorded it exactly as it is now (identity, size,
mtime). Its plan starts just past the last complete line read, or at 0 when the file is new,
shrank or was replaced. This module touches the filesystem and reads rows it is given; it
imports nothing slow, so that ``ccledger index`` can plan before the rest of it has loaded
(see ``headstart``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import paths

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

__all__ = [
    "KNOWN_FILES_SQL",
    "Error",
    "Found",
    "Known",
    "Plan",
    "describe",
    "is_regular",
    "known_files",
    "make_plans",
    "planned_bytes",
    "scan",
    "split",
    "unchanged",
]

KNOWN_FILES_SQL = """
select id, path, device, inode, size, mtime_ns, head_sha1, head_len, read_offset,
       missing_since_utc, error
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


def scan(roots: Iterable[Path], errors: list[Error]) -> Iterator[Found]:
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
                        yield Found(entry.path, root_text, entry.stat())
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)  # a folder named x.jsonl may still hold transcripts
                    elif entry.is_dir(follow_symlinks=False):  # links to folders are not followed: loops
                        stack.append(entry.path)
                except OSError as exc:
                    errors.append((entry.path, describe(exc)))


def describe(exc: OSError) -> str:
    """An OS error as a file's stored error: ``permission denied``, ``is a directory``, ..."""
    return (exc.strerror or type(exc).__name__).lower()


def unchanged(row: tuple[Any, ...], st: os.stat_result) -> bool:
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


def make_plans(found: Iterable[Found], known: dict[str, tuple[Any, ...]]) -> list[Plan]:
    """Where to start reading each new or changed file; ``known`` maps paths to KNOWN_FILES_SQL rows."""
    plans: list[Plan] = []
    for item in found:
        row = known.get(item.path)
        if row is not None and unchanged(row, item.stat):
            continue
        previous = Known._make(row) if row is not None else None
        plans.append((item, previous, _start(item, previous)))
    return plans


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
