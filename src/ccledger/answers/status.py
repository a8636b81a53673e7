"""The ledger's own state: what it reads, what it holds, and what it could not use or price."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..models import IndexStats, IndexStatus, ProblemCount, RootStatus, UnpricedModel
from .facts import Facts
from .periods import any_day

if TYPE_CHECKING:
    from sqlite_utils import Database

__all__ = ["index_status"]

# From the daily rollup: the same sums as the 15-minute one in an eighth of the rows.
LEDGER_FACTS_SQL = """
select coalesce(sum(responses), 0) as responses, min(first_utc) as first_utc, max(last_utc) as last_utc
from usage_daily where source = 'dev'
"""


FILE_FACTS_SQL = """
select count(*) as files,
       coalesce(sum(missing_since_utc is not null), 0) as deleted,
       coalesce(sum(error is null and size > read_offset), 0) as partial
from files
"""


ROOT_FILES_SQL = "select count(*) from files where root = :root"


UNREADABLE_SQL = "select path, error from files where error is not null order by path"


PROBLEMS_SQL = """
select kind, sum(count) as lines, count(distinct file_id) as files
from file_problems group by kind order by lines desc
"""


LAST_CHANGE_SQL = "select max(finished_utc) from index_runs"


def index_status(
    db: Database,
    *,
    roots: Iterable[os.PathLike[str] | str],
    ledger_path: str,
    prices_path: str,
    refresh: IndexStats | None = None,
) -> IndexStatus:
    """The ledger's state: files, responses, problems, unpriced models and how to price them."""
    facts = next(db.query(LEDGER_FACTS_SQL))
    files = next(db.query(FILE_FACTS_SQL))
    # Production rows too: an unpriced model from a pulled source must not hide either.
    everything = Facts(None, {}, source="all", whole=any_day)
    unpriced = everything.scan(db, "model", where="where unpriced_responses > 0").unpriced_models()
    problems = [ProblemCount(**row) for row in db.query(PROBLEMS_SQL)]
    return IndexStatus(
        ledger_path=ledger_path,
        ledger_bytes=sum(_size(ledger_path + suffix) for suffix in ("", "-wal")),
        roots=[
            RootStatus(
                path=str(root),
                exists=os.path.isdir(os.path.join(root, "projects")),
                files=db.execute(ROOT_FILES_SQL, {"root": str(root)}).fetchone()[0],
            )
            for root in roots
        ],
        files=files["files"],
        files_deleted=files["deleted"],
        files_unreadable=[{"path": row["path"], "error": row["error"]} for row in db.query(UNREADABLE_SQL)],
        files_with_partial_last_line=files["partial"],
        responses=facts["responses"],
        first_response_utc=facts["first_utc"],
        last_response_utc=facts["last_utc"],
        last_change_utc=db.execute(LAST_CHANGE_SQL).fetchone()[0],
        bad_lines=sum(problem.lines for problem in problems),
        problems=problems,
        unpriced_models=unpriced,
        how_to_add_prices=_how_to_price(unpriced, prices_path),
        refresh=refresh,
    )


def _how_to_price(unpriced: list[UnpricedModel], prices_path: str) -> str | None:
    """What to put in the prices file for the models (or fast modes) that have no price."""
    unknown = [model.model for model in unpriced if model.reason == "unknown model"]
    no_fast = [model.model for model in unpriced if model.reason == "no fast-mode price"]
    hints = []
    if unknown:
        hints.append(
            f"No price is known for: {', '.join(unknown)}. Their tokens are counted but their cost is left out. "
            f"Add an entry per model to {prices_path} (or pass --prices FILE), e.g. "
            f'[models."{unknown[0]}"] then [[models."{unknown[0]}".periods]] with '
            "from = 2025-01-01, input_mtok = 3, output_mtok = 15 (USD per million tokens)."
        )
    if no_fast:
        hints.append(
            f"No fast-mode price is known for: {', '.join(no_fast)}. Their responses with speed 'fast' are "
            "counted but their cost is left out (standard prices would understate them several times). If the "
            f"model has a fast mode, copy its entry into {prices_path} and add to its period "
            "fast = { input_mtok = ..., output_mtok = ... } (USD per million tokens)."
        )
    if not hints:
        return None
    return " ".join(hints) + " Every answer then prices all history; nothing is re-indexed."


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
