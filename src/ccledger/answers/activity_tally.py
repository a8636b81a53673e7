"""Activity facts into counts: the README's activity rules, applied in one place.

Facts are rows of ``ledger.activity_rollup.FACT_PARTS`` (or of the rollup that sums them),
grouped by a key (:data:`GROUPED`); :func:`gather` turns them into the fields of
``models.Activity`` per key. ``activity`` answers a window with it, ``session_activity`` a page
of sessions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from ..ledger.activity_rollup import FACT_ROWS_SQL
from ..models import Activity

__all__ = [
    "COUNTS",
    "EDIT_TOOLS",
    "GROUPED",
    "RAW_SOURCE",
    "ROLLUP_SOURCE",
    "UNGROUPED",
    "fields",
    "gather",
    "grouped",
    "raw_source",
]

EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")
UNGROUPED = "\0"  # counted in the totals, in no row
COUNTS = tuple(name for name in Activity.model_fields if name != "cost_usd")

# Activity facts grouped by a key: from the rollup's whole buckets, or from the rows themselves
# (FACT_ROWS_SQL) for a window's unaligned edges. Sessions are kept apart only where active time
# needs them (a session with turn durations is timed by them, not by its gaps); subagents only by
# name, as they are ranked over the whole window (a row per day and agent was a third of a year's).
GROUPED = """
select case when kind = 'agent' then null else {key} end as key, kind, name,
       case when kind = 'gap' or name = 'turn' then session_id end as session_id,
       sum(uses) as uses, sum(errors) as errors, sum(rejected) as rejected, sum(lines_added) as lines_added,
       sum(lines_removed) as lines_removed, sum(commits) as commits, sum(pull_requests) as pull_requests,
       sum(value) as value
from ({source}) where 1 {repo}
group by 1, 2, 3, 4
"""
ROLLUP_SOURCE = "select *, bucket_minute as m from activity_rollup where bucket_utc >= :lo and bucket_utc < :hi"


def raw_source(facts: str) -> str:
    """Facts (FACT_ROWS_SQL, or some of its parts) with ``m``, their minute, for a group key."""
    return f"select *, cast(strftime('%s', timestamp_utc) as integer) / 60 as m from ({facts})"


RAW_SOURCE = raw_source(FACT_ROWS_SQL)


def grouped(source: str) -> str:
    """:data:`GROUPED` over ``source``: the rollup's rows, or facts (FACT_ROWS_SQL or a part)."""
    return GROUPED.replace("{source}", source)


_EVENT_FIELDS = {
    "prompt": "prompts", "command": "slash_commands", "compaction": "compactions",
    "rate_limit": "rate_limit_hits", "api_error": "api_errors",
}  # fmt: skip


def gather(
    facts: list[dict[str, Any]], group_by: str
) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]], Counter[str]]:
    """Activity per group, per tool and per slash command; active time by the README's rule."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    tools: dict[str, Counter[str]] = defaultdict(Counter)
    commands: Counter[str] = Counter()
    gaps: Counter[tuple[str, str]] = Counter()
    turns: Counter[tuple[str, str]] = Counter()
    for row in facts:
        kind, key = row["kind"], row["key"]
        if kind == "tool":
            _add_tool(groups[key], row)
            tools[row["name"]].update(uses=row["uses"], errors=row["errors"], rejected=row["rejected"])
        elif kind == "event":
            event, _, name = row["name"].partition(":")
            if event == "turn":
                turns[(key, row["session_id"])] += row["value"]
            elif event in _EVENT_FIELDS:
                # Events have no model: by model, they count in the totals only.
                groups[key if group_by != "model" else UNGROUPED][_EVENT_FIELDS[event]] += row["uses"]
            if event == "command":
                commands[name] += row["uses"]
        elif kind == "gap":
            gaps[(key, row["session_id"])] += row["value"]
    timed = {session for _, session in turns}
    for (key, _), ms in turns.items():
        groups[key if group_by != "model" else UNGROUPED]["active_ms"] += ms
    for (key, session), ms in gaps.items():
        if session not in timed:
            groups[key]["active_ms"] += ms
    for group in groups.values():
        group["active_seconds"] = round(group.pop("active_ms", 0) / 1000)
    return groups, tools, commands


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
