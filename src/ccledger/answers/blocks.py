"""Five-hour blocks, burn rate and projections: pure functions, standard library only.

Claude's usage limits run in 5-hour windows that start with the first message. The local
estimate uses ccusage's algorithm (shared/reference/ccusage.md section 4) so that figures agree
with it: responses in time order; a block starts at its first response floored to the UTC hour
and ends 5 hours later; a response more than 5 hours after its block's start, or more than 5
hours after the previous response, starts a new block, and in the second case a gap block
covers the idle time. A block is active while the last response is less than 5 hours old and
its end has not passed.

The input is *spans*: a response, or the responses of one 15-minute bucket of the usage rollup
(first and last timestamp, sums). A bucket never crosses a block's end, because ends fall on
the hour; the one exception, a bucket holding a response at exactly a block's end, must be split
into its responses by the caller (see :func:`needs_split`).

Everything here is an estimate of the real window, which also counts use from claude.ai and
other machines; the official percentages come from the statusline (``limits.py``).
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from .. import timestamps
from ..ledger import buckets

__all__ = [
    "BLOCK_HOURS",
    "LOOKBACK",
    "SHORT_LOOKBACK",
    "Block",
    "BurnRate",
    "Span",
    "active_block",
    "blocks_between",
    "build_blocks",
    "burn_rate",
    "load_spans",
    "settled",
]

BLOCK_HOURS = 5
_BLOCK = timedelta(hours=BLOCK_HOURS)


# Plain classes and named tuples, not dataclasses: the statusline imports this module on every
# tick, and importing dataclasses alone costs a quarter of its time budget.


class Span(
    namedtuple(
        "Span",
        "first last responses input_tokens output_tokens cache_write_tokens cache_read_tokens cost_nanousd models "
        "unpriced_responses",
    )
):
    """One response, or the responses of one 15-minute bucket, in time order with the others."""

    __slots__ = ()
    first: datetime
    last: datetime
    responses: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost_nanousd: int  # of the priced responses
    models: frozenset[str]
    unpriced_responses: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens


class Block:
    """A 5-hour block (or, with ``is_gap``, the idle time between two blocks)."""

    __slots__ = (
        "cache_read_tokens", "cache_write_tokens", "cost_nanousd", "end", "first", "input_tokens", "is_gap",
        "last", "models", "output_tokens", "responses", "start", "unpriced_responses",
    )  # fmt: skip

    def __init__(self, start: datetime, end: datetime, *, is_gap: bool = False) -> None:
        self.start = start
        self.end = end
        self.is_gap = is_gap
        self.first: datetime | None = None  # the first and last response in it
        self.last: datetime | None = None
        self.responses = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_write_tokens = 0
        self.cache_read_tokens = 0
        self.cost_nanousd = 0  # of the priced responses: see unpriced_responses
        self.unpriced_responses = 0
        self.models: set[str] = set()

    def __repr__(self) -> str:
        kind = "gap" if self.is_gap else f"{self.responses} response" + ("" if self.responses == 1 else "s")
        return f"Block({self.start.isoformat()} to {self.end.isoformat()}, {kind})"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens

    def is_active(self, now: datetime) -> bool:
        """ccusage's rule: the last response is under 5 hours old and the block has not ended."""
        return not self.is_gap and self.last is not None and now - self.last < _BLOCK and now < self.end

    def add(self, span: Span) -> None:
        self.first = span.first if self.first is None else min(self.first, span.first)
        self.last = span.last if self.last is None else max(self.last, span.last)
        self.responses += span.responses
        self.input_tokens += span.input_tokens
        self.output_tokens += span.output_tokens
        self.cache_write_tokens += span.cache_write_tokens
        self.cache_read_tokens += span.cache_read_tokens
        self.cost_nanousd += span.cost_nanousd
        self.unpriced_responses += span.unpriced_responses
        self.models |= span.models


class BurnRate(
    namedtuple(
        "BurnRate", "tokens_per_minute cost_per_hour_nanousd minutes_left projected_tokens projected_cost_nanousd"
    )
):
    """How fast a block used tokens and money, and where that pace ends up at the block's end."""

    __slots__ = ()


