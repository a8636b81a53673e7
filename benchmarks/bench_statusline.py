"""How fast ``ccledger statusline`` answers, as Claude Code runs it: a fresh process per tick.

    python benchmarks/bench_statusline.py [--ledger PATH] [--runs 40]

Uses the 1,000,000-response ledger of bench_tools.py (build it first) unless given another, and
a realistic payload with the official rate limits. Prints p50/p95 wall time of the command beside
the time a bare ``python -c pass`` takes on the same machine, and the goal (well under 100 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOAL_MS = 100.0


def payload() -> bytes:
    now = datetime.now(UTC)
    limits = {
        "five_hour": {"used_percentage": 42, "resets_at": int((now + timedelta(hours=2)).timestamp())},
        "seven_day": {"used_percentage": 18, "resets_at": int((now + timedelta(days=3)).timestamp())},
    }
    data = {
        "session_id": "bench",
        "model": {"id": "claude-opus-4-8", "display_name": "Opus 4.8"},
        "workspace": {"current_dir": "/w", "project_dir": "/w"},
        "rate_limits": limits,
    }
    return json.dumps(data).encode()


def timed(command: list[str], env: dict[str, str], stdin: bytes, runs: int, before: object = None) -> list[float]:
    samples = []
    for _ in range(runs):
        if callable(before):
            before()
        started = time.perf_counter()
        subprocess.run(command, input=stdin, env=env, capture_output=True, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ledger", type=Path, default=HERE / ".work" / "tools-1000000-s1.db")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args(argv)
    if not args.ledger.exists():
        raise SystemExit(f"{args.ledger} does not exist: run benchmarks/bench_tools.py first, or pass --ledger")
    command = [shutil.which("ccledger") or "ccledger", "statusline"]
    env = {**os.environ, "CCLEDGER_DB": str(args.ledger)}
    stamp = Path(str(args.ledger) + ".statusline")

    def fresh_stamp() -> None:  # no background refresh during the measurement
        stamp.touch()

    line = subprocess.run(command, input=payload(), env=env, capture_output=True, check=True).stdout.decode().strip()
    ours = timed(command, env, payload(), args.runs, fresh_stamp)
    floor = timed([sys.executable, "-c", "pass"], env, b"", args.runs)
    print(f"`ccledger statusline` on {args.ledger.name}: {line}")
    for label, samples in (("ccledger statusline", ours), ("python -c pass (the floor)", floor)):
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"{label:28s} p50 {statistics.median(samples):6.1f} ms  p95 {p95:6.1f} ms")
    print(f"goal: well under {GOAL_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
