"""The ledger's schema: readable DDL, and the named migrations that build it.

Every schema change is a new named migration, applied on open (``db.open_db``). The ledger is the
user's long memory (Claude Code deletes transcripts after 30 days), so migrations only ever add,
or re-key what they must, exactly.
"""

from __future__ import annotations

import sqlite3
import textwrap

from sqlite_utils import Database, Migrations

from .activity import ACTIVITY_SQL, BACKFILL_ACTIVITY_SQL
from .activity_daily import ACTIVITY_DAILY_SQL
from .deferred import DEFERRABLE_INDEXES, create_missing_indexes
from .usage_daily import USAGE_DAILY_SQL, USAGE_DAY_SUMS_SQL, USAGE_HOUR_SUMS_SQL, USAGE_HOURLY_SQL

__all__ = ["MIGRATIONS"]

SCHEMA_SQL = textwrap.dedent("""
    -- One row per transcript file ever seen. A file Claude Code deleted keeps its row (and
    -- its responses keep theirs); missing_since_utc records when it went.
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        root TEXT NOT NULL,               -- the Claude config dir it was found under
        device INTEGER,                   -- (device, inode) tell a replaced file from an appended one
        inode INTEGER,
        size INTEGER NOT NULL DEFAULT 0,  -- bytes, when last read
        mtime_ns INTEGER NOT NULL DEFAULT 0,
        head_sha1 TEXT,                   -- of the first head_len bytes: catches a rewrite in place
        head_len INTEGER NOT NULL DEFAULT 0,
        read_offset INTEGER NOT NULL DEFAULT 0, -- just past the last complete line read
        lines INTEGER NOT NULL DEFAULT 0, -- complete lines read
        usage_lines INTEGER NOT NULL DEFAULT 0, -- lines that recorded a response (before de-duplication)
        bad_lines INTEGER NOT NULL DEFAULT 0,
        first_indexed_utc TEXT NOT NULL,
        last_read_utc TEXT,
        missing_since_utc TEXT,
        error TEXT                        -- why it could not be read on the last attempt
    );

    -- One row per API response, de-duplicated across all files (see transcript.Response).
    -- Tokens only: prices live in their own table so a price fix applies to all history.
    CREATE TABLE responses (
        key TEXT PRIMARY KEY,             -- message.id:requestId, else sessionId:message.id
        message_id TEXT,
        request_id TEXT,
        timestamp_utc TEXT NOT NULL,      -- YYYY-MM-DDTHH:MM:SS.mmmZ
        session_id TEXT,
        agent_id TEXT,                    -- the subagent that made the call, if any
        is_sidechain INTEGER NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_write_5m_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        web_search_requests INTEGER NOT NULL,
        speed TEXT,                       -- "fast" is priced apart
        service_tier TEXT,
        inference_geo TEXT,
        cwd TEXT,
        git_branch TEXT,
        repo_id TEXT,                     -- see repos
        machine TEXT NOT NULL,
        cc_version TEXT,                  -- the Claude Code version that wrote it
        from_progress INTEGER NOT NULL,   -- known only from a progress-line echo
        file_id INTEGER REFERENCES files(id)
    );
    CREATE INDEX responses_time ON responses(timestamp_utc);
    CREATE INDEX responses_message ON responses(message_id);
    CREATE INDEX responses_session ON responses(session_id, timestamp_utc);
    CREATE INDEX responses_repo ON responses(repo_id, timestamp_utc);

    -- Lines that could not be used, counted per file and kind. Never their content.
    CREATE TABLE file_problems (
        file_id INTEGER NOT NULL REFERENCES files(id),
        kind TEXT NOT NULL,
        count INTEGER NOT NULL,
        last_offset INTEGER,              -- byte offset of the latest such line
        PRIMARY KEY (file_id, kind)
    );

    -- Repo identity per working directory, resolved once and kept after the directory goes.
    CREATE TABLE repos (
        cwd TEXT PRIMARY KEY,
        repo_id TEXT NOT NULL,            -- github.com/owner/name, else the repo's root path
        root TEXT,                        -- the main working tree (worktrees folded in)
        remote TEXT,                      -- normalised origin URL, credentials stripped
        how TEXT NOT NULL,                -- remote | git-root | path
        resolved_utc TEXT NOT NULL
    );

    CREATE TABLE index_runs (
        id INTEGER PRIMARY KEY,
        started_utc TEXT NOT NULL,
        finished_utc TEXT,
        files_seen INTEGER,
        files_read INTEGER,
        new_responses INTEGER,
        updated_responses INTEGER,
        bad_lines INTEGER,
        seconds REAL
    );
""").strip()

