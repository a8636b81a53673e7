"""Production telemetry to the team database: each source's records, replaced whole.

Locally a pull may replace or remove a source's records (a source corrects itself), so they are
not sent by a high-water mark: a source's whole set goes when it changed since it was last sent
from this ledger, or when this ledger pulled it more recently than the one whose copy the team
holds. Two machines pulling the same source so never count it twice. Records are few (hourly
buckets or single requests): a set is a COPY of thousands of rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .schema import PROD_LOCK

if TYPE_CHECKING:
    import psycopg
    from sqlite_utils import Database

__all__ = ["sync_prod"]

_COLUMNS = (
    "source_id, record_key, bucket_start_utc, bucket_end_utc, repo_id, model, requests, input_tokens, output_tokens, "
    "cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, web_search_requests, speed, context_window, "
    "provider_cost_nanousd, service_tier"
)
# Each source this ledger has records of: when it was last pulled here, and what it holds.
LOCAL_SOURCES_SQL = """
select u.source_id, coalesce(c.last_pull_utc, max(u.pulled_utc)),
       count(*) || ':' || sum(u.input_tokens + u.output_tokens + u.cache_write_5m_tokens + u.cache_write_1h_tokens
           + u.cache_read_tokens) || ':' || max(u.pulled_utc)
from prod_usage as u left join prod_cursors as c on c.source_id = u.source_id
group by u.source_id
"""
LOCAL_RECORDS_SQL = f"select {_COLUMNS} from prod_usage where source_id = ?"
TEAM_SOURCE_SQL = "SELECT ledger_id, last_pull_utc, fingerprint FROM team_prod_sources WHERE source_id = %s"
SAVE_SOURCE_SQL = """
INSERT INTO team_prod_sources (source_id, ledger_id, developer, machine, last_pull_utc, fingerprint)
VALUES (%(source)s, %(ledger)s, %(developer)s, %(machine)s, %(pulled)s, %(fingerprint)s)
ON CONFLICT (source_id) DO UPDATE SET ledger_id = excluded.ledger_id, developer = excluded.developer,
    machine = excluded.machine, last_pull_utc = excluded.last_pull_utc, fingerprint = excluded.fingerprint,
    synced_utc = now()
"""


def sync_prod(conn: psycopg.Connection, db: Database, *, ledger: str, who: str, machine: str) -> int:
    """Send the sources whose records changed here, or that were pulled here last; returns the
    records sent. One transaction per source."""
    sent = 0
    for source, pulled, fingerprint in db.execute(LOCAL_SOURCES_SQL).fetchall():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [PROD_LOCK])
            team = conn.execute(TEAM_SOURCE_SQL, [source]).fetchone()
            if team is not None:
                owner, team_pulled, team_fingerprint = team
                ours = owner == ledger
                if (ours and team_fingerprint == fingerprint) or (not ours and pulled <= team_pulled):
                    continue  # nothing new here, or another ledger pulled it more recently
            conn.execute("DELETE FROM team_prod_usage WHERE source_id = %s", [source])
            rows = db.execute(LOCAL_RECORDS_SQL, [source]).fetchall()
            with conn.cursor() as cursor, cursor.copy(f"COPY team_prod_usage ({_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.execute(
                SAVE_SOURCE_SQL,
                {"source": source, "ledger": ledger, "developer": who, "machine": machine, "pulled": pulled,
                 "fingerprint": fingerprint},
            )  # fmt: skip
            sent += len(rows)
    return sent
