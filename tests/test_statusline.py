"""The statusline as Claude Code runs it: a real subprocess, a JSON payload on stdin, one line out."""

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import assistant_line, write_lines

from ccledger import paths
from ccledger.answers import limits
from ccledger.ingest import index
from ccledger.ledger.db import open_db
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing
from ccledger.surfaces import statusline as statusline_module

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


def statusline(stdin, env=None, prefix=()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ccledger", "statusline"],
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
    from ccledger.answers import budgets

    db = open_db(ledger)
    budgets.set_budget(db, scope="all", period="month", amount_usd=1000)
    budgets.set_budget(db, scope="all", period="day", amount_usd=0.01)
    db.close()
    line = statusline(payload()).stdout.decode()
    assert "budget all" in line and "%/day!" in line  # the exceeded daily one, not the monthly one


# --- a fixed clock, in process -------------------------------------------------------------------

FIXED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 10:00 in New York


def three_dollars(message_id: str, timestamp: str) -> str:
    """A Sonnet 4.5 response of 1,000,000 input tokens: exactly $3.00."""
    return assistant_line(
        message_id=message_id,
        timestamp=timestamp,
        input_tokens=1_000_000,
        output_tokens=0,
        cache_write_5m=0,
        cache_write_1h=0,
        cache_read=0,
    )


def fixed_payload(**limits_by_window) -> dict:
    resets = {"five_hour": FIXED_NOW + timedelta(hours=2), "seven_day": FIXED_NOW + timedelta(days=3)}
    return {
        "session_id": "s-1",
        "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
        "rate_limits": {
            window: {"used_percentage": used, "resets_at": int(resets[window].timestamp())}
            for window, used in limits_by_window.items()
        },
    }


@pytest.fixture
def fixed_ledger(tmp_path, claude_dir, db):
    """$3 at 03:00 UTC (the evening before in New York), $3 at 14:10 and $3 at 14:40 UTC."""
    write_lines(
        claude_dir / "projects" / "p" / "s-1.jsonl",
        three_dollars("m1", "2026-11-20T03:00:00.000Z"),
        three_dollars("m2", "2026-11-20T14:10:00.000Z"),
        three_dollars("m3", "2026-11-20T14:40:00.000Z"),
    )
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    (tmp_path / "ledger.db.statusline").touch()  # no background index
    return db


def test_the_line_at_a_fixed_moment_in_the_configured_timezone(tmp_path, fixed_ledger):
    config = tmp_path / "config.toml"
    config.write_text('timezone = "America/New_York"\n')
    line = statusline_module.status_line(fixed_payload(five_hour=42, seven_day=18.4), FIXED_NOW)
    # Today in New York began at 05:00 UTC: the 03:00 response was yesterday. The block began at
    # 14:00 UTC; $6 from 14:10 to 14:40 is $12 an hour; the 5-hour window resets at 12:00 there.
    assert line == "$6.00 today | block $6.00, $12.00/h, 4h00m left | 5h 42% (resets 12:00) | 7d 18%"
    rows = fixed_ledger.execute("select window, used_percentage, captured_utc from rate_limits").fetchall()
    assert rows == [("five_hour", 42.0, "2026-11-20T15:00:00.000Z"), ("seven_day", 18.4, "2026-11-20T15:00:00.000Z")]
    # The timezone is kept beside the ledger; a changed config file is read again.
    assert (tmp_path / "ledger.db.statusline-config").exists()
    config.write_text('timezone = "UTC"\n')
    line = statusline_module.status_line(fixed_payload(five_hour=42), FIXED_NOW)
    assert line == "$9.00 today | block $6.00, $12.00/h, 4h00m left | 5h 42% (resets 17:00) | 7d 18%"


def test_recorded_limits_are_shown_until_their_reset_or_for_ten_minutes(tmp_path, fixed_ledger):
    (tmp_path / "config.toml").write_text('timezone = "UTC"\n')
    statusline_module.status_line(fixed_payload(five_hour=42, seven_day=18.4), FIXED_NOW)
    # A tick without rate_limits (a session before its first response) shows the recorded ones.
    later = FIXED_NOW + timedelta(minutes=9)
    assert statusline_module.status_line({}, later).endswith("| 5h 42% (resets 17:00) | 7d 18%")
    much_later = FIXED_NOW + timedelta(minutes=11)
    assert "%" not in statusline_module.status_line({}, much_later)


def test_an_invalid_config_file_is_named_in_the_line(tmp_path, fixed_ledger):
    (tmp_path / "config.toml").write_text('timezone = "Mars/Olympus"\n')
    assert statusline_module.status_line(fixed_payload(five_hour=42), FIXED_NOW) == "ccledger: invalid config file"


def test_local_midnight_follows_daylight_saving():
    # The machine's zone through the C library (no zoneinfo import): a subprocess, so TZ is read.
    script = (
        "from datetime import date; from ccledger.surfaces.statusline import _midnight; "
        "print(_midnight(date(2026, 11, 1), None).isoformat(), _midnight(date(2026, 11, 2), None).isoformat())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "TZ": "America/New_York"}
    )
    # Daylight saving time ends at 02:00 on 1 November 2026: that day began at 04:00 UTC, the next at 05:00.
    assert result.stdout.split() == ["2026-11-01T04:00:00+00:00", "2026-11-02T05:00:00+00:00"]
    zone = ZoneInfo("America/New_York")
    assert statusline_module._midnight(date(2026, 11, 1), zone) == datetime(2026, 11, 1, 4, tzinfo=UTC)


def test_file_locations_are_the_same_as_everywhere_else(monkeypatch, tmp_path):
    for db_value, config_value in (("~/ledger.db", "~/c.toml"), ("", "")):
        monkeypatch.setenv("CCLEDGER_DB", db_value)
        monkeypatch.setenv("CCLEDGER_CONFIG", config_value)
        assert str(paths.db_path()) == paths.db_file()
        assert str(paths.config_path()) == paths.config_file()
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert paths.db_file() == str(tmp_path / "home" / ".local" / "share" / "ccledger" / "ledger.db")
    assert paths.config_file() == str(tmp_path / "home" / ".config" / "ccledger" / "config.toml")


def test_the_statusline_imports_nothing_heavy():
    heavy = ("click", "rich", "pydantic", "sqlite_utils", "pathlib", "zoneinfo", "tomllib", "typing", "subprocess")
    modules = "ccledger.entry, ccledger.surfaces.statusline"
    script = f"import sys, {modules}; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- awkward ledgers, as Claude Code would run the command ---------------------------------------


def test_an_empty_ledger_prints_zero_and_records_the_limits(tmp_path, db):
    (tmp_path / "ledger.db.statusline").touch()
    result = statusline(payload())
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.decode().startswith("$0.00 today | no active block | 5h 42% (resets ")
    assert db.execute("select count(*) from rate_limits").fetchone()[0] == 2


def test_a_ledger_another_process_is_writing(ledger):
    writer = sqlite3.connect(ledger)
    writer.execute("begin immediate")  # as the indexer holds it while it saves a batch
    try:
        result = statusline(payload())
        assert result.returncode == 0 and result.stderr == b""
        assert "block $" in result.stdout.decode() and "5h 42%" in result.stdout.decode()  # this tick's limits
        assert writer.execute("select count(*) from rate_limits").fetchone()[0] == 0  # recorded at the next tick
    finally:
        writer.rollback()
        writer.close()
    statusline(payload())
    reader = sqlite3.connect(ledger)
    assert reader.execute("select count(*) from rate_limits").fetchone()[0] == 2
    reader.close()


def read_only(folder):
    """A command prefix under which ``folder`` cannot be written: file modes for a user, and a
    read-only bind mount in a private mount namespace for root, whom modes do not stop."""
    if os.geteuid() != 0:
        for child in folder.iterdir():
            child.chmod(0o444)
        folder.chmod(0o555)
        return ()
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'
    prefix = ("unshare", "--mount", "sh", "-c", script, str(folder))
    if shutil.which("unshare") is None or subprocess.run([*prefix, "true"], capture_output=True).returncode:
        pytest.skip("running as root without mount namespaces: cannot make a folder read-only")
    return prefix


def test_a_ledger_in_a_read_only_location_is_still_read(tmp_path, ledger):
    folder = tmp_path / "mounted"
    folder.mkdir()
    shutil.copy(ledger, folder / "ledger.db")  # closed: no -wal or -shm beside it, as on a mounted copy
    (folder / "ledger.db.statusline").touch()
    prefix = read_only(folder)
    try:
        result = statusline(payload(), env={"CCLEDGER_DB": str(folder / "ledger.db")}, prefix=prefix)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0 and result.stderr == b""
    line = result.stdout.decode()
    assert line.count("\n") == 1 and "block $" in line and "5h 42%" in line


def test_no_ledger_and_a_read_only_location(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    prefix = read_only(folder)
    try:
        result = statusline(payload(), env={"CCLEDGER_DB": str(folder / "ledger.db")}, prefix=prefix)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.decode() == "ccledger: cannot create the ledger\n"
    assert list(folder.iterdir()) == []
