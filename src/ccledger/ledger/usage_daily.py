"""The usage rollup per UTC day: its table, and how its rows are summed from the 15-minute ones.

A year of a heavy user's usage is tens of thousands of 15-minute rows (one per bucket, session,
model, repo, branch and machine) but a few thousand daily ones, since a session mostly lives
within a day. ``rollup`` keeps it in step with ``usage_rollup``; ``answers.facts`` reads a long
window's whole days from it. ``usage_hourly``, the same sums per UTC hour (about a third of the
15-minute rows), serves the days two of a question's groups share (by day in New York, every
one): their whole hours are local ones almost everywhere.
"""

from __future__ import annotations

import textwrap

__all__ = ["USAGE_DAILY_SQL", "USAGE_DAY_SUMS_SQL", "USAGE_HOURLY_SQL", "USAGE_HOUR_SUMS_SQL"]


def _table_sql(table: str, grain: str, shape: str, purpose: str) -> str:
    """usage_rollup's sums per period ``grain`` (its text is a ``shape``): the columns of both levels."""
    return textwrap.dedent(f"""
        -- usage_rollup summed per UTC {grain} (see ledger.rollup): {purpose}.
        CREATE TABLE {table} (
            {grain}_utc TEXT NOT NULL,  -- {shape}
            {grain}_minute INTEGER NOT NULL,  -- its start, in minutes since 1970 UTC
            source TEXT NOT NULL,
            session_id TEXT, model TEXT NOT NULL, canonical_model TEXT, repo_id TEXT, git_branch TEXT, machine TEXT,
            responses INTEGER NOT NULL, subagent_responses INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL, cache_write_5m_tokens INTEGER NOT NULL,
            cache_write_1h_tokens INTEGER NOT NULL, cache_read_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL,
            web_search_requests INTEGER NOT NULL, cost_nanousd INTEGER NOT NULL, unpriced_responses INTEGER NOT NULL,
            unpriced_tokens INTEGER NOT NULL, first_utc TEXT NOT NULL, last_utc TEXT NOT NULL
        );
        CREATE INDEX {table}_{grain} ON {table}({grain}_utc);
    """).strip()


USAGE_DAILY_SQL = (
    _table_sql("usage_daily", "day", "YYYY-MM-DD", "long windows read whole days here")
    + "\nCREATE INDEX usage_daily_unpriced ON usage_daily(model) WHERE unpriced_responses > 0;"
)
USAGE_HOURLY_SQL = _table_sql("usage_hourly", "hour", "YYYY-MM-DDTHH", "the days local days split read hours here")


_SUMMED_COLUMNS = """
    source, session_id, model, canonical_model, repo_id, git_branch, machine, responses,
    subagent_responses, input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    cache_read_tokens, total_tokens, web_search_requests, cost_nanousd, unpriced_responses, unpriced_tokens,
    first_utc, last_utc
"""


def _sums_sql(table: str, grain: str, start: int, minutes: int) -> str:
    """``table``'s rows from ``{rows}``, rows of usage_rollup, per period ``grain`` (its text is
    the first ``start`` characters of a bucket's, and it lasts ``minutes``)."""
    return f"""
insert into {table} ({grain}_utc, {grain}_minute, {_SUMMED_COLUMNS})
select substr(bucket_utc, 1, {start}), bucket_minute / {minutes} * {minutes}, source, session_id, model,
       canonical_model, repo_id, git_branch, machine, sum(responses), sum(subagent_responses), sum(input_tokens),
       sum(output_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(cache_read_tokens),
       sum(total_tokens), sum(web_search_requests), sum(cost_nanousd), sum(unpriced_responses),
       sum(unpriced_tokens), min(first_utc), max(last_utc)
from {{rows}}
group by 1, source, session_id, model, canonical_model, repo_id, git_branch, machine
"""


USAGE_DAY_SUMS_SQL = _sums_sql("usage_daily", "day", 10, 1440)
"""usage_daily's rows from ``{rows}``, rows of usage_rollup (all of it, or some days: see ``rollup``)."""
USAGE_HOUR_SUMS_SQL = _sums_sql("usage_hourly", "hour", 13, 60)
"""usage_hourly's rows from ``{rows}``, likewise."""
