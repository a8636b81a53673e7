"""The statusline as Claude Code runs it: a real subprocess, a JSON payload on stdin, one line out."""

import json
import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import assistant_line, write_lines

from ccledger import index, limits, pricing
from ccledger.db import open_db
from ccledger.rollup import ensure_rollup

NOW = datetime.now(UTC)


def payload(five_hour=42, seven_day=18.4, resets_in=timedelta(hours=2), **extra):
    data = {
        "session_id": "s-1",
        "transcript_path": "/home/u/.claude/projects/p/s-1.jsonl",
        "model": {"id": "claude-opus-4-8", "display_name": "Opus 4.8"},
        "workspace": {"current_dir": "/home/u/repo", "project_dir": "/home/u/repo"},
        "cost": {"total_cost_usd": 1.23},
        "rate_limits": {
            "five_hour": {"used_percentage": five_hour, "resets_at": int((NOW + resets_in).timestamp())},
            "seven_day": {"used_percentage": seven_day, "resets_at": int((NOW + timedelta(days=3)).timestamp())},
        },
    }
    data.update(extra)
    return json.dumps(data)


def statusline(stdin, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ccledger", "statusline"],
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=30,
    )


@pytest.fixture
def ledger(tmp_path, claude_dir):
    """A ledger with an active block: responses in the last hour."""
    lines = [
        assistant_line(
            message_id=f"m{n}", timestamp=(NOW - timedelta(minutes=50 - 10 * n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        )
        for n in range(4)
    ]
    write_lines(claude_dir / "projects" / "p" / "s-1.jsonl", *lines)
    db = open_db(tmp_path / "ledger.db")
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    db.close()
    # The statusline starts a background refresh when the ledger looks old: not during the test.
    stamp = tmp_path / "ledger.db.statusline"
    stamp.touch()
    return tmp_path / "ledger.db"


def test_prints_one_line_with_cost_block_and_official_limits(ledger):
    result = statusline(payload())
    assert result.returncode == 0 and result.stderr == b""
    line = result.stdout.decode()
    assert line.count("\n") == 1
    assert "today" in line and "block $" in line and "left" in line
    assert "5h 42%" in line and "7d 18%" in line


def test_records_official_limits_once_a_minute(ledger):
    for _ in range(3):
        statusline(payload())
    statusline(payload(five_hour=43))
    db = open_db(ledger)
    rows = db.execute("select window, used_percentage, session_id from rate_limits order by id").fetchall()
    db.close()
    assert rows == [("five_hour", 42.0, "s-1"), ("seven_day", 18.4, "s-1"), ("five_hour", 43.0, "s-1")]


@pytest.mark.parametrize("stdin", [b"", b"not json", b"\xff\xfe garbage", b"[1, 2]", b'{"rate_limits": "x"}'])
def test_garbage_on_stdin_still_prints_a_line(ledger, stdin):
    result = statusline(stdin)
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.decode().strip().startswith("$")


def test_a_missing_ledger_starts_an_index_and_says_so(tmp_path):
    missing = tmp_path / "new" / "ledger.db"
    result = statusline(payload(), env={"CCLEDGER_DB": str(missing)})
    assert result.returncode == 0
    assert result.stdout.decode().strip() == "ccledger: indexing your transcripts..."
    deadline = time.monotonic() + 60
    while not missing.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert missing.exists(), "the background index did not create the ledger"


def test_an_unusable_ledger_prints_the_fallback(tmp_path):
    folder = tmp_path / "ledger-is-a-folder"
    folder.mkdir()
    (tmp_path / "ledger-is-a-folder.statusline").touch()
    result = statusline(payload(), env={"CCLEDGER_DB": str(folder)})
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.decode().strip() == "ccledger: unavailable"


@pytest.mark.parametrize(
    ("value", "kept"),
    [(42, 42.0), (100.6, 100.0), (1_795_000_000, None), (-1, None), (math.nan, None), (math.inf, None), (True, None)],
)
def test_bad_percentages_are_clamped_or_dropped(value, kept):
    readings = limits.parse_rate_limits({"rate_limits": {"five_hour": {"used_percentage": value, "resets_at": 1}}})
    assert readings.get("five_hour", (None,))[0] == kept


def test_reset_times_as_epoch_or_iso():
    epoch = limits.parse_rate_limits({"rate_limits": {"seven_day": {"used_percentage": 5, "resets_at": 1795000000}}})
    iso = limits.parse_rate_limits(
        {"rate_limits": {"seven_day": {"used_percentage": 5, "resets_at": "2026-11-18T11:06:40Z"}}}
    )
    assert epoch["seven_day"][1] == iso["seven_day"][1] == datetime(2026, 11, 18, 11, 6, 40, tzinfo=UTC)


def test_a_passed_reset_is_not_shown(ledger):
    line = statusline(payload(resets_in=timedelta(hours=-1))).stdout.decode()
    assert "5h" not in line and "7d 18%" in line


def test_shows_the_most_used_budget(ledger):
    from ccledger import budgets

    db = open_db(ledger)
    budgets.set_budget(db, scope="all", period="month", amount_usd=1000)
    budgets.set_budget(db, scope="all", period="day", amount_usd=0.01)
    db.close()
    line = statusline(payload()).stdout.decode()
    assert "budget all" in line and "%/day!" in line  # the exceeded daily one, not the monthly one
