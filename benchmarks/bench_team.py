"""The team ledger at 5,000,000 responses: 20 developers x 250,000 each, on PostgreSQL.

    python benchmarks/bench_team.py                     # a throwaway PostgreSQL cluster (Debian's binaries)
    python benchmarks/bench_team.py --url postgresql://...   # an existing, empty database
    python benchmarks/bench_team.py --per-developer 50000    # a quicker run

Nineteen developers' rows are written straight into the team database (generated in SQL, a year
of them each) and summed into its rollup; the twentieth is a real local ledger of 250,000
responses in the shape bench_tools.py gives a long-time user, sent by ``sync`` as a machine
would. Printed: that first full sync (seconds, rows/s), a sync with nothing new, and
``team_usage`` this month by developer and all time by month (p50/p95), with the sizes of the
tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import bench_tools

from ccledger.answers.periods import resolve_period
from ccledger.ledger.db import open_db, write_transaction
from ccledger.pricing import table as pricing
from ccledger.team import sync as team_sync
from ccledger.team.connect import connect
from ccledger.team.usage import team_usage

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 20, 18, tzinfo=UTC)
GOAL_NO_CHANGE_MS = 200.0
GOAL_P95_MS = 200.0

# The other developers' rows: one every ~2 minutes over the year before NOW, on two models and
# four repos, a fifth of them subagents'.
FILL_SQL = """
INSERT INTO team_responses (key, message_id, request_id, timestamp_utc, hour_utc, session_id, agent_id, is_sidechain,
    model, input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,
    web_search_requests, speed, from_progress, repo_id, git_branch, developer, machine)
SELECT 'd' || d || ':' || n, 'm' || d || ':' || n, 'r' || d || ':' || n,
       to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"'), date_trunc('hour', ts),
       'session-' || d || '-' || n / 300, NULL, mod(n, 5) = 0,
       CASE WHEN mod(n, 5) = 0 THEN 'claude-haiku-4-5-20251001' ELSE 'claude-opus-4-6' END,
       1 + mod(n, 8), 20 + mod(n, 2500), mod(n, 3000), CASE WHEN mod(n, 3) = 0 THEN mod(n, 1000) ELSE 0 END,
       15000 + mod(n, 150000), 0,
       NULL, false, 'github.com/acme/' || (ARRAY['api', 'web', 'infra', 'mobile'])[1 + mod(n / 1000, 4)], 'main',
       'dev-' || lpad(d::text, 2, '0') || '@example.com', 'machine-' || lpad(d::text, 2, '0')
FROM generate_series(1, %(developers)s) AS d, generate_series(1, %(per)s) AS n,
     LATERAL (SELECT %(now)s::timestamptz - n * (interval '365 days' / %(per)s) - d * interval '7 seconds' AS ts) AS t
"""


def local_ledger(path: Path, responses: int) -> None:
    """A ledger of ``responses`` older responses, priced (bench_tools' history)."""
    db = open_db(path)
    rows = [row for row, _, _ in bench_tools._history(responses, end=NOW, seed=7)]
    with write_transaction(db):
        db.conn.executemany(bench_tools.INSERT_SQL, rows)
    pricing.ensure_prices(db)
    db.close()


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(url: str, per: int, developers: int, calls: int, work: Path) -> int:
    ledger = work / "ledger.db"
    started = time.perf_counter()
    local_ledger(ledger, per)
    print(f"local ledger: {per:,} responses in {time.perf_counter() - started:.1f} s", flush=True)
    db = open_db(ledger)
    team_sync.sync(db, url, who="dev-00@example.com", machine="machine-00", max_batches=0)  # tables and prices
    started = time.perf_counter()
    with connect(url) as conn, conn.transaction():
        conn.execute(FILL_SQL, {"developers": developers - 1, "per": per, "now": NOW})
        for sql in team_sync.REBUILD_ALL_SQL:
            conn.execute(sql)
    with connect(url) as conn:
        conn.execute("VACUUM ANALYZE")
    others = (developers - 1) * per
    seconds = time.perf_counter() - started
    print(f"the other {developers - 1} developers: {others:,} rows written and summed in {seconds:.0f} s")

    first = team_sync.sync(db, url, who="dev-00@example.com", machine="machine-00")
    print(
        f"first full sync of one machine: {first.sent:,} responses in {first.seconds:.2f} s "
        f"({first.sent / first.seconds:,.0f} rows/s, {first.batches} batches)"
    )
    quiet = [
        team_sync.sync(db, url, who="dev-00@example.com", machine="machine-00").seconds * 1000 for _ in range(calls)
    ]
    verdict = "ok" if percentile(quiet, 0.95) < GOAL_NO_CHANGE_MS else "MISSED"
    print(
        f"no-change sync: p50 {statistics.median(quiet):.1f} ms, p95 {percentile(quiet, 0.95):.1f} ms "
        f"(goal < {GOAL_NO_CHANGE_MS:.0f}: {verdict})"
    )
    db.close()
    zone = ZoneInfo("UTC")
    with connect(url) as conn:
        for label, since, group_by in (
            ("this month by developer", "this month", "developer"),
            ("all time by month", "all", "month"),
        ):
            window = resolve_period(since, None, zone=zone, now=NOW)
            samples = []
            for _ in range(calls):
                begun = time.perf_counter()
                answer = team_usage(conn, window, team="bench", group_by=group_by)
                samples.append((time.perf_counter() - begun) * 1000)
            verdict = "ok" if percentile(samples, 0.95) < GOAL_P95_MS else "MISSED"
            print(
                f"team_usage {label}: p50 {statistics.median(samples):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms "
                f"(goal < {GOAL_P95_MS:.0f}: {verdict}); {answer.totals.responses:,} responses, "
                f"{answer.totals.developers} developers, {answer.rows_total} rows"
            )
        sizes = conn.execute(
            "SELECT (SELECT count(*) FROM team_responses), (SELECT count(*) FROM team_rollup), "
            "pg_total_relation_size('team_responses'), pg_total_relation_size('team_rollup'), "
            "(SELECT count(*) FROM team_daily), pg_total_relation_size('team_daily')"
        ).fetchone()
    assert sizes is not None
    print(
        f"team_responses: {sizes[0]:,} rows, {sizes[2] / 2**20:,.0f} MiB ({sizes[2] / sizes[0]:.0f} bytes/row); "
        f"team_rollup: {sizes[1]:,} rows, {sizes[3] / 2**20:,.1f} MiB; team_daily: {sizes[4]:,} rows, "
        f"{sizes[5] / 2**20:,.1f} MiB"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="An empty PostgreSQL database (default: a throwaway cluster).")
    parser.add_argument("--per-developer", type=int, default=250_000)
    parser.add_argument("--developers", type=int, default=20)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        if args.url:
            return run(args.url, args.per_developer, args.developers, args.calls, Path(folder))
        sys.path.insert(0, str(HERE.parent / "tests"))
        from postgres_server import PostgresServer, find_binaries

        binaries = find_binaries()
        if binaries is None:
            raise SystemExit("no PostgreSQL server binaries: apt-get install postgresql, or pass --url")
        server = PostgresServer(binaries).start()
        try:
            return run(server.url(), args.per_developer, args.developers, args.calls, Path(folder))
        finally:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
