"""ccledger's export format: per-request usage records behind a cursor, easy for any app to serve.

``GET <url>?limit=<page_size>[&cursor=<cursor>]`` (with ``Authorization: Bearer <token>`` when a
token is set) answers::

    {
      "records": [
        {"id": "req_011CV...", "timestamp": "2026-11-22T09:15:02Z", "model": "claude-sonnet-4-5",
         "usage": {"input_tokens": 1200, "output_tokens": 310, "cache_read_input_tokens": 5000},
         "cost_usd": 0.0061}
      ],
      "next_cursor": "opaque, or null",
      "has_more": false
    }

``id`` is unique per request (a record sent again replaces the first); ``usage`` is the Messages
API's ``usage`` object as the app received it; ``cost_usd`` (the app's own figure) is optional.
The server returns the records after ``cursor`` in a stable order, and ``next_cursor`` to ask
for the ones after these; ccledger keeps it and starts there next time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError

from .. import timestamps
from .records import PageError, ParsedPage, ProdRecord

__all__ = ["EXPECTED", "export_params", "parse_export_page"]

EXPECTED = (
    'a ccledger export page {"records": [{"id", "timestamp", "model", "usage": {"input_tokens", '
    '"output_tokens", ...}}], "next_cursor", "has_more"}'
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _CacheCreation(_Strict):
    ephemeral_5m_input_tokens: NonNegativeInt | None = None
    ephemeral_1h_input_tokens: NonNegativeInt | None = None


class _ServerToolUse(_Strict):
    web_search_requests: NonNegativeInt = 0


class _Usage(_Strict):
    input_tokens: NonNegativeInt
    output_tokens: NonNegativeInt
    cache_creation_input_tokens: NonNegativeInt = 0
    cache_read_input_tokens: NonNegativeInt = 0
    cache_creation: _CacheCreation | None = None
    server_tool_use: _ServerToolUse | None = None
    speed: str | None = None
    service_tier: str | None = None  # "batch" for Message Batches results: half price


class _Record(_Strict):
    id: str = Field(min_length=1)
    timestamp: str
    model: str = Field(min_length=1)
    usage: _Usage
    cost_usd: Decimal | None = Field(None, ge=0)


class _Page(_Strict):
    records: list[_Record]
    next_cursor: str | None = None
    has_more: bool = False


def export_params(*, page_size: int, cursor: str | None) -> list[tuple[str, str]]:
    """The query of one export page."""
    return [("limit", str(page_size))] + ([("cursor", cursor)] if cursor else [])


def parse_export_page(page: Any) -> ParsedPage:
    """A decoded export page as one record per request, and the cursor after it."""
    try:
        parsed = _Page.model_validate(page)
    except ValidationError as exc:
        raise PageError.invalid(exc, EXPECTED) from None
    records: dict[str, ProdRecord] = {}
    for index, item in enumerate(parsed.records):
        timestamp = timestamps.normalize(item.timestamp)
        if timestamp is None:
            raise PageError(f"records.{index}.timestamp: {item.timestamp!r} is not an RFC 3339 time ({EXPECTED})")
        usage = item.usage
        split = usage.cache_creation
        if split is not None and {split.ephemeral_5m_input_tokens, split.ephemeral_1h_input_tokens} != {None}:
            write_5m, write_1h = split.ephemeral_5m_input_tokens or 0, split.ephemeral_1h_input_tokens or 0
        else:
            write_5m, write_1h = usage.cache_creation_input_tokens, 0  # unsplit writes are 5-minute ones
        records[item.id] = ProdRecord(
            key=item.id,
            bucket_start_utc=timestamp,
            bucket_end_utc=timestamp,
            model=item.model,
            requests=1,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_5m_tokens=write_5m,
            cache_write_1h_tokens=write_1h,
            cache_read_tokens=usage.cache_read_input_tokens,
            web_search_requests=usage.server_tool_use.web_search_requests if usage.server_tool_use else 0,
            speed=usage.speed,
            service_tier=usage.service_tier,
            provider_cost_nanousd=None if item.cost_usd is None else int(item.cost_usd * 1_000_000_000),
        )
    return ParsedPage(
        records=list(records.values()),
        cursor=parsed.next_cursor,
        next_page=parsed.next_cursor,
        has_more=parsed.has_more,
    )