MIGRATIONS = Migrations("ccledger")


@MIGRATIONS(name="m001_initial")
def _m001_initial(db: Database) -> None:
    _execute_script(db, SCHEMA_SQL)


# Prices are data that ``pricing.table`` rewrites whenever the table or the user's overrides change;
# costs are never stored, only computed by the view, so a price fix reprices all history.
PRICES_SQL = textwrap.dedent("""
    -- Every model string seen in responses, and the price-table entry it resolves to.
    CREATE TABLE model_prices (
        model TEXT PRIMARY KEY,           -- as logged, e.g. us.anthropic.claude-opus-4-8
        canonical_model TEXT,             -- price_periods.model; NULL: no price known (never $0)
        fingerprint TEXT NOT NULL         -- of the price table it was resolved against
    );

    -- What each kind of request cost per token, in nano-dollars (USD x 1e9), over time. Rows
    -- never overlap: a response matches one row by time, speed and prompt size, or none.
    CREATE TABLE price_periods (
        model TEXT NOT NULL,              -- canonical id
        valid_from_utc TEXT NOT NULL,     -- inclusive; '' for a model's first prices
        valid_to_utc TEXT,                -- exclusive; NULL while in force
        speed TEXT NOT NULL,              -- 'fast' for speed = 'fast' responses, else 'standard'
        min_prompt_tokens INTEGER NOT NULL, -- prompt = input + cache write + cache read tokens
        max_prompt_tokens INTEGER,        -- NULL: no limit
        long_context INTEGER NOT NULL,    -- 1: long-context tier rates for the whole request
        input_nanousd INTEGER NOT NULL,
        output_nanousd INTEGER NOT NULL,
        cache_write_5m_nanousd INTEGER NOT NULL,
        cache_write_1h_nanousd INTEGER NOT NULL,
        cache_read_nanousd INTEGER NOT NULL,
        web_search_nanousd INTEGER NOT NULL, -- per request
        source TEXT NOT NULL,             -- built-in, an override file, or genai-prices <version>
        PRIMARY KEY (model, valid_from_utc, speed, min_prompt_tokens)
    );

    -- The price table last written to price_periods.
    CREATE TABLE price_sync (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint TEXT NOT NULL,
        sources TEXT NOT NULL,            -- JSON list of the files merged, in order
        synced_utc TEXT NOT NULL
    );

    -- Lets pricing find the distinct models with one index seek each (a trigger on responses
    -- would double the cost of every insert), and serves per-model questions.
    CREATE INDEX responses_model ON responses(model);

    -- Every response with its cost at its own timestamp's prices. A plain view over responses,
    -- so a filter on timestamp_utc uses its index. Unpriced responses have NULL costs.
    CREATE VIEW response_costs AS
    SELECT
        r.*,
        m.canonical_model,
        r.input_tokens + r.output_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens
            + r.cache_read_tokens AS total_tokens,
        coalesce(p.long_context, 0) AS long_context,
        r.input_tokens * p.input_nanousd + r.output_tokens * p.output_nanousd
            + r.cache_write_5m_tokens * p.cache_write_5m_nanousd
            + r.cache_write_1h_tokens * p.cache_write_1h_nanousd
            + r.cache_read_tokens * p.cache_read_nanousd
            + r.web_search_requests * p.web_search_nanousd AS cost_nanousd,
        (r.input_tokens * p.input_nanousd + r.output_tokens * p.output_nanousd
            + r.cache_write_5m_tokens * p.cache_write_5m_nanousd
            + r.cache_write_1h_tokens * p.cache_write_1h_nanousd
            + r.cache_read_tokens * p.cache_read_nanousd
            + r.web_search_requests * p.web_search_nanousd) / 1e9 AS cost_usd
    FROM responses AS r
    LEFT JOIN model_prices AS m ON m.model = r.model
    LEFT JOIN price_periods AS p
        ON p.model = m.canonical_model
        AND p.valid_from_utc <= r.timestamp_utc
        AND (p.valid_to_utc IS NULL OR r.timestamp_utc < p.valid_to_utc)
        AND p.speed = CASE WHEN r.speed = 'fast' THEN 'fast' ELSE 'standard' END
        AND r.input_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens + r.cache_read_tokens
            BETWEEN p.min_prompt_tokens AND coalesce(p.max_prompt_tokens, 9223372036854775807);
""").strip()


