"""Anthropic's Admin API: ``usage_report/messages`` (tokens) and ``cost_report`` (USD), as records.

Pure functions: the query of a page, and a decoded page to records. Usage comes in hourly
buckets grouped by model, API key, workspace and context window (the window says which price
tier the requests used: a bucket's summed tokens cannot). The cost report comes in daily
buckets of line items whose ``amount`` is a decimal string of CENTS; its lines are kept as
records with no tokens that carry only ``provider_cost_nanousd``, Anthropic's own figure.

A bucket that ended ``settle_minutes`` before the pull is complete: the cursor moves past it.
Newer ones are pulled again next time and replace what was stored (``ParsedPage.replaces``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, NonNegativeInt, ValidationError

from .. import timestamps
from ..ingest.transcript import UNKNOWN_MODEL
from .records import PageError, ParsedPage, ProdRecord

__all__ = [
    "COST_EXPECTED",
    "COST_PATH",
    "USAGE_EXPECTED",
    "USAGE_PATH",
    "cost_params",
    "parse_cost_page",
    "parse_usage_page",
    "rfc3339",
    "usage_params",
]

USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"
USAGE_GROUP_BY = ("model", "api_key_id", "workspace_id", "context_window", "service_tier")
COST_GROUP_BY = ("workspace_id", "description")
USAGE_EXPECTED = (
    'a usage_report page {"data": [{"starting_at", "ending_at", "results": [{"model", "uncached_input_tokens", '
    '"output_tokens", ...}]}], "has_more", "next_page"}'
)
COST_EXPECTED = (
    'a cost_report page {"data": [{"starting_at", "ending_at", "results": [{"amount", "currency", ...}]}], '
    '"has_more", "next_page"}'
)
_NANO_PER_CENT = Decimal(10_000_000)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _CacheCreation(_Strict):
    ephemeral_5m_input_tokens: NonNegativeInt = 0
    ephemeral_1h_input_tokens: NonNegativeInt = 0


class _ServerToolUse(_Strict):
    web_search_requests: NonNegativeInt = 0


class _UsageResult(_Strict):
    model: str | None = None
    api_key_id: str | None = None
    workspace_id: str | None = None
    context_window: str | None = None
    service_tier: str | None = None
    speed: str | None = None
    uncached_input_tokens: NonNegativeInt = 0
    cache_creation: _CacheCreation | None = None
    cache_read_input_tokens: NonNegativeInt = 0
    output_tokens: NonNegativeInt = 0
    server_tool_use: _ServerToolUse | None = None


class _UsageBucket(_Strict):
    starting_at: datetime
    ending_at: datetime
    results: list[_UsageResult]


class _UsagePage(_Strict):
    data: list[_UsageBucket]
    has_more: bool
    next_page: str | None = None


class _CostResult(_Strict):
    amount: Decimal
    currency: str = "USD"
    workspace_id: str | None = None
    description: str | None = None
    cost_type: str | None = None
    token_type: str | None = None
    model: str | None = None
    context_window: str | None = None
    service_tier: str | None = None
    inference_geo: str | None = None


class _CostBucket(_Strict):
    starting_at: datetime
    ending_at: datetime
    results: list[_CostResult]


class _CostPage(_Strict):
    data: list[_CostBucket]
    has_more: bool
    next_page: str | None = None


def rfc3339(timestamp_utc: str) -> str:
    """A ledger timestamp as the API's RFC 3339 (whole seconds, ``Z``)."""
    return timestamp_utc[:19] + "Z"


def usage_params(
    *, starting_at: str, page_size: int, api_key_ids: Sequence[str], workspace_ids: Sequence[str], page: str | None
) -> list[tuple[str, str]]:
    """The query of one ``usage_report/messages`` page: hourly buckets from ``starting_at``."""
    params = [("starting_at", rfc3339(starting_at)), ("bucket_width", "1h"), ("limit", str(page_size))]
    params += [("group_by[]", name) for name in USAGE_GROUP_BY]
    params += [("api_key_ids[]", key) for key in api_key_ids]
    params += [("workspace_ids[]", workspace) for workspace in workspace_ids]
    return params + ([("page", page)] if page else [])


def cost_params(*, starting_at: str, workspace_ids: Sequence[str], page: str | None) -> list[tuple[str, str]]:
    """The query of one ``cost_report`` page: daily buckets from ``starting_at`` (a day start)."""
    params = [("starting_at", rfc3339(starting_at)), ("bucket_width", "1d"), ("limit", "31")]
    params += [("group_by[]", name) for name in COST_GROUP_BY]
    params += [("workspace_ids[]", workspace) for workspace in workspace_ids]
    return params + ([("page", page)] if page else [])


