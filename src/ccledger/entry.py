"""The ``ccledger`` console script: routes ``statusline`` before the rest of the CLI is imported.

Claude Code runs the statusline command on every tick; importing click, rich and pydantic would
cost it several times its time budget.
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
    from .cli import main as cli

    try:
        cli()
    finally:
        # The process ends here: spare its shutdown the collector's passes over every object
        # still alive (pydantic's schemas, a first index's leftovers), 30 ms of 50. The memory
        # goes back to the system either way, and nothing left holds a resource to release.
        gc.freeze()
