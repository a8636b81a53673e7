"""``ccledger statusline``: a Claude Code statusline command.

Claude Code runs it on every tick with a JSON payload on stdin and shows the one line it prints.
It records the official usage-limit percentages of the payload (see ``limits.py``) and prints
today's cost, the current 5-hour block's burn and the official percentages, for example::

    $12.40 today | block $3.10, $2.45/h, 2h13m left | 5h 42% (resets 15:00) | 7d 18%

It answers from the ledger as it is and never indexes in line: when the ledger is more than
``REFRESH_SECONDS`` old it starts ``ccledger index`` in the background, so the next tick is
fresh. It imports only light standard modules (no click, rich, pydantic or sqlite-utils) and
never lets an error reach the status line: any failure prints a short fallback and exits 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta, tzinfo

from . import blocks, limits, paths
from .config import load_config

__all__ = ["main", "status_line"]

REFRESH_SECONDS = 30
MAX_PAYLOAD_BYTES = 1 << 20
FALLBACK = "ccledger: unavailable"

TODAY_COST_SQL = """
select coalesce(sum(cost_nanousd), 0), coalesce(sum(unpriced_responses), 0)
from usage_rollup where bucket_utc >= ? and bucket_utc < ? and source = 'dev'
"""
TABLES_SQL = "select count(*) from sqlite_master where name in ('usage_rollup', 'rate_limits', 'budgets')"
BUDGETS_SQL = "select scope, model, period, amount_nanousd from budgets"
BUDGET_SPEND_SQL = """
select coalesce(sum(cost_nanousd), 0) from usage_rollup
where source = 'dev' and bucket_utc >= ? and bucket_utc < ?
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
    ledger = str(paths.db_path())
    if not os.path.exists(ledger):
        _refresh_in_background(ledger)
        return "ccledger: indexing your transcripts..."
    _refresh_in_background(ledger)
    conn = sqlite3.connect(ledger, timeout=0.05)
    try:
        if conn.execute(TABLES_SQL).fetchone()[0] < 3:
            return "ccledger: updating the ledger..."  # an older ledger: the background index migrates it
        session = payload.get("session_id")
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the next tick records it
            limits.record_rate_limits(conn, payload, now, session if isinstance(session, str) else None)
        zone = load_config().zone()
        parts = (_today(conn, now, zone), _block(conn, now), *_official(conn, now, zone), _budget(conn, now, zone))
        return " | ".join(part for part in parts if part)
    finally:
        conn.close()


def _today(conn: sqlite3.Connection, now: datetime, zone: tzinfo) -> str:
    midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
    start = _iso(midnight)
    end = _iso(midnight + timedelta(days=1))
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


def _official(conn: sqlite3.Connection, now: datetime, zone: tzinfo) -> list[str]:
    parts = []
    labels = {"five_hour": "5h", "seven_day": "7d"}
    for window, reading in limits.latest_limits(conn).items():
        if not reading.is_current(now) or reading.age_seconds(now) > limits.STALE_SECONDS:
            continue
        text = f"{labels[window]} {reading.used_percentage:.0f}%"
        if window == "five_hour" and reading.resets_at is not None:
            text += f" (resets {reading.resets_at.astimezone(zone):%H:%M})"
        parts.append(text)
    return parts


def _budget(conn: sqlite3.Connection, now: datetime, zone: tzinfo) -> str:
    """The most used budget this period, e.g. 'budget api-server 92%/month'."""
    local = now.astimezone(zone)
    today = local.date()
    starts = {
        "day": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
    }
    worst: tuple[float, str] | None = None
    for scope, model, period, amount in conn.execute(BUDGETS_SQL).fetchall():
        start = datetime.combine(starts[period], datetime.min.time(), tzinfo=zone)
        spent = conn.execute(
            BUDGET_SPEND_SQL, (_iso(start), _iso(now + timedelta(seconds=1)), scope, scope, model, model, model)
        ).fetchone()[0]
        percent = spent / amount * 100 if amount else 0.0
        if worst is None or percent > worst[0]:
            name = scope if scope == "all" else scope.rsplit("/", 1)[-1]
            worst = (percent, f"budget {name} {percent:.0f}%/{period}" + ("!" if percent >= 100 else ""))
    return worst[1] if worst else ""


def _refresh_in_background(ledger: str) -> None:
    """Start ``ccledger index`` when the last one is older than REFRESH_SECONDS (at most one per interval)."""
    stamp = ledger + ".statusline"
    try:
        if time.time() - os.path.getmtime(stamp) < REFRESH_SECONDS:
            return
    except OSError:
        pass
    import subprocess  # here: most ticks start nothing, and the import costs a tenth of the budget

    try:
        os.makedirs(os.path.dirname(ledger) or ".", exist_ok=True)
        with open(stamp, "a"):
            os.utime(stamp)
        subprocess.Popen(
            [sys.executable, "-m", "ccledger", "index", "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives this tick; Claude Code does not wait for it
        )
    except OSError:
        pass


def _money(nanousd: float) -> str:
    dollars = nanousd / 1_000_000_000
    return f"${dollars:,.2f}"


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


if __name__ == "__main__":
    main()
