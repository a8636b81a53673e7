"""One planned file read into what the ledger needs of it.

Its new usage lines are parsed (``lines``), the file's own copies of each response reduced to
the one that outranks the others, each made a row of the ``responses`` table, and its new
working directories resolved to repos. The indexer does this for the files it reads and its
helper process for the others, so the result is a msgspec Struct: the helper sends it over a
pipe. Nothing here writes to the ledger.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from .activity import Activity
from .activity_rows import ActivityRows, cwds_of, rows_of, tools_by_response
from .lines import OPEN_FLAGS, FileRead, read_at, read_head, read_usage_lines
from .repos import RepoCache, RepoIdentity
from .scan import Found, Known, describe, is_regular
from .transcript import Rank, Response, rank_of

__all__ = [
    "HEAD_BYTES",
    "KEY",
    "MESSAGE_ID",
    "TIMESTAMP",
    "Candidates",
    "FileResult",
    "Outcome",
    "forks_of",
    "read_file",
    "read_planned",
    "sha1",
]

HEAD_BYTES = 4096
"""A file's first bytes, hashed: the same inode with another head was rewritten in place."""

TAIL_BYTES = 1024
"""The bytes before where a read stopped, hashed: a file rewritten in place that kept its head
but not what came before that offset is read again from its start (keys keep it from counting
twice), instead of its responses before the offset being missed."""

# Positions in a row (see _row) that the merge reads.
KEY, MESSAGE_ID, TIMESTAMP = 0, 1, 3


Candidates = list[tuple[Rank, tuple[Any, ...]]]
"""One file's responses made ready to merge before the write lock is taken: of each key the copy
that wins within the file, with its rank and its row (without the file id, known only later)."""


class FileResult(msgspec.Struct, array_like=True):
    """What reading one planned file produced."""

    start: int  # where reading began: 0 after a rewrite in place was noticed
    head_sha1: str = ""  # of the file's first HEAD_BYTES, hashed where it was read
    head_len: int = 0
    tail_sha1: str | None = None  # of the TAIL_BYTES before the read's end_offset
    error: str | None = None
    read: FileRead | None = None  # without its responses, once they are in `merge`
    identities: dict[str, RepoIdentity] = {}  # cwds the ledger does not know yet
    merge: Candidates | None = None
    # Forks this file shows: a fork's session -> [the session it copied last from, that copy's time].
    forks: dict[str, list[str]] = {}
    activity: ActivityRows | None = None


def read_file(
    path: str,
    start: int,
    known_head: tuple[str | None, int, str | None] | None,
    repos: RepoCache,
    machine: str,
    buffer: bytearray,
) -> FileResult:
    """Parse a regular file's complete lines from ``start`` and de-duplicate them within the file.

    ``known_head`` is the (head sha1, head length, tail sha1) the ledger recorded for it, if any.
    """
    result = FileResult(start)
    try:
        fd = os.open(path, OPEN_FLAGS)
        try:
            head = read_head(fd, HEAD_BYTES)
            result.head_sha1, result.head_len = sha1(head), len(head)
            if start and known_head is not None:
                known_sha1, known_len, known_tail = known_head
                now_sha1 = result.head_sha1 if known_len == len(head) else sha1(head[:known_len])
                if now_sha1 != known_sha1 or (known_tail is not None and _tail_sha1(fd, start) != known_tail):
                    result.start = 0  # same inode, different start: the file was rewritten in place
            read = read_usage_lines(fd, result.start, buffer)
            result.tail_sha1 = _tail_sha1(fd, read.end_offset)
        finally:
            os.close(fd)
    except OSError as exc:
        result.error = describe(exc)
        return result
    result.identities = repos.resolve_all({r.cwd for r in read.responses if r.cwd} | cwds_of(read.activity))
    repo_id = repos.lookup(result.identities)
    result.merge = _candidates(read.responses, machine, repo_id, tools_by_response(read.activity))
    result.forks = forks_of(read.responses)
    result.activity = rows_of(read.activity, read.responses, repo_id, result.forks, agent_type_of(path))
    read.responses, read.activity = [], Activity()  # all that is written of them is in merge and activity
    result.read = read
    return result


class _AgentMeta(msgspec.Struct, rename="camel"):
    agent_type: str | None = None


_AGENT_META = msgspec.json.Decoder(_AgentMeta)
_META_BYTES = 1 << 16  # a subagent's meta.json is a few hundred bytes


