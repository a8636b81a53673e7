"""Prices: the dated per-model table, model-id resolution, the reference ``cost()`` and the
price tables in the ledger.

Costs are computed in SQL at query time by the ``response_costs`` view from two tables this
module writes: ``model_prices`` (every model string seen in ``responses`` -> its canonical id)
and ``price_periods`` (per canonical model, the rates of each kind of request over time, in
integer nano-dollars per token). A price fix or a user override therefore applies to all history
without re-indexing. ``cost()`` computes the same thing in Python from the table itself and is
the reference the SQL is tested against.

The table is package data (``data/prices.toml``) merged with the user's ``prices.toml`` next to
the config file and an optional ``--prices FILE``; a later file replaces a model wholesale. Ids
are matched exactly or after normalising provider spellings (see :func:`normalize_model_id`),
never by prefix. Non-Claude models the table does not know fall back to genai-prices when it is
installed; anything else is unpriced, never $0.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from .. import paths, timestamps
from ..ledger.db import write_transaction
from .genai import genai_entry
from .price_file import (
    RATE_KEYS,
    LongContext,
    ModelEntry,
    PeriodPrices,
    PriceFileError,
    Rates,
    error_at,
    parse_prices,
)

if TYPE_CHECKING:
    from ..models import ModelPrices, PriceTable

__all__ = [
    "BUILT_IN",
    "LongContext",
    "ModelEntry",
    "PeriodPrices",
    "PriceFileError",
    "Prices",
    "Rates",
    "cost",
    "ensure_prices",
    "load_prices",
    "normalize_model_id",
    "price_table",
    "sync_prices",
    "user_prices_path",
]

BUILT_IN = "built-in"
"""The source label of the table shipped with ccledger."""

# Bumped when the rows written to price_periods change shape or meaning, so ledgers re-sync.
_ROWS_VERSION = 1
_NANO_PER_TOKEN = Decimal(1000)  # USD per MTok -> nano-dollars per token
_NANO = Decimal(1_000_000_000)
_SINCE_ALWAYS = ""  # sorts before every timestamp: a model's first price also covers earlier logs
_GENAI, _GENAI_MODULE = "genai-prices", "genai_prices"  # its distribution, its module

SYNC_STATE_SQL = "select fingerprint from price_sync where id = 1"

# The distinct models by skip-scan: one seek in responses_model per model, however many rows;
# then those of production usage (small, and read from its model index alone).
NEW_MODELS_SQL = """
with recursive seen(model) as (
    select min(model) from responses
    union all
    select (select min(model) from responses where model > seen.model) from seen where seen.model is not null
)
select model from seen
where model is not null and model not in (select model from model_prices)
union
select distinct model from prod_usage where model not in (select model from model_prices)
"""

STALE_MODELS_SQL = "select model from model_prices where fingerprint is not :fingerprint"

IN_SYNC_SQL = """
select coalesce((select fingerprint from price_sync where id = 1) = :fingerprint, 0)
   and not exists (select 1 from model_prices where fingerprint is not :fingerprint)
"""

DELETE_PERIODS_SQL = "delete from price_periods"

INSERT_PERIOD_SQL = """
insert into price_periods (
    model, valid_from_utc, valid_to_utc, speed, min_prompt_tokens, max_prompt_tokens, long_context,
    input_nanousd, output_nanousd, cache_write_5m_nanousd, cache_write_1h_nanousd, cache_read_nanousd,
    web_search_nanousd, source
) values (
    :model, :valid_from_utc, :valid_to_utc, :speed, :min_prompt_tokens, :max_prompt_tokens, :long_context,
    :input_nanousd, :output_nanousd, :cache_write_5m_nanousd, :cache_write_1h_nanousd, :cache_read_nanousd,
    :web_search_nanousd, :source
)
"""

HAS_PERIODS_SQL = "select 1 from price_periods where model = :model limit 1"

RESOLVE_MODEL_SQL = """
insert into model_prices (model, canonical_model, fingerprint) values (:model, :canonical_model, :fingerprint)
on conflict(model) do update set canonical_model = excluded.canonical_model, fingerprint = excluded.fingerprint
"""

SAVE_STATE_SQL = """
insert into price_sync (id, fingerprint, sources, synced_utc) values (1, :fingerprint, :sources, :now)
on conflict(id) do update set
    fingerprint = excluded.fingerprint, sources = excluded.sources, synced_utc = excluded.synced_utc
