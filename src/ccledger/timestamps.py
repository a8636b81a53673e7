"""The ledger's one timestamp shape: ``YYYY-MM-DDTHH:MM:SS.mmmZ``, in UTC, to the millisecond.

Claude Code writes this shape, every table stores it, and every window is asked in it: it sorts
as text, so range queries need no date functions. Everything that turns a moment into ledger
text, or ledger text back into a moment, goes through here.

Standard library only (``re`` and ``datetime``): the statusline imports it on every tick.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = ["coerce", "day_start", "normalize", "now", "parse", "text"]

# The years a timestamp may name. Outside them, what a transcript or a telemetry page says is no
# moment of usage, and arithmetic near datetime's own limits (a day in a western zone, the next
# bucket of 9999-12-31) would overflow.
FIRST_YEAR, LAST_YEAR = 2000, 8999

# Claude Code's own shape, in years and days that every month has; anything else (the 29th to
# the 31st included) goes through fromisoformat(), which knows the calendar.
_CANONICAL = re.compile(r"2\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z")


def text(moment: datetime) -> str:
    """``moment`` in the ledger's shape (a naive moment is local time, as ``astimezone`` takes it)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now(ago: float = 0.0) -> str:
    """This moment (or ``ago`` seconds before it) in the ledger's shape."""
    return text(datetime.now(UTC) - timedelta(seconds=ago))


def day_start(day: date) -> str:
    """The first moment of a UTC day, in the ledger's shape."""
    return f"{day.isoformat()}T00:00:00.000Z"


def parse(value: str) -> datetime:
    """Ledger text (or any ISO-8601 text with an offset) as an aware moment in UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def normalize(value: str | None) -> str | None:
    """Any ISO-8601 timestamp in the ledger's shape (a naive one is taken as UTC), or None if it
    is not one: what a transcript or a telemetry page says, before it is stored."""
    if not value:
        return None
    if _CANONICAL.fullmatch(value):
        return value  # by far the most common case: no parsing, no reformatting
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # no such date, or 0001-01-01 east of UTC
        return None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        return None
    return text(parsed)


def coerce(at: datetime | date | str) -> str:
    """A moment given as a datetime (a naive one is UTC), a date (its first moment, UTC) or
    ISO-8601 text, in the ledger's shape; ValueError for text that is not a timestamp."""
    if isinstance(at, str):
        normal = normalize(at)
        if normal is None:
            raise ValueError(f"not an ISO-8601 timestamp: {at!r}")
        return normal
    if not isinstance(at, datetime):
        return day_start(at)
    return text(at.replace(tzinfo=UTC) if at.tzinfo is None else at)