def floor_to_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def needs_split(span: Span, block: Block | None) -> bool:
    """Whether ``span`` would start inside ``block`` but end past it (only a bucket can)."""
    return block is not None and not block.is_gap and span.first - block.start <= _BLOCK < span.last - block.start


def build_blocks(spans: Iterable[Span], split: Callable[[Span], Iterable[Span]] | None = None) -> list[Block]:
    """Blocks and gap blocks from spans in time order (see the module docstring).

    ``split`` turns a bucket into its responses; it is called for a bucket that holds a
    response at exactly a block's end (which stays in that block) and later ones (which don't).
    """
    blocks: list[Block] = []
    current: Block | None = None
    pending = iter(spans)
    queue: list[Span] = []
    while True:
        if queue:
            span = queue.pop(0)
        else:
            upcoming = next(pending, None)
            if upcoming is None:
                break
            span = upcoming
            if split is not None and span.responses > 1 and needs_split(span, current):
                queue = list(split(span))
                continue
        if current is not None:
            assert current.last is not None
            since_start = span.first - current.start
            since_last = span.first - current.last
            if since_start > _BLOCK or since_last > _BLOCK:
                blocks.append(current)
                if since_last > _BLOCK:
                    blocks.append(Block(start=current.last + _BLOCK, end=span.first, is_gap=True))
                current = None
        if current is None:
            start = floor_to_hour(span.first)
            current = Block(start=start, end=start + _BLOCK)
        current.add(span)
    if current is not None:
        blocks.append(current)
    # A gap begins 5 hours after the last response, which can be later than the start of the next
    # block (floored to the hour): in start order, as ccusage lists them.
    blocks.sort(key=lambda block: block.start)
    return blocks


def burn_rate(block: Block, now: datetime) -> BurnRate | None:
    """ccusage's burn rate: tokens and cost over the minutes from the block's first response to
    its last; projected to the block's end at that pace. None before two distinct moments."""
    if block.is_gap or block.first is None or block.last is None:
        return None
    minutes = (block.last - block.first).total_seconds() / 60
    if minutes <= 0:
        return None
    tokens_per_minute = block.total_tokens / minutes
    cost_per_minute = block.cost_nanousd / minutes
    minutes_left = max((block.end - now).total_seconds() / 60, 0.0) if block.is_active(now) else 0.0
    return BurnRate(
        tokens_per_minute=tokens_per_minute,
        cost_per_hour_nanousd=cost_per_minute * 60,
        minutes_left=minutes_left,
        projected_tokens=round(block.total_tokens + tokens_per_minute * minutes_left),
        projected_cost_nanousd=round(block.cost_nanousd + cost_per_minute * minutes_left),
    )


def active_block(blocks: Sequence[Block], now: datetime) -> Block | None:
    """The block in progress at ``now``, if any."""
    for block in reversed(blocks):
        if not block.is_gap:
            return block if block.is_active(now) else None
    return None


# --- spans from the ledger (plain sqlite3, so the statusline can use it cheaply) -----------------

# Blocks are exact from any 5-hour gap on, since a gap restarts the chain. The day before a
# window nearly always holds one (a night), so that much history is read first, and LOOKBACK
# when it does not. Two weeks without one gap of 5 hours is not a human schedule.
SHORT_LOOKBACK = timedelta(days=1)
LOOKBACK = timedelta(days=14)

_SPANS_SQL = """
select min(first_utc), max(last_utc), sum(responses), sum(input_tokens), sum(output_tokens),
       sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(cache_read_tokens), sum(cost_nanousd),
       group_concat(distinct model), sum(unpriced_responses)
from {table}
where {period} >= ? and {period} < ? and source = 'dev'
group by {period}
order by {period}
"""
BUCKET_SPANS_SQL = _SPANS_SQL.format(table="usage_rollup", period="bucket_utc")
HOUR_SPANS_SQL = _SPANS_SQL.format(table="usage_hourly", period="hour_utc")

