"""The ``ccledger`` console script: what must happen before the rest of the CLI is imported.

Claude Code runs the statusline command on every tick; importing click, rich and pydantic would
cost it several times its time budget. ``ccledger index`` and ``ccledger report`` plan their
reading and start their helper process first (see ``headstart``), so that the helper reads
while this process imports.
"""

from __future__ import annotations

import gc
import os
import sys

__all__ = ["main"]


def main() -> None:
    """Run ``ccledger``."""
    if sys.argv[1:2] == ["statusline"]:
        from .surfaces.statusline import main as statusline

        statusline()
        return
    if sys.argv[1:2] not in (["index"], ["report"]):
        from .surfaces.cli import main as cli

        try:
            cli()
        finally:
            # The process ends here: spare its shutdown the collector's passes over every object
            # still alive (pydantic's schemas, mostly), 30 ms of 50. The memory goes back to the
            # system either way, and nothing left holds a resource to release.
            gc.freeze()
        return
    from .ingest.speedups.headstart import start

    # `report` reads the default roots whatever its arguments, and is most often a first answer.
    head_start = start(sys.argv[2:] if sys.argv[1] == "index" else [])
    from .surfaces.cli import main as cli

    try:
        cli(head_start)
    except SystemExit as done:  # how click ends every command, a success too
        status = done.code
    else:
        status = 0
    finally:
        if head_start is not None:
            head_start.close()  # a usage error: no refresh took it
    _exit_now(status)


def _exit_now(status: object) -> None:  # never returns (typing.NoReturn: not imported here)
    """End ``ccledger index`` (or ``report``) as ``sys.exit(status)`` would, without the interpreter's teardown.

    Tearing down the modules the command imported (click, sqlite-utils, msgspec, ...) takes
    15 ms of a process that has closed the ledger and ended its helper: it holds nothing that
    needs releasing, and no exit handler of its own. Its output is flushed first.
    """
    if status is None:
        code = 0
    elif isinstance(status, int):
        code = status
    else:
        print(status, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: as the interpreter reports a failed flush at exit
        code = code or 120
    os._exit(code)
