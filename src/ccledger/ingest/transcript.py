"""One Claude Code transcript line in, one billable API response (or a named problem) out.

Pure functions over bytes: no files, no database. Claude Code writes one ``assistant`` line per
content block of an API response, each repeating the response's ``message.id``, ``requestId``
and ``usage``; de-duplicating those copies is the ledger's job (see ``file_result`` and ``merge``), keyed by
:attr:`Response.key`. Subagent responses may also be echoed inside ``progress`` lines of the
parent transcript; they parse to the same key, flagged ``from_progress``.

Only metadata is extracted. Message content (prompts, code, tool input) is never decoded into
Python objects, let alone returned.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from ..timestamps import normalize as normalize_timestamp

__all__ = [
    "SYNTHETIC_MODEL",
    "UNKNOWN_MODEL",
    "USAGE_MARKER",
    "ApiError",
    "Block",
    "Parsed",
    "Problem",
    "Rank",
    "Response",
    "might_hold_usage",
    "parse_line",
    "parse_usage_line",
    "rank_of",
]

SYNTHETIC_MODEL = "<synthetic>"
UNKNOWN_MODEL = "<unknown>"

# A line that does not contain this byte string cannot carry usage. Checking it first is what
# makes a cold index fast: most bytes in a transcript are user/tool-result lines.
USAGE_MARKER = b'"usage"'

MAX_TOKENS = 10**9
"""The most tokens (or web searches) one field of one response may hold. No request comes near
it (the largest context windows hold a few million), and below it no sum over the ledger can
overflow SQLite's 64-bit integers: a line beyond it is counted as ``invalid_usage``."""

Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]


class Problem:
    """Names of the ways a line can be wrong. Stored per file and reported by ``index_status``."""

    INVALID_JSON = "invalid_json"
    INVALID_USAGE = "invalid_usage"
    INVALID_TIMESTAMP = "invalid_timestamp"
    NON_UTF8 = "non_utf8_repaired"


class _CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: Count | None = None
    ephemeral_1h_input_tokens: Count | None = None


class _ServerToolUse(msgspec.Struct):
    web_search_requests: Count = 0


class _Usage(msgspec.Struct):
    input_tokens: Count
    output_tokens: Count
    cache_creation_input_tokens: Count = 0
    cache_read_input_tokens: Count = 0
    cache_creation: _CacheCreation | None = None
    server_tool_use: _ServerToolUse | None = None
    speed: str | None = None
    service_tier: str | None = None
    inference_geo: str | None = None


class Block(msgspec.Struct):
    """A content block of an assistant message, as far as activity needs it: a ``tool_use``
    block's id and tool name, and its input left undecoded (only a Bash command is looked at)."""

    type: str | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()


class _Message(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    usage: _Usage | None = None
    content: list[Block] | None = None


class _Nested(msgspec.Struct, rename="camel"):
    """The assistant line a ``progress`` line embeds as ``data.message``."""

    message: _Message | None = None
    request_id: str | None = None
    timestamp: str | None = None
    uuid: str | None = None
    is_sidechain: bool | None = None


class _ProgressData(msgspec.Struct, rename="camel"):
    message: _Nested | None = None
    agent_id: str | None = None


class _Line(msgspec.Struct, rename="camel"):
    type: str | None = None
    timestamp: str | None = None
    uuid: str | None = None
    session_id: str | None = None
    # A response copied into a fork names the session that made the request (Claude Code 2.1.3xx).
    request_session_id: str | None = None
    request_id: str | None = None
    cwd: str | None = None
    git_branch: str | None = None
    version: str | None = None
    is_sidechain: bool | None = None
    agent_id: str | None = None
    error: str | None = None  # of a <synthetic> API-error line: rate_limit, authentication_failed, ...
    message: _Message | None = None
    data: msgspec.Raw = msgspec.Raw()  # decoded only for progress lines; Raw cannot be Optional


_LINE = msgspec.json.Decoder(_Line)
_PROGRESS = msgspec.json.Decoder(_ProgressData)
_ANY = msgspec.json.Decoder()


class Response(msgspec.Struct, gc=False):
    """The metadata of one API response, as one transcript line records it.

    A msgspec Struct rather than a dataclass: one is built for every usage line of every
    transcript, and this is several times cheaper to create.
    """

    key: str
    message_id: str | None
    request_id: str | None
    timestamp_utc: str
    session_id: str | None
    agent_id: str | None
    is_sidechain: bool
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    web_search_requests: int
    speed: str | None
    service_tier: str | None
    inference_geo: str | None
    cwd: str | None
    git_branch: str | None
    cc_version: str | None
    from_progress: bool
    copied_into: str | None = None  # the session of a fork that holds this copy of the response

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )

    def outranks(self, other: Response) -> bool:
        """Whether this copy should replace ``other`` as the record of the same response.

        Claude Code streams a response as several lines whose ``output_tokens`` grows, and
        resumed or forked sessions copy lines into new files. The copy to keep is the parent's
        (not a sidechain replay), then the one with the most tokens, then one that records
        ``speed``, then a real line over a ``progress`` echo; on a full tie the copy already
        kept stays, so re-reading a file never changes anything.
        """
        return self.rank() > other.rank()

    def rank(self) -> Rank:
        """The ordering :meth:`outranks` uses, comparable with the ledger's stored copies."""
        return rank_of(self.is_sidechain, self.total_tokens, self.speed is not None, self.from_progress)


