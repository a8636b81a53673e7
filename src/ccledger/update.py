"""Bring the ledger up to date: the one call every surface makes before it answers.

An answer needs three things current, in this order: the transcripts' new lines (``ingest``),
the prices (``pricing``: a model seen for the first time is resolved), and the rollup that sums
priced responses per bucket (``ledger.rollup``). A large refresh's helper process, when there is
one, is still running when the rollup is rebuilt and takes part of it: that hand-over happens
here, so neither the pricing nor a surface has to know a helper exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ingest import index
from .ingest.stats import IndexStats
from .ledger import rollup
from .ledger.activity_rollup import refresh_activity_rollup
from .ledger.db import read_only
from .pricing import table as pricing

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from sqlite_utils import Database

    from .ingest.scan import ScanCache
    from .ingest.speedups.headstart import HeadStart

__all__ = ["update"]


def update(
    db: Database,
    roots: Iterable[Path] | None = None,
    *,
    prices_file: Path | str | None = None,
    progress: index.ProgressCallback | None = None,
    cache: ScanCache | None = None,
    head_start: HeadStart | None = None,
) -> IndexStats:
    """Index what is new under ``roots`` (default: Claude's), then bring the prices (built-in,
    the user's file, ``prices_file``) and the rollup up to date. ``progress``, ``cache`` and
    ``head_start`` are :func:`index.refresh`'s. A bad prices file raises ``PriceFileError``
    once the new responses are safely written. A ledger opened read-only is left as it is
    (``read_only`` in the result): it answers from what it holds."""
    if read_only(db):
        if head_start is not None:
            head_start.close()
        return IndexStats(
            roots=[], files_seen=0, files_read=0, new_responses=0, bad_lines=0, seconds=0.0, read_only=True
        )

    def prices_then_rollup(share: rollup.RollupShare | None) -> None:
        pricing.ensure_prices(db, prices_file=prices_file)
        rollup.ensure_rollup(db, share)
        refresh_activity_rollup(db)  # once built (by the first activity answer), kept up to date

    return index.refresh(db, roots, progress=progress, cache=cache, head_start=head_start, finish=prices_then_rollup)
