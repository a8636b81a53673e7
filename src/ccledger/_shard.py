"""A helper reader: ``python -m ccledger._shard`` reads files a large refresh shares with it.

Its stdin carries one JSON line, ``{"ledger": path, "plans": [[path, start, known row], ...]}``,
then the numbers of plans the refresh claimed for itself, a line each. It reads the plans in
order, stopping before the lowest claimed, and writes what each produced to stdout as msgpack
frames (see ``index._Helper``). It opens the ledger only to look up the repositories it already
knows; it never writes to it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from .db import open_db
from .index import no_gc, read_shared, write_frames


class _Stdin:
    """The request, then the lowest claimed plan number as claims arrive.

    Read from the file descriptor on a thread of its own: a thread blocked in ``sys.stdin``
    holds its lock, and the interpreter would wait a second for it at exit.
    """

    def __init__(self) -> None:
        self.request: dict[str, Any] | None = None
        self.limit = sys.maxsize
        self._has_request = threading.Event()
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        pending = b""
        try:
            while chunk := os.read(0, 1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if self.request is None:
                        self.request = json.loads(line)
                        self._has_request.set()
                    else:
                        self.limit = min(self.limit, int(line))
        finally:
            self._has_request.set()

    def wait_for_request(self) -> dict[str, Any]:
        self._has_request.wait()
        if self.request is None:
            raise SystemExit("ccledger._shard: no request on stdin")
        return self.request

    def __call__(self) -> int:
        return self.limit


def main() -> None:
    stdin = _Stdin()
    request = stdin.wait_for_request()
    db = open_db(request["ledger"])
    try:
        with no_gc():
            write_frames(sys.stdout.buffer, read_shared(db, request["plans"], stdin))
    finally:
        db.close()


if __name__ == "__main__":
    main()
