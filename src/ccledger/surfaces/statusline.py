"""``ccledger statusline``: a Claude Code statusline command.

Claude Code runs it on every tick with a JSON payload on stdin and shows the one line it prints.
It records the official usage-limit percentages of the payload (see ``limits.py``) and prints
today's cost, the current 5-hour block's burn and the official percentages, for example::

    $12.40 today | block $3.10, $2.45/h, 2h13m left | 5h 42% (resets 15:00) | 7d 18%

It answers from the ledger as it is and never indexes in line: when the ledger is more than
``REFRESH_SECONDS`` old it starts ``ccledger index`` in the background, so the next tick is
fresh. It imports only light standard modules (no click, rich, pydantic or sqlite-utils, not
even pathlib or zoneinfo unless a config file names a timezone) and never lets an error reach
the status line: any failure prints a short fallback and exits 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from datetime import UTC, date, datetime, timedelta, tzinfo

from .. import paths, timestamps
from ..answers import blocks, limits

__all__ = ["main", "status_line"]

REFRESH_SECONDS = 30
MAX_PAYLOAD_BYTES = 1 << 20
FALLBACK = "ccledger: unavailable"

TODAY_COST_SQL = """
select coalesce(sum(cost_nanousd), 0), coalesce(sum(unpriced_responses), 0)
from usage_rollup where bucket_utc >= ? and bucket_utc < ? and source = 'dev'
"""
TABLES_SQL = """
select name from sqlite_master where type = 'table' and name in ('usage_rollup', 'rate_limits', 'budgets', 'prod_usage')
"""
BUDGETS_SQL = "select scope, model, period, amount_nanousd, include_prod from budgets"
BUDGET_SPEND_SQL = """
select coalesce(sum(cost_nanousd), 0) from usage_rollup
where source = 'dev' and bucket_utc >= ? and bucket_utc < ?
  and (? = 'all' or repo_id = ?) and (? = '' or model = ? or canonical_model = ?)
"""
# A budget that counts production spend adds the pulled usage, priced by the same view.
PROD_SPEND_SQL = """
select coalesce(sum(cost_nanousd), 0) from prod_costs
where bucket_start_utc >= ? and bucket_start_utc < ?
  and (? = 'all' or repo_id = ?) and (? = '' or model = ? or canonical_model = ?)
"""


def main() -> None:
    """Entry point: read the payload, print one line, exit 0 whatever happens."""
    try:
        raw = sys.stdin.buffer.read(MAX_PAYLOAD_BYTES)
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            payload = {}
        line = status_line(payload if isinstance(payload, dict) else {}, datetime.now(UTC))
    except Exception:  # a traceback must never reach the status line
        line = FALLBACK
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def status_line(payload: dict[str, object], now: datetime) -> str:
    """The line for one tick; records the payload's official limits on the way."""
    ledger = paths.db_file()
    if not os.path.exists(ledger):
        # The first tick on a new machine: the limits are recorded from the next tick on, once
        # the background index has created the ledger (only migrations change the schema).
        if _refresh_in_background(ledger):
            return "ccledger: indexing your transcripts..."
        return "ccledger: cannot create the ledger"
    _refresh_in_background(ledger)
    conn, tables = _connect(ledger)
    try:
        if "rate_limits" in tables:
            session = payload.get("session_id")
            with contextlib.suppress(sqlite3.OperationalError):  # busy or read-only: the next tick records it
                limits.record_rate_limits(conn, payload, now, session if isinstance(session, str) else None)
        if not {"usage_rollup", "rate_limits", "budgets"} <= tables:
            return "ccledger: updating the ledger..."  # an older ledger: the background index migrates it
        try:
            zone = _zone(ledger)
        except ValueError:  # ConfigError: `ccledger index` names the file and the line
            return "ccledger: invalid config file"
        official = _official(conn, now, zone, limits.parse_rate_limits(payload))
        parts = (
            _today(conn, now, zone),
            _block(conn, now),
            *official,
            _budget(conn, now, zone, "prod_usage" in tables),
        )
        return " | ".join(part for part in parts if part)
    finally:
        conn.close()


def _connect(ledger: str) -> tuple[sqlite3.Connection, set[str]]:
    """The ledger, read-write when possible, and which of the tables the line needs it has.

    Where the ledger or its folder cannot be written (a read-only mount), SQLite cannot create
    the WAL index it needs even to read, so the ledger is opened as immutable: read without
    locks. Should something else write it meanwhile, one tick is off or prints the fallback.
    """
    conn = sqlite3.connect(ledger, timeout=0.05)
    try:
        return conn, {name for (name,) in conn.execute(TABLES_SQL)}
    except sqlite3.OperationalError:
        conn.close()
        writable = os.access(ledger, os.W_OK) and os.access(os.path.dirname(os.path.abspath(ledger)), os.W_OK)
        if writable:
            raise
    conn = sqlite3.connect(paths.sqlite_uri(ledger, immutable="1"), uri=True)
    return conn, {name for (name,) in conn.execute(TABLES_SQL)}


