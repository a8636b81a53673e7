"""Activity facts into counts: the README's activity rules, applied in one place.

Facts are rows of ``ledger.activity_rollup.FACT_PARTS`` (or of the rollup that sums them),
grouped by a key (:data:`GROUPED`); :func:`gather` turns them into the fields of
``models.Activity`` per key, together with the rows of the daily tables, which the same rules
summed when they were built (``ledger.activity_daily``). ``activity`` answers a window with it,
``session_activity`` a page of sessions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..ledger.activity_daily import EDIT_TOOLS, EVENT_COLUMNS, EVENT_FIELDS, TOOL_COLUMNS
from ..ledger.activity_rollup import FACT_ROWS_SQL
from ..models import Activity

__all__ = [
    "COUNTS",
    "EDIT_TOOLS",
    "GROUPED",
    "RAW_SOURCE",
    "ROLLUP_SOURCE",
    "UNGROUPED",
    "Found",
    "fields",
    "gather",
    "grouped",
    "raw_source",
]

UNGROUPED = "\0"  # counted in the totals, in no row
COUNTS = tuple(name for name in Activity.model_fields if name != "cost_usd")

# Activity facts grouped by a key: from the rollup's whole buckets, or from the rows themselves
# (FACT_ROWS_SQL) for a window's unaligned edges. Subagents are grouped by name only, as they are
# ranked over the whole window.
GROUPED = """
select case when kind = 'agent' then null else {key} end as key, kind, name,
       sum(uses) as uses, sum(errors) as errors, sum(rejected) as rejected, sum(lines_added) as lines_added,
       sum(lines_removed) as lines_removed, sum(commits) as commits, sum(pull_requests) as pull_requests,
       sum(value) as value
from ({source}) where 1 {repo}
group by 1, 2, 3
"""
ROLLUP_SOURCE = "select *, bucket_minute as m from activity_rollup where bucket_utc >= :lo and bucket_utc < :hi"


def raw_source(facts: str) -> str:
    """Facts (FACT_ROWS_SQL, or some of its parts) with ``m``, their minute, for a group key."""
    return f"select *, cast(strftime('%s', timestamp_utc) as integer) / 60 as m from ({facts})"


RAW_SOURCE = raw_source(FACT_ROWS_SQL)


def grouped(source: str) -> str:
    """:data:`GROUPED` over ``source``: the rollup's rows, or facts (FACT_ROWS_SQL or a part)."""
    return GROUPED.replace("{source}", source)


class Found(NamedTuple):
    """A window's activity as read: facts (the 15-minute rollup's rows, or the rows themselves,
    grouped as GROUPED) and the daily tables' rows (``counts`` per group: the key, then
    ``COUNT_COLUMNS``; ``names`` over the window: kind, name, uses, errors, rejected, value)."""

    facts: list[dict[str, Any]]
    counts: Sequence[tuple[Any, ...]] = ()
    names: Sequence[tuple[Any, ...]] = ()


def gather(found: Found, group_by: str) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]], Counter[str]]:
    """Activity per group, per tool and per slash command; active time by the README's rule."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    tools: dict[str, Counter[str]] = defaultdict(Counter)
    commands: Counter[str] = Counter()
    _gather_daily(found, group_by, groups)
    for kind, name, uses, errors, rejected, _ in found.names:
        if kind == "tool":
            tools[name].update(uses=uses, errors=errors, rejected=rejected)
        elif kind == "command":
            commands[name] += uses
    for row in found.facts:
        _add_fact(row, group_by, groups)
        if row["kind"] == "tool":
            tools[row["name"]].update(uses=row["uses"], errors=row["errors"], rejected=row["rejected"])
        elif row["kind"] == "event" and row["name"].partition(":")[0] == "command":
            commands[row["name"].partition(":")[2]] += row["uses"]
    for group in groups.values():
        group["active_seconds"] = round(group.pop("active_ms", 0) / 1000)
    return groups, tools, commands


def _add_fact(row: dict[str, Any], group_by: str, groups: dict[str, Counter[str]]) -> None:
    kind, key = row["kind"], row["key"]
    if kind == "tool":
        _add_tool(groups[key], row)
    elif kind == "event":
        event = row["name"].partition(":")[0]
        if event == "turn":  # no model either
            groups[key if group_by != "model" else UNGROUPED]["active_ms"] += row["value"]
        elif event in EVENT_FIELDS:
            # Events have no model: by model, they count in the totals only.
            groups[key if group_by != "model" else UNGROUPED][EVENT_FIELDS[event]] += row["uses"]
    elif kind == "gap":  # of a session with no turn durations (FACT_PARTS)
        groups[key]["active_ms"] += row["value"]


def _gather_daily(found: Found, group_by: str, groups: dict[str, Counter[str]]) -> None:
    """The daily table's counts into ``groups`` (laid out as ``COUNT_COLUMNS``)."""
    width = len(TOOL_COLUMNS)
    for key, *sums in found.counts:
        tool_sums, gap_ms, event_sums, turn_ms = sums[:width], sums[width], sums[width + 1 : -1], sums[-1]
        # By model, events and turns (which have none) count in the totals only: alone, they make no group.
        if group_by != "model" or any(tool_sums) or gap_ms:
            groups[key].update(dict(zip(TOOL_COLUMNS, tool_sums, strict=True)), active_ms=gap_ms)
        events = groups[key if group_by != "model" else UNGROUPED]
        events.update(dict(zip(EVENT_COLUMNS, event_sums, strict=True)), active_ms=turn_ms)


def _add_tool(group: dict[str, Any], row: dict[str, Any]) -> None:
    group["tool_uses"] += row["uses"]
    group["tool_errors"] += row["errors"]
    group["lines_added"] += row["lines_added"]
    group["lines_removed"] += row["lines_removed"]
    group["commits"] += row["commits"]
    group["pull_requests"] += row["pull_requests"]
    if row["name"] in EDIT_TOOLS:
        group["edits_rejected"] += row["rejected"]
        group["edits_accepted"] += row["uses"] - row["rejected"]


def fields(counts: Mapping[str, int], cost_usd: float) -> dict[str, Any]:
    """The keyword arguments of an ``Activity`` (or a model built on it) from gathered counts."""
    return {**{name: int(counts.get(name, 0)) for name in COUNTS}, "cost_usd": round(cost_usd, 6)}
