"""The activity tables: what the spend bought, beside the responses that cost it.

Written by ``ingest.activity_rows``, read by ``answers.activity``. Keys are 64-bit hashes of
Claude Code's own ids (``ingest.activity.key_of``), in a unique index beside rows that are
appended in the order they are read: inserting rows by a random key into the table itself was
three times slower. Tool uses themselves are a column of the response that called them.
"""

from __future__ import annotations

import textwrap

__all__ = ["ACTIVITY_SQL", "BACKFILL_ACTIVITY_SQL", "TIME_INDEXES"]

# The time indexes serve answers and rollup builds, not the writes: a first load builds them
# after it (see deferred.DEFERRABLE_ACTIVITY).
TIME_INDEXES = {
    "tool_results_time": "CREATE INDEX IF NOT EXISTS tool_results_time ON tool_results(timestamp_utc)",
    "activity_events_time": "CREATE INDEX IF NOT EXISTS activity_events_time ON activity_events(timestamp_utc)",
}

ACTIVITY_SQL = textwrap.dedent(f"""
    -- The tools each response called (a JSON array of names, in order; NULL: none), kept with
    -- the response so that they are counted once with it; and the tool uses a file's last read
    -- left waiting for their results (see ingest.activity_rows).
    ALTER TABLE responses ADD COLUMN tools TEXT;
    ALTER TABLE files ADD COLUMN pending_tools TEXT;

    -- One row per tool result that says more than "done": an error, a rejection, the lines an
    -- edit changed; and one per commit- or pull-request-shaped call, whatever its result.
    CREATE TABLE tool_results (
        key INTEGER NOT NULL,             -- the tool_use id, hashed
        tool TEXT NOT NULL,               -- as the model named it: Bash, Edit, mcp__<server>__<tool>
        shape INTEGER NOT NULL,           -- of a Bash command: 1 git commit, 2 pull request (2 also for MCP tools)
        timestamp_utc TEXT NOT NULL,      -- of the response that called the tool
        session_id TEXT,
        repo_id TEXT,
        model TEXT,
        outcome INTEGER,                  -- NULL: no error; 1 error; 2 rejected by the user
        made INTEGER,                     -- of a commit or PR command: its result shows it made (1) or not (0)
        lines_added INTEGER,              -- by an edit: its patch's + lines, or a new file's lines
        lines_removed INTEGER,
        file_id INTEGER
    );
    CREATE UNIQUE INDEX tool_results_key ON tool_results(key);
    {TIME_INDEXES["tool_results_time"]};

    -- Prompts, slash commands, compactions, API errors and turn durations, one row per line.
    CREATE TABLE activity_events (
        key INTEGER NOT NULL,             -- the line's uuid, hashed
        kind TEXT NOT NULL,               -- prompt | command | compaction | rate_limit | api_error | turn
        name TEXT,                        -- a command's name, a compaction's trigger, an error's kind
        timestamp_utc TEXT NOT NULL,
        session_id TEXT,
        repo_id TEXT,
        value INTEGER,                    -- turn: milliseconds; compaction: tokens before
        value2 INTEGER,                   -- compaction: tokens after
        file_id INTEGER
    );
    CREATE UNIQUE INDEX activity_events_key ON activity_events(key);
    {TIME_INDEXES["activity_events_time"]};

    -- Claude Code's own running totals per session (its latest cost-state line).
    CREATE TABLE session_costs (
        session_id TEXT PRIMARY KEY,
        cost_usd REAL NOT NULL,
        lines_added INTEGER,
        lines_removed INTEGER,
        duration_ms INTEGER,
        api_duration_ms INTEGER,
        model_usage TEXT NOT NULL,        -- JSON: model -> [input, output, write 5m, write 1h, read, web searches]
        file_id INTEGER
    );

    -- A subagent's type (Explore, general-purpose, ...), from the meta.json beside its transcript.
    CREATE TABLE agent_types (
        agent_id TEXT PRIMARY KEY,
        agent_type TEXT NOT NULL
    );

    -- Since when activity is known: responses up to known_since_utc were indexed before the
    -- ledger read activity, from files now gone.
    CREATE TABLE activity_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        known_since_utc TEXT,
        activity_rollup_built_utc TEXT    -- NULL: the rollup is to be built (see activity_rollup)
    );

    -- Activity summed per 15-minute bucket (see ledger.activity_rollup): a cache of the tables above.
    CREATE TABLE activity_rollup (
        bucket_utc TEXT NOT NULL,
        bucket_minute INTEGER NOT NULL,   -- minutes since 1970 UTC, for local days and hours
        kind TEXT NOT NULL,               -- tool | event | agent | gap
        name TEXT,                        -- tool: its name; event: kind[:name]; agent: its id
        session_id TEXT,
        repo_id TEXT,
        model TEXT,
        uses INTEGER NOT NULL,            -- tool uses, events, subagent responses
        errors INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        lines_added INTEGER NOT NULL,
        lines_removed INTEGER NOT NULL,
        commits INTEGER NOT NULL,
        pull_requests INTEGER NOT NULL,
        value INTEGER NOT NULL            -- event: its values (turn ms); agent: nano-dollars; gap: active ms
    );
    CREATE INDEX activity_rollup_bucket ON activity_rollup(bucket_utc);
    CREATE TABLE activity_dirty (bucket_utc TEXT PRIMARY KEY, end_utc TEXT NOT NULL);
""").strip()

# A ledger made before activity was read: the transcripts still on disk are read again from the
# start (their responses are keyed, so none is counted twice) and activity is known from after
# the last response whose file is gone.
BACKFILL_ACTIVITY_SQL = textwrap.dedent("""
    INSERT INTO activity_state (id, known_since_utc)
    SELECT 1, (SELECT max(r.timestamp_utc) FROM responses AS r LEFT JOIN files AS f ON f.id = r.file_id
               WHERE f.id IS NULL OR f.missing_since_utc IS NOT NULL);
    UPDATE files SET read_offset = 0, size = 0, mtime_ns = 0 WHERE missing_since_utc IS NULL;
""").strip()
