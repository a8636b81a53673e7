"""5-hour blocks: the algorithm on hand-made spans, and agreement with ccusage on the real corpus."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import FIXTURES, assistant_line, write_lines

from ccledger.answers import blocks, pace
from ccledger.ingest import index
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def span(first: str, last: str | None = None, tokens: int = 100, cost: int = 1_000) -> blocks.Span:
    return blocks.Span(at(first), at(last or first), 1, tokens, 0, 0, 0, cost, frozenset({"m"}), 0)


def test_blocks_start_on_the_hour_and_last_five_hours():
    found = blocks.build_blocks([span("2026-11-20T09:05:07"), span("2026-11-20T09:40:31")])
    assert [(b.start, b.end, b.responses) for b in found] == [(at("2026-11-20T09:00"), at("2026-11-20T14:00"), 2)]


def test_a_response_past_the_end_starts_a_new_block_without_a_gap():
    found = blocks.build_blocks([span("2026-11-20T09:05"), span("2026-11-20T13:50"), span("2026-11-20T14:10")])
    assert [(b.start, b.is_gap) for b in found] == [(at("2026-11-20T09:00"), False), (at("2026-11-20T14:00"), False)]


def test_five_idle_hours_leave_a_gap_block():
    found = blocks.build_blocks([span("2026-11-20T09:05"), span("2026-11-20T15:20")])
    assert [(b.start, b.end, b.is_gap) for b in found] == [
        (at("2026-11-20T09:00"), at("2026-11-20T14:00"), False),
        (at("2026-11-20T14:05"), at("2026-11-20T15:20"), True),  # last response + 5 h until the next one
        (at("2026-11-20T15:00"), at("2026-11-20T20:00"), False),
    ]
    # A gap that begins after the next block's floored start is listed after it, in start order.
    found = blocks.build_blocks([span("2026-11-20T09:31"), span("2026-11-20T14:41")])
    assert [(b.start, b.is_gap) for b in found] == [
        (at("2026-11-20T09:00"), False), (at("2026-11-20T14:00"), False), (at("2026-11-20T14:31"), True)
    ]  # fmt: skip


def test_a_response_exactly_at_the_end_stays_and_the_bucket_is_split():
    bucket = blocks.Span(at("2026-11-20T14:00"), at("2026-11-20T14:10"), 2, 200, 0, 0, 0, 2_000, frozenset({"m"}), 0)
    parts = [span("2026-11-20T14:00"), span("2026-11-20T14:10")]
    found = blocks.build_blocks([span("2026-11-20T09:05"), bucket], split=lambda s: parts)
    assert [(b.start, b.responses) for b in found] == [(at("2026-11-20T09:00"), 2), (at("2026-11-20T14:00"), 1)]


def test_active_block_and_burn_rate():
    found = blocks.build_blocks(
        [span("2026-11-20T09:00", tokens=600, cost=6_000), span("2026-11-20T10:00", tokens=600, cost=6_000)]
    )
    now = at("2026-11-20T11:00")
    active = blocks.active_block(found, now)
    assert active is not None
    rate = blocks.burn_rate(active, now)
    assert rate.tokens_per_minute == 20  # 1,200 tokens over 60 minutes
    assert rate.cost_per_hour_nanousd == 12_000
    assert rate.minutes_left == 180
    assert rate.projected_tokens == 1_200 + 20 * 180
    assert blocks.active_block(found, at("2026-11-20T15:30")) is None  # past its end
    assert blocks.burn_rate(blocks.build_blocks([span("2026-11-20T09:00")])[0], now) is None  # one moment only


@pytest.fixture
def ledger(db, real_projects):
    index.refresh(db, [real_projects])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    return db


def test_blocks_equal_ccusages_on_the_real_corpus(ledger):
    theirs = json.loads((FIXTURES / "ccusage" / "real_projects_blocks.json").read_text())["blocks"]
    ours = pace.usage_blocks(ledger, since="all", zone=ZoneInfo("UTC"), now=datetime(2026, 11, 22, tzinfo=UTC)).blocks
    assert len(ours) == len(theirs) == 56
    for mine, peer in zip(ours, theirs, strict=True):
        counts = peer["tokenCounts"]
        assert (mine.start_utc, mine.end_utc, mine.is_gap) == (peer["startTime"], peer["endTime"], peer["isGap"])
        assert mine.responses == peer["entries"]
        expected = ("inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens")
        assert (mine.input_tokens, mine.output_tokens, mine.cache_write_tokens, mine.cache_read_tokens) == tuple(
            counts[name] for name in expected
        )
        assert mine.total_tokens == peer["totalTokens"]
        assert mine.cost_usd == pytest.approx(peer["costUSD"], abs=1e-5)  # its float sums vs our nano-dollars


def test_burn_rate_of_an_active_block(db, claude_dir):
    now = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    write_lines(
        claude_dir / "projects" / "p" / "s.jsonl",
        assistant_line(message_id="m1", timestamp="2026-11-20T09:10:00.000Z", output_tokens=100),
        assistant_line(message_id="m2", timestamp="2026-11-20T10:10:00.000Z", output_tokens=300),
        assistant_line(message_id="m3", timestamp="2026-11-20T10:40:00.000Z", model="claude-haiku-4-5-20251001"),
    )
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    report = pace.burn_rate(db, now=now)
    block = report.active_block
    assert (block.start_utc, block.end_utc, block.responses) == (
        "2026-11-20T09:00:00.000Z",
        "2026-11-20T14:00:00.000Z",
        3,
    )
    assert report.minutes_left == 180
    tokens = block.total_tokens
    assert report.tokens_per_minute == pytest.approx(tokens / 90, abs=0.05)  # first to last response: 90 minutes
    assert report.projected_tokens == round(tokens + tokens / 90 * 180)
    assert {row.key for row in report.by_model} == {"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"}
    idle = pace.burn_rate(db, now=now + timedelta(hours=6))
    assert idle.active_block is None and idle.last_block.responses == 3


def summary(found: list[blocks.Block]) -> list[tuple]:
    return [(b.start, b.end, b.is_gap, b.first, b.last, b.responses, b.total_tokens, b.cost_nanousd) for b in found]


def test_a_window_reads_back_to_a_gap_and_gets_the_whole_historys_blocks(ledger):
    whole = blocks.blocks_between(ledger.conn, None, at("2027-01-01T00:00"))
    moments = sorted({moment for block in whole for moment in (block.start, block.end, block.first or block.start)})
    starts = {moment + shift for moment in moments for shift in (timedelta(0), timedelta(minutes=-1), timedelta(1))}
    assert len(starts) > 150
    for start in sorted(starts):
        expected = [block for block in whole if block.start >= start]
        assert summary(blocks.blocks_between(ledger.conn, start, at("2027-01-01T00:00"))) == summary(expected), start


def test_without_a_gap_in_the_day_before_a_window_more_history_is_read(db, claude_dir):
    # A response every 2 hours for four days: one chain of blocks with no gap, whose starts
    # (00:00, 06:00, 12:00, ...) follow from the first response, days before the window.
    first = at("2026-11-16T00:58")
    moments = [first + n * timedelta(hours=2) for n in range(48)]
    lines = [
        assistant_line(message_id=f"m{n}", timestamp=moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for n, moment in enumerate(moments)
    ]
    write_lines(claude_dir / "projects" / "p" / "s.jsonl", *lines)
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    end = at("2026-11-21T00:00")
    whole = blocks.blocks_between(db.conn, None, end)
    assert not any(block.is_gap for block in whole)
    start = at("2026-11-19T13:00")
    loaded = blocks.load_spans(db.conn, start - blocks.SHORT_LOOKBACK, end)
    assert not blocks.settled(loaded, start - blocks.SHORT_LOOKBACK, start)
    window = blocks.blocks_between(db.conn, start, end)
    assert window and summary(window) == summary([block for block in whole if block.start >= start])


def test_an_hour_holding_a_response_at_a_blocks_end_is_split_as_a_bucket_is(db, claude_dir):
    # The block 09:00-14:00 keeps the response at 14:00:00.000 exactly; 14:20 and 14:50, in the
    # same UTC hour (one span of the hourly rollup), begin the next block.
    stamps = ["2026-11-20T09:05:00.000Z", "2026-11-20T14:00:00.000Z", "2026-11-20T14:20:00.000Z",
              "2026-11-20T14:50:00.000Z", "2026-11-20T16:10:00.000Z"]  # fmt: skip
    write_lines(
        claude_dir / "projects" / "p" / "s.jsonl",
        *(assistant_line(message_id=f"m{n}", timestamp=stamp) for n, stamp in enumerate(stamps)),
    )
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    spans = blocks.load_spans(db.conn, at("2026-11-20T00:00"), at("2026-11-21T00:00"))
    assert [(s.first.hour, s.responses) for s in spans] == [(9, 1), (14, 3), (16, 1)]  # whole hours
    for start in (None, at("2026-11-20T08:07:30")):  # the edges read as buckets and responses
        found = [
            (b.start.hour, b.end.hour, b.responses) for b in blocks.blocks_between(db.conn, start, at("2026-11-21"))
        ]
        assert found == [(9, 14, 2), (14, 19, 3)], start