def parse_usage_page(page: Any, *, settled_before: str) -> ParsedPage:
    """A decoded ``usage_report/messages`` page as records, one per bucket and group."""
    try:
        parsed = _UsagePage.model_validate(page)
    except ValidationError as exc:
        raise PageError.invalid(exc, USAGE_EXPECTED) from None
    records: dict[str, ProdRecord] = {}
    prefixes = []
    for bucket in parsed.data:
        start, end = timestamps.coerce(bucket.starting_at), timestamps.coerce(bucket.ending_at)
        prefix = f"usage/{start}/"
        prefixes.append(prefix)
        for result in bucket.results:
            model = result.model or UNKNOWN_MODEL
            dimensions = (
                model, result.api_key_id, result.workspace_id, result.context_window, result.speed, result.service_tier,
            )  # fmt: skip
            cache = result.cache_creation or _CacheCreation()
            record = ProdRecord(
                key=prefix + "/".join(value or "-" for value in dimensions),
                bucket_start_utc=start,
                bucket_end_utc=end,
                model=model,
                input_tokens=result.uncached_input_tokens,
                output_tokens=result.output_tokens,
                cache_write_5m_tokens=cache.ephemeral_5m_input_tokens,
                cache_write_1h_tokens=cache.ephemeral_1h_input_tokens,
                cache_read_tokens=result.cache_read_input_tokens,
                web_search_requests=result.server_tool_use.web_search_requests if result.server_tool_use else 0,
                speed=result.speed,
                # Always grouped by it; a row without one predates the field: standard prices.
                context_window=result.context_window or "0-200k",
                service_tier=result.service_tier,
            )
            records[record.key] = _merged(records.get(record.key), record)
    return ParsedPage(
        records=list(records.values()),
        cursor=_settled(parsed.data, settled_before),
        next_page=parsed.next_page,
        has_more=parsed.has_more,
        replaces=prefixes,
    )


def parse_cost_page(page: Any, *, settled_before: str) -> ParsedPage:
    """A decoded ``cost_report`` page as token-less records holding Anthropic's USD figures."""
    try:
        parsed = _CostPage.model_validate(page)
    except ValidationError as exc:
        raise PageError.invalid(exc, COST_EXPECTED) from None
    records: dict[str, ProdRecord] = {}
    prefixes = []
    for number, bucket in enumerate(parsed.data):
        start, end = timestamps.coerce(bucket.starting_at), timestamps.coerce(bucket.ending_at)
        prefix = f"cost/{start}/"
        prefixes.append(prefix)
        for index, result in enumerate(bucket.results):
            if result.currency.upper() != "USD":
                raise PageError(f"data.{number}.results.{index}.currency: {result.currency!r} is not USD")
            dimensions = (
                result.workspace_id, result.description, result.model, result.cost_type, result.token_type,
                result.context_window, result.service_tier, result.inference_geo,
            )  # fmt: skip
            nano = result.amount * _NANO_PER_CENT
            record = ProdRecord(
                key=prefix + "/".join(value or "-" for value in dimensions),
                bucket_start_utc=start,
                bucket_end_utc=end,
                model=result.model or UNKNOWN_MODEL,
                requests=0,  # a cost line is not a request: it adds money, never responses
                context_window=result.context_window or "0-200k",
                provider_cost_nanousd=int(nano.to_integral_value(ROUND_HALF_EVEN)),
            )
            records[record.key] = _merged(records.get(record.key), record)
    return ParsedPage(
        records=list(records.values()),
        cursor=_settled(parsed.data, settled_before),
        next_page=parsed.next_page,
        has_more=parsed.has_more,
        replaces=prefixes,
    )


def _settled(buckets: Sequence[_UsageBucket | _CostBucket], settled_before: str) -> str | None:
    """The end of the latest bucket that can no longer grow, or None."""
    ends = [timestamps.coerce(bucket.ending_at) for bucket in buckets]
    return max((end for end in ends if end <= settled_before), default=None)


def _merged(old: ProdRecord | None, new: ProdRecord) -> ProdRecord:
    """Two rows of one bucket and group (a dimension we do not keep told them apart): summed."""
    if old is None:
        return new
    provider = None
    if old.provider_cost_nanousd is not None or new.provider_cost_nanousd is not None:
        provider = (old.provider_cost_nanousd or 0) + (new.provider_cost_nanousd or 0)
    return ProdRecord(
        key=new.key,
        bucket_start_utc=new.bucket_start_utc,
        bucket_end_utc=new.bucket_end_utc,
        model=new.model,
        requests=None if old.requests is None or new.requests is None else old.requests + new.requests,
        input_tokens=old.input_tokens + new.input_tokens,
        output_tokens=old.output_tokens + new.output_tokens,
        cache_write_5m_tokens=old.cache_write_5m_tokens + new.cache_write_5m_tokens,
        cache_write_1h_tokens=old.cache_write_1h_tokens + new.cache_write_1h_tokens,
        cache_read_tokens=old.cache_read_tokens + new.cache_read_tokens,
        web_search_requests=old.web_search_requests + new.web_search_requests,
        speed=new.speed,
        context_window=new.context_window,
        provider_cost_nanousd=provider,
        service_tier=new.service_tier,
    )