Rank = tuple[bool, int, bool, bool]
"""How one copy of a response compares with another: the greater is kept (see ``outranks``)."""


def rank_of(is_sidechain: bool, total_tokens: int, has_speed: bool, from_progress: bool) -> Rank:
    """The rank of a copy from what the ledger stores of it: the one rule for a parsed response
    (:meth:`Response.rank`) and a stored one (``merge.Rivals``)."""
    return (not is_sidechain, total_tokens, bool(has_speed), not from_progress)


@dataclass(slots=True)
class Parsed:
    """What one line yielded: a response, a problem, both (a repaired line) or neither; the
    content blocks of a response's line (for its tool uses), or the API error a synthetic line
    records."""

    response: Response | None = None
    problem: str | None = None
    synthetic: bool = False
    blocks: list[Block] | None = None
    api_error: ApiError | None = None


class ApiError(msgspec.Struct, array_like=True, gc=False):
    """A ``<synthetic>`` line: Claude Code's record of a request that failed (a rate-limit hit,
    an authentication failure, ...). It bills nothing; activity counts it."""

    uuid: str | None
    timestamp_utc: str
    session_id: str | None
    cwd: str | None
    error: str


_NOTHING = Parsed()


def might_hold_usage(line: bytes) -> bool:
    """A cheap test that rules out most lines without decoding them."""
    return USAGE_MARKER in line


def parse_line(line: bytes) -> Parsed:
    """Parse one complete transcript line (without its newline)."""
    if USAGE_MARKER not in line:
        return _NOTHING
    return parse_usage_line(line)


def parse_usage_line(line: bytes | bytearray) -> Parsed:
    """:func:`parse_line` for a line already known to contain :data:`USAGE_MARKER`."""
    try:
        record = _LINE.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return _parse_leniently(line)
    # The decoder skips fields it does not read without checking their bytes, so invalid
    # UTF-8 inside message content would pass unnoticed. isascii() is a fast scan that
    # spares the full check for nearly every line.
    problem = None
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problem = Problem.NON_UTF8
    return _from_record(record, line, problem=problem)


def _parse_leniently(line: bytes | bytearray) -> Parsed:
    """The slow path: find out what is wrong with a line and keep what is good in it."""
    problem = None
    try:
        obj = _ANY.decode(line)
    except RecursionError:  # nested deeper than any decoder follows: nothing in it can be read
        return Parsed(problem=Problem.INVALID_JSON)
    except (msgspec.DecodeError, UnicodeDecodeError):
        try:
            line.decode("utf-8")
            return Parsed(problem=Problem.INVALID_JSON)
        except UnicodeDecodeError:
            pass
        try:
            obj = _ANY.decode(line.decode("utf-8", "replace").encode())
        except msgspec.DecodeError:
            return Parsed(problem=Problem.INVALID_JSON)
        problem = Problem.NON_UTF8
    if not isinstance(obj, dict):
        return Parsed(problem=problem)
    # Envelope fields of an unexpected type are dropped (a `cwd` of 123 says nothing); usage
    # fields of an unexpected type make the whole line unusable, because guessing a token
    # count would put a made-up number in the ledger.
    for _ in range(8):
        try:
            record = msgspec.convert(_without_raw(obj), _Line)
        except msgspec.ValidationError as exc:
            path = _error_path(str(exc))
            if path is None or path[:2] == ["message", "usage"]:
                return Parsed(problem=Problem.INVALID_USAGE)
            if path[:2] == ["message", "content"]:
                path = path[:2]  # a content block of an unexpected shape: the tool uses are lost, not the usage
            if not _drop(obj, path):
                return Parsed(problem=Problem.INVALID_USAGE)
            continue
        if "data" in obj:
            record.data = msgspec.Raw(msgspec.json.encode(obj["data"]))
        return _from_record(record, line, problem=problem)
    return Parsed(problem=Problem.INVALID_USAGE)


def _without_raw(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "data"}


