"""The ``ccledger`` console script: what must happen before the rest of the CLI is imported.

Claude Code runs the statusline command on every tick; importing click, rich and pydantic would
cost it several times its time budget. ``ccledger index`` plans its reading and starts its helper
process first (see ``headstart``), so that the helper reads while this process imports.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["main"]


def main() -> None:
    """Run ``ccledger``."""
    if sys.argv[1:2] == ["statusline"]:
        from .statusline import main as statusline

        statusline()
        return
    head_start = None
    if sys.argv[1:2] == ["index"]:
        from .headstart import start

        head_start = start(sys.argv[2:])
    from .cli import main as cli

    try:
        cli(head_start)
    finally:
        if head_start is not None:
            head_start.close()  # a usage error: no refresh took it
        # The process ends here: spare its shutdown the collector's passes over every object
        # still alive (pydantic's schemas, a first index's leftovers), 30 ms of 50. The memory
        # goes back to the system either way, and nothing left holds a resource to release.
        gc.freeze()