def _zone(ledger: str) -> tzinfo | None:
    """The configured timezone, or None for this machine's local time.

    Local time goes through the C library (``TZ``, then /etc/localtime, as ``local_timezone()``
    reads them), so most ticks import neither zoneinfo nor a TOML parser. The timezone a config
    file names is kept beside the ledger with the file's size and modification time: parsing
    the file on every tick would cost a quarter of the time budget.
    """
    config_file = paths.config_file()
    try:
        stat = os.stat(config_file)
    except OSError:
        return None
    key = [config_file, stat.st_mtime_ns, stat.st_size]
    cache = ledger + ".statusline-config"
    try:
        with open(cache, encoding="utf-8") as handle:
            *cached_key, name = json.load(handle)
    except (OSError, ValueError, TypeError):
        cached_key, name = [], None
    if cached_key != key or not isinstance(name, str):
        from ..config import load_config

        name = load_config().timezone or ""
        with contextlib.suppress(OSError), open(cache, "w", encoding="utf-8") as handle:
            json.dump([*key, name], handle)
    if not name:
        return None
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _local(moment: datetime, zone: tzinfo | None) -> datetime:
    return moment.astimezone(zone) if zone is not None else moment.astimezone()


def _midnight(day: date, zone: tzinfo | None) -> datetime:
    """The moment ``day`` begins in ``zone`` (None: local time, daylight saving included)."""
    if zone is not None:
        return datetime.combine(day, datetime.min.time(), tzinfo=zone)
    return datetime.fromtimestamp(time.mktime((day.year, day.month, day.day, 0, 0, 0, 0, 0, -1)), UTC)


def _today(conn: sqlite3.Connection, now: datetime, zone: tzinfo | None) -> str:
    today = _local(now, zone).date()
    start = timestamps.text(_midnight(today, zone))
    end = timestamps.text(_midnight(today + timedelta(days=1), zone))
    nanousd, unpriced = conn.execute(TODAY_COST_SQL, (start, end)).fetchone()
    return f"{_money(nanousd)} today" + ("*" if unpriced else "")


def _block(conn: sqlite3.Connection, now: datetime) -> str:
    recent = blocks.blocks_between(conn, now - timedelta(hours=6), now + timedelta(seconds=1))
    current = blocks.active_block(recent, now)
    if current is None:
        return "no active block"
    rate = blocks.burn_rate(current, now)
    left = int((current.end - now).total_seconds() // 60)
    pace = f", {_money(rate.cost_per_hour_nanousd)}/h" if rate else ""
    return f"block {_money(current.cost_nanousd)}{pace}, {left // 60}h{left % 60:02d}m left"


def _official(
    conn: sqlite3.Connection, now: datetime, zone: tzinfo | None, fresh: dict[str, tuple[float, datetime | None]]
) -> list[str]:
    """The official percentages: this tick's, else the latest recorded while still current."""
    readings = limits.latest_limits(conn)
    for window, (used, resets_at) in fresh.items():  # shown even when they could not be recorded
        readings[window] = limits.OfficialLimit(window, used, resets_at, now)
    parts = []
    labels = {"five_hour": "5h", "seven_day": "7d"}
    for window, reading in sorted(readings.items(), key=lambda item: limits.WINDOWS.index(item[0])):
        if not reading.is_current(now) or reading.age_seconds(now) > limits.STALE_SECONDS:
            continue
        text = f"{labels[window]} {reading.used_percentage:.0f}%"
        if window == "five_hour" and reading.resets_at is not None:
            text += f" (resets {_local(reading.resets_at, zone):%H:%M})"
        parts.append(text)
    return parts


def _budget(conn: sqlite3.Connection, now: datetime, zone: tzinfo | None, has_prod: bool) -> str:
    """The most used budget this period, e.g. 'budget api-server 92%/month'."""
    today = _local(now, zone).date()
    starts = {
        "day": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
    }
    worst: tuple[float, str] | None = None
    for scope, model, period, amount, include_prod in conn.execute(BUDGETS_SQL).fetchall():
        params = (
            timestamps.text(_midnight(starts[period], zone)),
            timestamps.text(now + timedelta(seconds=1)),
            scope,
            scope,
        ) + (model,) * 3
        spent = conn.execute(BUDGET_SPEND_SQL, params).fetchone()[0]
        if include_prod and has_prod:
            spent += conn.execute(PROD_SPEND_SQL, params).fetchone()[0]
        percent = spent / amount * 100 if amount else 0.0
        if worst is None or percent > worst[0]:
            name = scope if scope == "all" else scope.rsplit("/", 1)[-1]
            worst = (percent, f"budget {name} {percent:.0f}%/{period}" + ("!" if percent >= 100 else ""))
    return worst[1] if worst else ""


def _refresh_in_background(ledger: str) -> bool:
    """Start ``ccledger index`` when the last one is older than REFRESH_SECONDS (at most one per
    interval). False when it cannot be started (e.g. the ledger's folder is read-only)."""
    stamp = ledger + ".statusline"
    try:
        if time.time() - os.path.getmtime(stamp) < REFRESH_SECONDS:
            return True
    except OSError:
        pass
    import subprocess  # here: most ticks start nothing, and the import costs a tenth of the budget

    try:
        os.makedirs(os.path.dirname(ledger) or ".", exist_ok=True)
        with open(stamp, "a"):
            os.utime(stamp)
        subprocess.Popen(
            # -P: Claude Code runs the statusline in the user's repository; a ccledger.py or
            # ccledger/ there must not be imported instead of ours (see speedups.spawn).
            [sys.executable, "-P", "-m", "ccledger", "index", "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives this tick; Claude Code does not wait for it
        )
    except OSError:
        return False
    return True


def _money(nanousd: float) -> str:
    dollars = nanousd / 1_000_000_000
    return f"${dollars:,.2f}"


if __name__ == "__main__":
    main()
