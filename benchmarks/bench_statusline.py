"""How fast ``ccledger statusline`` answers, as Claude Code runs it: a fresh process per tick.

    python benchmarks/bench_statusline.py [--ledger PATH] [--runs 40]

Works on a copy of the 1,000,000-response ledger of bench_tools.py (build it first) unless given
another ledger, migrated to the current schema, with a session of the last three hours indexed
into it through the real indexer, so that every tick does its whole work: records the official
limits, sums today's cost, builds the active 5-hour block and its burn rate, reads the budgets.
Prints p50/p95 wall time of the console script, with and without a config file naming a
timezone, beside a bare ``python -c pass`` and the import of the statusline alone, and the goal
(well under 100 ms). Exits 1 if a tick prints anything but a full answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ccledger.answers import budgets
from ccledger.ingest import index
from ccledger.ledger.db import open_db
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing

HERE = Path(__file__).resolve().parent
GOAL_MS = 100.0
SESSION_RESPONSES = 120


def payload(now: datetime) -> bytes:
    """What Claude Code passes a statusline command on stdin."""
    limits = {
        "five_hour": {"used_percentage": 42, "resets_at": int((now + timedelta(hours=2)).timestamp())},
        "seven_day": {"used_percentage": 18, "resets_at": int((now + timedelta(days=3)).timestamp())},
    }
    data = {
        "hook_event_name": "Status",
        "session_id": "bench-session",
        "transcript_path": "/home/u/.claude/projects/-home-u-repo/bench-session.jsonl",
        "cwd": "/home/u/repo",
        "model": {"id": "claude-opus-4-8", "display_name": "Opus 4.8"},
        "workspace": {"current_dir": "/home/u/repo", "project_dir": "/home/u/repo"},
        "version": "2.1.114",
        "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 3.21, "total_duration_ms": 3_600_000, "total_api_duration_ms": 900_000},
        "exceeds_200k_tokens": False,
        "rate_limits": limits,
    }
    return json.dumps(data).encode()


def session_lines(now: datetime) -> list[str]:
    """A Claude Code session over the last three hours: one assistant line per response."""
    lines = []
    for number in range(SESSION_RESPONSES):
        moment = now - timedelta(hours=3) + number * timedelta(hours=3) / SESSION_RESPONSES
        usage = {
            "input_tokens": 6,
            "cache_creation_input_tokens": 1_500,
            "cache_read_input_tokens": 40_000 + 500 * number,
            "output_tokens": 400,
            "cache_creation": {"ephemeral_5m_input_tokens": 1_500, "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard",
        }
        message = {"id": f"msg_bench_{number}", "type": "message", "role": "assistant", "model": "claude-opus-4-8"}
        line = {
            "type": "assistant",
            "sessionId": "bench-session",
            "requestId": f"req_bench_{number}",
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "cwd": "/home/u/repo",
            "version": "2.1.114",
            "isSidechain": False,
            "message": {**message, "content": [{"type": "text", "text": "..."}], "usage": usage},
        }
        lines.append(json.dumps(line))
    return lines


def prepare(source: Path, scratch: Path, now: datetime) -> Path:
    """A copy of ``source`` at the current schema, with today's session and a budget in it."""
    ledger = scratch / "ledger.db"
    shutil.copyfile(source, ledger)
    claude = scratch / "claude"
    transcript = claude / "projects" / "-home-u-repo" / "bench-session.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text("\n".join(session_lines(now)) + "\n")
    db = open_db(ledger)
    index.refresh(db, [claude])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    budgets.set_budget(db, scope="all", period="month", amount_usd=500)
    db.close()
    return ledger


def timed(command: list[str], env: dict[str, str], stdin: bytes, runs: int, before: object = None) -> list[float]:
    samples = []
    for _ in range(runs):
        if callable(before):
            before()
        started = time.perf_counter()
        subprocess.run(command, input=stdin, env=env, capture_output=True, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(samples), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ledger", type=Path, default=HERE / ".work" / "tools-1000000-s1.db")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args(argv)
    if not args.ledger.exists():
        raise SystemExit(f"{args.ledger} does not exist: run benchmarks/bench_tools.py first, or pass --ledger")
    command = [shutil.which("ccledger") or "ccledger", "statusline"]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        ledger = prepare(args.ledger, scratch, now)
        responses = open_db(ledger).execute("select count(*) from responses").fetchone()[0]
        config = scratch / "config.toml"
        config.write_text('timezone = "America/New_York"\n')
        env = {
            **os.environ,
            "CCLEDGER_DB": str(ledger),
            "CCLEDGER_CONFIG": str(scratch / "absent.toml"),
            "CLAUDE_CONFIG_DIR": str(scratch / "claude"),
        }
        stamp = Path(str(ledger) + ".statusline")

        def fresh_stamp() -> None:  # no background index during the measurement
            stamp.touch()

        fresh_stamp()
        line = subprocess.run(command, input=payload(now), env=env, capture_output=True, check=True).stdout.decode()
        print(f"ledger: {responses:,d} responses; the line: {line.strip()}")
        if not (line.startswith("$") and "block $" in line and "5h 42%" in line and "budget all" in line):
            print("the statusline did not give a full answer: the figures would not measure its work")
            return 1
        rows = [
            ("python -c pass (the floor)", timed([sys.executable, "-c", "pass"], env, b"", args.runs)),
            (
                "import ccledger.statusline",
                timed([sys.executable, "-c", "import ccledger.statusline"], env, b"", args.runs),
            ),
            ("ccledger statusline", timed(command, env, payload(now), args.runs, fresh_stamp)),
            (
                "  with a timezone in config",
                timed(command, {**env, "CCLEDGER_CONFIG": str(config)}, payload(now), args.runs, fresh_stamp),
            ),
        ]
    for label, samples in rows:
        p50, p95 = percentiles(samples)
        print(f"{label:30s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    print(f"goal: well under {GOAL_MS:.0f} ms per tick")
    return 0


if __name__ == "__main__":
    sys.exit(main())
