"""Fallback prices from genai-prices (an optional extra) for non-Claude models the table lacks.

Production telemetry brings models from other providers (``gpt-4o``, ``gemini-2.5-pro``). When
genai-prices is installed, such a model's prices are translated into a :class:`ModelEntry` and
written into the ledger's price tables like any other, so SQL stays the one place costs are
computed. Only what the ledger's token kinds can express is translated; a model priced in ways
they cannot (time-of-day rates, per-request fees, several tiers) stays unpriced, never $0.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from .. import timestamps
from .price_file import LongContext, ModelEntry, PeriodPrices, Rates

__all__ = ["genai_entry"]

_MTOK_STEP = Decimal("0.001")
_USD_STEP = Decimal("0.000000001")
# Price keys for usage the ledger never records (audio, images, storage...): they cost these
# responses nothing. A per-request fee would, so its presence makes a model unpriced.
_UNREPRESENTABLE = {"requests_kcount"}


def genai_entry(model_ref: str, source: str) -> ModelEntry | None:
    """genai-prices' entry for ``model_ref`` as a table entry, or None if it has none we can use."""
    try:
        from genai_prices import data_snapshot, types
    except ImportError:
        return None
    snapshot = data_snapshot.get_snapshot()
    try:
        provider, model = snapshot.find_provider_model(model_ref, None, None, None)
    except (LookupError, ValueError):
        if "/" not in model_ref:
            return None
        try:  # "openai/gpt-4o": genai-prices reads the provider from the prefix in its litellm mode
            provider, model = snapshot.find_provider_model(model_ref, None, "litellm", None)
        except (LookupError, ValueError):
            return None
    conditions = (
        [types.ConditionalPrice(prices=model.prices)] if isinstance(model.prices, types.ModelPrice) else model.prices
    )
    fast_overrides = _fast_overrides(model)
    periods: list[PeriodPrices] = []
    for index, conditional in enumerate(conditions):
        constraint = conditional.constraint
        if constraint is None and index == 0:
            from_utc = ""
        elif isinstance(constraint, types.StartDateConstraint):
            from_utc = timestamps.day_start(constraint.start_date)
        else:
            return None  # time-of-day prices, or an unconditional price after dated ones
        if periods and from_utc <= periods[-1].from_utc:
            return None
        period = _period(conditional.prices.__dict__, from_utc, fast_overrides)
        if period is None:
            return None
        periods.append(period)
    if not periods:
        return None
    return ModelEntry(
        id=f"{provider.id}/{model.id}",
        name=model.name or model.id,
        aliases=(),
        periods=tuple(periods),
        source=source,
    )


def _fast_overrides(model: Any) -> dict[str, Any] | None:
    """The prices a ``speed: fast`` variant replaces, if it has one that always applies."""
    for variant in model.price_variants or ():
        if variant.when == {"speed": "fast"} and variant.constraint is None:
            return {key: value for key, value in variant.prices.__dict__.items() if value is not None}
    return None


def _period(prices: dict[str, Any], from_utc: str, fast_overrides: dict[str, Any] | None) -> PeriodPrices | None:
    prices = {key: value for key, value in prices.items() if value is not None and not key.startswith("_")}
    if _UNREPRESENTABLE & set(prices):
        return None
    base = _rates(prices, tier=False)
    if base is None:
        return None
    tiers = [value.tiers for value in prices.values() if _is_tiered(value)]
    long_context = None
    if tiers:
        thresholds = {tier.start for levels in tiers for tier in levels}
        if any(len(levels) != 1 for levels in tiers) or len(thresholds) != 1:
            return None  # several tiers, or tiers at different thresholds: not one long-context tier
        tier_rates = _rates(prices, tier=True)
        if tier_rates is None:
            return None
        long_context = LongContext(threshold_tokens=int(thresholds.pop()), rates=tier_rates)
    fast = None
    if fast_overrides is not None:
        fast = _rates({**prices, **fast_overrides}, tier=False)
    web = prices.get("web_searches_kcount", Decimal(0))
    if not isinstance(web, Decimal):
        return None
    return PeriodPrices(
        from_utc=from_utc,
        rates=base,
        web_search_usd=(web / 1000).quantize(_USD_STEP, ROUND_HALF_EVEN),
        long_context=long_context,
        fast=fast,
    )


def _rates(prices: dict[str, Any], *, tier: bool) -> Rates | None:
    """The five prices, falling back the way genai-prices does when a cache price is missing."""

    def get(key: str) -> Decimal | None:
        value = prices.get(key)
        if value is not None and _is_tiered(value):
            return value.tiers[0].price if tier else value.base
        return value if isinstance(value, Decimal) else None

    input_mtok, output_mtok = get("input_mtok"), get("output_mtok")
    if input_mtok is None or output_mtok is None:
        return None
    write_5m = _first(get("cache_write_5m_mtok"), get("cache_write_mtok"), input_mtok)
    write_1h = _first(get("cache_write_1h_mtok"), write_5m)
    read = _first(get("cache_read_mtok"), input_mtok)
    return Rates(*(_exact(value) for value in (input_mtok, output_mtok, write_5m, write_1h, read)))


def _first(*prices: Decimal | None) -> Decimal:
    return next(price for price in prices if price is not None)


def _is_tiered(value: Any) -> bool:
    return hasattr(value, "tiers") and hasattr(value, "base")


def _exact(price: Decimal) -> Decimal:
    # The ledger keeps a whole nano-dollar per token; finer prices (rare) round to it.
    return price.quantize(_MTOK_STEP, ROUND_HALF_EVEN)
