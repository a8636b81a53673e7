from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ccledger import timestamps


def test_a_moment_in_any_zone_is_written_in_utc_to_the_millisecond():
    moment = datetime(2026, 11, 30, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-5)))
    assert timestamps.text(moment) == "2026-12-01T04:59:59.999Z"


def test_ledger_text_reads_back_as_the_same_moment_in_utc():
    moment = timestamps.parse("2026-12-01T04:59:59.250Z")
    assert moment == datetime(2026, 12, 1, 4, 59, 59, 250_000, tzinfo=UTC) and moment.utcoffset() == timedelta(0)
    assert timestamps.text(moment) == "2026-12-01T04:59:59.250Z"


@pytest.mark.parametrize(
    ("given", "ledger"),
    [
        (datetime(2026, 12, 1, 9, 30), "2026-12-01T09:30:00.000Z"),  # naive: UTC
        (date(2026, 12, 1), "2026-12-01T00:00:00.000Z"),
        ("2026-12-01T10:30:00+01:00", "2026-12-01T09:30:00.000Z"),
    ],
)
def test_coerce_takes_what_a_caller_has(given, ledger):
    assert timestamps.coerce(given) == ledger


def test_coerce_refuses_text_that_is_no_timestamp():
    with pytest.raises(ValueError, match="not an ISO-8601 timestamp"):
        timestamps.coerce("yesterday")


def test_now_is_in_the_ledger_shape_and_ago_goes_back():
    now, earlier = timestamps.now(), timestamps.now(ago=3600)
    assert timestamps.normalize(now) == now and earlier < now
    assert abs((timestamps.parse(now) - timestamps.parse(earlier)).total_seconds() - 3600) < 60