@MIGRATIONS(name="m002_prices")
def _m002_prices(db: Database) -> None:
    _execute_script(db, PRICES_SQL)


# A cache of response_costs summed per 15-minute bucket, so questions over months of a busy
# ledger read thousands of rows instead of millions. 15 minutes because every timezone's offset
# is a multiple of it: a local day, week or month is a whole number of buckets. Rebuilt per
# bucket from rollup_dirty (filled by the indexer in the same transaction as its writes) and in
# full when the price table's fingerprint changes; see ``rollup``.
ROLLUP_SQL = textwrap.dedent("""
    -- Clustered by bucket (WITHOUT ROWID): a window of any length is one sequential read.
    CREATE TABLE usage_rollup (
        bucket_utc TEXT NOT NULL,         -- start of the bucket, YYYY-MM-DDTHH:MM:00.000Z
        seq INTEGER NOT NULL,             -- numbers the bucket's rows
        bucket_minute INTEGER NOT NULL,   -- the bucket start in minutes since 1970: local days by arithmetic
        source TEXT NOT NULL,             -- 'dev': Claude Code transcripts
        session_id TEXT,
        model TEXT NOT NULL,
        canonical_model TEXT,
        repo_id TEXT,
        git_branch TEXT,
        machine TEXT,
        responses INTEGER NOT NULL,
        subagent_responses INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_write_5m_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        web_search_requests INTEGER NOT NULL,
        cost_nanousd INTEGER NOT NULL,    -- of the priced responses only
        unpriced_responses INTEGER NOT NULL,
        unpriced_tokens INTEGER NOT NULL,
        first_utc TEXT NOT NULL,          -- the earliest and latest response in the group
        last_utc TEXT NOT NULL,
        PRIMARY KEY (bucket_utc, seq)
    ) WITHOUT ROWID;
    CREATE INDEX usage_rollup_session ON usage_rollup(session_id);
    CREATE INDEX usage_rollup_unpriced ON usage_rollup(model) WHERE unpriced_responses > 0;

    CREATE TABLE rollup_dirty (bucket_utc TEXT PRIMARY KEY, end_utc TEXT NOT NULL);

    CREATE TABLE rollup_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint TEXT NOT NULL,        -- price_sync.fingerprint the rollup was built with
        built_utc TEXT NOT NULL
    );
""").strip()


@MIGRATIONS(name="m005_usage_rollup")
def _m005_usage_rollup(db: Database) -> None:
    _execute_script(db, ROLLUP_SQL)


