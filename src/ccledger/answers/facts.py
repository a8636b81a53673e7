"""Facts: the rows every question is answered from, with the same columns wherever they come from.

Whole 15-minute buckets come from ``usage_rollup`` (see ``ledger.rollup``), and whole UTC days
from ``usage_daily`` where a question's groups allow (a day that two of them share, such as a
local month's first, is read by bucket); the parts of a window that do not fill a bucket (under
15 minutes at each end) come from ``response_costs`` itself; production records from
``prod_costs``. :class:`Facts` lists those parts for a window and filters, and
:meth:`Facts.scan` aggregates each in SQLite and merges them into a :class:`Tally`. Costs are
summed in integer nano-dollars and converted once, at the end (:func:`nano_to_usd`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..ledger import buckets
from ..models import UnpricedModel, Usage, UsageTotals

if TYPE_CHECKING:
    from sqlite_utils import Database

    from .periods import Window

__all__ = ["USAGE_FIELDS", "Facts", "Tally", "nano_to_usd", "split_total", "total", "usage_fields"]

FACT_COLUMNS = """
    source, session_id, model, canonical_model, repo_id, git_branch, machine, responses, subagent_responses,
    input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, total_tokens,
    web_search_requests, cost_nanousd, unpriced_responses, unpriced_tokens, first_utc, last_utc
"""


ROLLUP_FACTS_SQL = """
select bucket_utc as t, bucket_minute as m, {columns}
from usage_rollup
where bucket_utc >= :start and bucket_utc < :end {filters}
"""


# Whole UTC days [:start, :end) but those in :split (a JSON list), and buckets in :ranges ([[lo, hi], ...]).
DAILY_FACTS_SQL = """
select day_utc as t, day_minute as m, {columns}
from usage_daily
where day_utc >= :start and day_utc < :end and day_utc not in (select value from json_each(:split)) {filters}
"""
RANGES_FACTS_SQL = """
select r.bucket_utc as t, r.bucket_minute as m, {columns}
from json_each(:ranges) as span cross join usage_rollup as r
    on r.bucket_utc >= json_extract(span.value, '$[0]') and r.bucket_utc < json_extract(span.value, '$[1]')
where 1 {filters}
"""
DAYS_SQL = "select distinct day_utc from usage_daily where day_utc >= ? and day_utc < ?"
# The hours [:start, :end) of days :split but :split_hours (JSON lists): the days two groups share, by hour.
HOURLY_FACTS_SQL = """
select hour_utc as t, hour_minute as m, {columns}
from usage_hourly
where hour_utc >= :start and hour_utc < :end and substr(hour_utc, 1, 10) in (select value from json_each(:split))
    and hour_utc not in (select value from json_each(:split_hours)) {filters}
"""


# One response as a fact: the same columns as a rollup row.
RAW_FACTS_SQL = """
select timestamp_utc as t, cast(strftime('%s', timestamp_utc) as integer) / 60 as m, 'dev' as source,
       session_id, model, canonical_model, repo_id, git_branch, machine,
       1 as responses, is_sidechain as subagent_responses, input_tokens, output_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens, cache_read_tokens, total_tokens, web_search_requests,
       coalesce(cost_nanousd, 0) as cost_nanousd, cost_nanousd is null as unpriced_responses,
       case when cost_nanousd is null then total_tokens else 0 end as unpriced_tokens,
       timestamp_utc as first_utc, timestamp_utc as last_utc