def agent_type_of(path: str) -> tuple[str, str] | None:
    """(agent id, agent type) of a subagent transcript, from the ``agent-<id>.meta.json`` Claude
    Code writes beside it (2.1.1xx on); None for other files, or when there is none."""
    directory, name = os.path.split(path)
    if not (name.startswith("agent-") and name.endswith(".jsonl")):
        return None
    try:
        fd = os.open(os.path.join(directory, name[:-6] + ".meta.json"), OPEN_FLAGS)
    except OSError:
        return None
    try:
        if not is_regular(os.fstat(fd)):
            return None
        meta = _AGENT_META.decode(read_head(fd, _META_BYTES))
    except (OSError, msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    finally:
        os.close(fd)
    if not meta.agent_type or not meta.agent_type.strip():
        return None
    return name[6:-6], meta.agent_type.strip()[:100]


def forks_of(responses: list[Response]) -> dict[str, list[str]]:
    """The forks that copies among ``responses`` reveal: of each session holding copies, the
    session of its latest copied response (the one it was forked from) and that response's time.
    A fork of a fork copies its grandparent's responses too, but its parent's come last."""
    forks: dict[str, list[str]] = {}
    for response in responses:
        fork = response.copied_into
        if fork is not None and response.session_id is not None:
            known = forks.get(fork)
            if known is None or response.timestamp_utc >= known[1]:
                forks[fork] = [response.session_id, response.timestamp_utc]
    return forks


def _tail_sha1(fd: int, end: int) -> str:
    """The sha1 of the TAIL_BYTES of ``fd`` before offset ``end`` (fewer near its start)."""
    begin = max(0, end - TAIL_BYTES)
    tail = bytearray(end - begin)
    return sha1(bytes(tail[: read_at(fd, memoryview(tail), begin)]))


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


_TOOLS = msgspec.json.Encoder()


def _candidates(
    records: list[Response],
    machine: str,
    repo_id: Callable[[str | None], str | None],
    tools: dict[str, list[str]],
) -> Candidates:
    """The file's own de-duplication, done while no lock is held (see ``merge.merge``). Each
    response's row carries every tool it called, from whichever of its lines named them."""
    best: dict[str, tuple[Rank, tuple[Any, ...]]] = {}
    for record in records:
        rank = rank_of(record.is_sidechain, record.total_tokens, record.speed is not None, record.from_progress)
        kept = best.get(record.key)
        if kept is None or rank > kept[0]:
            called = tools.get(record.key)
            row = _row(record, machine, repo_id(record.cwd), _TOOLS.encode(called).decode() if called else "")
            best[record.key] = (rank, row)
    return list(best.values())  # the key is the row's first column: it travels once


def _row(record: Response, machine: str, repo_id: str | None, tools: str) -> tuple[Any, ...]:
    """The response's columns in ``merge.INSERT_RESPONSE_SQL``'s order, but for the file id that
    ends it; as that statement takes them: "" for a missing text (merge.NULLABLE_TEXT), 0 or 1
    for a flag."""
    return (
        record.key, record.message_id or "", record.request_id or "", record.timestamp_utc,
        record.session_id or "", record.agent_id or "", 1 if record.is_sidechain else 0, record.model,
        record.input_tokens, record.output_tokens, record.cache_write_5m_tokens, record.cache_write_1h_tokens,
        record.cache_read_tokens, record.web_search_requests, record.speed or "", record.service_tier or "",
        record.inference_geo or "", record.cwd or "", record.git_branch or "", repo_id or "", machine,
        record.cc_version or "", 1 if record.from_progress else 0, tools,
    )  # fmt: skip


@dataclass(slots=True)
class Outcome:
    """A planned file and what reading it produced, waiting to be written with its batch."""

    item: Found
    previous: Known | None
    start: int  # as planned
    result: FileResult


def read_planned(
    item: Found, previous: Known | None, start: int, repos: RepoCache, machine: str, buffer: bytearray
) -> Outcome:
    """Read a planned file. Touches the filesystem only: no lock is held."""
    if not is_regular(item.stat):
        return Outcome(item, previous, start, FileResult(start, error="not a regular file"))
    known_head = (previous.head_sha1, previous.head_len, previous.tail_sha1) if previous is not None else None
    return Outcome(item, previous, start, read_file(item.path, start, known_head, repos, machine, buffer))
