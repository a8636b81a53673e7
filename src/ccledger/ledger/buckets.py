"""The rollup's 15-minute buckets: which one holds a moment, and where it starts and ends.

A bucket starts on a quarter hour and holds the responses from its start up to (not including)
the next quarter hour. Hours divide into buckets, so a bucket never crosses an hour (nor a
5-hour block's end, which falls on the hour). Standard library only: the statusline reads
buckets on every tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from .. import timestamps

__all__ = [
    "BUCKET",
    "BUCKET_EXPR",
    "BUCKET_MINUTES",
    "bounds",
    "ceil",
    "ceil_text",
    "day_after",
    "day_plan",
    "floor",
    "floor_text",
    "next_day",
]

BUCKET_MINUTES = 15
BUCKET = timedelta(minutes=BUCKET_MINUTES)

# The bucket of a ledger timestamp column, in SQL: the same text floor_text() gives.
BUCKET_EXPR = (
    "substr(timestamp_utc, 1, 14) || printf('%02d', cast(substr(timestamp_utc, 15, 2) as integer)"
    f" / {BUCKET_MINUTES} * {BUCKET_MINUTES}) || ':00.000Z'"
)


def floor_text(timestamp_utc: str) -> str:
    """The start of the bucket holding a ledger timestamp. Text that is no timestamp (``""``, or
    an open end such as ``"9999"``) is its own floor."""
    if len(timestamp_utc) < 16:
        return timestamp_utc
    minute = int(timestamp_utc[14:16]) // BUCKET_MINUTES * BUCKET_MINUTES
    return f"{timestamp_utc[:14]}{minute:02d}:00.000Z"


def ceil_text(timestamp_utc: str) -> str:
    """The first bucket start at or after a ledger timestamp (itself if it starts a bucket)."""
    floor_start = floor_text(timestamp_utc)
    if floor_start == timestamp_utc:
        return floor_start
    return bounds(floor_start)[1]


@lru_cache(maxsize=8192)  # a cold index asks for each bucket once per file that touches it
def bounds(timestamp_utc: str) -> tuple[str, str]:
    """The start and end of the bucket holding a ledger timestamp."""
    start = floor_text(timestamp_utc)
    minute = int(start[14:16])
    if minute + BUCKET_MINUTES < 60:  # the same hour: no calendar arithmetic
        return start, f"{start[:14]}{minute + BUCKET_MINUTES:02d}:00.000Z"
    return start, timestamps.text(timestamps.parse(start) + BUCKET)


def floor(moment: datetime) -> datetime:
    """The start of the bucket holding ``moment``, in UTC."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute // BUCKET_MINUTES * BUCKET_MINUTES, second=0, microsecond=0)


def ceil(moment: datetime) -> datetime:
    """The first bucket start at or after ``moment`` (itself if it starts a bucket), in UTC."""
    start = floor(moment)
    return start if start == moment else start + BUCKET


def day_after(moment: str) -> str:
    """The first day (``YYYY-MM-DD``) that starts at or after ``moment``: where the whole days a
    range from ``moment`` holds begin, and where those a range up to it touches end."""
    if len(moment) < 10:  # an open end
        return moment
    day = date.fromisoformat(moment[:10])
    return (day if moment[10:] in ("", "T00:00:00.000Z") else day + timedelta(days=1)).isoformat()


def next_day(day: str) -> str:
    """The day after a ``YYYY-MM-DD``."""
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


HOUR = timedelta(hours=1)


def hour_starts(day: str) -> list[datetime]:
    """The starts of the 24 UTC hours of a ``YYYY-MM-DD`` (UTC)."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return [start + HOUR * n for n in range(24)]


def hour_plan(
    split: list[str], whole_hour: Callable[[datetime], bool]
) -> tuple[str, str, list[str], list[tuple[str, str]]]:
    """How the ``split`` days of a :func:`day_plan` are read by hour: the hours [lo, hi) of those
    days from an hourly table but the ``shared`` ones (``YYYY-MM-DDTHH``), which ``whole_hour``
    says two groups share, and those by bucket, as ``ranges``."""
    shared = [hour for day in split for hour in hour_starts(day) if not whole_hour(hour)]
    ranges = [(timestamps.text(hour), timestamps.text(hour + HOUR)) for hour in shared]
    return min(split), next_day(max(split)), [start[:13] for start, _ in ranges], ranges


def month_start(day: str) -> str:
    """The first of a ``YYYY-MM-DD``'s month (an open end, "0000" or "9999", is its own)."""
    return day if len(day) < 10 else day[:8] + "01"


def month_ceil(day: str) -> str:
    """The first first-of-a-month at or after a ``YYYY-MM-DD`` (an open end is its own)."""
    if len(day) < 10 or day.endswith("-01"):
        return day
    year, month = int(day[:4]), int(day[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"


def whole_months(first: str, last: str) -> tuple[str, str] | None:
    """The whole months [lo, hi) within days [first, last), each bound a YYYY-MM-01 (or open);
    None if no month is whole within them."""
    lo, hi = month_ceil(first), month_start(last)
    return (lo, hi) if lo < hi else None


def day_plan(
    low: str, high: str, days: Callable[[str, str], Iterable[str]], whole: Callable[[str], bool]
) -> tuple[str, str, list[str], list[tuple[str, str]]] | None:
    """How whole buckets [low, high) are read when a daily rollup stands beside the 15-minute one:
    the whole days [first, last) from it but the ``split`` ones (of the days it holds, from
    ``days(first, last)``, those ``whole`` says two groups share), and the ``ranges`` of buckets
    left (before and after the whole days, and the split days). None: no whole day inside."""
    first, last = day_after(low), high[:10]
    if not first < last:
        return None
    split = [day for day in days(first, last) if not whole(day)]
    ranges = [(low, first), *((day, next_day(day)) for day in split), (last, high)]
    return first, last, split, [(lo, hi) for lo, hi in ranges if lo < hi]
