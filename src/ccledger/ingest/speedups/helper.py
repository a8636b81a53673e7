"""The helper process of a large refresh: ``python -m ccledger.ingest.speedups.helper``.

A first index of months of history is CPU-bound, and one Python process uses one core. The
refresh (``helper_client.Helper``) starts this process and shares its list of planned files with it.
The helper reads them and sends back what each produced; the refresh is the only writer.

Its stdin carries JSON lines: first ``{"ledger": path, "plans": [[path, start, known head], ...]}``,
then ``{"claim": n}`` for each plan the refresh took for itself and ``{"rollup": [dirty, since]}``
for rollup rows it asks for. The helper reads the plans in order, stopping before the lowest
claimed, and writes msgpack frames to stdout: a :class:`ReadMessage` per plan, then a
:class:`DoneMessage`. It then checkpoints the ledger's log and answers rollup requests with
:class:`RollupMessage` until its stdin ends.

It imports neither sqlite-utils nor pydantic: the refresh waits for its first results.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, BinaryIO

import msgspec

from ... import paths
from ...ledger.rollup import aggregate_rows
from ..file_result import FileResult, read_file
from ..lines import new_buffer
from ..repos import RepoCache
from .gcpause import no_gc

__all__ = ["DoneMessage", "ReadMessage", "RollupMessage", "read_frames", "serve", "write_frames"]


class ReadMessage(msgspec.Struct, tag="read", array_like=True):
    """What reading plan ``number`` produced."""

    number: int
    result: FileResult


class DoneMessage(msgspec.Struct, tag="done", array_like=True):
    """Every plan the helper was to read is read."""


class RollupMessage(msgspec.Struct, tag="rollup", array_like=True):
    """The rollup rows the refresh asked for (see ``rollup.aggregate_rows``)."""

    rows: list[tuple[Any, ...]]


DECODER = msgspec.msgpack.Decoder(ReadMessage | DoneMessage | RollupMessage)


def write_frames(out: BinaryIO, messages: Iterable[Any]) -> None:
    """Send messages to :func:`read_frames` on the other end of a pipe: msgpack, length first."""
    encode = msgspec.msgpack.Encoder().encode
    for message in messages:
        frame = encode(message)
        out.write(len(frame).to_bytes(4, "little"))
        out.write(frame)
        out.flush()


def read_frames(stream: IO[bytes]) -> Iterator[bytes]:
    """The frames :func:`write_frames` sent, until the stream ends; ValueError if it ends in one."""
    while header := stream.read(4):
        size = int.from_bytes(header, "little")
        frame = stream.read(size)
        if len(header) < 4 or len(frame) < size:
            raise ValueError("the helper's output ended inside a frame")
        yield frame


def read_shared(
    repos: RepoCache, plans: list[list[Any]], limit: Callable[[], int] | None = None
) -> Iterator[ReadMessage]:
    """Read planned files in order, stopping before plan number ``limit()``, and yield what each
    produced. ``plans`` are ``[path, start, [head sha1, head length, tail sha1] or None]``."""
    machine = paths.machine_name()
    buffer = new_buffer()
    for number, (path, start, known_head) in enumerate(plans):
        if limit is not None and number >= limit():
            return
        yield ReadMessage(number, read_file(path, start, known_head, repos, machine, buffer))


def known_repos(ledger: str) -> RepoCache:
    """The repos the ledger knows; none when it is not there yet or not yet migrated: a helper
    started ahead of the refresh (see ``headstart``) may start before the ledger does."""
    try:
        with contextlib.closing(_connect(ledger)) as db:
            return RepoCache(db)
    except sqlite3.Error:
        return RepoCache(None)


def _connect(ledger: str) -> sqlite3.Connection:
    """A plain connection to the ledger, read-write as the refresh opens it, but never creating
    it (sqlite3.OperationalError when it is not there); this process never writes a row."""
    return sqlite3.connect(paths.sqlite_uri(ledger, mode="rw"), uri=True, timeout=60)


class _Stdin:
    """The request, the lowest claimed plan number as claims arrive, and the rollup requests.

    Read from the file descriptor on a thread of its own: a thread blocked in ``sys.stdin``
    holds its lock, and the interpreter would wait a second for it at exit.
    """

    def __init__(self) -> None:
        self.request: dict[str, Any] | None = None
        self.limit = sys.maxsize
        self._has_request = threading.Event()
        self._rollups: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        pending = b""
        try:
            while chunk := os.read(0, 1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if self.request is None:
                        self.request = message
                        self._has_request.set()
                    elif "claim" in message:
                        self.limit = min(self.limit, message["claim"])
                    else:
                        self._rollups.put(message["rollup"])
        finally:
            self.limit = -1  # the refresh is done or gone: read no more
            self._has_request.set()
            self._rollups.put(None)

    def wait_for_request(self) -> dict[str, Any]:
        self._has_request.wait()
        if self.request is None:
            raise SystemExit("ccledger.ingest.speedups.helper: no request on stdin")
        return self.request

    def rollup_requests(self) -> Iterator[list[Any]]:
        while (request := self._rollups.get()) is not None:
            yield request

    def __call__(self) -> int:
        return self.limit


def serve() -> None:
    """Run as the helper: answer the refresh on stdin and stdout (see the module docstring)."""
    stdin = _Stdin()
    request = stdin.wait_for_request()
    ledger = request["ledger"]
    out = sys.stdout.buffer
    db: sqlite3.Connection | None = None
    try:
        with no_gc():
            write_frames(out, read_shared(known_repos(ledger), request["plans"], stdin))
        write_frames(out, [DoneMessage()])
        # Opened only now: the ledger exists and is migrated once the refresh has written a
        # result. The refresh is writing its last batches: copy what it has committed into the
        # ledger file now, so that neither its next commit nor its close has the whole log to copy.
        with contextlib.suppress(sqlite3.Error):  # not written yet: nothing to copy
            db = _connect(ledger)
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        for dirty, since in stdin.rollup_requests():
            db = db or _connect(ledger)  # asked for only once everything is written: it is there
            write_frames(out, [RollupMessage(aggregate_rows(db, dirty, since, None))])
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the refresh's last writes, likewise
    finally:
        if db is not None:
            db.close()
        out.flush()
    os._exit(0)  # nothing is left to clean up, and the refresh waits for this process to end


if __name__ == "__main__":
    serve()
