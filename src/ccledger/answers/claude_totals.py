"""Claude Code's own session totals (its ``cost-state`` lines), beside what its transcripts show.

For the sessions active in a window: the lines Claude Code says it added and removed, and the
**auxiliary cost**: per model and token kind, what its totals hold beyond the session's own
transcript lines (and, in a fork, beyond the lines it copied and its parent's excess), priced
like any response. It is never added to ``cost_usd``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..pricing.table import cost as price_of
from ..pricing.table import load_prices
from .facts import nano_to_usd

if TYPE_CHECKING:
    from sqlite_utils import Database

    from ..models import ActivityTotals

__all__ = ["add_reported"]

SESSIONS_IN_SQL = """
select distinct session_id from usage_rollup
where bucket_utc >= :start and bucket_utc < :end and source = 'dev' and session_id is not null {repo}
"""

SESSION_COSTS_SQL = "select session_id, lines_added, lines_removed, model_usage from session_costs"

FORKS_SQL = "select session_id, forked_from, copied_utc from session_forks"

SESSION_TOKENS_SQL = """
select session_id, model, max(last_utc) as last_utc, sum(input_tokens), sum(output_tokens),
       sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(cache_read_tokens), sum(web_search_requests)
from usage_rollup
where source = 'dev' and session_id in ({placeholders})
group by 1, 2
"""

COPIED_TOKENS_SQL = """
select model, sum(input_tokens), sum(output_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens),
       sum(cache_read_tokens), sum(web_search_requests)
from usage_rollup
where source = 'dev' and session_id = :session_id and bucket_utc <= :until
group by 1
"""


def add_reported(db: Database, totals: ActivityTotals, params: dict[str, Any], repo: str) -> None:
    """Claude Code's own figures for the sessions active in the window: the lines its totals say
    were added and removed, and the auxiliary cost (see the module docstring)."""
    states = {row[0]: row for row in db.execute(SESSION_COSTS_SQL)}
    if not states:
        return
    active = {row[0] for row in db.execute(SESSIONS_IN_SQL.format(repo=repo), params)} & states.keys()
    if not active:
        return
    forks = {fork: (parent, copied) for fork, parent, copied in db.execute(FORKS_SQL)}
    lineage = {session: _lineage(session, forks) for session in active}
    wanted = active | {chain[0][0] for chain in lineage.values() if chain}
    tokens = _session_tokens(db, wanted)
    last_seen: dict[str, str] = {}  # a session's last response: the moment its excess is priced at
    for (owner, _), (last, _) in tokens.items():
        last_seen[owner] = max(last, last_seen.get(owner, last))
    prices = load_prices()
    aux_nano = 0
    added = removed = 0
    for session in sorted(active):
        _, lines_added, lines_removed, model_usage = states[session]
        parent = lineage[session][0][0] if lineage[session] else None
        inherited = states.get(parent) if parent is not None else None
        added += max(0, (lines_added or 0) - ((inherited[1] or 0) if inherited else 0))
        removed += max(0, (lines_removed or 0) - ((inherited[2] or 0) if inherited else 0))
        excess = _excess(db, json.loads(model_usage), session, lineage[session], tokens)
        if inherited is not None and parent is not None:
            parent_chain = _lineage(parent, forks)
            parent_excess = _excess(db, json.loads(inherited[3]), parent, parent_chain, tokens)
            excess = {model: _minus(counts, parent_excess.get(model)) for model, counts in excess.items()}
        at = last_seen.get(session)
        for model, counts in excess.items():
            if any(counts) and at is not None:
                tokens_in, tokens_out, write_5m, write_1h, read, searches = counts
                usd = price_of(
                    prices, model, at=at, input_tokens=tokens_in, output_tokens=tokens_out,
                    cache_write_5m_tokens=write_5m, cache_write_1h_tokens=write_1h, cache_read_tokens=read,
                    web_search_requests=searches,
                )  # fmt: skip
                aux_nano += int((usd or Decimal(0)) * 10**9)
    totals.lines_added_reported = added
    totals.lines_removed_reported = removed
    totals.auxiliary_cost_usd = nano_to_usd(aux_nano)


def _lineage(session: str, forks: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """The sessions a fork copied from, nearest first, each with the time up to which it copied."""
    chain: list[tuple[str, str]] = []
    seen = {session}
    while session in forks and len(chain) < 20:
        parent, copied = forks[session]
        if parent in seen:
            break
        copied = min(copied, chain[-1][1]) if chain else copied
        chain.append((parent, copied))
        seen.add(parent)
        session = parent
    return chain


def _session_tokens(db: Database, sessions: set[str]) -> dict[tuple[str, str], tuple[str, list[int]]]:
    """(session, model) -> (its last response's time, its token counts: input, output, 5-minute and
    1-hour cache writes, cache reads, web searches; the order of ``model_usage``'s lists)."""
    found: dict[tuple[str, str], tuple[str, list[int]]] = {}
    ordered = sorted(sessions)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        sql = SESSION_TOKENS_SQL.format(placeholders=", ".join("?" * len(chunk)))
        for session, model, last, *counts in db.execute(sql, chunk):
            found[(session, model)] = (last, [int(count or 0) for count in counts])
    return found


def _excess(
    db: Database,
    reported: dict[str, list[int]],
    session: str,
    chain: list[tuple[str, str]],
    tokens: dict[tuple[str, str], tuple[str, list[int]]],
) -> dict[str, list[int]]:
    """Per model, what Claude Code's totals hold beyond the session's transcript lines (and the
    lines a fork copied: its parents' up to the copy)."""
    copied: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    for parent, until in chain:
        for model, *counts in db.execute(COPIED_TOKENS_SQL, {"session_id": parent, "until": until}):
            copied[model] = [a + int(b or 0) for a, b in zip(copied[model], counts, strict=True)]
    excess: dict[str, list[int]] = {}
    for model, counts in reported.items():
        written = tokens.get((session, model), ("", [0] * 6))[1]
        excess[model] = _minus(_minus(counts, written), copied.get(model))
    return excess


def _minus(counts: list[int], other: list[int] | None) -> list[int]:
    if other is None:
        return counts
    return [max(0, a - b) for a, b in zip(counts, other, strict=True)]
