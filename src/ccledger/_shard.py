"""A helper indexer: ``python -m ccledger._shard`` indexes the files a large refresh shares with it.

It reads ``{"ledger": path, "files": [[path, root], ...]}`` on stdin and writes JSON lines on
stdout: ``{"done": bytes}`` as it goes, then ``{"stats": ...}``. See ``index.refresh``.
"""

from __future__ import annotations

import json
import sys

from .db import open_db
from .index import index_files


def main() -> None:
    request = json.loads(sys.stdin.read())
    db = open_db(request["ledger"])
    try:

        def progress(done: int) -> None:
            print(json.dumps({"done": done}), flush=True)

        stats = index_files(db, [(path, root) for path, root in request["files"]], progress=progress)
        print(json.dumps({"stats": stats.model_dump(mode="json")}), flush=True)
    finally:
        db.close()


if __name__ == "__main__":
    main()