"""

PRICED_MODELS_SQL = "select model from model_prices where canonical_model is not null order by model"


@dataclass(frozen=True)
class Prices:
    """The merged price table, ready to resolve model ids and price usage."""

    entries: Mapping[str, ModelEntry]
    sources: tuple[str, ...]
    fingerprint: str
    keys: Mapping[str, str] = field(repr=False)  # lookup key -> canonical id
    genai_version: str | None = None  # set when genai-prices backs up unknown non-Claude ids
    _fallbacks: dict[str, ModelEntry | None] = field(default_factory=dict, repr=False, compare=False)

    def resolve(self, model: str) -> ModelEntry | None:
        """The entry that prices ``model`` as logged, or None when no price is known."""
        found = _lookup(self.keys, model)
        if found is not None:
            return self.entries[found]
        if self.genai_version is None or "claude" in model.lower():
            # Claude ids are this table's job: a genai-prices prefix rule must not guess them.
            return None
        if model not in self._fallbacks:
            self._fallbacks[model] = genai_entry(model, f"{_GENAI} {self.genai_version}")
        entry = self._fallbacks[model]
        if entry is not None and entry.id in self.entries:
            return self.entries[entry.id]  # the table's own entry wins, so SQL and cost() agree
        return entry


# --- model ids ---------------------------------------------------------------------------------

_BRACKET_SUFFIX = re.compile(r"\[[^\]]*\]$")  # Claude Code's "[1m]"
_BEDROCK_GEO = re.compile(r"^(?:us|eu|apac|jp|au|global|us-gov)\.")
_VERSION_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")  # Bedrock "-v1:0", "-v1"; Vertex "-v2@date"
_DOTTED_VERSION = re.compile(r"(?<=\d)\.(?=\d)")
_DATE_SUFFIX = re.compile(r"-\d{8}$")


def normalize_model_id(model: str) -> str:
    """A model id with provider spellings removed: Bedrock, Vertex, gateway prefixes and the like.

    ``bedrock/us.anthropic.claude-opus-4-8-v1:0`` -> ``claude-opus-4-8``;
    ``claude-3-5-sonnet-v2@20241022`` -> ``claude-3-5-sonnet-20241022``;
    ``anthropic/claude-opus-4.8[1m]`` -> ``claude-opus-4-8``. Dates are kept (see :func:`_lookup`).
    """
    key = _BRACKET_SUFFIX.sub("", model.strip().lower())
    key = key.rsplit("/", 1)[-1]  # anthropic/, bedrock/, vertex_ai/, @gateway/, ARN paths
    key = _BEDROCK_GEO.sub("", key)
    key = key.removeprefix("anthropic.")
    base, at, version_date = key.partition("@")
    key = _VERSION_SUFFIX.sub("", base) + (f"-{version_date}" if at else "")
    return _DOTTED_VERSION.sub("-", key)


def _lookup(keys: Mapping[str, str], model: str) -> str | None:
    """Exact id or alias, then its normalised form, then that without an 8-digit date. No prefixes."""
    lowered = model.strip().lower()
    if lowered in keys:
        return keys[lowered]
    normal = normalize_model_id(model)
    if normal in keys:
        return keys[normal]
    undated = _DATE_SUFFIX.sub("", normal)
    return keys.get(undated) if undated != normal else None


# --- cost --------------------------------------------------------------------------------------


def cost(
    prices: Prices,
    model: str,
    *,
    at: datetime | date | str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_write_5m_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    cache_read_tokens: int = 0,
    web_search_requests: int = 0,
    speed: str | None = None,
    service_tier: str | None = None,
) -> Decimal | None:
    """What one API response cost in USD at list price, or None when its model has no price.

    This is the reference for the ``response_costs`` view: the price in force at ``at``; fast
    mode (``speed == "fast"``) at the fast prices, which override the long-context tier; else
    the tier's prices for EVERY token when input + cache tokens exceed its threshold while it is
    in force; 1-hour cache writes at their own price; web searches per request. A ``batch``
    request (Message Batches API) pays half for every token, not for its web searches; that is
    the reference for ``prod_costs``, since Claude Code itself never uses batches.
    """
    entry = prices.resolve(model)
    if entry is None:
        return None
    at_utc = timestamps.coerce(at)
    period = entry.period_at(at_utc)
    prompt = input_tokens + cache_write_5m_tokens + cache_write_1h_tokens + cache_read_tokens
    tier = period.long_context
    if speed == "fast":
        if period.fast is None:
            return None  # a fast response priced at standard would be several times too cheap
        rates = period.fast
    elif tier is not None and prompt > tier.threshold_tokens and tier.in_force(at_utc):
        rates = tier.rates
    else:
        rates = period.rates
    tokens = rates.of(input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens)
    if service_tier == "batch":
        tokens /= 2
    return tokens + web_search_requests * period.web_search_usd


# --- loading -----------------------------------------------------------------------------------


def user_prices_path() -> Path:
    """The user's price overrides: ``prices.toml`` next to the config file."""
    return paths.config_path().parent / "prices.toml"


