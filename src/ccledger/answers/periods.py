"""Time windows from the phrases a person or a model uses: "today", "last 7 days", "2026-11-01".

Calendar phrases follow the configured timezone (weeks start on Monday). A named period given as
``since`` alone stands for the whole period, so ``since="yesterday"`` is yesterday and not
"yesterday until now", while a date or datetime given as ``since`` alone runs until now.
``until`` dates are inclusive. Windows are half-open [start, end) in UTC.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .. import timestamps

__all__ = [
    "ACCEPTED",
    "PeriodError",
    "Window",
    "any_day",
    "hour_in_one_group",
    "in_one_group",
    "local_date",
    "local_day_sql",
    "local_minute_sql",
    "offset_spans",
    "one_group",
    "resolve_period",
]

ACCEPTED = (
    "'today', 'yesterday', 'this week', 'last week', 'this month', 'last month', 'this year', "
    "'last year', 'last 7 days' (also hours, weeks, months), 'all', a date '2026-11-01', a month "
    "'2026-11', or a datetime '2026-11-01T09:00' (local) / '2026-11-01T09:00Z'"
)


class PeriodError(ValueError):
    """A phrase that is not a period, or an ``until`` before ``since``."""


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval and how to describe it."""

    start: datetime | None  # None: since the first response in the ledger
    end: datetime
    zone: ZoneInfo
    label: str

    @property
    def start_utc(self) -> str | None:
        return timestamps.text(self.start) if self.start else None

    @property
    def end_utc(self) -> str:
        return timestamps.text(self.end)


def resolve_period(
    since: str | None,
    until: str | None,
    *,
    zone: ZoneInfo,
    now: datetime,
    default: str = "this month",
) -> Window:
    """Turn ``since``/``until`` phrases into a window (see the module docstring)."""
    now = now.astimezone(zone)
    since_text = (since or "").strip() or default
    start, end, whole = _span(since_text, zone, now, role="since")
    if not whole:
        end = now
    label = since_text
    if until is not None and until.strip():
        _, end, _ = _span(until.strip(), zone, now, role="until")
        label = f"{since_text} to {until.strip()}"
    if start is not None and end <= start:
        raise PeriodError(
            f"until ({timestamps.text(end)}) is not after since ({timestamps.text(start)}); "
            "pass an until that comes after since, or leave until empty for 'up to now'"
        )
    return Window(start=start, end=end, zone=zone, label=label)


_RELATIVE = re.compile(r"^(?:last|past)\s+(\d+)\s+(hour|day|week|month)s?$")


