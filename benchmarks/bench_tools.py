"""How fast the MCP tools answer on a ledger of 1,000,000 responses, beside ccusage.

    python benchmarks/bench_tools.py                  # 1,000,000 responses, 3,000 files (built once, reused)
    python benchmarks/bench_tools.py --responses 200000 --calls 10   # a quicker run

The ledger is what a long-time user has: the transcripts of the last weeks on disk (the 1 GiB,
3,000-file generated corpus of bench_index.py, about 66,000 responses) and, for the rest of
the million, older responses whose transcripts Claude Code has deleted, with the shape real
sessions have (one main model, subagents on a smaller one, a few repos and branches, a year of
working days). Each tool is called through the MCP SDK's in-memory client, so a figure includes
everything Claude waits for: the freshness check over the 3,000 files, prices, rollup, query and
serialisation. ccusage answers the same questions by reading the same 3,000 files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import compare_ccusage
import generate_corpus

from ccledger.ingest import index
from ccledger.ledger.db import open_db, write_transaction
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing
from ccledger.surfaces.server import build_server

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
GOAL_P95_MS = 100.0

# Models by the date they were the main one, and the small model subagents used then.
HISTORY_MODELS = (
    ("2025-09-01", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"),
    ("2025-12-01", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"),
    ("2026-02-10", "claude-opus-4-6", "claude-haiku-4-5-20251001"),
    ("2026-06-01", "claude-opus-4-8", "claude-sonnet-5"),
)

INSERT_SQL = """
insert into responses (key, message_id, request_id, timestamp_utc, session_id, agent_id, is_sidechain, model,
    input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,
    web_search_requests, speed, service_tier, inference_geo, cwd, git_branch, repo_id, machine, cc_version,
    from_progress, tools, file_id)
values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, null, 'standard', null, ?, ?, ?, ?, '2.1.100', 0, ?, null)
"""
INSERT_RESULT_SQL = """
insert into tool_results (key, tool, shape, timestamp_utc, session_id, repo_id, model, outcome, made, lines_added,
    lines_removed, file_id)
