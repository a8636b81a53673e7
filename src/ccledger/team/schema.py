"""The team database's tables, created and changed by numbered migrations.

Every statement is PostgreSQL. ``team_responses`` holds one row per response key, the copy
that outranks the others whoever sent it (the local ledger's rule, ``transcript.rank_of``,
with the machine's name breaking a tie so that the order of syncs never matters);
``team_rollup`` sums them per UTC hour, developer, machine, repo and model, priced with the
price table the newest ccledger synced (``team_price_periods``), and ``team_daily`` per UTC day:
what answers read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

__all__ = ["MIGRATIONS", "migrate"]

# One lock for the schema, one for the rollup and one for production sources, so that two
# machines syncing at once neither migrate twice, nor rebuild the same hours side by side, nor
# replace one source at once (pg_advisory_xact_lock keys).
SCHEMA_LOCK = 0x6363_6C65_0001
ROLLUP_LOCK = 0x6363_6C65_0002
PROD_LOCK = 0x6363_6C65_0003

# The pricing both views share (as the local ledger's response_costs and prod_costs): the
# tokens, and their cost at the price period the row matches by time, speed and prompt size.
_PROMPT = "{t}.input_tokens + {t}.cache_write_5m_tokens + {t}.cache_write_1h_tokens + {t}.cache_read_tokens"
# A production bucket sums many requests: the context window the source names picks the tier.
_PROD_PROMPT = f"""CASE
            WHEN u.context_window IS NULL THEN {_PROMPT.format(t="u")}
            WHEN u.context_window = '0-200k' THEN 0
            ELSE 9223372036854775807
        END"""
_BATCH_DIVISOR = "CASE WHEN u.service_tier = 'batch' THEN 2 ELSE 1 END"
_PRICE_JOIN = """LEFT JOIN team_model_prices AS m ON m.model = {t}.model
LEFT JOIN team_price_periods AS p
    ON p.model = m.canonical_model
    AND p.valid_from_utc <= {at}
    AND (p.valid_to_utc IS NULL OR {at} < p.valid_to_utc)
    AND p.speed = CASE WHEN {t}.speed = 'fast' THEN 'fast' ELSE 'standard' END
    AND {prompt} BETWEEN p.min_prompt_tokens AND coalesce(p.max_prompt_tokens, 9223372036854775807)"""


def _priced(t: str, divisor: str) -> str:
    """The total_tokens and cost_nanousd columns of rows ``t`` at the matched period's rates, the
    tokens' part divided by ``divisor`` (a Message Batches record's is half price)."""
    return f"""{t}.input_tokens + {t}.output_tokens + {t}.cache_write_5m_tokens + {t}.cache_write_1h_tokens
        + {t}.cache_read_tokens AS total_tokens,
    ({t}.input_tokens * p.input_nanousd + {t}.output_tokens * p.output_nanousd
        + {t}.cache_write_5m_tokens * p.cache_write_5m_nanousd + {t}.cache_write_1h_tokens * p.cache_write_1h_nanousd
        + {t}.cache_read_tokens * p.cache_read_nanousd) / {divisor}
    + {t}.web_search_requests * p.web_search_nanousd AS cost_nanousd"""


_TOKENS_DDL = ",\n    ".join(
    f"{column} BIGINT NOT NULL"
    for column in (
        "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
        "web_search_requests",
    )
)  # fmt: skip

_M001 = f"""
CREATE TABLE team_responses (
    key TEXT PRIMARY KEY,
    message_id TEXT,
    request_id TEXT,
    timestamp_utc TEXT NOT NULL,          -- as the local ledger writes it: 2026-12-03T12:00:00.000Z
    hour_utc TIMESTAMPTZ NOT NULL,        -- its hour, for the rollup
    session_id TEXT,
    agent_id TEXT,
    is_sidechain BOOLEAN NOT NULL,
    model TEXT NOT NULL,
    {_TOKENS_DDL},
    speed TEXT,
    from_progress BOOLEAN NOT NULL,
    repo_id TEXT,
    git_branch TEXT,
    developer TEXT NOT NULL,
    machine TEXT NOT NULL,
    synced_utc TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX team_responses_message ON team_responses (message_id);
CREATE INDEX team_responses_hour ON team_responses (hour_utc);

-- Each machine's ledger and how far it has been sent: the rowid of its last response sent.
CREATE TABLE team_machines (
    ledger_id TEXT PRIMARY KEY,           -- a random id the local ledger keeps (sync_state)
    machine TEXT NOT NULL,
    developer TEXT NOT NULL,
    high_water BIGINT NOT NULL DEFAULT 0,
    responses_sent BIGINT NOT NULL DEFAULT 0,
    first_synced_utc TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_synced_utc TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The price table, as the local ledger's (pricing.table); replaced whole by a newer ccledger.
CREATE TABLE team_model_prices (
    model TEXT PRIMARY KEY,
    canonical_model TEXT
);
CREATE TABLE team_price_periods (
    model TEXT NOT NULL,
    valid_from_utc TEXT NOT NULL,
    valid_to_utc TEXT,
    speed TEXT NOT NULL,
    min_prompt_tokens BIGINT NOT NULL,
    max_prompt_tokens BIGINT,
    long_context INTEGER NOT NULL,
    input_nanousd BIGINT NOT NULL,
    output_nanousd BIGINT NOT NULL,
    cache_write_5m_nanousd BIGINT NOT NULL,
    cache_write_1h_nanousd BIGINT NOT NULL,
    cache_read_nanousd BIGINT NOT NULL,
    web_search_nanousd BIGINT NOT NULL,
    PRIMARY KEY (model, valid_from_utc, speed, min_prompt_tokens)
);
CREATE TABLE team_prices (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    version TEXT NOT NULL,                -- of the ccledger that synced it
    synced_utc TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What each response costs, as the local response_costs view prices it: a response matches one
-- price period by time, speed and prompt size, or none (unpriced, never $0).
CREATE VIEW team_response_costs AS
SELECT r.*, m.canonical_model, {_priced("r", "1")}
FROM team_responses AS r
{_PRICE_JOIN.format(t="r", at="r.timestamp_utc", prompt=_PROMPT.format(t="r"))};

CREATE TABLE team_rollup (
    hour_utc TIMESTAMPTZ NOT NULL,
    developer TEXT NOT NULL,
    machine TEXT NOT NULL,
    repo_id TEXT,
    model TEXT NOT NULL,
    canonical_model TEXT,
    responses BIGINT NOT NULL,
    subagent_responses BIGINT NOT NULL,
    input_tokens NUMERIC NOT NULL,
    output_tokens NUMERIC NOT NULL,
    cache_write_5m_tokens NUMERIC NOT NULL,
    cache_write_1h_tokens NUMERIC NOT NULL,
    cache_read_tokens NUMERIC NOT NULL,
    total_tokens NUMERIC NOT NULL,
    web_search_requests NUMERIC NOT NULL,
    cost_nanousd NUMERIC NOT NULL,
    unpriced_responses BIGINT NOT NULL,
    unpriced_tokens NUMERIC NOT NULL
);
CREATE INDEX team_rollup_hour ON team_rollup (hour_utc);
"""

# The rows of one developer's machine by hour, which a sync sums again; and the same sums per
# UTC day, for long windows: a year of a 20-person team is some 20,000 rows
# here against hundreds of thousands of hourly ones. Kept from team_rollup by the sync.
_M002 = """
CREATE INDEX team_responses_owner ON team_responses (developer, machine, hour_utc);
CREATE TABLE team_daily (LIKE team_rollup);
ALTER TABLE team_daily RENAME COLUMN hour_utc TO day_utc;
CREATE INDEX team_daily_day ON team_daily (day_utc);
INSERT INTO team_daily
SELECT date_trunc('day', hour_utc), developer, machine, repo_id, model, canonical_model, sum(responses),
       sum(subagent_responses), sum(input_tokens), sum(output_tokens), sum(cache_write_5m_tokens),
       sum(cache_write_1h_tokens), sum(cache_read_tokens), sum(total_tokens), sum(web_search_requests),
       sum(cost_nanousd), sum(unpriced_responses), sum(unpriced_tokens)
FROM team_rollup GROUP BY 1, 2, 3, 4, 5, 6;
"""

# Production telemetry (``prod``): each source's records, keyed per source as locally. The
# ledger that pulled a source last owns its rows here: they are replaced whole when it syncs, so
# two machines pulling one source count it once. Priced as the local prod_costs view prices them.
_M003 = f"""
CREATE TABLE team_prod_usage (
    source_id TEXT NOT NULL,
    record_key TEXT NOT NULL,
    bucket_start_utc TEXT NOT NULL,
    bucket_end_utc TEXT NOT NULL,
    repo_id TEXT NOT NULL,
    model TEXT NOT NULL,
    requests BIGINT,
    {_TOKENS_DDL},
    speed TEXT,
    context_window TEXT,
    provider_cost_nanousd BIGINT,
    service_tier TEXT,
    PRIMARY KEY (source_id, record_key)
);
CREATE INDEX team_prod_usage_start ON team_prod_usage (bucket_start_utc);
CREATE TABLE team_prod_sources (
    source_id TEXT PRIMARY KEY,
    ledger_id TEXT NOT NULL,
    developer TEXT NOT NULL,
    machine TEXT NOT NULL,
    last_pull_utc TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    synced_utc TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE VIEW team_prod_costs AS
SELECT u.*, m.canonical_model, {_priced("u", _BATCH_DIVISOR)}
FROM team_prod_usage AS u
{_PRICE_JOIN.format(t="u", at="u.bucket_start_utc", prompt=_PROD_PROMPT)};
"""

# Team budgets (``budgets``): for the whole team ('team') or one developer, per calendar period
# in the zone each was set in. Nothing of a machine's own budgets.
_M004 = """
CREATE TABLE team_budgets (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL,                  -- 'team', or a developer
    period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
    amount_nanousd BIGINT NOT NULL CHECK (amount_nanousd > 0),
    thresholds TEXT NOT NULL,             -- JSON: fractions of the amount that warn
    include_prod BOOLEAN NOT NULL DEFAULT false,
    timezone TEXT NOT NULL,
    created_utc TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (scope, period)
);
"""

MIGRATIONS: list[tuple[int, str]] = [(1, _M001), (2, _M002), (3, _M003), (4, _M004)]
"""(version, statements), in order; a database is at the highest version applied."""

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS team_schema (version INTEGER PRIMARY KEY, applied_utc TIMESTAMPTZ NOT NULL DEFAULT now())
"""


def migrate(conn: psycopg.Connection) -> int:
    """Apply the migrations the database lacks, in one transaction under the schema lock;
    returns the version it is at. Safe to call from several machines at once."""
    latest = MIGRATIONS[-1][0]
    if conn.execute("SELECT to_regclass('team_schema') IS NOT NULL").fetchone() == (True,):
        row = conn.execute("SELECT max(version) FROM team_schema").fetchone()
        if row is not None and row[0] == latest:
            return latest  # no lock and no DDL: a role that may only read answers too
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        conn.execute(_VERSION_TABLE)
        row = conn.execute("SELECT coalesce(max(version), 0) FROM team_schema").fetchone()
        at = row[0] if row else 0
        for version, statements in MIGRATIONS:
            if version > at:
                conn.execute(statements)
                conn.execute("INSERT INTO team_schema (version) VALUES (%s)", [version])
                at = version
    return at
