"""How large each MCP tool's answer gets on a heavy history, as the host hands it to the model.

    python benchmarks/answer_sizes.py            # the 1,000,000-response ledger of bench_tools.py

Claude Code gives the model a tool's structured content as compact JSON, warns above 10,000
tokens and replaces an answer above its limit (25,000 tokens by default) with a 2 KB preview.
For each tool this calls the arguments that make its answer largest (everything, grouped the
finest way), with its default page and its largest, through the MCP SDK's in-memory client, and
prints the bytes of that JSON and an estimate of its tokens (a token is about 3.5 bytes of it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from mcp import Client

from ccledger.surfaces.server import build_server

HERE = Path(__file__).parent
WORK = HERE / ".work"
BYTES_PER_TOKEN = 3.5

CALLS = [
    ("usage_summary", {"since": "all", "group_by": "session"}),
    ("usage_summary", {"since": "all", "group_by": "session", "limit": 100}),
    ("usage_summary", {"since": "all", "group_by": "day"}),
    ("usage_summary", {"since": "all", "group_by": "branch", "limit": 100}),
    ("cost_by_repo", {"since": "all", "limit": 100}),
    ("sessions", {"since": "all"}),
    ("sessions", {"since": "all", "limit": 60}),
    ("session_detail", {}),
    ("index_status", {}),
    ("usage_blocks", {"since": "all"}),
    ("usage_blocks", {"since": "all", "limit": 40}),
    ("burn_rate", {}),
    ("plan_value", {"plan": "max20", "since": "all"}),
    ("usage_pace", {}),
    ("budget_status", {}),
    ("activity_summary", {"since": "all"}),
    ("activity_summary", {"since": "all", "group_by": "session"}),
    ("activity_summary", {"since": "all", "group_by": "session", "limit": 100}),
    ("activity_heatmap", {"since": "all"}),
]


async def measure(ledger: Path, corpus: Path, now: datetime) -> list[tuple[str, str, int]]:
    import sqlite3

    with sqlite3.connect(ledger) as conn:
        biggest = conn.execute(
            "select session_id from usage_rollup group by session_id order by count(*) desc limit 1"
        ).fetchone()[0]
    server = build_server(ledger, roots=[corpus], now=lambda: now)
    found = []
    async with Client(server) as client:
        for tool, arguments in CALLS:
            if tool == "session_detail":
                arguments = {"session_id": biggest}
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                raise SystemExit(f"{tool} failed: {result.content[0].text}")
            size = len(json.dumps(result.structured_content, separators=(",", ":")))
            found.append((tool, json.dumps(arguments), size))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", type=Path, default=WORK / "tools-1000000-s1.db")
    parser.add_argument("--corpus", type=Path, default=WORK / "corpus-1024mb-3000f-s1")
    args = parser.parse_args()
    if not args.ledger.exists():
        sys.exit(f"{args.ledger} is missing: run benchmarks/bench_tools.py first (it builds it)")
    now = datetime(2026, 11, 14, 18, 0, tzinfo=UTC)  # the corpus's last day, as bench_tools.py has it
    print(f"{'tool':16s} {'arguments':48s} {'bytes':>9s} {'~tokens':>8s}")
    for tool, arguments, size in asyncio.run(measure(args.ledger, args.corpus, now)):
        flag = "  over 10k" if size / BYTES_PER_TOKEN > 10_000 else ""
        print(f"{tool:16s} {arguments[:48]:48s} {size:9,d} {size / BYTES_PER_TOKEN:8,.0f}{flag}")


if __name__ == "__main__":
    main()