from response_costs
where timestamp_utc >= :start and timestamp_utc < :end {filters}
"""


# A production record as a fact: the same columns, NULL for what only Claude Code has (session,
# branch, machine). ``responses`` counts the requests a record stands for: 1 for one request, and
# 1 per Admin API bucket row, which does not report how many (0 for a cost-report line). Prod rows
# are few (hourly buckets or single requests), so they are read straight from the view.
PROD_FACTS_SQL = """
select * from (
    select bucket_start_utc as t, cast(strftime('%s', bucket_start_utc) as integer) / 60 as m, 'prod' as source,
           null as session_id, model, canonical_model, repo_id, null as git_branch, null as machine,
           coalesce(requests, 1) as responses, 0 as subagent_responses, input_tokens, output_tokens,
           cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, total_tokens, web_search_requests,
           coalesce(cost_nanousd, 0) as cost_nanousd,
           case when cost_nanousd is null then coalesce(requests, 1) else 0 end as unpriced_responses,
           case when cost_nanousd is null then total_tokens else 0 end as unpriced_tokens,
           bucket_start_utc as first_utc, bucket_end_utc as last_utc, provider_cost_nanousd
    from prod_costs
    where bucket_start_utc >= :start and bucket_start_utc < :end
) where 1 {filters}
"""


# Read in the same pass over the prod part: what the sources reported themselves.
PROVIDER_COST_SQL = ", sum(provider_cost_nanousd) as provider_cost_nanousd"


USAGE_SUMS_SQL = """
    coalesce(sum(responses), 0) as responses,
    coalesce(sum(input_tokens), 0) as input_tokens,
    coalesce(sum(output_tokens), 0) as output_tokens,
    coalesce(sum(cache_write_5m_tokens), 0) as cache_write_5m_tokens,
    coalesce(sum(cache_write_1h_tokens), 0) as cache_write_1h_tokens,
    coalesce(sum(cache_read_tokens), 0) as cache_read_tokens,
    coalesce(sum(total_tokens), 0) as total_tokens,
    coalesce(sum(web_search_requests), 0) as web_search_requests,
    coalesce(sum(cost_nanousd), 0) as cost_nanousd
"""


USAGE_FIELDS = (
    "responses", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "cache_read_tokens", "total_tokens", "web_search_requests", "cost_nanousd",
)  # fmt: skip


# Each part is aggregated on its own (SQLite flattens a plain subquery into the aggregate; it
# would not flatten a UNION ALL of the parts) in ONE scan that also yields the unpriced sums per
# model; the parts and groups are merged in Python.
SCAN_SQL = """
select {key} as key, model, {usage},
       coalesce(sum(unpriced_responses), 0) as unpriced_responses,
       coalesce(sum(unpriced_tokens), 0) as unpriced_tokens,
       max(canonical_model) is not null as model_known {columns}
