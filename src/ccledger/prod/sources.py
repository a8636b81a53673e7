"""The production sources of the config file (``[[prod.sources]]``) and their tokens.

A source is one place an app's LLM usage can be pulled from, charged to one repo::

    [[prod.sources]]
    id = "api-prod"                    # letters, digits, - and _
    kind = "anthropic-admin"           # or "export", "otlp-json"
    repo = "github.com/acme/api"       # the repo its spend is charged to

Its token comes from the environment only: ``CCLEDGER_TOKEN_<ID>`` (the id upper-cased, any
other character as ``_``), else ``TELEMETRY_EXPORT_TOKEN_<ID>``. A problem in the file is a
:class:`ConfigError` naming the file, the source and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from .. import timestamps
from ..config import Config, ConfigError

__all__ = [
    "ADMIN",
    "EXPORT",
    "KINDS",
    "OTLP",
    "ProdSource",
    "load_sources",
    "select_sources",
    "token_for",
    "token_names",
]

ADMIN = "anthropic-admin"
EXPORT = "export"
OTLP = "otlp-json"
KINDS = (ADMIN, EXPORT, OTLP)

ANTHROPIC_API = "https://api.anthropic.com"

EXAMPLE = """\
[[prod.sources]]
id = "api-prod"
kind = "anthropic-admin"        # or "export" (url = "https://app.example.com/ccledger/export"), "otlp-json"
repo = "github.com/acme/api"    # the repo its spend is charged to, as `ccledger repos` names it
api_key_ids = ["apikey_01..."]  # optional: only the keys this app uses"""

_TYPE_NAMES = {
    str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list", date: "a date",
}  # fmt: skip
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class _Key:
    """One config key: its type, its bounds and its default."""

    kind: type | tuple[type, ...]
    default: Any = None
    low: float | None = None
    high: float | None = None


_COMMON = {
    "id": _Key(str),
    "kind": _Key(str),
    "repo": _Key(str),
    "url": _Key(str),
    "timeout_seconds": _Key((int, float), 30.0, 0.001, 600),
    "max_retries": _Key(int, 3, 0, 10),
    "backoff_seconds": _Key((int, float), 1.0, 0, 60),
    "max_wait_seconds": _Key((int, float), 60.0, 0, 3600),
}
_BY_KIND: dict[str, dict[str, _Key]] = {
    ADMIN: {
        "since": _Key((str, date)),  # where the first pull starts; default 30 days ago
        "page_size": _Key(int, 24, 1, 168),  # hourly buckets per page
        "settle_minutes": _Key(int, 60, 0, 1440),  # a bucket this recent may still grow
        "cost_report": _Key(bool, False),
        "api_key_ids": _Key(list, []),
        "workspace_ids": _Key(list, []),
    },
    EXPORT: {"page_size": _Key(int, 500, 1, 10_000)},
    OTLP: {"path": _Key(str), "lines_per_page": _Key(int, 200, 1, 100_000)},
}


@dataclass(frozen=True)
class ProdSource:
    """One validated ``[[prod.sources]]`` entry. It never holds the token."""

    id: str
    kind: str
    repo: str
    url: str | None
    options: Mapping[str, Any]
    config_path: Path

    @property
    def timeout_seconds(self) -> float:
        """How long one request may take before the pull of this source stops."""
        return float(self.options["timeout_seconds"])

    @property
    def token_env(self) -> str:
        """The environment variable to set its token in."""
        return token_names(self.id)[0]


def token_names(source_id: str) -> tuple[str, str]:
    """The environment variables a source's token is read from, in order."""
    suffix = re.sub(r"[^A-Z0-9]", "_", source_id.upper())
    return f"CCLEDGER_TOKEN_{suffix}", f"TELEMETRY_EXPORT_TOKEN_{suffix}"