def _span(text: str, zone: ZoneInfo, now: datetime, *, role: str) -> tuple[datetime | None, datetime, bool]:
    """(start, end, whole): whole is False for a date or instant, which as ``since`` runs to now."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{8}", text.strip()):
        start, end = _absolute(text.strip(), zone, role=role)
        return start, end, False
    if re.match(r"\d{4}-\d{2}-\d{2}[T ]", text.strip()):
        start, end = _absolute(text.strip(), zone, role=role)
        return start, end, False
    named_start, named_end = _named(text, zone, now, role=role)
    return named_start, named_end, True


def _named(text: str, zone: ZoneInfo, now: datetime, *, role: str) -> tuple[datetime | None, datetime]:
    phrase = re.sub(r"[\s_-]+", " ", text.lower()).strip()
    today = now.date()
    if phrase in ("all", "all time", "ever", "everything"):
        return None, now
    if phrase == "today":
        return _days(today, 1, zone)
    if phrase == "yesterday":
        return _days(today - timedelta(days=1), 1, zone)
    if phrase in ("this week", "week"):
        return _days(today - timedelta(days=today.weekday()), 7, zone)
    if phrase == "last week":
        return _days(today - timedelta(days=today.weekday() + 7), 7, zone)
    if phrase in ("this month", "month"):
        return _month(today.year, today.month, zone)
    if phrase == "last month":
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return _month(year, month, zone)
    if phrase in ("this year", "year"):
        return _local(date(today.year, 1, 1), zone), _local(date(today.year + 1, 1, 1), zone)
    if phrase == "last year":
        return _local(date(today.year - 1, 1, 1), zone), _local(date(today.year, 1, 1), zone)
    if match := _RELATIVE.match(phrase):
        return _relative(int(match.group(1)), match.group(2), zone, now)
    return _absolute(text.strip(), zone, role=role)


def _relative(count: int, unit: str, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    if count < 1 or count > 100_000:
        raise PeriodError(f"'last {count} {unit}s' is out of range; use a count from 1")
    if unit == "hour":
        return now - timedelta(hours=count), now
    days = {"day": 1, "week": 7, "month": 30}[unit] * count
    # "last 7 days" is today and the six days before it, whole local days.
    first = now.date() - timedelta(days=days - 1)
    return _local(first, zone), _local(now.date() + timedelta(days=1), zone)


def _absolute(text: str, zone: ZoneInfo, *, role: str) -> tuple[datetime, datetime]:
    if text[:4].isdigit() and not timestamps.FIRST_YEAR <= int(text[:4]) <= timestamps.LAST_YEAR:
        raise PeriodError(
            f"{role}={text!r} is outside the years the ledger can hold ({timestamps.FIRST_YEAR} to "
            f"{timestamps.LAST_YEAR}); use a date such as 2026-11-01, or 'all' for everything"
        )
    if re.fullmatch(r"\d{4}-\d{2}", text):
        year, month = (int(part) for part in text.split("-"))
        if not 1 <= month <= 12:
            raise PeriodError(f"{role}={text!r} is not a month")
        return _month(year, month, zone)
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise PeriodError(f"{role}={text!r} is not a valid date") from exc
        return _days(day, 1, zone)
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError as exc:
        raise PeriodError(f"{role}={text!r} is not a period I understand; use {ACCEPTED}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment, moment


def _local(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _days(first: date, count: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return _local(first, zone), _local(first + timedelta(days=count), zone)


def _month(year: int, month: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return _local(date(year, month, 1), zone), _local(following, zone)


def local_day_sql(column: str, zone: ZoneInfo, start: datetime, end: datetime) -> tuple[str, dict[str, int]]:
    """A SQL expression giving the local day number (days since 1970-01-01) of ``column``,
    an integer count of minutes since 1970 UTC, in ``zone`` (see :func:`local_minute_sql`)."""
    minute, params = local_minute_sql(column, zone, start, end)
    return f"({minute} / 1440)", params


def local_minute_sql(column: str, zone: ZoneInfo, start: datetime, end: datetime) -> tuple[str, dict[str, int]]:
    """A SQL expression giving the local wall-clock minute (minutes since 1970-01-01 00:00 local)
    of ``column``, an integer count of minutes since 1970 UTC, in ``zone``.

    SQLite knows no timezones, so the UTC offsets in force between ``start`` and ``end`` are
    worked out here and bound as parameters: one ``CASE`` branch per DST change in the window.
    Integer arithmetic keeps it cheap over hundreds of thousands of rows. ``column`` must be a
    trusted identifier.
    """
    spans = offset_spans(zone, start, end)
    params: dict[str, int] = {}
    branches = []
    for n, (until, minutes) in enumerate(spans):
        params[f"tz_offset_{n}"] = minutes
        if until is None:
            branches.append(f"else :tz_offset_{n}")
        else:
            params[f"tz_until_{n}"] = int(until.timestamp()) // 60
            branches.append(f"when {column} < :tz_until_{n} then :tz_offset_{n}")
    offset = ":tz_offset_0" if len(branches) == 1 else "case " + " ".join(branches) + " end"
    return f"({column} + {offset})", params


def local_date(day_number: int) -> date:
    """The date of a local day number from :func:`local_day_sql`."""
    return _EPOCH + timedelta(days=day_number)


_EPOCH = date(1970, 1, 1)


@functools.cache
def one_group(zone: ZoneInfo, key: Callable[[int], str]) -> Callable[[str], bool]:
    """Whether all of a UTC day (``YYYY-MM-DD``) falls in one group of ``key``, which names the
    group of a local day number in ``zone`` (its day, week or month): then a daily rollup row
    of that day can stand for its 15-minute ones. By day, only where local days are UTC's.
    Remembered, as its answers: long windows ask it of every day they hold."""

    @functools.cache
    def whole(day: str) -> bool:  # in UTC: a local day can be 23 or 25 hours
        return in_one_group(zone, key, datetime.fromisoformat(day).replace(tzinfo=UTC), timedelta(days=1))

    return whole


@functools.cache
def hour_in_one_group(zone: ZoneInfo, key: Callable[[int], str]) -> Callable[[datetime], bool]:
    """:func:`one_group` for a UTC hour (by its start): where a day two groups share is read by hour,
    the hours that fall in one group (all of them in a zone whose offset is whole hours)."""

    @functools.cache
    def whole(hour: datetime) -> bool:
        return in_one_group(zone, key, hour, timedelta(hours=1))

    return whole


def in_one_group(zone: ZoneInfo, key: Callable[[int], str], begin: datetime, length: timedelta) -> bool:
    """Whether the minutes [begin, begin + length) all fall in one group of ``key`` (see :func:`one_group`)."""
    finish = begin + length - timedelta(minutes=1)
    return key(_day_number(begin.astimezone(zone))) == key(_day_number(finish.astimezone(zone)))


def any_day(day: str) -> bool:
    """:func:`one_group` for a grouping that does not depend on time (repo, model, none)."""
    return True


def _day_number(moment: datetime) -> int:
    return (moment.date() - _EPOCH).days


def _offset_minutes(zone: ZoneInfo, moment: datetime) -> int:
    offset = moment.astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def offset_spans(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """[(until, offset_minutes), ...]: the offset in force up to each change, then the last one."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    spans: list[tuple[datetime | None, int]] = []
    current = _offset_minutes(zone, start)
    cursor = start
    step = timedelta(hours=12)  # zones change offset at most a few times a year
    while cursor < end:
        following = min(cursor + step, end)
        if _offset_minutes(zone, following) != current:
            # Offsets change on whole seconds: bisect over epoch seconds to find the first one.
            low, high = int(cursor.timestamp()), int(following.timestamp()) + 1
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_minutes(zone, datetime.fromtimestamp(middle, UTC)) == current:
                    low = middle
                else:
                    high = middle
            change = datetime.fromtimestamp(high, UTC)
            spans.append((change, current))
            current = _offset_minutes(zone, change)
            cursor = change
        else:
            cursor = following
    spans.append((None, current))
    return spans