@MIGRATIONS(name="m006_drop_unused_indexes")
def _m006_drop_unused_indexes(db: Database) -> None:
    # Questions read the rollup, which has its own session index, and repo names come from the
    # repos table: these two indexes only cost the indexer time on every insert.
    db.execute("DROP INDEX IF EXISTS responses_repo")
    db.execute("DROP INDEX IF EXISTS responses_session")


# Official usage-limit readings from Claude Code's statusline payload (see limits.py).
RATE_LIMITS_SQL = textwrap.dedent("""
    CREATE TABLE rate_limits (
        id INTEGER PRIMARY KEY,
        captured_utc TEXT NOT NULL,
        window TEXT NOT NULL,             -- five_hour | seven_day
        used_percentage REAL NOT NULL,    -- 0 to 100, official
        resets_at_utc TEXT,
        session_id TEXT                   -- the Claude Code session that reported it
    );
    CREATE INDEX rate_limits_latest ON rate_limits(window, captured_utc);
""").strip()


@MIGRATIONS(name="m007_rate_limits")
def _m007_rate_limits(db: Database) -> None:
    _execute_script(db, RATE_LIMITS_SQL)


# Spending limits and the alerts already sent for them (see budgets.py).
BUDGETS_SQL = textwrap.dedent("""
    CREATE TABLE budgets (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,              -- 'all', or a repo id
        model TEXT NOT NULL DEFAULT '',   -- '' for every model, else one model (as logged or canonical)
        period TEXT NOT NULL,             -- day | week | month, calendar, in the configured timezone
        amount_nanousd INTEGER NOT NULL,
        thresholds TEXT NOT NULL,         -- JSON list of fractions of the amount that alert, e.g. [0.9, 1.0]
        include_prod INTEGER NOT NULL,    -- 1: production spend pulled for the repo counts too
        created_utc TEXT NOT NULL,
        updated_utc TEXT NOT NULL,
        UNIQUE (scope, model, period)     -- setting the same budget again updates it
    );

    CREATE TABLE budget_alerts_sent (
        budget_id INTEGER NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
        period_start_utc TEXT NOT NULL,
        threshold REAL NOT NULL,
        sent_utc TEXT NOT NULL,
        PRIMARY KEY (budget_id, period_start_utc, threshold)
    );
""").strip()


@MIGRATIONS(name="m008_budgets")
def _m008_budgets(db: Database) -> None:
    _execute_script(db, BUDGETS_SQL)


# Usage of the apps a team ships, pulled on demand from production sources (see prod/). One row per
# request, or per group of requests in a time bucket (the Admin API's hourly buckets), keyed per
# source so pulling again replaces a row instead of adding one. Tokens only, like responses:
# prod_costs prices them with the same tables.
PROD_USAGE_SQL = textwrap.dedent("""
    CREATE TABLE prod_usage (
        id INTEGER PRIMARY KEY,
        source_id TEXT NOT NULL,          -- the [[prod.sources]] id
        record_key TEXT NOT NULL,         -- bucket + model + api key/workspace, or the request id
        bucket_start_utc TEXT NOT NULL,   -- a single request's own time
        bucket_end_utc TEXT NOT NULL,
        repo_id TEXT NOT NULL,            -- the repo the source is charged to
        model TEXT NOT NULL,
        requests INTEGER,                 -- NULL: not reported (Admin API buckets)
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_write_5m_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        web_search_requests INTEGER NOT NULL,
        speed TEXT,
        context_window TEXT,              -- '0-200k' | '200k-1M' when the source says; NULL: from the tokens
        provider_cost_nanousd INTEGER,    -- the source's own figure, e.g. Anthropic's cost report
        pulled_utc TEXT NOT NULL,
        UNIQUE (source_id, record_key)
    );
    CREATE INDEX prod_usage_time ON prod_usage(bucket_start_utc);
    CREATE INDEX prod_usage_model ON prod_usage(model);

    CREATE TABLE prod_cursors (
        source_id TEXT PRIMARY KEY,
        cursor TEXT,                      -- where the next pull starts, opaque per kind; NULL: the beginning
        last_pull_utc TEXT,
        last_stats TEXT                   -- JSON: pages, records added / replaced / removed, error
    );
""").strip()