from ({facts}) {where}
group by 1, 2
"""


# A group's sessions as one JSON array: far cheaper than a result row per session (thousands
# over all time), and the parts of a window can still share a session without counting it twice.
SESSION_IDS_SQL = ", json_group_array(distinct session_id) as session_ids"

# Each group's cost and sessions alone (see Facts.cost_and_sessions).
COST_AND_SESSIONS_SQL = """
select {key} as key, coalesce(sum(cost_nanousd), 0), json_group_array(distinct session_id)
from ({facts})
group by 1
"""

# The filters a question may set, as fixed SQL: no column name is ever built from an argument.
FILTER_SQL = {
    "repo_id": "and repo_id = :repo_id",
    "session_id": "and session_id = :session_id",
    # :model is a JSON list of ids (queries.resolve_models): a family names several.
    "model": "and (model in (select value from json_each(:model))"
    " or canonical_model in (select value from json_each(:model)))",
}


class Facts:
    """The facts of one question: a window and filters, as parts with the same columns.

    Whole 15-minute buckets come from the rollup; the parts of the window that do not fill a
    bucket come from the raw view. With ``whole``, which tells whether a UTC day lies in one of the
    question's groups (``periods.one_group``), the whole days that do come from the daily rollup;
    with ``whole_hour`` too, the hours of the others that lie in one group come from the hourly one.
    With ``source`` 'prod' or 'all', production records (read from ``prod_costs`` by their bucket
    start) are one more part; 'dev' keeps Claude Code's alone.
    """

    def __init__(
        self,
        window: Window | None,
        filters: dict[str, Any],
        *,
        source: str = "dev",
        whole: Callable[[str], bool] | None = None,
        whole_hour: Callable[[datetime], bool] | None = None,
    ) -> None:
        clauses = []
        self._filters: dict[str, Any] = {}
        for column, value in filters.items():
            if value is None:
                continue
            clauses.append(FILTER_SQL[column])
            self._filters[column] = value
        where = " ".join(clauses)
        self._days: tuple[str, str, str, Callable[[str], bool]] | None = None  # see _by_day
        self._whole_hour = whole_hour
        start = (window.start_utc if window else None) or ""
        end = window.end_utc if window else "9999"
        rollup_start, rollup_end = buckets.ceil_text(start), buckets.floor_text(end)
        self.parts: list[tuple[str, dict[str, Any], str]] = []  # (SQL, parameters, 'dev' or 'prod')
        if source != "dev":
            self._add(PROD_FACTS_SQL, where, start, end, source="prod")
        if source == "prod":
            return
        if rollup_start >= rollup_end:  # shorter than a bucket: the raw rows answer it all
            self._add(RAW_FACTS_SQL, where, start, end)
            return
        if whole is not None and buckets.day_after(rollup_start) < rollup_end[:10]:  # whole days inside
            self._days = (where, rollup_start, rollup_end, whole)
        else:
            self._add(ROLLUP_FACTS_SQL, where, rollup_start, rollup_end)
        self._add(RAW_FACTS_SQL, where, start, rollup_start)
        self._add(RAW_FACTS_SQL, where, rollup_end, end)

    def _add(self, template: str, where: str, start: str, end: str, *, source: str = "dev", **more: str) -> None:
        if start < end:
            sql = template.format(columns=FACT_COLUMNS, filters=where)
            self.parts.append((sql, {**self._filters, "start": start, "end": end, **more}, source))

    def _by_day(self, db: Database) -> None:
        """The whole buckets as parts, once (see ``buckets.day_plan``): the days in one group from
        the daily rollup, the rest (the days two groups share, the buckets around whole days) by bucket."""
        if self._days is None:
            return
        where, low, high, whole = self._days
        self._days = None
        plan = buckets.day_plan(low, high, lambda lo, hi: [day for (day,) in db.execute(DAYS_SQL, [lo, hi])], whole)
        assert plan is not None  # __init__ saw whole days inside
        first, last, split, ranges = plan
        self._add(DAILY_FACTS_SQL, where, first, last, split=json.dumps(split))
        if split and self._whole_hour is not None:  # the days two groups share, by hour where one holds it
            hours_lo, hours_hi, shared, shared_ranges = buckets.hour_plan(split, self._whole_hour)
            self._add(
                HOURLY_FACTS_SQL, where, hours_lo, hours_hi, split=json.dumps(split), split_hours=json.dumps(shared)
            )
            ranges = [(lo, hi) for lo, hi in ((low, first), (last, high)) if lo < hi] + shared_ranges
        self._add(RANGES_FACTS_SQL, where, low, high, ranges=json.dumps(ranges))

    def scan(
        self,
        db: Database,
        key: str,
        *,
        params: dict[str, Any] | None = None,
        by_session: bool = False,
        columns: str = "",
        where: str = "",
    ) -> Tally:
        """One pass over each part, grouped by the SQL expression ``key`` and model, merged into a
        tally; with ``by_session`` each group also lists its distinct sessions."""
        tally = Tally()
        self._by_day(db)
        for sql, part_params, source in self.parts:
            extra = columns + (PROVIDER_COST_SQL if source == "prod" else "") + (SESSION_IDS_SQL if by_session else "")
            query = SCAN_SQL.format(key=key, usage=USAGE_SUMS_SQL, columns=extra, facts=sql, where=where)
            for row in db.query(query, {**part_params, **(params or {})}):
                tally.add(row, source)
        return tally

    def cost_and_sessions(
        self, db: Database, key: str, *, params: dict[str, Any] | None = None
    ) -> tuple[dict[Any, int], dict[Any, set[str]]]:
        """Each group's cost (nano-dollars) and distinct sessions, grouped by the SQL expression
        ``key``: the part of :meth:`scan` that answers beside usage (activity) need, for less."""
        self._by_day(db)
        costs: dict[Any, int] = {}
        sessions: dict[Any, set[str]] = {}
        for sql, part_params, _ in self.parts:
            query = COST_AND_SESSIONS_SQL.format(key=key, facts=sql)
            for group, nanousd, ids in db.execute(query, {**part_params, **(params or {})}):
                costs[group] = costs.get(group, 0) + nanousd
                sessions.setdefault(group, set()).update(id_ for id_ in json.loads(ids) if id_ is not None)
        return costs, sessions


class Tally:
    """Scanned rows merged: usage per key, unpriced usage per model, sessions per key, each key's
    cost split into dev and prod nano-dollars, and what the prod sources reported (None: nothing)."""

    def __init__(self) -> None:
        self.groups: dict[Any, dict[str, int]] = {}
        self.unpriced: dict[str, list[int]] = {}  # model -> [responses, tokens, 1 if the table knows it]
        self.sessions: dict[Any, set[str]] = {}
        self.split: dict[Any, list[int]] = {}
        self.provider_nanousd: int | None = None
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any], source: str = "dev") -> None:
        self.split.setdefault(row["key"], [0, 0])[source == "prod"] += row["cost_nanousd"]
        if row.get("provider_cost_nanousd") is not None:
            self.provider_nanousd = (self.provider_nanousd or 0) + row["provider_cost_nanousd"]
        target = self.groups.setdefault(row["key"], dict.fromkeys(USAGE_FIELDS, 0))
        for field in USAGE_FIELDS:
            target[field] += row[field]
        if row["unpriced_responses"]:
            counts = self.unpriced.setdefault(row["model"], [0, 0, 0])
            counts[0] += row["unpriced_responses"]
            counts[1] += row["unpriced_tokens"]
            # A model the table resolves is priced for every time and size; only its fast mode may
            # have no price (pricing.cost() leaves such responses out rather than guess).
            counts[2] |= row["model_known"]
        if row.get("session_ids") is not None:
            found = {session for session in json.loads(row["session_ids"]) if session is not None}
            self.sessions.setdefault(row["key"], set()).update(found)
        self.rows.append(row)

    def regroup(self, key: Callable[[Any], str]) -> dict[str, dict[str, int]]:
        """The groups merged again under ``key(group)``: local day numbers into weeks, say."""
        merged: dict[str, dict[str, int]] = {}
        for group, sums in self.groups.items():
            target = merged.setdefault(key(group), dict.fromkeys(USAGE_FIELDS, 0))
            for field in USAGE_FIELDS:
                target[field] += sums[field]
        return merged

    def unpriced_models(self) -> list[UnpricedModel]:
        found = [
            UnpricedModel(
                model=model, responses=n, total_tokens=tokens, reason="no fast-mode price" if known else "unknown model"
            )
            for model, (n, tokens, known) in self.unpriced.items()
        ]
        return sorted(found, key=lambda model: (-model.total_tokens, model.model))


def usage_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The Usage fields of a row of sums (its nano-dollars as cost_usd)."""
    usage: dict[str, Any] = {field: row[field] for field in USAGE_FIELDS if field != "cost_nanousd"}
    usage["cost_usd"] = nano_to_usd(row["cost_nanousd"])
    return usage


def total(merged: dict[str, dict[str, int]]) -> Usage:
    """The exact total of merged groups (summed in nano-dollars, converted once)."""
    totals = dict.fromkeys(USAGE_FIELDS, 0)
    for sums in merged.values():
        for field in USAGE_FIELDS:
            totals[field] += sums[field]
    return Usage(**usage_fields(totals))


def split_total(tally: Tally, merged: dict[Any, dict[str, int]]) -> UsageTotals:
    """The exact total with its dev / prod split and what the prod sources reported themselves."""
    provider = tally.provider_nanousd
    return UsageTotals(
        **total(merged).model_dump(),
        dev_cost_usd=nano_to_usd(sum(split[0] for split in tally.split.values())),
        prod_cost_usd=nano_to_usd(sum(split[1] for split in tally.split.values())),
        prod_provider_cost_usd=None if provider is None else nano_to_usd(provider),
    )


def nano_to_usd(nanousd: int | None) -> float:
    """Integer nano-dollars as dollars, rounded to a millionth (well below any displayed cent)."""
    return round((nanousd or 0) / 1_000_000_000, 6)