def token_for(source: ProdSource, env: Mapping[str, str] | None = None) -> str | None:
    """The source's token from the environment, or None when neither variable is set."""
    env = os.environ if env is None else env
    for name in token_names(source.id):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def load_sources(config: Config) -> list[ProdSource]:
    """Every ``[[prod.sources]]`` entry of the config file, validated; [] when there are none."""
    prod = config.raw.get("prod")
    if prod is None:
        return []
    where = f"{config.path}: [prod]"
    if not isinstance(prod, dict):
        raise ConfigError(f"{where} must be a table holding [[prod.sources]] entries")
    unknown = set(prod) - {"sources"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; sources go in [[prod.sources]] entries")
    entries = prod.get("sources", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigError(f"{where}: sources must be an array of tables, written [[prod.sources]]")
    sources: list[ProdSource] = []
    for number, entry in enumerate(entries, start=1):
        source = _source(entry, number, config.path)
        if any(other.id == source.id for other in sources):
            raise ConfigError(f"{config.path}: [[prod.sources]] #{number}: id {source.id!r} is used twice")
        sources.append(source)
    return sources


def select_sources(sources: list[ProdSource], source_id: str | None, config_path: Path) -> list[ProdSource]:
    """The sources a pull covers: all of them, or the one named; errors say what is configured."""
    if not sources:
        raise ConfigError(
            f"No production sources are configured. Add one to {config_path}, for example:\n\n{EXAMPLE}\n\n"
            "then set its token in the environment (CCLEDGER_TOKEN_API_PROD for id 'api-prod') and pull again."
        )
    if source_id is None:
        return sources
    for source in sources:
        if source.id == source_id:
            return [source]
    ids = ", ".join(source.id for source in sources)
    raise ConfigError(f"source_id={source_id!r} is not configured; the sources in {config_path} are: {ids}")


def _source(entry: dict[str, Any], number: int, config_path: Path) -> ProdSource:
    raw_id = entry.get("id")
    label = f"{config_path}: [[prod.sources]] #{number}" + (f" (id {raw_id!r})" if isinstance(raw_id, str) else "")
    for key in ("id", "kind", "repo"):
        if key not in entry:
            raise ConfigError(f"{label}: {key} is required\n\nA complete entry:\n{EXAMPLE}")
    kind = entry["kind"]
    if kind not in KINDS:
        raise ConfigError(f"{label}: kind {kind!r} is not one of: {', '.join(KINDS)}")
    allowed = {**_COMMON, **_BY_KIND[kind]}
    for key in entry:
        if key not in allowed:
            raise ConfigError(f"{label}: unknown key {key!r} for kind {kind!r}; known keys: {', '.join(allowed)}")
    options = {key: _value(label, key, spec, entry.get(key, spec.default)) for key, spec in allowed.items()}
    if not _ID.match(options["id"]):
        raise ConfigError(f"{label}: id must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
    if not options["repo"].strip():
        raise ConfigError(f"{label}: repo must name the repo its spend is charged to, e.g. 'github.com/acme/api'")
    url = options.pop("url")
    if kind == ADMIN:
        url = url or ANTHROPIC_API
        options["since"] = _since(label, options["since"])
        for key in ("api_key_ids", "workspace_ids"):
            if not all(isinstance(item, str) for item in options[key]):
                raise ConfigError(f"{label}: {key} must be a list of strings")
    if kind == EXPORT and not url:
        raise ConfigError(f"{label}: url is required: the address that serves the export")
    if kind == OTLP and bool(url) == bool(options["path"]):
        raise ConfigError(f"{label}: give exactly one of url (OTLP/JSON over HTTP) or path (a file)")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{label}: url must start with http:// or https://, not {url!r}")
    if options.get("path"):
        options["path"] = str(Path(options["path"]).expanduser())
    return ProdSource(
        id=options.pop("id"), kind=options.pop("kind"), repo=options.pop("repo").strip(), url=url,
        options=options, config_path=config_path,
    )  # fmt: skip


def _value(label: str, key: str, spec: _Key, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, spec.kind) or (isinstance(value, bool) and spec.kind is not bool):
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        names = " or ".join(dict.fromkeys(_TYPE_NAMES[kind] for kind in kinds))
        raise ConfigError(f"{label}: {key} must be {names}, not {value!r}")
    if spec.low is not None and spec.high is not None and not spec.low <= cast(float, value) <= spec.high:
        raise ConfigError(f"{label}: {key} = {value!r} is out of range; use {spec.low:g} to {spec.high:g}")
    return value


def _since(label: str, value: str | date | None) -> str | None:
    """A start time as ledger text: a TOML date or date-time, or the same as a string."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{label}: since must be a date like 2026-10-01 or an RFC 3339 time") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return timestamps.text(value)
