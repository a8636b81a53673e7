"""What every kind of source is parsed into: usage records and what a page says about them.

A record is one request (export, OTLP) or one group of requests in a time bucket (the Admin
API's hourly buckets, its daily cost lines). Its ``key`` is unique within its source, so pulling
the same data again replaces a record instead of counting it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

__all__ = ["MAX_RECORD_COUNT", "MAX_RECORD_NANOUSD", "PageError", "ParsedPage", "ProdRecord", "check_bounds"]


class PageError(ValueError):
    """A decoded page that is not what its kind promises; the message says what was expected."""

    @classmethod
    def invalid(cls, exc: ValidationError, expected: str) -> PageError:
        """The first problem pydantic found, located in the page, and what the page should be."""
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the page"
        return cls(f"{where}: {first['msg']} (expected {expected})")


@dataclass(frozen=True)
class ProdRecord:
    """Usage of one request, or of a group of requests in one bucket, ready for ``prod_usage``.

    Timestamps are in the ledger's ``YYYY-MM-DDTHH:MM:SS.mmmZ`` form. ``input_tokens`` never
    includes cache reads or writes (Anthropic's own ``usage.input_tokens``).
    """

    key: str
    bucket_start_utc: str
    bucket_end_utc: str
    model: str
    requests: int | None = None  # None: not known (an aggregate that does not count requests)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    web_search_requests: int = 0
    speed: str | None = None
    # '0-200k' or '200k-1M' when the source says which context window (and so which price tier)
    # the requests used; None: decide per request from its own tokens, as for transcripts.
    context_window: str | None = None
    provider_cost_nanousd: int | None = None  # the source's own figure, when it reports one
    service_tier: str | None = None  # 'batch' is billed at half price; None: not said (standard)

    def values(self) -> tuple[object, ...]:
        """The stored fields, for telling a changed record from a re-sent one."""
        return (
            self.bucket_start_utc, self.bucket_end_utc, self.model, self.requests, self.input_tokens,
            self.output_tokens, self.cache_write_5m_tokens, self.cache_write_1h_tokens, self.cache_read_tokens,
            self.web_search_requests, self.speed, self.context_window, self.provider_cost_nanousd,
            self.service_tier,
        )  # fmt: skip


# The most one record may hold: a record sums an hour of a whole organisation at most, and no
# organisation comes near a trillion tokens (or 100 million dollars) an hour. Below these no sum
# over the ledger can overflow SQLite's 64-bit integers.
MAX_RECORD_COUNT = 10**12
MAX_RECORD_NANOUSD = 10**17
_COUNTS = (
    "requests", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "cache_read_tokens", "web_search_requests",
)  # fmt: skip


def check_bounds(records: list[ProdRecord]) -> None:
    """Raise PageError for a record whose counts or cost no real usage reaches (or below 0)."""
    for record in records:
        for name in _COUNTS:
            value = getattr(record, name)
            if value is not None and not 0 <= value <= MAX_RECORD_COUNT:
                raise PageError(f"record {record.key!r} has {name} = {value}, outside 0 to {MAX_RECORD_COUNT:,}")
        cost = record.provider_cost_nanousd
        if cost is not None and not 0 <= cost <= MAX_RECORD_NANOUSD:
            raise PageError(f"record {record.key!r} reports a cost of {cost / 1e9:,.2f} USD, which no usage reaches")


@dataclass(frozen=True)
class ParsedPage:
    """One page of a source, parsed.

    ``replaces`` lists key prefixes whose records this page states in full (an Admin API bucket):
    stored records under them that the page no longer has are removed. ``cursor`` is where the
    next pull may start once this page is saved (None: where it started). ``next_page`` and
    ``has_more`` drive paging within one pull.
    """

    records: list[ProdRecord]
    cursor: str | None = None
    next_page: str | None = None
    has_more: bool = False
    replaces: list[str] = field(default_factory=list)
