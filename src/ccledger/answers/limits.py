"""Claude's official usage limits, as Claude Code reports them to a statusline command.

Transcripts cannot show the real 5-hour and weekly limits: those are shared with claude.ai and
other machines. Claude Code passes the official percentages to its statusline command on every
tick (``rate_limits.five_hour`` / ``seven_day``: ``used_percentage``, ``resets_at``) for Pro and
Max subscribers, once a session has had its first response. ``ccledger statusline`` records them
here; ``burn_rate`` reports the latest, labelled official, beside the local estimates.

Plain sqlite3 and a few light standard modules only (not even typing): the statusline runs this
on every tick.
"""

from __future__ import annotations

import math
import sqlite3
from collections import namedtuple
from datetime import UTC, datetime

from .. import timestamps

__all__ = ["WINDOWS", "OfficialLimit", "latest_limits", "parse_rate_limits", "record_rate_limits"]

WINDOWS = ("five_hour", "seven_day")

# A sample is kept when the value changes, else at most once a minute per window: enough to see
# how fast a percentage climbs, without a row per statusline tick.
SAMPLE_SECONDS = 60

# Older than this, a reading is shown as stale: no statusline has run since (Claude Code closed).
STALE_SECONDS = 600

LATEST_SQL = """
select used_percentage, resets_at_utc, captured_utc from rate_limits
where window = ? order by captured_utc desc limit 1
"""

INSERT_SQL = """
insert into rate_limits (captured_utc, window, used_percentage, resets_at_utc, session_id) values (?, ?, ?, ?, ?)
"""


class OfficialLimit(namedtuple("OfficialLimit", "window used_percentage resets_at captured_at")):
    """The latest official reading of one window (aware UTC datetimes)."""

    __slots__ = ()

    def age_seconds(self, now: datetime) -> float:
        return (now - self.captured_at).total_seconds()

    def is_current(self, now: datetime) -> bool:
        """Whether the reading still describes the window in force: its reset has not passed."""
        return self.resets_at is None or self.resets_at > now


def parse_rate_limits(payload: dict[str, object]) -> dict[str, tuple[float, datetime | None]]:
    """The usable readings in a statusline payload, by window.

    Guards against known bad values: a percentage of 100-101 is clamped to 100; anything larger
    (a Claude Code bug once put the reset epoch there), negative, NaN or infinite is dropped.
    ``resets_at`` may be epoch seconds or an ISO-8601 string.
    """
    limits = payload.get("rate_limits")
    readings: dict[str, tuple[float, datetime | None]] = {}
    if not isinstance(limits, dict):
        return readings
    for window in WINDOWS:
        reading = limits.get(window)
        if not isinstance(reading, dict):
            continue
        used = reading.get("used_percentage")
        if isinstance(used, bool) or not isinstance(used, int | float) or not math.isfinite(used):
            continue
        if used < 0 or used > 101:
            continue
        readings[window] = (min(float(used), 100.0), _reset_time(reading.get("resets_at")))
    return readings


def _reset_time(value: object) -> datetime | None:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return None


def record_rate_limits(
    conn: sqlite3.Connection, payload: dict[str, object], now: datetime, session_id: str | None = None
) -> int:
    """Store the payload's readings that are new or a minute newer than the last; returns how many."""
    readings = parse_rate_limits(payload)
    if not readings:
        return 0
    rows = []
    for window, (used, resets_at) in readings.items():
        previous = conn.execute(LATEST_SQL, (window,)).fetchone()
        resets_text = timestamps.text(resets_at) if resets_at else None
        if previous is not None:
            same = previous[0] == used and previous[1] == resets_text
            if same and (now - timestamps.parse(previous[2])).total_seconds() < SAMPLE_SECONDS:
                continue
        rows.append((timestamps.text(now), window, used, resets_text, session_id))
    if rows:
        with conn:
            conn.executemany(INSERT_SQL, rows)
    return len(rows)


def latest_limits(conn: sqlite3.Connection) -> dict[str, OfficialLimit]:
    """The latest reading of each window that has one."""
    found = {}
    for window in WINDOWS:
        row = conn.execute(LATEST_SQL, (window,)).fetchone()
        if row is not None:
            used, resets, captured = row
            found[window] = OfficialLimit(
                window, used, timestamps.parse(resets) if resets else None, timestamps.parse(captured)
            )
    return found
