"""Answers read whole buckets from the rollup and window edges from the raw view: they must equal
a plain aggregation of response_costs for any window."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import assistant_line, write_lines

from ccledger.answers import blocks, facts, pace, queries
from ccledger.answers.periods import resolve_period
from ccledger.ingest import index
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def ledger(db, real_projects):
    index.refresh(db, [real_projects])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    return db


def direct_totals(db, start, end):
    return db.execute(
        "select count(*), coalesce(sum(total_tokens), 0), coalesce(sum(cost_nanousd), 0) from response_costs "
        "where timestamp_utc >= ? and timestamp_utc < ?",
        [start or "", end],
    ).fetchone()


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("all", None),
        ("2025-07-14T23:12:07Z", "2025-07-14T23:21:59Z"),  # inside one bucket
        ("2025-07-14T23:07:00Z", "2025-07-19T14:44:31Z"),  # both edges unaligned
        ("2025-11-01", "2025-11-30"),
        ("2025-06", None),
        ("2026-04-18T13:20:00Z", "2026-04-18T13:50:40.622Z"),
    ],
)
def test_totals_equal_the_raw_view(ledger, since, until):
    zone = ZoneInfo("UTC")
    summary = queries.usage_summary(ledger, since=since, until=until, group_by="model", zone=zone, now=NOW)
    window = resolve_period(since, until, zone=zone, now=NOW)
    responses, tokens, nanousd = direct_totals(ledger, window.start_utc, window.end_utc)
    assert summary.totals.responses == responses
    assert summary.totals.total_tokens == tokens
    assert summary.totals.cost_usd == facts.nano_to_usd(nanousd)
    assert sum(row.responses for row in summary.rows) == responses


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Asia/Kathmandu"])
def test_local_days_equal_the_raw_view(ledger, timezone):
    zone = ZoneInfo(timezone)
    summary = queries.usage_summary(ledger, since="all", group_by="day", zone=zone, now=NOW)
    expected: dict[str, list[int]] = {}
    for timestamp, tokens in ledger.execute("select timestamp_utc, total_tokens from response_costs"):
        day = datetime.fromisoformat(timestamp).astimezone(zone).date().isoformat()
        counts = expected.setdefault(day, [0, 0])
        counts[0] += 1
        counts[1] += tokens
    assert [(row.key, row.responses, row.total_tokens) for row in summary.rows] == [
        (day, n, tokens) for day, (n, tokens) in sorted(expected.items())
    ]


def _week(day):
    return (day - timedelta(days=day.weekday())).isoformat()


GROUPS = {"day": lambda day: day.isoformat(), "week": _week, "month": lambda day: day.isoformat()[:7]}


@pytest.mark.parametrize("timezone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Asia/Kathmandu"])
@pytest.mark.parametrize("group_by", ["day", "week", "month"])
def test_local_weeks_and_months_equal_the_raw_view(db, real_projects, timezone, group_by):
    """Whole UTC days come from the daily rollup, but a day that two local groups share: around a
    month's and a week's start (Monday 2026-03-02), every zone must still count each response once."""
    lines = []
    for n in range(630):
        moment = datetime(2026, 2, 28, 18, tzinfo=UTC) + timedelta(minutes=4 * n)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lines.append(assistant_line(message_id=f"m{n}", request_id=f"r{n}", session_id="s-march", timestamp=stamp))
    write_lines(real_projects / "projects" / "p" / "s-march.jsonl", *lines)
    index.refresh(db, [real_projects])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    zone = ZoneInfo(timezone)
    for since, until in (("all", None), ("2026-02-20", "2026-03-05T07:30")):
        summary = queries.usage_summary(db, since=since, until=until, group_by=group_by, zone=zone, now=NOW)
        window = resolve_period(since, until, zone=zone, now=NOW)
        expected: dict[str, list[int]] = {}
        rows = db.execute(
            "select timestamp_utc, total_tokens, cost_nanousd from response_costs "
            "where timestamp_utc >= ? and timestamp_utc < ?",
            [window.start_utc or "", window.end_utc],
        )
        for timestamp, tokens, nanousd in rows:
            key = GROUPS[group_by](datetime.fromisoformat(timestamp).astimezone(zone).date())
            counts = expected.setdefault(key, [0, 0, 0])
            counts[0] += 1
            counts[1] += tokens
            counts[2] += nanousd or 0
        assert [(row.key, row.responses, row.total_tokens, row.cost_usd) for row in summary.rows] == [
            (key, n, tokens, facts.nano_to_usd(nanousd)) for key, (n, tokens, nanousd) in sorted(expected.items())
        ]
    assert db.execute("select count(*) from usage_daily").fetchone()[0] > 0


def test_sessions_match_the_raw_view(ledger):
    found = queries.sessions(ledger, since="all", limit=500, zone=ZoneInfo("UTC"), now=NOW)
    expected = ledger.execute(
        "select session_id, count(*), min(timestamp_utc), max(timestamp_utc) from response_costs "
        "where session_id is not null group by 1 order by 4 desc, 1"
    ).fetchall()
    assert [(s.session_id, s.responses, s.first_utc, s.last_utc) for s in found.sessions] == expected
    assert found.total_sessions == len(expected)


@pytest.mark.parametrize(
    ("since", "until"),
    [("all", None), ("2025-07-14T23:07:00Z", "2025-07-19T14:44:31Z"), ("2026-04-18T13:20:00Z", "2026-04-18T13:50:40Z")],
)
def test_repo_sessions_match_the_raw_view(ledger, since, until):
    """A session in both a window edge and the rollup's whole buckets counts once."""
    zone = ZoneInfo("UTC")
    found = queries.cost_by_repo(ledger, since=since, until=until, source="dev", zone=zone, now=NOW)
    window = resolve_period(since, until, zone=zone, now=NOW)
    expected = ledger.execute(
        "select repo_id, count(distinct session_id), count(*) from response_costs "
        "where timestamp_utc >= ? and timestamp_utc < ? group by 1",
        [window.start_utc or "", window.end_utc],
    ).fetchall()
    assert sorted((r.repo_id, r.sessions, r.responses) for r in found.repos) == sorted(expected)