RESPONSE_SPANS_SQL = """
select timestamp_utc, timestamp_utc, 1, input_tokens, output_tokens, cache_write_5m_tokens + cache_write_1h_tokens,
       cache_read_tokens, coalesce(cost_nanousd, 0), model, cost_nanousd is null
from response_costs
where timestamp_utc >= ? and timestamp_utc < ?
order by timestamp_utc
"""
SPAN_RESPONSES_SQL = RESPONSE_SPANS_SQL.replace("timestamp_utc < ?", "timestamp_utc <= ?")  # first to last


def _span(row: tuple) -> Span:
    first, last, responses, inputs, outputs, writes, reads, cost, models, unpriced = row
    return Span(
        first=timestamps.parse(first), last=timestamps.parse(last), responses=responses,
        input_tokens=inputs, output_tokens=outputs,
        cache_write_tokens=writes, cache_read_tokens=reads, cost_nanousd=cost or 0,
        models=frozenset((models or "").split(",")) - {""}, unpriced_responses=unpriced or 0,
    )  # fmt: skip


def load_spans(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[Span]:
    """Spans between ``start`` and ``end``: whole UTC hours from the hourly rollup, the buckets
    around them, and single responses at unaligned edges.

    An hour is as good a span as a bucket: a block starts on a UTC hour and lasts whole hours,
    so an hour never straddles two blocks but where a response sits exactly on a block's end
    (the case ``build_blocks`` splits any span for).
    """
    start_text, end_text = timestamps.text(start), timestamps.text(end)
    inner_start, inner_end = buckets.ceil(start), buckets.floor(end)
    if inner_start >= inner_end:
        return [_span(row) for row in conn.execute(RESPONSE_SPANS_SQL, (start_text, end_text))]
    hours_start, hours_end = _ceil_hour(inner_start), floor_to_hour(inner_end)
    if hours_start >= hours_end:
        hours_start = hours_end = inner_end
    parts = [
        (RESPONSE_SPANS_SQL, start_text, timestamps.text(inner_start)),
        (BUCKET_SPANS_SQL, timestamps.text(inner_start), timestamps.text(hours_start)),
        (HOUR_SPANS_SQL, timestamps.text(hours_start)[:13], timestamps.text(hours_end)[:13]),
        (BUCKET_SPANS_SQL, timestamps.text(hours_end), timestamps.text(inner_end)),
        (RESPONSE_SPANS_SQL, timestamps.text(inner_end), end_text),
    ]
    return [_span(row) for sql, low, high in parts if low < high for row in conn.execute(sql, (low, high))]


def _ceil_hour(moment: datetime) -> datetime:
    start = floor_to_hour(moment)
    return start if start == moment else start + timedelta(hours=1)


def blocks_between(conn: sqlite3.Connection, start: datetime | None, end: datetime) -> list[Block]:
    """The blocks that start in [start, end), built from the history since the last 5-hour gap
    before ``start`` (looked for in the day before it, then up to ``LOOKBACK`` before it)."""
    if start is None:
        spans = load_spans(conn, datetime(1970, 1, 1, tzinfo=UTC), end)
    else:
        spans = load_spans(conn, start - SHORT_LOOKBACK, end)
        if not settled(spans, start - SHORT_LOOKBACK, start):
            spans = load_spans(conn, start - LOOKBACK, end)

    def split(span: Span) -> list[Span]:  # its responses: those from its first to its last
        return [
            _span(row)
            for row in conn.execute(SPAN_RESPONSES_SQL, (timestamps.text(span.first), timestamps.text(span.last)))
        ]

    return [block for block in build_blocks(spans, split) if start is None or block.start >= start]


def settled(spans: Sequence[Span], loaded_from: datetime, start: datetime) -> bool:
    """Whether spans read from ``loaded_from`` on give the same blocks from ``start`` on as the
    whole history would.

    They do once a gap of more than 5 hours (after ``loaded_from`` for the first span) restarts
    the chain before any span at or after ``start``: the spans before that gap form blocks that
    start before ``start``, whatever came earlier.
    """
    previous_last = loaded_from
    for span in spans:
        if span.first - previous_last > _BLOCK:
            return True
        if span.first >= start:
            return False
        previous_last = max(previous_last, span.last)
    return True  # every span is before start and no gap follows: no block from start on
