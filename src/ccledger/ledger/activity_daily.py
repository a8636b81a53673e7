"""The activity rollup per UTC day (and month): what long windows read, summed from the 15-minute one.

An answer needs two things from a window's activity: each group's counts (a day's, a repo's, a
model's prompts, tool uses, lines...) and, over the whole window, the tools, slash commands and
subagent types ranked. The 15-minute rollup (``activity_rollup``) holds both as one row per bucket,
fact kind, name, session, repo and model: hundreds of thousands of rows in a heavy user's year.
Per day they are kept apart, each in the shape its question reads:

- ``activity_daily``: one row per day, repo and model with every count as a column, active time
  included (a session's gaps count only when it has no turn durations, a rule of the session
  alone, so no session need be kept);
- ``activity_hourly``, the same per UTC hour: a UTC day that two of an answer's groups share (by
  day in New York, every one) has its counts read by hour, whole hours being local ones almost
  everywhere (where they are not, as in Kolkata, the hour two groups share is read by bucket);
- ``activity_names``: one row per day, kind (tool, command, agent_type) and name, and repo, for the
  rankings, and ``activity_names_monthly``, the same per UTC month: a ranking is over the whole
  window, so its whole months can be read whatever the answer's groups and zone. A subagent's
  responses are summed by its type, read from ``agent_types``; the type may be written after its
  responses were rolled up, so a trigger marks those buckets dirty.

The counts follow the rules ``answers.activity_tally`` applies to the facts themselves, from the
same definitions (:data:`EDIT_TOOLS`, :data:`EVENT_FIELDS`): answers read from either agree.
"""

from __future__ import annotations

import textwrap

from .buckets import BUCKET_EXPR

__all__ = [
    "ACTIVITY_DAILY_SQL",
    "COUNT_COLUMNS",
    "COUNT_SUMS_SQL",
    "DAILY_DAYS_SQL",
    "DELETE_DAYS_SQL",
    "DELETE_MONTHS_SQL",
    "EDIT_TOOLS",
    "EVENT_COLUMNS",
    "EVENT_FIELDS",
    "INSERT_DAYS_SQL",
    "INSERT_MONTHS_SQL",
    "TOOL_COLUMNS",
    "TRIGGERS",
]

EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")
# An event's kind (its name up to a colon) -> the count it adds to.
EVENT_FIELDS = {
    "prompt": "prompts", "command": "slash_commands", "compaction": "compactions",
    "rate_limit": "rate_limit_hits", "api_error": "api_errors",
}  # fmt: skip

_TOOL_COUNTS = {
    "tool_uses": "uses",
    "tool_errors": "errors",
    "lines_added": "lines_added",
    "lines_removed": "lines_removed",
    "commits": "commits",
    "pull_requests": "pull_requests",
}
_EDITS = {"edits_accepted": "uses - rejected", "edits_rejected": "rejected"}
TOOL_COLUMNS = (*_TOOL_COUNTS, *_EDITS)
EVENT_COLUMNS = tuple(EVENT_FIELDS.values())
COUNT_COLUMNS = (*TOOL_COLUMNS, "gap_ms", *EVENT_COLUMNS, "turn_ms")
"""activity_daily's sums, in order: of tools and gaps (a response's model has them), then of
events and turn durations (no model has them)."""

# Trigger bodies: list the buckets of an agent's rolled-up responses, or of a session's responses, dirty.
_MARK_AGENT = """INSERT OR IGNORE INTO activity_dirty (bucket_utc, end_utc)
        SELECT DISTINCT bucket_utc, strftime('%Y-%m-%dT%H:%M:%S.000Z', (bucket_minute + 15) * 60, 'unixepoch')
        FROM activity_rollup WHERE kind = 'agent' AND name = NEW.agent_id;"""
_MARK_SESSION = f"""INSERT OR IGNORE INTO activity_dirty (bucket_utc, end_utc)
        SELECT DISTINCT {BUCKET_EXPR}, strftime('%Y-%m-%dT%H:%M:%S.000Z', {BUCKET_EXPR}, '+15 minutes')
        FROM responses WHERE session_id = {{session}};"""


