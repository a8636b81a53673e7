"""The prices file format (TOML) and the entries it describes.

The built-in table (``data/prices.toml``) and a user's override file share one schema, described
at the top of the built-in file. Parsing is strict: a typo, a negative price or a price finer
than a nano-dollar per token is an error that names the file and line, never a silent $0.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .. import timestamps

__all__ = [
    "RATE_KEYS",
    "LongContext",
    "ModelEntry",
    "PeriodPrices",
    "PriceFileError",
    "Rates",
    "error_at",
    "parse_prices",
]

RATE_KEYS = ("input_mtok", "output_mtok", "cache_write_5m_mtok", "cache_write_1h_mtok", "cache_read_mtok")
"""The five token prices of every rate set, in USD per million tokens."""

_MTOK = Decimal(1_000_000)

_Fail = Callable[..., "PriceFileError"]
"""Builds the error for a problem (and optionally the key it is about), located in the file."""


class PriceFileError(ValueError):
    """A prices file is unreadable or invalid; the message names the file and, where known, the line."""


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices of the five token kinds, in USD per million tokens."""

    input_mtok: Decimal
    output_mtok: Decimal
    cache_write_5m_mtok: Decimal
    cache_write_1h_mtok: Decimal
    cache_read_mtok: Decimal

    def of(self, input_tokens: int, output_tokens: int, write_5m: int, write_1h: int, read: int) -> Decimal:
        """What these tokens cost at these rates, in USD."""
        return (
            input_tokens * self.input_mtok
            + output_tokens * self.output_mtok
            + write_5m * self.cache_write_5m_mtok
            + write_1h * self.cache_write_1h_mtok
            + read * self.cache_read_mtok
        ) / _MTOK


@dataclass(frozen=True, slots=True)
class LongContext:
    """A tier that reprices a whole request when its prompt exceeds ``threshold_tokens``."""

    threshold_tokens: int
    rates: Rates
    from_utc: str | None = None  # None: from the start of its period
    until_utc: str | None = None  # exclusive; None: to the end of its period

    def in_force(self, at_utc: str) -> bool:
        """Whether the tier applied at ``at_utc`` (its own dates; the period's are checked apart)."""
        return (self.from_utc is None or self.from_utc <= at_utc) and (
            self.until_utc is None or at_utc < self.until_utc
        )


@dataclass(frozen=True, slots=True)
class PeriodPrices:
    """A model's prices from ``from_utc`` until its next period starts."""

    from_utc: str
    rates: Rates
    web_search_usd: Decimal
    long_context: LongContext | None = None
    fast: Rates | None = None


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model of the table: its canonical id, names and dated prices (oldest first)."""

    id: str
    name: str
    aliases: tuple[str, ...]
    periods: tuple[PeriodPrices, ...]
    source: str

    def period_at(self, at_utc: str) -> PeriodPrices:
        """The period in force at ``at_utc``; the first one also covers anything earlier."""
        current = self.periods[0]
        for period in self.periods[1:]:
            if period.from_utc > at_utc:
                break
            current = period
        return current


# --- parsing -------------------------------------------------------------------------------------

# Anthropic's multipliers, used only where a file leaves a cache price out.
_DEFAULT_RATIOS = {
    "cache_write_5m_mtok": Decimal("1.25"),
    "cache_write_1h_mtok": Decimal(2),
    "cache_read_mtok": Decimal("0.1"),
}
_MODEL_KEYS = {"name", "aliases", "web_search_usd", "periods"}
_PERIOD_KEYS = {"from", "web_search_usd", "long_context", "fast", *RATE_KEYS}
_LONG_CONTEXT_KEYS = {"threshold_tokens", "from", "until", *RATE_KEYS}
_DEFAULT_WEB_SEARCH_USD = Decimal("0.01")  # $10 per 1,000 searches on every Claude model with the tool
_MTOK_STEP = Decimal("0.001")  # one nano-dollar per token
_USD_STEP = Decimal("0.000000001")


def parse_prices(text: str, source: str) -> list[ModelEntry]:
    """The entries of one prices file; ``source`` names it in errors. Raises :class:`PriceFileError`."""
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PriceFileError(_decode_error(source, exc)) from exc
    where = _Locator(text, source)
    extra = set(raw) - {"models"}
    if extra:
        key = sorted(extra)[0]
        raise PriceFileError(where.message(f"unknown top-level key {key!r}; expected [models.<id>]", near=key))
    models = raw.get("models", {})
    if not isinstance(models, dict):
        raise PriceFileError(where.message("'models' must be tables: [models.<id>]", near="models"))
    return [_parse_model(model_id, body, source, where) for model_id, body in models.items()]


def _decode_error(source: str, exc: tomllib.TOMLDecodeError) -> str:
    """tomllib's message as ``file, line N, column M: what`` (3.11 keeps the position in the text)."""
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        return f"{source}, line {match[1]}, column {match[2]}: {message[: match.start()]} (not valid TOML)"
    return f"{source}: {message} (not valid TOML)"