# prod_usage priced like response_costs: the price in force at the bucket's start. A bucket sums
# many requests, so when the source names the context window, that (not the summed tokens) picks
# the long-context tier. Unpriced rows have NULL costs. The token cost is divided by {divisor}
# (m010: 2 for Message Batches records). cost_nanousd is computed once, in a subquery that a date
# filter still reaches (SQLite pushes WHERE terms down into it).
PROD_COSTS_VIEW_SQL = textwrap.dedent("""
    CREATE VIEW prod_costs AS
    SELECT *, cost_nanousd / 1e9 AS cost_usd
    FROM (
        SELECT
            u.*,
            m.canonical_model,
            u.input_tokens + u.output_tokens + u.cache_write_5m_tokens + u.cache_write_1h_tokens
                + u.cache_read_tokens AS total_tokens,
            coalesce(p.long_context, 0) AS long_context,
            (u.input_tokens * p.input_nanousd + u.output_tokens * p.output_nanousd
                + u.cache_write_5m_tokens * p.cache_write_5m_nanousd
                + u.cache_write_1h_tokens * p.cache_write_1h_nanousd
                + u.cache_read_tokens * p.cache_read_nanousd) / {divisor}
            + u.web_search_requests * p.web_search_nanousd AS cost_nanousd
        FROM prod_usage AS u
        LEFT JOIN model_prices AS m ON m.model = u.model
        LEFT JOIN price_periods AS p
            ON p.model = m.canonical_model
            AND p.valid_from_utc <= u.bucket_start_utc
            AND (p.valid_to_utc IS NULL OR u.bucket_start_utc < p.valid_to_utc)
            AND p.speed = CASE WHEN u.speed = 'fast' THEN 'fast' ELSE 'standard' END
            AND CASE
                    WHEN u.context_window IS NULL
                        THEN u.input_tokens + u.cache_write_5m_tokens + u.cache_write_1h_tokens + u.cache_read_tokens
                    WHEN u.context_window = '0-200k' THEN 0
                    ELSE 9223372036854775807
                END BETWEEN p.min_prompt_tokens AND coalesce(p.max_prompt_tokens, 9223372036854775807)
    );
""").strip()


@MIGRATIONS(name="m009_prod_usage")
def _m009_prod_usage(db: Database) -> None:
    _execute_script(db, PROD_USAGE_SQL)
    db.execute(PROD_COSTS_VIEW_SQL.format(divisor="1"))


# The Message Batches API bills every token at half the list price (shared/reference/pricing.md);
# shipped apps use it, Claude Code does not. Sources that say which service tier a record used
# (the Admin API grouped by it, an export record's usage) store it, and prod_costs halves the
# token part of a 'batch' record (web searches are per request, not discounted). Priority Tier has
# no public per-token price: it stays at list price.
PROD_SERVICE_TIER_SQL = textwrap.dedent("""
    ALTER TABLE prod_usage ADD COLUMN service_tier TEXT;  -- 'standard' | 'batch' | 'priority'; NULL: not said
    DROP VIEW prod_costs;
""").strip()
BATCH_DIVISOR_SQL = "CASE WHEN u.service_tier = 'batch' THEN 2 ELSE 1 END"


@MIGRATIONS(name="m010_prod_service_tier")
def _m010_prod_service_tier(db: Database) -> None:
    _execute_script(db, PROD_SERVICE_TIER_SQL)
    db.execute(PROD_COSTS_VIEW_SQL.format(divisor=BATCH_DIVISOR_SQL))