# A subagent's type known (or changed) after its responses were rolled up: their buckets are
# summed again, under the type. A session's first turn duration: its gaps no longer count, in
# any bucket of its responses. Each trigger only marks buckets of a built rollup dirty, so a
# first load, which builds the rollups whole after, drops them (and the index the last two use)
# while it writes, and creates them again after (see deferred.DEFERRABLE_ACTIVITY): on every row
# written they cost more than the row itself.
TRIGGERS = {
    "agent_type_added": f"""CREATE TRIGGER IF NOT EXISTS agent_type_added AFTER INSERT ON agent_types BEGIN
        {_MARK_AGENT}
    END""",
    "agent_type_changed": f"""CREATE TRIGGER IF NOT EXISTS agent_type_changed AFTER UPDATE OF agent_type ON agent_types
    BEGIN
        {_MARK_AGENT}
    END""",
    "activity_events_turn": (
        "CREATE INDEX IF NOT EXISTS activity_events_turn ON activity_events(session_id) WHERE kind = 'turn'"
    ),
    "session_timed": f"""CREATE TRIGGER IF NOT EXISTS session_timed AFTER INSERT ON activity_events
    WHEN NEW.kind = 'turn' AND NEW.session_id IS NOT NULL
        AND (SELECT activity_rollup_built_utc FROM activity_state WHERE id = 1) IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM activity_events WHERE kind = 'turn' AND session_id = NEW.session_id
                        AND rowid != NEW.rowid)
    BEGIN
        {_MARK_SESSION.format(session="NEW.session_id")}
    END""",
    "session_timed_moved": f"""CREATE TRIGGER IF NOT EXISTS session_timed_moved
    AFTER UPDATE OF session_id ON activity_events
    WHEN NEW.kind = 'turn' AND (SELECT activity_rollup_built_utc FROM activity_state WHERE id = 1) IS NOT NULL
    BEGIN
        {_MARK_SESSION.format(session="NEW.session_id")}
        {_MARK_SESSION.format(session="OLD.session_id")}
    END""",
}
"""The triggers (and the index of turns they read), by name: created by m017, dropped by a first load."""
_TRIGGERS_SQL = ";\n".join(TRIGGERS.values())


def _counts_table(table: str, grain: str) -> str:
    """A table of COUNT_COLUMNS per UTC ``grain`` (day or hour), repo and model, with its index."""
    counts = ", ".join(f"{column} INTEGER NOT NULL" for column in COUNT_COLUMNS)
    return f"""CREATE TABLE {table} (
        {grain}_utc TEXT NOT NULL,  -- {"YYYY-MM-DD" if grain == "day" else "YYYY-MM-DDTHH"}
        {grain}_minute INTEGER NOT NULL,  -- its start, in minutes since 1970 UTC
        repo_id TEXT,
        model TEXT,
        {counts}
    );
    CREATE INDEX {table}_{grain} ON {table}({grain}_utc);"""


ACTIVITY_DAILY_SQL = textwrap.dedent(f"""
    DROP TABLE IF EXISTS activity_daily;
    {_counts_table("activity_daily", "day")}
    {_counts_table("activity_hourly", "hour")}
    CREATE TABLE activity_names (
        day_utc TEXT NOT NULL,
        kind TEXT NOT NULL,               -- tool | command | agent_type
        name TEXT NOT NULL,
        repo_id TEXT,
        uses INTEGER NOT NULL,            -- tool uses, commands run, subagent responses
        errors INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        value INTEGER NOT NULL            -- agent_type: nano-dollars
    );
    CREATE INDEX activity_names_day ON activity_names(day_utc);
    CREATE TABLE activity_names_monthly (
        month_utc TEXT NOT NULL,          -- YYYY-MM
        kind TEXT NOT NULL, name TEXT NOT NULL, repo_id TEXT,
        uses INTEGER NOT NULL, errors INTEGER NOT NULL, rejected INTEGER NOT NULL, value INTEGER NOT NULL
    );
    CREATE INDEX activity_names_monthly_month ON activity_names_monthly(month_utc);
    -- A subagent's type known (or changed) after its responses were rolled up: their buckets
    -- are summed again, under the type.
    CREATE INDEX activity_rollup_agent ON activity_rollup(name) WHERE kind = 'agent';
    {_TRIGGERS_SQL};
    UPDATE activity_state SET activity_rollup_built_utc = NULL;
""").strip()
"""The daily tables (replacing the first, single one) and the trigger; the rollups are built
again, with them, when an answer next asks."""

_EVENT = "substr(name, 1, instr(name || ':', ':') - 1)"  # an event's kind: 'command:/model' -> 'command'