def _parse_model(model_id: str, body: Any, source: str, where: _Locator) -> ModelEntry:
    def fail(problem: str, key: str | None = None, period: int | None = None) -> PriceFileError:
        return PriceFileError(where.message(f"model {model_id!r}: {problem}", model_id, period=period, key=key))

    if not model_id.strip():
        raise fail("the id is empty")
    if not isinstance(body, dict):
        raise fail("must be a table: [models.<id>]")
    _check_keys(body, _MODEL_KEYS, lambda key: fail(f"unknown key {key!r}", key))
    name = body.get("name", model_id)
    if not isinstance(name, str):
        raise fail("name must be a string", "name")
    aliases = body.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(alias, str) and alias.strip() for alias in aliases):
        raise fail("aliases must be a list of model ids", "aliases")
    web_search = _usd(body, "web_search_usd", _DEFAULT_WEB_SEARCH_USD, lambda p: fail(p, "web_search_usd"))
    periods_raw = body.get("periods")
    if not isinstance(periods_raw, list) or not periods_raw:
        raise fail("needs at least one [[models.<id>.periods]] with from, input_mtok and output_mtok")
    periods = []
    for index, period in enumerate(periods_raw):

        def period_fail(problem: str, key: str | None = None, index: int = index) -> PriceFileError:
            return fail(f"period {index + 1}: {problem}", key, index)

        periods.append(_parse_period(period, web_search, period_fail))
    for index in range(1, len(periods)):
        if periods[index].from_utc <= periods[index - 1].from_utc:
            raise fail(
                f"period {index + 1}: periods must be in order of 'from', oldest first, no repeats", "from", index
            )
    return ModelEntry(id=model_id, name=name, aliases=tuple(aliases), periods=tuple(periods), source=source)


def _parse_period(body: Any, web_search: Decimal, fail: _Fail) -> PeriodPrices:
    if not isinstance(body, dict):
        raise fail("must be a table")
    _check_keys(body, _PERIOD_KEYS, lambda key: fail(f"unknown key {key!r}", key))
    if "from" not in body:
        raise fail("needs 'from', the UTC date its prices start (e.g. from = 2026-01-31)")
    from_utc = _moment(body["from"], lambda p: fail(p, "from"))
    rates = _rates(body, None, fail)
    tier = None
    if "long_context" in body:
        raw = body["long_context"]
        if not isinstance(raw, dict):
            raise fail("long_context must be a table", "long_context")
        _check_keys(raw, _LONG_CONTEXT_KEYS, lambda key: fail(f"long_context: unknown key {key!r}", "long_context"))
        threshold = raw.get("threshold_tokens")
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= 0:
            raise fail("long_context needs threshold_tokens, a positive whole number", "long_context")
        tier_from = (
            _moment(raw["from"], lambda p: fail(f"long_context: {p}", "long_context")) if "from" in raw else None
        )
        until = _moment(raw["until"], lambda p: fail(f"long_context: {p}", "long_context")) if "until" in raw else None
        if tier_from is not None and until is not None and until <= tier_from:
            raise fail("long_context: 'until' must come after 'from'", "long_context")
        tier_rates = _rates(raw, rates, lambda p, key=None: fail(f"long_context: {p}", "long_context"))
        tier = LongContext(threshold_tokens=threshold, rates=tier_rates, from_utc=tier_from, until_utc=until)
    fast = None
    if "fast" in body:
        raw = body["fast"]
        if not isinstance(raw, dict):
            raise fail("fast must be a table", "fast")
        _check_keys(raw, set(RATE_KEYS), lambda key: fail(f"fast: unknown key {key!r}", "fast"))
        fast = _rates(raw, rates, lambda p, key=None: fail(f"fast: {p}", "fast"))
    return PeriodPrices(
        from_utc=from_utc,
        rates=rates,
        web_search_usd=_usd(body, "web_search_usd", web_search, lambda p: fail(p, "web_search_usd")),
        long_context=tier,
        fast=fast,
    )