def test_session_prefixes(ledger):
    session_id = ledger.execute("select session_id from responses where session_id is not null limit 1").fetchone()[0]
    assert queries.session_detail(ledger, session_id[:6]).session_id == session_id
    with pytest.raises(queries.QueryError, match="not in the ledger"):
        queries.session_detail(ledger, "zz-not-a-session")


def _summary(db, **filters):
    return queries.usage_summary(db, since="all", group_by="model", zone=ZoneInfo("UTC"), now=NOW, **filters)


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("opus-4-5", ["claude-opus-4-5"]),
        ("claude-opus-4-5", ["claude-opus-4-5"]),
        ("claude-opus-4-5-20251101", ["claude-opus-4-5"]),
        ("Opus-4-5", ["claude-opus-4-5"]),
        ("sonnet", ["claude-sonnet-4", "claude-sonnet-4-5"]),
    ],
)
def test_a_model_is_taken_the_way_people_name_it(ledger, name, ids):
    found = _summary(ledger, model=name)
    everything = {row.key: row for row in _summary(ledger).rows}
    models = {queries.resolve_models(ledger, row.key)[0]: row for row in everything.values()}
    assert set(ids) <= set(queries.resolve_models(ledger, name))
    expected = sum(row.cost_usd for model, row in models.items() if model in ids)
    assert found.totals.cost_usd == pytest.approx(expected, abs=1e-6) and expected > 0


def test_an_unknown_model_is_an_error_naming_close_ones(ledger):
    with pytest.raises(queries.QueryError, match="matches no model") as error:
        _summary(ledger, model="opus-9-9")
    assert "claude-opus" in str(error.value)


# Every read of raw responses over a window, as the answers run it: none may walk the whole
# table (an index chosen to spare a GROUP BY's sort once read all 5,000,000 rows for a 5-hour block).
WINDOWED_RAW_READS = {
    "burn rate by model": pace.BLOCK_MODELS_SQL,
    "block spans": blocks.RESPONSE_SPANS_SQL,
    "a span's responses": blocks.SPAN_RESPONSES_SQL,
    "window edges": facts.SCAN_SQL.format(
        key="model",
        usage=facts.USAGE_SUMS_SQL,
        columns="",
        where="",
        facts=facts.RAW_FACTS_SQL.format(columns=facts.FACT_COLUMNS, filters=""),
    ),
}


@pytest.mark.parametrize("label", WINDOWED_RAW_READS)
def test_a_window_of_raw_responses_is_read_by_the_time_index(ledger, label):
    sql = WINDOWED_RAW_READS[label]
    params = ("2025-07-14T10:00:00.000Z", "2025-07-14T15:00:00.000Z")
    named = dict(zip(("start", "end"), params, strict=True))
    plan = [row[3] for row in ledger.execute("explain query plan " + sql, named if ":start" in sql else params)]
    reads = [step for step in plan if step.split()[1] in ("r", "responses")]  # SCAN/SEARCH <table or alias>
    assert reads and all("USING INDEX responses_time" in step for step in reads), plan
