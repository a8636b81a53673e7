"""A large refresh's helper process, started before the rest of ``ccledger index`` is imported.

Importing the CLI, sqlite-utils and pydantic keeps one core busy for a fifth of a second, and
a large refresh starts its helper process only once it has planned what to read. Planning needs
little: the roots, the ledger's ``files`` table (none yet before a first index) and a scan. So
the console script plans first and starts the helper at once, and the helper reads while this
process imports. Before a first index (no ledger yet) the helper process is started before even
the plans are made: its own start-up is as long as this process's planning. The refresh adopts
the head start only if it still holds against the ledger it opened (same roots, same ledger
file, the same plans); otherwise it ends the helper and plans again. Either way it uses the
scan made here rather than scanning twice.

This module's imports are light: everything slow is imported once the helper has started.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, Any

from ... import paths
from . import spawn

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from ..scan import Error, Found, Plan
    from .helper_client import Helper

__all__ = ["HeadStart", "start"]


class HeadStart:
    """A scan of ``roots`` made at start-up, and the helper reading what it planned, if any."""

    def __init__(self, roots: list[Path], ledger: str, found: list[Found], errors: list[Error], started: float) -> None:
        self.started = started  # time.perf_counter() when the command began
        self.roots, self.ledger, self.found, self.errors = roots, ledger, found, errors
        self.helper: Helper | None = None

    def holds_for(self, roots: list[Path], ledger: str | None) -> bool:
        """Whether this head start was made for a refresh of ``roots`` into ``ledger``."""
        if ledger is None or [str(root) for root in roots] != [str(root) for root in self.roots]:
            return False
        try:
            return os.path.samefile(ledger, self.ledger)
        except OSError:
            return False

    def adopt(self, shared: list[Plan]) -> Helper | None:
        """The helper, if it is reading exactly ``shared`` (the refresh's plans for it); else
        None, and the helper is ended."""
        helper = self.helper
        if helper is not None and helper.plans == shared:
            self.helper = None
            return helper
        self.close()
        return None

    def close(self) -> None:
        """End the helper if no refresh adopted it (a usage error, a change of plans)."""
        if self.helper is not None:
            self.helper.close()
            self.helper = None


def start(args: list[str]) -> HeadStart | None:
    """A head start for ``ccledger index`` with these arguments; None where click has to decide
    what they mean (help, a mistake), or where there is enough to share and the ledger cannot
    be read without its migrations."""
    started = time.perf_counter()
    roots = _roots(args)
    if roots is None:
        return None
    ledger = paths.db_file()
    first = not os.path.exists(ledger)  # most likely a large refresh: start the helper now
    process = _spawn_quietly() if first and spawn.usable_cpus() > 1 else None
    from ..scan import make_plans, planned_bytes, scan, split
    from .helper_client import Helper

    errors: list[Error] = []
    head_start = HeadStart(roots, ledger, list(scan(roots, errors)), errors, started)
    # Whole files bound what can be planned: below the threshold, the ledger's files table need
    # not be read here as well as by the refresh (5 ms for 3,000 files, on every run).
    plans: list[Plan] = []
    if spawn.worth_sharing(sum(item.stat.st_size for item in head_start.found)):
        known = {} if first else _known_files(ledger)
        if known is None:
            return None
        plans = make_plans(head_start.found, known)
    if not spawn.worth_sharing(sum(planned_bytes(plan) for plan in plans)):
        if process is not None:
            process.kill()  # it was waiting for plans: nothing is lost
            process.communicate()
        return head_start
    with contextlib.suppress(OSError):  # no process to spare: the refresh tries again, or reads alone
        head_start.helper = Helper(ledger, split(plans)[1], process)
    return head_start


def _spawn_quietly() -> subprocess.Popen[bytes] | None:
    try:
        return spawn.spawn_helper()
    except OSError:
        return None  # no process to spare: the refresh tries again, or reads alone


def _roots(args: list[str]) -> list[Path] | None:
    """The roots ``--root`` names, else the default ones, as ``ccledger index`` takes them."""
    from pathlib import Path

    named: list[Path] = []
    rest = iter(args)
    for arg in rest:
        if arg in ("--json", "--quiet"):
            continue
        if arg == "--root":
            value = next(rest, None)
        elif arg.startswith("--root="):
            value = arg.removeprefix("--root=")
        else:
            return None
        if not value or os.path.isfile(value):
            return None  # click turns these into a usage error
        named.append(Path(value))
    return named or paths.claude_roots()


def _known_files(ledger: str) -> dict[str, tuple[Any, ...]] | None:
    """The ledger's files table by path; None when it cannot be read as it is (an older schema:
    only the refresh's migrations make it readable)."""
    import sqlite3

    from ..scan import known_files

    try:
        with contextlib.closing(sqlite3.connect(paths.sqlite_uri(ledger, mode="ro"), uri=True, timeout=1)) as db:
            return known_files(db)
    except sqlite3.Error:
        return None