def _rates(body: dict[str, Any], base: Rates | None, fail: _Fail) -> Rates:
    """Five prices; a missing cache price keeps ``base``'s ratio to input (Anthropic's by default)."""
    values: dict[str, Decimal] = {}
    for key in ("input_mtok", "output_mtok"):
        if key not in body:
            raise fail(f"needs {key} (USD per million tokens)", key)
        values[key] = _mtok(body[key], key, fail)
    for key in RATE_KEYS[2:]:
        if key in body:
            values[key] = _mtok(body[key], key, fail)
            continue
        ratio = getattr(base, key) / base.input_mtok if base and base.input_mtok else _DEFAULT_RATIOS[key]
        derived = values["input_mtok"] * ratio
        if derived != derived.quantize(_MTOK_STEP):
            raise fail(f"set {key} explicitly: {derived} per million tokens is not a whole nano-dollar per token")
        values[key] = derived.quantize(_MTOK_STEP)
    return Rates(**values)


def _number(value: Any) -> Decimal | None:
    """A TOML number as a Decimal, or None if it is not a finite number of 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    number = Decimal(value)
    return number if number.is_finite() and number >= 0 else None


def _mtok(value: Any, key: str, fail: _Fail) -> Decimal:
    price = _number(value)
    if price is None:
        raise fail(f"{key} must be a number of US dollars per million tokens, 0 or more", key)
    if price != price.quantize(_MTOK_STEP):
        raise fail(f"{key} = {value} has more than 3 decimal places (prices are kept to $0.001 per MTok)", key)
    return price


def _usd(body: dict[str, Any], key: str, default: Decimal, fail: _Fail) -> Decimal:
    value = body.get(key, default)
    price = _number(value)
    if price is None:
        raise fail(f"{key} must be a number of US dollars, 0 or more")
    if price != price.quantize(_USD_STEP):
        raise fail(f"{key} = {value} is finer than a nano-dollar")
    return price


def _moment(value: Any, fail: _Fail) -> str:
    """A TOML date or date-time (or its ISO text) as UTC text; a date means its midnight UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            raise fail(f"{value!r} is not a date like 2026-01-31") from None
    if isinstance(value, date):  # datetime is a date too; naive times are taken as UTC
        return timestamps.coerce(value)
    raise fail("expected a date like 2026-01-31 or a date-time like 2026-01-31T08:00:00Z")


def _check_keys(body: dict[str, Any], allowed: set[str], fail: _Fail) -> None:
    for key in body:
        if key not in allowed:
            raise fail(key)


_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+))\s*(?:\.|$)')


class _Locator:
    """Finds the line of a model's table header (or of a key under it) for error messages."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def message(
        self,
        problem: str,
        model: str | None = None,
        *,
        period: int | None = None,
        key: str | None = None,
        near: str | None = None,
    ) -> str:
        """``problem`` prefixed with the file and the line of ``model`` (or the first line holding ``near``)."""
        if model is not None:
            line = self.line(model, period=period, key=key)
        else:
            line = next((n for n, text in enumerate(self.lines, 1) if near and near in text), None)
        return f"{self.source}, line {line}: {problem}" if line else f"{self.source}: {problem}"

    def line(self, model: str, *, period: int | None = None, key: str | None = None) -> int | None:
        """The line of ``[models.<model>]`` (or of its ``period``-th periods table, or ``key`` under it)."""
        headers = list(self._headers())
        start = next((n for n, path in headers if path == ["models", model]), None)
        if period is not None:
            periods = [n for n, path in headers if path == ["models", model, "periods"]]
            if period < len(periods):
                start = periods[period]
        if start is None:
            return next((n for n, text in enumerate(self.lines, 1) if model in text), None)
        if key is not None:
            assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
            for number in range(start + 1, len(self.lines) + 1):
                text = self.lines[number - 1]
                if _HEADER.match(text):
                    break
                if assignment.match(text):
                    return number
        return start

    def _headers(self) -> Iterator[tuple[int, list[str]]]:
        for number, text in enumerate(self.lines, 1):
            match = _HEADER.match(text)
            if match:
                parts = [a or b or c for a, b, c in _KEY_PART.findall(match[2])]
                yield number, parts


def error_at(text: str, source: str, problem: str, model: str, *, key: str | None = None) -> PriceFileError:
    """An error about ``model`` in the file ``text``, located at its table header (or ``key`` under it)."""
    return PriceFileError(_Locator(text, source).message(problem, model, key=key))