# The responses' key is unique through an index of its own rather than the table's primary key,
# so that a first index can load without it and build it once at the end: kept up to date row by
# row it was half the cost of every insert (see deferred.DEFERRABLE_INDEXES). The table is rebuilt from its
# own definition with that one clause changed, keeping its columns in order and its rowids (file
# order, which the merge relies on); the one view over it is left alone while it is renamed, and
# reads it by name after.
RESPONSES_TABLE_SQL = "select sql from sqlite_master where type = 'table' and name = 'responses'"
RESPONSES_COLUMNS_SQL = "select name from pragma_table_info('responses')"
_KEY_AS_PRIMARY_KEY, _KEY_AS_COLUMN = "key TEXT PRIMARY KEY,", "key TEXT NOT NULL,"
REBUILD_RESPONSES_SQL = textwrap.dedent("""
    INSERT INTO responses_rebuilt (rowid, {columns}) SELECT rowid, {columns} FROM responses;
    DROP TABLE responses;
    PRAGMA legacy_alter_table = ON;   -- rename without re-reading response_costs, which names responses
    ALTER TABLE responses_rebuilt RENAME TO responses;
    PRAGMA legacy_alter_table = OFF;
""").strip()


@MIGRATIONS(name="m011_responses_key_index")
def _m011_responses_key_index(db: Database) -> None:
    (table,) = db.execute(RESPONSES_TABLE_SQL).fetchone()
    if _KEY_AS_PRIMARY_KEY not in table:
        raise sqlite3.DatabaseError(f"m011: unexpected definition of responses: {table}")
    db.execute(
        table.replace("CREATE TABLE responses", "CREATE TABLE responses_rebuilt", 1).replace(
            _KEY_AS_PRIMARY_KEY, _KEY_AS_COLUMN, 1
        )
    )
    columns = ", ".join(name for (name,) in db.execute(RESPONSES_COLUMNS_SQL))
    _execute_script(db, REBUILD_RESPONSES_SQL.format(columns=columns))
    create_missing_indexes(db, DEFERRABLE_INDEXES)  # the later migrations' tables are not there yet


# A response without requestId was keyed sessionId:message.id, so each copy of it in a fork or a
# resumed session (Claude Code copies lines into the new session's file under the new sessionId)
# was a response of its own. Its key is message.id alone from m012 on (see transcript._response):
# stored rows are re-keyed, and where copies now share a key the one that outranks the others is
# kept (transcript.rank_of; on a full tie the first written, the lowest rowid), as a merge would
# have kept it. The rollup is then rebuilt whole. session_forks remembers which session each fork
# copied from, as the copies written from now on show it.
REKEY_RESPONSES_SQL = textwrap.dedent("""
    CREATE TABLE session_forks (
        session_id TEXT PRIMARY KEY,      -- a fork (claude --fork-session)
        forked_from TEXT NOT NULL,        -- the session it was forked from
        copied_utc TEXT NOT NULL          -- the time of the latest response it copied from there
    );
    CREATE TEMP TABLE m012_places AS
    SELECT rowid AS id, row_number() OVER (
        PARTITION BY message_id
        ORDER BY is_sidechain,
                 input_tokens + output_tokens + cache_write_5m_tokens + cache_write_1h_tokens
                     + cache_read_tokens DESC,
                 speed IS NOT NULL DESC, from_progress, rowid
    ) AS place
    FROM responses WHERE request_id IS NULL AND message_id IS NOT NULL;
    DELETE FROM responses WHERE rowid IN (SELECT id FROM m012_places WHERE place > 1);
    UPDATE responses SET key = message_id WHERE request_id IS NULL AND message_id IS NOT NULL;
    DROP TABLE m012_places;
    DELETE FROM rollup_state;
""").strip()


@MIGRATIONS(name="m012_responses_keyed_by_message_id")
def _m012_responses_keyed_by_message_id(db: Database) -> None:
    _execute_script(db, REKEY_RESPONSES_SQL)