def load_prices(prices_file: Path | str | None = None) -> Prices:
    """The built-in table, then the user's ``prices.toml`` if it exists, then ``prices_file``.

    Raises :class:`PriceFileError` naming the file and line of any problem.
    """
    files: list[Path] = []
    user = user_prices_path()
    if user.is_file():
        files.append(user)
    if prices_file is not None:
        path = Path(prices_file).expanduser()
        if not path.is_file():
            raise PriceFileError(f"{path}: no such prices file")
        files.append(path)
    return _load(tuple(_stamp(path) for path in files), _genai_version())


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


@lru_cache(maxsize=8)
def _load(files: tuple[tuple[str, int, int], ...], genai_version: str | None) -> Prices:
    """Parse and merge the files; cached on their names, sizes and times so repeat calls are free."""
    built_in = resources.files("ccledger").joinpath("data", "prices.toml").read_text(encoding="utf-8")
    texts = [(BUILT_IN, built_in)]
    for name, _, _ in files:
        try:
            texts.append((name, Path(name).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise PriceFileError(f"{name}: cannot read the prices file ({exc})") from exc
    entries: dict[str, ModelEntry] = {}
    keys: dict[str, str] = {}
    for source, text in texts:
        parsed = parse_prices(text, source)
        for entry in parsed:
            old = entries.get(entry.id)
            if old is not None:  # replaced wholesale: drop the old entry's aliases too
                for key in [key for key, owner in keys.items() if owner == old.id]:
                    del keys[key]
            entries[entry.id] = entry
        keys.update(_keys_of(parsed, source, text))
    digest = hashlib.sha256(f"{_ROWS_VERSION}\n{genai_version}\n".encode())
    for entry in entries.values():
        digest.update(repr(entry).encode())
    return Prices(
        entries=entries,
        sources=tuple(source for source, _ in texts),
        fingerprint=digest.hexdigest(),
        keys=keys,
        genai_version=genai_version,
    )


def _keys_of(entries: list[ModelEntry], source: str, text: str) -> dict[str, str]:
    """Lookup keys of one file's entries; two entries of one file may not claim the same id."""
    keys: dict[str, str] = {}
    for entry in entries:
        for name in (entry.id, *entry.aliases):
            for key in {name.strip().lower(), normalize_model_id(name)}:
                owner = keys.setdefault(key, entry.id)
                if owner != entry.id:
                    problem = f"model {entry.id!r}: {name!r} already names model {owner!r}"
                    raise error_at(text, source, problem, entry.id, key="aliases")
    return keys


@lru_cache(maxsize=1)
def _genai_version() -> str | None:
    """The installed genai-prices version, without importing it (that costs a second)."""
    # Most installs lack the extra: looking for the module is a few stats, while asking the
    # package metadata imports importlib.metadata and reads every installed distribution.
    if importlib.util.find_spec(_GENAI_MODULE) is None:
        return None
    from importlib import metadata

    try:
        return metadata.version(_GENAI)
    except metadata.PackageNotFoundError:
        return None


# --- the ledger's price tables -------------------------------------------------------------------


def ensure_prices(db: Database, *, prices_file: Path | str | None = None) -> Prices:
    """Load the prices (built-in, user file, ``prices_file``) and bring the ledger's tables up to date.

    Cheap when nothing changed: one small query. Call it before answering from ``response_costs``.
    """
    prices = load_prices(prices_file)
    sync_prices(db, prices)
    return prices


def sync_prices(db: Database, prices: Prices) -> bool:
    """Write ``prices`` into ``price_periods`` and resolve new models in ``model_prices``.

    Rewrites the periods only when the table changed (its fingerprint), and resolves only models
    that are new or were resolved against another table. Returns whether anything was written.
    """
    fingerprint = prices.fingerprint
    new = [row[0] for row in db.execute(NEW_MODELS_SQL)]
    if not new and db.execute(IN_SYNC_SQL, {"fingerprint": fingerprint}).fetchone()[0]:
        return False
    # Resolving may import genai-prices (slow): do it before taking the write lock.
    stale = new + [row[0] for row in db.execute(STALE_MODELS_SQL, {"fingerprint": fingerprint})]
    resolved = {model: prices.resolve(model) for model in stale}
    with write_transaction(db):
        state = db.execute(SYNC_STATE_SQL).fetchone()
        if state is None or state[0] != fingerprint:
            db.execute(DELETE_PERIODS_SQL)
            db.conn.executemany(
                INSERT_PERIOD_SQL, [row for entry in prices.entries.values() for row in period_rows(entry)]
            )
            db.execute(
                SAVE_STATE_SQL,
                {"fingerprint": fingerprint, "sources": json.dumps(prices.sources), "now": timestamps.now()},
            )
        # Read again under the lock: another process may have synced, or indexed a new model.
        pending = [row[0] for row in db.execute(NEW_MODELS_SQL)]
        pending += [row[0] for row in db.execute(STALE_MODELS_SQL, {"fingerprint": fingerprint})]
        for model in pending:
            entry = resolved[model] if model in resolved else prices.resolve(model)
            if entry is not None and not db.execute(HAS_PERIODS_SQL, {"model": entry.id}).fetchone():
                db.conn.executemany(INSERT_PERIOD_SQL, period_rows(entry))  # a genai-prices fallback
            db.execute(
                RESOLVE_MODEL_SQL,
                {"model": model, "canonical_model": entry.id if entry else None, "fingerprint": fingerprint},
            )
    return True


def period_rows(entry: ModelEntry) -> list[dict[str, Any]]:
    """``entry`` as ``price_periods`` rows: for each stretch of time, the rates of each request kind.

    Every (time, speed, prompt size) falls in at most one row, so the view's join never doubles
    a response: standard requests split at the tier threshold while a tier is in force, and fast
    requests (which ignore the tier) get one row per period.
    """
    rows: list[dict[str, Any]] = []
    for index, period in enumerate(entry.periods):
        start = _SINCE_ALWAYS if index == 0 else period.from_utc
        end = entry.periods[index + 1].from_utc if index + 1 < len(entry.periods) else None

        def add(
            start: str,
            end: str | None,
            rates: Rates,
            *,
            speed: str = "standard",
            lowest: int = 0,
            highest: int | None = None,
            period: PeriodPrices = period,
        ) -> None:
            rows.append(
                {
                    "model": entry.id,
                    "valid_from_utc": start,
                    "valid_to_utc": end,
                    "speed": speed,
                    "min_prompt_tokens": lowest,
                    "max_prompt_tokens": highest,
                    "long_context": int(lowest > 0),
                    **{f"{key.removesuffix('_mtok')}_nanousd": _nano(getattr(rates, key)) for key in RATE_KEYS},
                    "web_search_nanousd": int(period.web_search_usd * _NANO),
                    "source": entry.source,
                }
            )

        if period.fast is not None:
            add(start, end, period.fast, speed="fast")
        tier = period.long_context
        tier_start = max(start, tier.from_utc or start) if tier else start
        tier_end = _earliest(end, tier.until_utc) if tier else None
        if tier is None or (tier_end is not None and tier_end <= tier_start):
            add(start, end, period.rates)
            continue
        if start < tier_start:
            add(start, tier_start, period.rates)
        add(tier_start, tier_end, period.rates, highest=tier.threshold_tokens)
        add(tier_start, tier_end, tier.rates, lowest=tier.threshold_tokens + 1)
        if tier_end is not None and (end is None or tier_end < end):
            add(tier_end, end, period.rates)
    return rows


def _earliest(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b)


def _nano(price_mtok: Decimal) -> int:
    nano = price_mtok * _NANO_PER_TOKEN
    if nano != nano.to_integral_value():
        raise ValueError(f"{price_mtok} USD/MTok is not a whole number of nano-dollars per token")
    return int(nano)


# --- the table for people and clients ----------------------------------------------------------


def price_table(prices_file: Path | str | None = None, *, db: Database | None = None) -> PriceTable:
    """The merged price table (built-in, user file, ``prices_file``) as a result model.

    With ``db``, models of that ledger priced through the genai-prices fallback are listed too.
    """
    from ..models import PriceTable  # not at the top: refreshing the ledger needs no result model

    prices = load_prices(prices_file)
    entries = list(prices.entries.values())
    if db is not None:
        seen = {entry.id for entry in entries}
        for (model,) in db.execute(PRICED_MODELS_SQL).fetchall():
            entry = prices.resolve(model)
            if entry is not None and entry.id not in seen:
                seen.add(entry.id)
                entries.append(entry)
    return PriceTable(
        sources=list(prices.sources),
        user_prices_path=str(user_prices_path()),
        models=[_model_prices(entry) for entry in entries],
        notes=[
            "Prices are USD per million tokens (web search: USD per request), Claude API list prices "
            "on the global endpoint; regional endpoints and US-only inference surcharges are not included.",
            "A period's prices apply from its start until the next period's; a model's first period also covers "
            "earlier use.",
            "long_context: when input + cache tokens of a request exceed threshold_tokens, ALL its tokens "
            "(output too) are billed at those prices. fast: responses logged with speed 'fast'; they "
            "override long_context.",
            "Logged ids match an entry's id or alias exactly, or after dropping provider prefixes "
            "(anthropic/, bedrock/, us./eu./global., anthropic.), -v1:0 suffixes, Vertex @dates, [1m] "
            "and then an 8-digit date; never by prefix. Models with no price are reported as unpriced.",
            f"To add or replace a model, add an entry to {user_prices_path()} (or a file passed as "
            '--prices FILE), e.g. [models."my-model"] aliases = ["my-proxy/my-model"] then '
            '[[models."my-model".periods]] from = 2026-01-01, input_mtok = 1, output_mtok = 5; cache '
            "prices default to 1.25x / 2x / 0.1x input (set cache_write_5m_mtok, cache_write_1h_mtok, "
            "cache_read_mtok to override). An entry replaces a built-in model of the same id wholesale.",
        ],
    )


def _model_prices(entry: ModelEntry) -> ModelPrices:
    from ..models import LongContextPrices, ModelPrices, PricePeriod, TokenPrices

    periods = []
    for index, period in enumerate(entry.periods):
        tier = period.long_context
        periods.append(
            PricePeriod(
                from_utc=period.from_utc,
                until_utc=entry.periods[index + 1].from_utc if index + 1 < len(entry.periods) else None,
                **_floats(period.rates),
                web_search_usd=float(period.web_search_usd),
                long_context=LongContextPrices(
                    threshold_tokens=tier.threshold_tokens,
                    from_utc=tier.from_utc,
                    until_utc=tier.until_utc,
                    **_floats(tier.rates),
                )
                if tier
                else None,
                fast=TokenPrices(**_floats(period.fast)) if period.fast else None,
            )
        )
    return ModelPrices(
        model=entry.id, name=entry.name, aliases=list(entry.aliases), source=entry.source, periods=periods
    )


def _floats(rates: Rates) -> dict[str, float]:
    # Every price is a whole number of thousandths, so the float prints back exactly.
    return {key: float(getattr(rates, key)) for key in RATE_KEYS}