_PATH_RE = re.compile(r" - at `\$((?:\.\w+|\[\d+\])*)`$")


def _error_path(message: str) -> list[str] | None:
    match = _PATH_RE.search(message)
    if not match:
        return None
    return re.findall(r"\.(\w+)", match.group(1))


def _drop(obj: dict[str, Any], path: list[str]) -> bool:
    target: Any = obj
    for part in path[:-1]:
        target = target.get(part) if isinstance(target, dict) else None
    if isinstance(target, dict) and path and path[-1] in target:
        target[path[-1]] = None
        return True
    return False


def _from_record(record: _Line, line: bytes | bytearray, problem: str | None) -> Parsed:
    message = record.message
    if record.type == "progress" and record.data:
        return _from_progress(record, line, problem)
    if message is None or message.usage is None or record.type not in ("assistant", None):
        return Parsed(problem=problem)
    # Positional (see _response): this runs for every usage line.
    return _response(
        message, record.request_id, record.timestamp, record.uuid, record, record.agent_id,
        bool(record.is_sidechain), False, line, problem,
    )  # fmt: skip


def _from_progress(record: _Line, line: bytes | bytearray, problem: str | None) -> Parsed:
    try:
        data = _PROGRESS.decode(record.data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return Parsed(problem=problem)  # other progress kinds (hooks, bash) carry no usage
    nested = data.message
    if nested is None or nested.message is None or nested.message.usage is None:
        return Parsed(problem=problem)
    return _response(
        nested.message, nested.request_id, nested.timestamp or record.timestamp, nested.uuid, record,
        data.agent_id,
        True,  # is_sidechain: progress lines echo a subagent's (sidechain) responses
        True,  # from_progress
        line, problem,
    )  # fmt: skip


def _response(
    message: _Message,
    request_id: str | None,
    timestamp: str | None,
    uuid: str | None,
    envelope: _Line,
    agent_id: str | None,
    is_sidechain: bool,
    from_progress: bool,
    line: bytes | bytearray,
    problem: str | None,
    /,
) -> Parsed:
    """The response a usage line records. Positional only: passing ten keywords for every usage
    line cost 2% of reading a first index's files."""
    usage = message.usage
    assert usage is not None
    model = message.model or UNKNOWN_MODEL
    timestamp_utc = normalize_timestamp(timestamp)
    if model == SYNTHETIC_MODEL:
        if timestamp_utc is None or from_progress:
            return Parsed(problem=problem, synthetic=True)
        error = ApiError(uuid, timestamp_utc, envelope.session_id, envelope.cwd, envelope.error or "api_error")
        return Parsed(problem=problem, synthetic=True, api_error=error)
    if timestamp_utc is None:
        return Parsed(problem=Problem.INVALID_TIMESTAMP)
    split = usage.cache_creation
    if split is not None and (
        split.ephemeral_5m_input_tokens is not None or split.ephemeral_1h_input_tokens is not None
    ):
        write_5m = split.ephemeral_5m_input_tokens or 0
        write_1h = split.ephemeral_1h_input_tokens or 0
    else:
        # Before the 5m/1h split was logged (Claude Code < 1.0.8x) every write was 5-minute.
        write_5m, write_1h = usage.cache_creation_input_tokens, 0
    message_id = message.id or None
    request_id = request_id or None
    # A fork's copy is the original's response: it belongs to the session that made the request.
    session_id = envelope.request_session_id or envelope.session_id or None
    copied_into = envelope.session_id if session_id != (envelope.session_id or None) else None
    if message_id and request_id:
        key = f"{message_id}:{request_id}"
    elif message_id:
        # No requestId (Claude Code 2.1.3xx writes requestRef instead; some gateways write
        # neither): message.id alone, across sessions, so that a copy in a fork or a resumed
        # session collapses onto its original.
        key = message_id
    elif uuid:
        key = f"uuid:{uuid}"
    else:
        key = "line:" + hashlib.sha1(line).hexdigest()
    # Positional, in field order: this runs for every usage line, and keywords cost several times more.
    response = Response(
        key, message_id, request_id, timestamp_utc, session_id, agent_id or None, is_sidechain, model,
        usage.input_tokens, usage.output_tokens, write_5m, write_1h, usage.cache_read_input_tokens,
        usage.server_tool_use.web_search_requests if usage.server_tool_use else 0,
        usage.speed or None, usage.service_tier or None, usage.inference_geo or None,
        envelope.cwd or None, envelope.git_branch or None, envelope.version or None, from_progress, copied_into,
    )  # fmt: skip
    # A progress echo's tool uses are the subagent file's own: they are counted from there.
    return Parsed(response=response, problem=problem, blocks=None if from_progress else message.content)
