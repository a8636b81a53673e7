"""Compare ccledger's 5-hour blocks with ccusage's on a Claude config dir.

    python benchmarks/compare_blocks.py DIR [--ccusage INSTALL_DIR]

Installs ccusage@20.0.24 with npm into a temporary folder unless given one, runs
``ccusage claude blocks --json --offline`` on DIR, indexes DIR into a temporary ledger, and prints
each block side by side: start, end, entries, tokens and cost. Two differences are explained
rather than counted: ccusage counts ``<synthetic>`` messages (local API-error placeholders with
no usage) as entries, and it prices responses ccledger leaves unpriced (e.g. ``speed: fast`` on a
model with no fast-mode price). Exits 1 on any other difference, including a cost that differs
by more than a hundred-thousandth of a dollar (ccusage sums floats; ccledger integer nano-dollars).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import compare_ccusage

from ccledger.answers import pace
from ccledger.ingest import index
from ccledger.ledger.db import open_db
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing


def ccusage_blocks(install: compare_ccusage.CcusageInstall, config_dir: Path) -> list[dict]:
    binary = install.native or install.launcher
    result = subprocess.run(
        [str(binary), "claude", "blocks", "--json", "--offline"],
        env=compare_ccusage.ccusage_env(config_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["blocks"]


def our_blocks(config_dir: Path) -> list[dict]:
    with tempfile.TemporaryDirectory() as scratch:
        db = open_db(Path(scratch) / "ledger.db")
        index.refresh(db, [config_dir])
        pricing.ensure_prices(db)
        ensure_rollup(db)
        found = pace.usage_blocks(db, since="all", zone=ZoneInfo("UTC"), now=datetime.now(UTC)).blocks
        db.close()
    return [block.model_dump() for block in found]


def row_of_ccusage(block: dict) -> tuple:
    counts = block["tokenCounts"]
    tokens = (
        counts["inputTokens"],
        counts["outputTokens"],
        counts["cacheCreationInputTokens"],
        counts["cacheReadInputTokens"],
    )
    return block["startTime"], block["endTime"], block["isGap"], block["entries"], tokens, block["costUSD"]


def synthetic_times(config_dir: Path) -> list[str]:
    """Timestamps of the <synthetic> messages under ``config_dir``."""
    found = []
    for path in (config_dir / "projects").rglob("*.jsonl"):
        with open(path, "rb") as handle:
            for line in handle:
                if b'"<synthetic>"' in line:
                    timestamp = json.loads(line).get("timestamp")
                    if timestamp:
                        found.append(timestamp)
    return sorted(found)


def row_of_ours(block: dict) -> tuple:
    tokens = (block["input_tokens"], block["output_tokens"], block["cache_write_tokens"], block["cache_read_tokens"])
    return block["start_utc"], block["end_utc"], block["is_gap"], block["responses"], tokens, block["cost_usd"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config_dir", type=Path)
    parser.add_argument("--ccusage", type=Path, help="A folder holding an npm install of ccusage.")
    args = parser.parse_args(argv)
    with compare_ccusage.ccusage(args.ccusage) as install:
        peer_blocks = ccusage_blocks(install, args.config_dir)
    mine_blocks = our_blocks(args.config_dir)
    synthetic = synthetic_times(args.config_dir)
    counts = {"equal": 0, "synthetic entries": 0, "unpriced here": 0, "different": 0}
    print(f"{'start':24s} {'end':24s} {'gap':3s} {'entries':>8s} {'tokens (ccusage / ccledger)':>30s} cost")
    for number, (peer_block, mine_block) in enumerate(zip(peer_blocks, mine_blocks, strict=False)):
        peer, mine = row_of_ccusage(peer_block), row_of_ours(mine_block)
        verdict = "equal"
        if peer[:3] != mine[:3] or peer[4] != mine[4]:
            verdict = "different"
        elif peer[3] != mine[3]:
            end = peer_block.get("actualEndTime") or peer_block["endTime"]
            extra = sum(1 for moment in synthetic if peer[0] <= moment <= end)
            verdict = "synthetic entries" if peer[3] - mine[3] == extra else "different"
        if verdict != "different" and abs(peer[5] - mine[5]) > 1e-5:
            verdict = "unpriced here" if mine_block["unpriced_responses"] else "different"
        counts[verdict] += 1
        print(
            f"{mine[0]:24s} {mine[1]:24s} {'gap' if mine[2] else '':3s} {mine[3]:>8d} "
            f"{sum(peer[4]):>14,d} / {sum(mine[4]):<14,d} {peer[5]:.6f} / {mine[5]:.6f}"
            + ("" if verdict == "equal" else f"  [{verdict}]")
        )
        if verdict == "different":
            print(f"    block {number}: ccusage {peer} ccledger {mine}")
    if len(peer_blocks) != len(mine_blocks):
        counts["different"] += 1
        print(f"block counts differ: ccusage {len(peer_blocks)}, ccledger {len(mine_blocks)}")
    print(
        f"\n{len(mine_blocks)} blocks: {counts['equal']} equal, {counts['synthetic entries']} differ only by "
        f"<synthetic> messages ccusage counts as entries, {counts['unpriced here']} differ in cost where ccledger "
        f"has unpriced responses (listed, never $0), {counts['different']} different"
    )
    return 1 if counts["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