# Two guards against bad input that earlier releases let in. files.tail_sha1 (see
# file_result.TAIL_BYTES) notices a file rewritten in place that kept its head. And a stored
# usage field beyond transcript.MAX_TOKENS (or below 0), which only an earlier release could
# have written, would make sums overflow and break every answer: such rows are counted as their
# file's invalid_usage lines and deleted, and the rollup is rebuilt without them. Alerts marked
# sent for a budget since deleted (foreign keys were never on) are forgotten: a budget that got
# its id would never have alerted.
FILES_TAIL_AND_SANE_USAGE_SQL = textwrap.dedent("""
    ALTER TABLE files ADD COLUMN tail_sha1 TEXT;
    CREATE TEMP TABLE m013_insane AS
    SELECT rowid AS id, file_id FROM responses
    WHERE max(input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,
              web_search_requests) > 1000000000
       OR min(input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,
              web_search_requests) < 0;
    INSERT INTO file_problems (file_id, kind, count, last_offset)
    SELECT file_id, 'invalid_usage', count(*), NULL FROM m013_insane WHERE file_id IS NOT NULL GROUP BY file_id
    ON CONFLICT(file_id, kind) DO UPDATE SET count = count + excluded.count;
    DELETE FROM responses WHERE rowid IN (SELECT id FROM m013_insane);
    DELETE FROM rollup_state WHERE (SELECT count(*) FROM m013_insane) > 0;
    DROP TABLE m013_insane;
    DELETE FROM budget_alerts_sent
    WHERE budget_id NOT IN (SELECT id FROM budgets)
       OR sent_utc < (SELECT created_utc FROM budgets WHERE budgets.id = budget_id);
""").strip()


@MIGRATIONS(name="m013_files_tail_and_sane_usage")
def _m013_files_tail_and_sane_usage(db: Database) -> None:
    _execute_script(db, FILES_TAIL_AND_SANE_USAGE_SQL)


@MIGRATIONS(name="m014_activity")
def _m014_activity(db: Database) -> None:
    _execute_script(db, ACTIVITY_SQL + "\n" + BACKFILL_ACTIVITY_SQL)


@MIGRATIONS(name="m015_activity_daily")
def _m015_activity_daily(db: Database) -> None:
    pass  # its single daily table is replaced by m017's two


@MIGRATIONS(name="m016_usage_daily")
def _m016_usage_daily(db: Database) -> None:
    _execute_script(db, USAGE_DAILY_SQL)
    db.execute(USAGE_DAY_SUMS_SQL.format(rows="usage_rollup"))  # from the rollup as it stands


@MIGRATIONS(name="m017_activity_daily_shapes")
def _m017_activity_daily_shapes(db: Database) -> None:
    _execute_script(db, ACTIVITY_DAILY_SQL)  # the activity rollup is built again, with them, when next asked


@MIGRATIONS(name="m018_usage_hourly")
def _m018_usage_hourly(db: Database) -> None:
    _execute_script(db, USAGE_HOURLY_SQL)
    db.execute(USAGE_HOUR_SUMS_SQL.format(rows="usage_rollup"))  # from the rollup as it stands


# Where this ledger stands with a team database (see ``team.sync``): its own id there (what the
# team's high-water mark is kept under) and the last attempt, so that a failure is reported and
# retried, never in the way of a local answer.
TEAM_SYNC_SQL = textwrap.dedent("""
    CREATE TABLE team_sync (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        ledger_id TEXT NOT NULL,
        last_attempt_utc TEXT,
        last_success_utc TEXT,
        last_error TEXT,                  -- NULL after a sync that succeeded; never holds a password
        responses_sent INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO team_sync (id, ledger_id) VALUES (1, lower(hex(randomblob(16))));
""").strip()


@MIGRATIONS(name="m019_team_sync")
def _m019_team_sync(db: Database) -> None:
    _execute_script(db, TEAM_SYNC_SQL)


def _execute_script(db: Database, script: str) -> None:
    """Run a script's statements one by one, in the caller's transaction (executescript() would
    commit it first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending.strip())
            pending = ""