def _sums() -> str:
    edit = f"kind = 'tool' and name in ({', '.join(repr(tool) for tool in EDIT_TOOLS)})"
    sums = [f"sum(case when kind = 'tool' then {value} else 0 end)" for value in _TOOL_COUNTS.values()]
    sums += [f"sum(case when {edit} then {value} else 0 end)" for value in _EDITS.values()]
    sums += ["sum(case when kind = 'gap' then value else 0 end)"]
    event = f"kind = 'event' and {_EVENT}"
    sums += [f"sum(case when {event} = '{name}' then uses else 0 end)" for name in EVENT_FIELDS]
    sums += [f"sum(case when {event} = 'turn' then value else 0 end)"]
    return ",\n       ".join(sums)


COUNT_SUMS_SQL = _sums()
"""COUNT_COLUMNS summed over rows of ``activity_rollup`` (its agent rows count nowhere here)."""

# Whole days [:lo, :hi) of the 15-minute rows (each a YYYY-MM-DD, or open: '0000' and '9999'):
# their hours, then the days from the hours.
_INSERT_HOURS_SQL = f"""
insert into activity_hourly (hour_utc, hour_minute, repo_id, model, {", ".join(COUNT_COLUMNS)})
select substr(bucket_utc, 1, 13), bucket_minute / 60 * 60, repo_id, model,
       {COUNT_SUMS_SQL}
from activity_rollup where bucket_utc >= :lo and bucket_utc < :hi and kind != 'agent'
group by 1, 3, 4
"""
_INSERT_COUNTS_SQL = f"""
insert into activity_daily (day_utc, day_minute, repo_id, model, {", ".join(COUNT_COLUMNS)})
select substr(hour_utc, 1, 10), hour_minute / 1440 * 1440, repo_id, model,
       {", ".join(f"sum({column})" for column in COUNT_COLUMNS)}
from activity_hourly where hour_utc >= :lo and hour_utc < :hi
group by 1, 3, 4
"""
_INSERT_NAMES_SQL = f"""
insert into activity_names (day_utc, kind, name, repo_id, uses, errors, rejected, value)
select substr(r.bucket_utc, 1, 10),
       case r.kind when 'agent' then 'agent_type' when 'event' then 'command' else 'tool' end,
       case r.kind when 'agent' then coalesce(t.agent_type, 'unknown') when 'event' then substr(r.name, 9)
            else r.name end,
       r.repo_id, sum(r.uses), sum(r.errors), sum(r.rejected), sum(r.value)
from activity_rollup as r left join agent_types as t on r.kind = 'agent' and t.agent_id = r.name
where r.bucket_utc >= :lo and r.bucket_utc < :hi
    and (r.kind in ('tool', 'agent') or (r.kind = 'event' and {_EVENT.replace("name", "r.name")} = 'command'))
group by 1, 2, 3, 4
"""
INSERT_DAYS_SQL = (_INSERT_HOURS_SQL, _INSERT_COUNTS_SQL, _INSERT_NAMES_SQL)
"""The hourly and daily tables' rows for whole days [:lo, :hi)."""
DELETE_DAYS_SQL = (
    "delete from activity_hourly where hour_utc >= :lo and hour_utc < :hi",
    "delete from activity_daily where day_utc >= :lo and day_utc < :hi",
    "delete from activity_names where day_utc >= :lo and day_utc < :hi",
)
# Whole months [:lo, :hi) (each a YYYY-MM-01, or open), from the daily names.
INSERT_MONTHS_SQL = """
insert into activity_names_monthly (month_utc, kind, name, repo_id, uses, errors, rejected, value)
select substr(day_utc, 1, 7), kind, name, repo_id, sum(uses), sum(errors), sum(rejected), sum(value)
from activity_names where day_utc >= :lo and day_utc < :hi
group by 1, 2, 3, 4
"""
DELETE_MONTHS_SQL = (
    "delete from activity_names_monthly where month_utc >= substr(:lo, 1, 7) and month_utc < substr(:hi, 1, 7)"
)
# A day's split between two of a question's groups matters to its counts alone (the rankings are
# over the whole window), so the days listed are those with counts.
DAILY_DAYS_SQL = "select distinct day_utc from activity_daily where day_utc >= :lo and day_utc < :hi"
"""The days [:lo, :hi) the daily counts hold."""