values (?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, null)
"""
INSERT_EVENT_SQL = """
insert into activity_events (key, kind, name, timestamp_utc, session_id, repo_id, value, value2, file_id)
values (?, ?, ?, ?, ?, ?, ?, null, null)
"""
# What the older responses did, in the generator's proportions: the tools they called (a JSON
# array on the response), the results worth a row, a prompt and a turn every few responses.
TOOLS = ("Read", "Bash", "Edit", "Write", "Grep", "Glob", "TodoWrite", "WebFetch")
TOOL_WEIGHTS = (30, 25, 16, 5, 9, 6, 5, 4)


def build_ledger(path: Path, corpus: Path, responses: int, seed: int) -> None:
    """Index the corpus, then add older responses (from deleted transcripts) up to ``responses``."""
    db = open_db(path)
    started = time.perf_counter()
    index.refresh(db, [corpus])
    have = db.execute("select count(*) from responses").fetchone()[0]
    first = db.execute("select min(timestamp_utc) from responses").fetchone()[0]
    print(f"  indexed the corpus: {have:,} responses in {time.perf_counter() - started:.1f} s", flush=True)
    rows, results, events = [], [], []
    for row, result_rows, event_rows in _history(
        responses - have, end=datetime.fromisoformat(first.replace("Z", "+00:00")), seed=seed
    ):
        rows.append(row)
        results += result_rows
        events += event_rows
    with write_transaction(db):
        db.conn.executemany(INSERT_SQL, rows)
        db.conn.executemany(INSERT_RESULT_SQL, results)
        db.conn.executemany(INSERT_EVENT_SQL, events)
        db.execute("insert or ignore into repos (cwd, repo_id, how, resolved_utc) "
                   "select distinct cwd, repo_id, 'remote', '' from responses where file_id is null")  # fmt: skip
    pricing.ensure_prices(db)
    db.execute("delete from rollup_state")  # the added rows were not marked: rebuild it all
    db.conn.commit()
    ensure_rollup(db)
    total = db.execute("select count(*) from responses").fetchone()[0]
    rollup = db.execute("select count(*) from usage_rollup").fetchone()[0]
    print(f"  ledger ready: {total:,} responses, {rollup:,} rollup rows, {time.perf_counter() - started:.0f} s")
    db.close()


def _history(count: int, *, end: datetime, seed: int) -> Any:
    """Older responses in realistic sessions, on working days over the year before ``end``."""
    rng = random.Random(seed)
    repos = [f"github.com/acme/{name}" for name in ("api", "web", "infra", "mobile", "billing", "search")]
    repos += [f"/home/dev/side/{name}" for name in ("notes", "blog", "dotfiles", "scratch")]
    day = end - timedelta(days=365)
    made = 0
    per_day = count // 250 + 1
    while made < count:
        day += timedelta(days=1)
        if day.weekday() >= 5 and rng.random() < 0.8:
            continue
        main, small = next((m, s) for since, m, s in reversed(HISTORY_MODELS) if day.isoformat()[:10] >= since)
        today = min(per_day + rng.randint(-per_day // 3, per_day // 3), count - made)
        clock = day.replace(hour=8, minute=rng.randint(0, 59), second=0, microsecond=0)
        while today > 0 and made < count:
            size = min(rng.randint(40, 600), today)
            session = f"hist-{made:07d}"
            repo = rng.choice(repos)
            branch = rng.choice(("main", "main", f"feature-{rng.randint(1, 40)}"))
            machine = rng.choice(("laptop", "laptop", "desktop"))
            context = rng.randint(15_000, 40_000)
            for n in range(size):
                clock += timedelta(seconds=rng.randint(4, 40))
                sidechain = rng.random() < 0.2
                context = 20_000 if context > 180_000 else context + rng.randint(200, 3_000)
                made += 1
                stamp = clock.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                model = small if sidechain else main
                tools = rng.choices(TOOLS, TOOL_WEIGHTS, k=rng.choice((0, 0, 1, 1, 1, 1, 2)))
                results = [
                    (-made * 4 - k, tool, 0, stamp, session, repo, model, 1 if rng.random() < 0.05 else None,
                     rng.randint(1, 40) if tool in ("Edit", "Write") else None,
                     rng.randint(0, 20) if tool == "Edit" else None)
                    for k, tool in enumerate(tools)
                    if tool in ("Edit", "Write") or rng.random() < 0.05
                ]  # fmt: skip
                events = []
                if not sidechain and n % 8 == 0:
                    events = [
                        (made * 2, "prompt", None, stamp, session, repo, None),
                        (made * 2 + 1, "turn", None, stamp, session, repo, rng.randint(5_000, 300_000)),
                    ]
                yield (
                    (
                        f"msg_h{made:08d}:req_h{made:08d}", f"msg_h{made:08d}", f"req_h{made:08d}", stamp, session,
                        f"a{n // 25:06x}" if sidechain else None, sidechain, model, rng.randint(1, 8),
                        rng.randint(20, 2_500), rng.randint(0, 3_000),
                        rng.randint(0, 1_000) if rng.random() < 0.3 else 0, context,
                        f"/home/dev/src/{repo.rsplit('/', 1)[-1]}", branch, repo, machine,
                        json.dumps(tools) if tools else None,
                    ),
                    results,
                    events,
                )  # fmt: skip
            today -= size
            clock += timedelta(minutes=rng.randint(5, 90))


CALLS = {
    "usage_summary (this month, by day)": ("usage_summary", {}),
    "usage_summary (last 7 days, by model)": ("usage_summary", {"since": "last 7 days", "group_by": "model"}),
    "usage_summary (all, by day)": ("usage_summary", {"since": "all", "group_by": "day"}),
    "usage_summary (all, by month)": ("usage_summary", {"since": "all", "group_by": "month"}),
    "cost_by_repo (this month)": ("cost_by_repo", {}),
    "cost_by_repo (all)": ("cost_by_repo", {"since": "all"}),
    "sessions (last 7 days)": ("sessions", {}),
    "session_detail": ("session_detail", {}),  # a session from the middle of the history
    "index_status": ("index_status", {}),
    "burn_rate": ("burn_rate", {}),
    "usage_blocks (last 3 days)": ("usage_blocks", {}),
    "activity_summary (this month)": ("activity_summary", {}),
    "activity_summary (last 7 days, by day)": ("activity_summary", {"since": "last 7 days", "group_by": "day"}),
    "activity_summary (all, by month)": ("activity_summary", {"since": "all", "group_by": "month"}),
    "activity_heatmap (this month)": ("activity_heatmap", {}),
}

# The same questions asked of ccusage, which reads every file each time.
CCUSAGE_QUESTIONS = {
    "usage_summary (this month, by day)": ["claude", "daily", "--json", "--offline"],
    "usage_summary (all, by month)": ["claude", "monthly", "--json", "--offline"],
    "sessions (last 7 days)": ["claude", "session", "--json", "--offline"],
}


async def time_tools(ledger: Path, corpus: Path, calls: int, now: datetime) -> dict[str, list[float]]:
    from mcp import Client

    db = open_db(ledger)
    middle = db.execute("select session_id from usage_rollup where bucket_utc >= '2026-03-02' limit 1").fetchone()[0]
    db.close()
    server = build_server(ledger, roots=[corpus], now=lambda: now)
    timings: dict[str, list[float]] = {}
    async with Client(server) as client:
        await client.call_tool("index_status", {})  # the first call opens and warms the ledger
        for label, (tool, arguments) in CALLS.items():
            samples = []
            if tool == "session_detail":
                arguments = {"session_id": middle}
            for _ in range(calls):
                started = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                samples.append((time.perf_counter() - started) * 1000)
                if result.is_error:
                    raise SystemExit(f"{tool} failed: {result.content[0].text}")
            timings[label] = samples
    return timings


def time_ccusage(install: compare_ccusage.CcusageInstall, corpus: Path, runs: int) -> dict[str, float]:
    binary = install.native or install.launcher
    figures = {}
    for label, args in CCUSAGE_QUESTIONS.items():
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            env = compare_ccusage.ccusage_env(corpus)
            subprocess.run([str(binary), *args], env=env, capture_output=True, check=True)
            samples.append((time.perf_counter() - started) * 1000)
        figures[label] = statistics.median(samples)
    return figures


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000, help="Responses in the ledger.")
    parser.add_argument("--calls", type=int, default=30, help="Calls per tool.")
    parser.add_argument("--ccusage-runs", type=int, default=3)
    parser.add_argument("--ccusage", type=Path, help="A folder holding an npm install of ccusage@20.0.24.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = parser.parse_args(argv)

    corpus = WORK / "corpus-1024mb-3000f-s1"
    if generate_corpus.load_manifest(corpus) is None:
        print("generating the 1 GiB / 3,000-file corpus ...", flush=True)
        generate_corpus.generate(corpus, size_mb=1024, files=3000, seed=1)
    ledger = WORK / f"tools-{args.responses}-s{args.seed}.db"
    if not ledger.exists():
        print(f"building a ledger of {args.responses:,} responses ...", flush=True)
        build_ledger(ledger, corpus, args.responses, args.seed)
    now = datetime(2026, 11, 14, 18, 0, tzinfo=UTC)  # the corpus's last day
    timings = asyncio.run(time_tools(ledger, corpus, args.calls, now))
    with compare_ccusage.ccusage(args.ccusage) as install:
        peer = time_ccusage(install, corpus, args.ccusage_runs)

    print(f"\nMCP tool latency over {args.responses:,} responses, freshness check over 3,000 files included")
    print(f"({args.calls} calls each; goal p95 <= {GOAL_P95_MS:.0f} ms). ccusage: median of {args.ccusage_runs}.\n")
    print(f"{'question':42s} {'p50 ms':>8s} {'p95 ms':>8s} {'ccusage ms':>11s}")
    report = {}
    for label, samples in timings.items():
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        theirs = peer.get(label)
        print(f"{label:42s} {p50:8.1f} {p95:8.1f} {f'{theirs:,.0f}' if theirs else '':>11s}")
        report[label] = {"p50_ms": p50, "p95_ms": p95, "ccusage_ms": theirs}
    if args.json:
        args.json.write_text(json.dumps({"responses": args.responses, "figures": report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
