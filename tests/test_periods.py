import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ccledger.answers.periods import PeriodError, local_date, local_day_sql, resolve_period

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # a Sunday; 16:30 in Berlin


def window(since, until=None, zone=BERLIN):
    w = resolve_period(since, until, zone=zone, now=NOW)
    return w.start_utc, w.end_utc


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("today", None, ("2026-11-21T23:00:00.000Z", "2026-11-22T23:00:00.000Z")),
        ("yesterday", None, ("2026-11-20T23:00:00.000Z", "2026-11-21T23:00:00.000Z")),
        ("this week", None, ("2026-11-15T23:00:00.000Z", "2026-11-22T23:00:00.000Z")),  # Monday 16th
        ("last week", None, ("2026-11-08T23:00:00.000Z", "2026-11-15T23:00:00.000Z")),
        ("this month", None, ("2026-10-31T23:00:00.000Z", "2026-11-30T23:00:00.000Z")),
        ("last month", None, ("2026-09-30T22:00:00.000Z", "2026-10-31T23:00:00.000Z")),  # DST ended Oct 25
        ("last 7 days", None, ("2026-11-15T23:00:00.000Z", "2026-11-22T23:00:00.000Z")),
        ("Last_7_Days", None, ("2026-11-15T23:00:00.000Z", "2026-11-22T23:00:00.000Z")),
        ("last 3 hours", None, ("2026-11-22T12:30:00.000Z", "2026-11-22T15:30:00.000Z")),
        ("2026-11-01", None, ("2026-10-31T23:00:00.000Z", "2026-11-22T15:30:00.000Z")),  # a date runs to now
        ("20261101", "2026-11-05", ("2026-10-31T23:00:00.000Z", "2026-11-05T23:00:00.000Z")),  # until inclusive
        ("2026-10", None, ("2026-09-30T22:00:00.000Z", "2026-10-31T23:00:00.000Z")),
        ("2026-11-20T09:00", None, ("2026-11-20T08:00:00.000Z", "2026-11-22T15:30:00.000Z")),
        ("2026-11-20T09:00Z", "2026-11-20T10:00Z", ("2026-11-20T09:00:00.000Z", "2026-11-20T10:00:00.000Z")),
        ("all", None, (None, "2026-11-22T15:30:00.000Z")),
        ("this month", "yesterday", ("2026-10-31T23:00:00.000Z", "2026-11-21T23:00:00.000Z")),
    ],
)
def test_phrases(since, until, expected):
    assert window(since, until) == expected


def test_the_timezone_moves_the_day():
    assert window("today", zone=ZoneInfo("America/Los_Angeles"))[0] == "2026-11-22T08:00:00.000Z"
    assert window("today", zone=ZoneInfo("UTC"))[0] == "2026-11-22T00:00:00.000Z"


def test_missing_since_uses_the_default():
    assert resolve_period(None, None, zone=BERLIN, now=NOW, default="yesterday").label == "yesterday"


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-11-05", "2026-11-01", "is not after since"),
        ("someday", None, "'this week'"),
        ("2026-02-30", None, "not a valid date"),
        ("2026-13", None, "not a month"),
        ("last 0 days", None, "out of range"),
    ],
)
def test_bad_periods_say_what_works(since, until, message):
    with pytest.raises(PeriodError, match=message):
        window(since, until)


@pytest.mark.parametrize(
    ("utc", "local_day"),
    [
        ("2026-03-29T00:59:59Z", "2026-03-29"),  # CET, just before the change to CEST
        ("2026-03-28T22:59:59Z", "2026-03-28"),  # 23:59:59 CET
        ("2026-03-28T23:00:00Z", "2026-03-29"),  # midnight CET
        ("2026-10-24T21:59:59Z", "2026-10-24"),  # 23:59:59 CEST
        ("2026-10-24T22:00:00Z", "2026-10-25"),  # midnight CEST
        ("2026-07-01T22:30:00Z", "2026-07-02"),  # summer: the next local day
        ("2026-12-31T23:00:00Z", "2027-01-01"),
    ],
)
def test_local_day_sql_follows_dst(utc, local_day):
    sql, params = local_day_sql("m", BERLIN, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC))
    minute = int(datetime.fromisoformat(utc).timestamp()) // 60
    day_number = (
        sqlite3.connect(":memory:")
        .execute(f"select {sql} from (select :m as m)", {**params, "m": minute})
        .fetchone()[0]
    )
    assert local_date(day_number).isoformat() == local_day


def test_local_day_sql_without_changes_is_one_offset():
    sql, params = local_day_sql("m", ZoneInfo("Asia/Kolkata"), datetime(2026, 1, 1, tzinfo=UTC), NOW)
    assert sql == "((m + :tz_offset_0) / 1440)" and params == {"tz_offset_0": 330}
