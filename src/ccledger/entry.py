"""The ``ccledger`` console script: routes ``statusline`` before the rest of the CLI is imported.

Claude Code runs the statusline command on every tick; importing click, rich and pydantic would
cost it several times its time budget.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Run ``ccledger``."""
    if sys.argv[1:2] == ["statusline"]:
        from .statusline import main as statusline

        statusline()
        return
    from .cli import main as cli

    cli()
