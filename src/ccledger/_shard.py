"""A helper process: ``python -m ccledger._shard`` reads files a large refresh shares with it.

Its stdin carries JSON lines: first ``{"ledger": path, "plans": [[path, start, known row], ...]}``,
then ``{"claim": n}`` for each plan the refresh took for itself and ``{"rollup": [dirty, since]}``
for rollup rows it asks for. It reads the plans in order, stopping before the lowest claimed,
and writes msgpack frames to stdout (``index.ReadMessage`` per plan, then ``DoneMessage``); then
it checkpoints the ledger's log and answers rollup requests (``RollupMessage``) until its stdin
ends. It never writes a row: the refresh is the only writer. See ``index._Helper``.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from typing import Any

from . import rollup
from .db import open_db
from .index import DoneMessage, RollupMessage, no_gc, read_shared, write_frames


class _Stdin:
    """The request, the lowest claimed plan number as claims arrive, and the rollup requests.

    Read from the file descriptor on a thread of its own: a thread blocked in ``sys.stdin``
    holds its lock, and the interpreter would wait a second for it at exit.
    """

    def __init__(self) -> None:
        self.request: dict[str, Any] | None = None
        self.limit = sys.maxsize
        self._has_request = threading.Event()
        self._requests: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
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
                        self._requests.put(message["rollup"])
        finally:
            self.limit = -1  # the refresh is gone or done: read no more
            self._has_request.set()
            self._requests.put(None)

    def wait_for_request(self) -> dict[str, Any]:
        self._has_request.wait()
        if self.request is None:
            raise SystemExit("ccledger._shard: no request on stdin")
        return self.request

    def rollup_requests(self) -> Any:
        while (request := self._requests.get()) is not None:
            yield request

    def __call__(self) -> int:
        return self.limit


def main() -> None:
    stdin = _Stdin()
    request = stdin.wait_for_request()
    db = open_db(request["ledger"])
    out = sys.stdout.buffer
    try:
        with no_gc():
            write_frames(out, read_shared(db, request["plans"], stdin))
        write_frames(out, [DoneMessage()])
        # The refresh is writing its last batches: copy what it has committed into the ledger
        # file now, so that neither its next commit nor its close has the whole log to copy.
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        for dirty, since in stdin.rollup_requests():
            write_frames(out, [RollupMessage(rollup.aggregate_rows(db, dirty, since, None))])
    finally:
        db.close()
        out.flush()
    os._exit(0)  # nothing is left to clean up, and the refresh waits for this process to end


if __name__ == "__main__":
    main()
