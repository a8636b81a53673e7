"""OTLP/JSON logs and traces as records: Claude Code ``api_request`` events and ``gen_ai.*`` spans.

Pure functions over one decoded OTLP/JSON document (an ``Export{Logs,Trace}ServiceRequest``):

- log records whose ``event.name`` is ``api_request`` (or whose body is
  ``claude_code.api_request``): Claude Code's own per-request event, with ``cost_usd``;
- spans that carry token usage: ``gen_ai.usage.*`` (OpenTelemetry's GenAI conventions, any
  provider) or Claude Code's ``llm_request`` span (``input_tokens`` ... beside ``gen_ai.*``).

Under the GenAI conventions ``gen_ai.usage.input_tokens`` SHOULD include cached tokens, so the
cache reads and writes are taken out of it; an emitter that left them out (input smaller than the
cache) is taken as it is. Everything else in the document is ignored, as OTLP asks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .. import timestamps
from .records import PageError, ParsedPage, ProdRecord

__all__ = ["EXPECTED", "parse_otlp"]

EXPECTED = 'an OTLP/JSON export {"resourceLogs": [...]} or {"resourceSpans": [...]}'

_API_REQUEST = ("api_request", "claude_code.api_request")
_GENAI_INPUT = "gen_ai.usage.input_tokens"
_GENAI_OUTPUT = "gen_ai.usage.output_tokens"
_GENAI_CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
_GENAI_CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")


def parse_otlp(document: Any) -> ParsedPage:
    """The records of one OTLP/JSON document (logs, spans or both)."""
    if not isinstance(document, dict) or not ({"resourceLogs", "resourceSpans"} & document.keys()):
        found = f"keys {sorted(document)[:5]}" if isinstance(document, dict) else type(document).__name__
        raise PageError(f"expected {EXPECTED}, found {found}")
    records: dict[str, ProdRecord] = {}
    for path, item in _items(document, "resourceLogs", "scopeLogs", "logRecords"):
        record = _api_request(item, path)
        if record is not None:
            records[record.key] = record
    for path, item in _items(document, "resourceSpans", "scopeSpans", "spans"):
        record = _span(item, path)
        if record is not None:
            records[record.key] = record
    return ParsedPage(records=list(records.values()))


def _items(document: dict[str, Any], outer: str, middle: str, inner: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for i, resource in enumerate(_list(document, outer, outer)):
        for j, scope in enumerate(_list(resource, middle, f"{outer}.{i}.{middle}")):
            path = f"{outer}.{i}.{middle}.{j}.{inner}"
            found += [(f"{path}.{k}", item) for k, item in enumerate(_list(scope, inner, path))]
    return found


def _list(parent: Any, key: str, path: str) -> list[Any]:
    if not isinstance(parent, dict):
        raise PageError(f"{path.rsplit('.', 1)[0]}: expected an object ({EXPECTED})")
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise PageError(f"{path}: expected a list ({EXPECTED})")
    return value


def _api_request(item: dict[str, Any], path: str) -> ProdRecord | None:
    attributes = _attributes(item, path)
    raw_body = item.get("body")
    body = _any_value(raw_body) if isinstance(raw_body, dict) else None
    if attributes.get("event.name") not in _API_REQUEST and body not in _API_REQUEST:
        return None
    model = attributes.get("model")
    if not isinstance(model, str) or not model:
        raise PageError(f"{path}: an api_request event without a model (expected Claude Code's api_request)")
    timestamp = _time(item, ("timeUnixNano", "observedTimeUnixNano"), path, attributes.get("event.timestamp"))
    request_id = attributes.get("request_id")
    key = str(request_id) if request_id else f"{attributes.get('session.id', '')}:{item.get('timeUnixNano')}"
    cost = attributes.get("cost_usd")
    return ProdRecord(
        key=key,
        bucket_start_utc=timestamp,
        bucket_end_utc=timestamp,
        model=model,
        requests=1,
        input_tokens=_count(attributes, "input_tokens", path),
        output_tokens=_count(attributes, "output_tokens", path),
        # Claude Code reports cache writes unsplit; they are 5-minute writes unless configured otherwise.
        cache_write_5m_tokens=_count(attributes, "cache_creation_tokens", path),
        cache_read_tokens=_count(attributes, "cache_read_tokens", path),
        speed=attributes.get("speed") if isinstance(attributes.get("speed"), str) else None,
        provider_cost_nanousd=_nano(cost, f"{path}.cost_usd"),
    )


def _span(item: dict[str, Any], path: str) -> ProdRecord | None:
    attributes = _attributes(item, path)
    genai = _GENAI_INPUT in attributes or _GENAI_OUTPUT in attributes
    claude_code = "input_tokens" in attributes and any(name.startswith("gen_ai.") for name in attributes)
    if not genai and not claude_code:
        return None
    model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model")
    if not isinstance(model, str) or not model:
        raise PageError(f"{path}: a span with token usage but no gen_ai.request.model or gen_ai.response.model")
    if genai:
        cache_read = sum(_count(attributes, name, path) for name in _GENAI_CACHE_READ)
        cache_write = sum(_count(attributes, name, path) for name in _GENAI_CACHE_WRITE)
        total_input = _count(attributes, _GENAI_INPUT, path)
        cached = cache_read + cache_write
        uncached = total_input - cached if total_input >= cached else total_input
        output = _count(attributes, _GENAI_OUTPUT, path)
    else:
        cache_read = _count(attributes, "cache_read_tokens", path)
        cache_write = _count(attributes, "cache_creation_tokens", path)
        uncached = _count(attributes, "input_tokens", path)
        output = _count(attributes, "output_tokens", path)
    response_id = attributes.get("gen_ai.response.id")
    key = str(response_id) if response_id else f"span:{item.get('traceId', '')}:{item.get('spanId', '')}"
    timestamp = _time(item, ("startTimeUnixNano", "endTimeUnixNano"), path, None)
    return ProdRecord(
        key=key,
        bucket_start_utc=timestamp,
        bucket_end_utc=timestamp,
        model=model,
        requests=1,
        input_tokens=uncached,
        output_tokens=output,
        cache_write_5m_tokens=cache_write,
        cache_read_tokens=cache_read,
        provider_cost_nanousd=_nano(attributes.get("cost_usd"), f"{path}.cost_usd"),
    )


def _attributes(item: dict[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PageError(f"{path}: expected an object ({EXPECTED})")
    found: dict[str, Any] = {}
    for pair in item.get("attributes") or []:
        if isinstance(pair, dict) and isinstance(pair.get("key"), str) and isinstance(pair.get("value"), dict):
            found[pair["key"]] = _any_value(pair["value"])
    return found


def _any_value(value: dict[str, Any]) -> Any:
    """An OTLP AnyValue as plain Python (64-bit ints may come as strings)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return value["intValue"]
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [_any_value(v) for v in (value["arrayValue"] or {}).get("values", []) if isinstance(v, dict)]
    if "kvlistValue" in value:
        pairs = (value["kvlistValue"] or {}).get("values", [])
        return {p["key"]: _any_value(p.get("value") or {}) for p in pairs if isinstance(p, dict) and "key" in p}
    return None


def _count(attributes: dict[str, Any], name: str, path: str) -> int:
    value = attributes.get(name)
    if value is None:
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PageError(f"{path}: attribute {name} = {value!r} is not a whole number of tokens") from None
    if number < 0 or number != float(value):
        raise PageError(f"{path}: attribute {name} = {value!r} is not a whole number of tokens")
    return number


def _nano(value: Any, path: str) -> int | None:
    if value is None:
        return None
    try:
        return round(float(value) * 1_000_000_000)
    except (TypeError, ValueError):
        raise PageError(f"{path}: {value!r} is not a number of US dollars") from None


def _time(item: dict[str, Any], fields: tuple[str, ...], path: str, fallback: Any) -> str:
    for name in fields:
        raw = item.get(name)
        if raw in (None, "", 0, "0"):
            continue
        try:
            seconds, nanos = divmod(int(raw), 1_000_000_000)
        except (TypeError, ValueError):
            raise PageError(f"{path}.{name}: {raw!r} is not nanoseconds since 1970") from None
        return timestamps.coerce(datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanos // 1000))
    text = timestamps.normalize(fallback) if isinstance(fallback, str) else None
    if text is None:
        raise PageError(f"{path}: no {fields[0]} (expected {EXPECTED})")
    return text
