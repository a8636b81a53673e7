"""What the spend bought, read from the same transcript lines: tool uses, edits, commits, prompts.

Metadata only, as everywhere in the ledger: a tool's name, whether its result was an error or a
rejection, how many lines an edit added and removed, the *shape* of a Bash command (a git commit,
a pull request) but never the command, the name of a slash command but never a prompt's text.

Most bytes of a transcript are tool results (file contents, command output) repeated in
``toolUseResult``; decoding every user line would cost more than the whole usage index. So user
lines are found by byte markers, as usage lines are (see ``lines``), and only the few that matter
are decoded: errors (``"is_error":true``), edits (``"structuredPatch":[``), typed prompts (a
user message whose content is text), and the result of a commit- or PR-shaped command.
A patch's added and removed lines are counted on its bytes: a JSON array element that starts
``"+`` or ``"-`` follows ``[`` or ``,``, which no string can contain unescaped.

Every record is keyed (a tool use by its ``tool_use`` id, an event by its line's ``uuid``, hashed
to 64 bits), so a copy in a resumed or forked session, a streaming repeat or a re-read adds
nothing: the ledger upserts them (see ``activity_rows``). The rules are in the README.
"""

from __future__ import annotations

import contextlib
import hashlib
import re

import msgspec
from stringzilla import Str

from ..timestamps import normalize as normalize_timestamp
from .transcript import MAX_TOKENS, ApiError, Block, Response

__all__ = [
    "Activity",
    "CostState",
    "Event",
    "Kind",
    "Shape",
    "ToolResult",
    "ToolUse",
    "api_error_event",
    "command_shape",
    "key_of",
    "scan_block",
    "tool_uses_of",
]


class Kind:
    """Kinds of events (``activity_events.kind``)."""

    PROMPT = "prompt"
    COMMAND = "command"  # a slash command, by name
    COMPACTION = "compaction"
    RATE_LIMIT = "rate_limit"
    API_ERROR = "api_error"
    TURN = "turn"  # a turn's duration as Claude Code measured it (system/turn_duration)


class Shape:
    """What a Bash command does, by its shape (``tool_results.shape``)."""

    OTHER = 0
    COMMIT = 1
    PULL_REQUEST = 2


class Outcome:
    """A tool use's result (``tool_results.outcome``): None when no error was seen."""

    ERROR = 1
    REJECTED = 2  # the user declined the tool use


class ToolUse(msgspec.Struct, array_like=True, gc=False):
    """A ``tool_use`` block's tool, and the response (by key) whose line holds it."""

    response: str
    tool: str
    shape: int


class ToolResult(msgspec.Struct, array_like=True, gc=False):
    """What a tool use's result says beyond "done": only these results are read."""

    id: str  # of the tool use
    outcome: int | None = None
    made: int | None = None  # a commit or PR command's result shows it was made (1) or not (0)
    lines_added: int | None = None
    lines_removed: int | None = None


class Event(msgspec.Struct, array_like=True, gc=False):
    key: int
    kind: str
    name: str | None
    timestamp_utc: str
    session_id: str | None
    cwd: str | None
    value: int | None = None
    value2: int | None = None


class CostState(msgspec.Struct, array_like=True, gc=False):
    """Claude Code's own running totals for a session (the latest ``cost-state`` line)."""

    session_id: str
    cost_usd: float
    lines_added: int | None
    lines_removed: int | None
    duration_ms: int | None
    api_duration_ms: int | None
    # model -> [input, output, cache write 5m, cache write 1h, cache read, web searches]
    model_usage: dict[str, list[int]]


class Activity(msgspec.Struct, array_like=True):
    """The activity one read of a file found (sent by the helper with its ``FileRead``)."""

    calls: dict[str, ToolUse] = {}  # tool use id -> the call, in the order read
    results: list[ToolResult] = []
    events: list[Event] = []
    costs: dict[str, CostState] = {}  # session -> its latest totals
    # Commit- and PR-shaped Bash uses whose results this read has not reached yet: id -> shape.
    awaiting: dict[str, int] = {}


def key_of(text: str) -> int:
    """A record's key: 64 bits of a hash of its id, as a signed integer (a SQLite rowid). Ten
    million ids collide with a chance of about 3 in a million."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


# --- assistant lines: tool uses --------------------------------------------------------------

_COMMIT_RE = re.compile(
    r"(?:^|[;&|(\n]|\bthen|\bdo)\s*(?:\w+=\S*\s+)*git\s+(?:-[cC]\s+\S+\s+|--?[\w-]+(?:=\S+)?\s+)*commit\b"
)
_PR_RE = re.compile(r"(?:^|[;&|(\n])\s*(?:\w+=\S*\s+)*(?:gh\s+pr\s+create|glab\s+mr\s+create|hub\s+pull-request)\b")
_MCP_PR_RE = re.compile(r"create_(?:pull_request|merge_request|pr)\b", re.IGNORECASE)


class _BashInput(msgspec.Struct):
    command: str = ""


_BASH_INPUT = msgspec.json.Decoder(_BashInput)
_MAX_COMMAND = 100_000  # longer than any real command: not looked at


def command_shape(command: str) -> int:
    """Whether a shell command makes a git commit or opens a pull request (GitHub, GitLab)."""
    if len(command) > _MAX_COMMAND:
        return Shape.OTHER
    if _PR_RE.search(command):
        return Shape.PULL_REQUEST
    if _COMMIT_RE.search(command):
        return Shape.COMMIT
    return Shape.OTHER


def tool_uses_of(activity: Activity, response: Response, blocks: list[Block]) -> None:
    """Record the tool uses among a response line's content blocks."""
    calls = activity.calls
    for block in blocks:
        if block.type != "tool_use" or not block.id or not block.name or block.id in calls:
            continue
        name = block.name[:200]
        shape = Shape.OTHER
        if name == "Bash" and block.input:
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                shape = command_shape(_BASH_INPUT.decode(block.input).command)
        elif name.startswith("mcp__") and _MCP_PR_RE.search(name):
            shape = Shape.PULL_REQUEST
        calls[block.id] = ToolUse(response.key, name, shape)
        if shape and name == "Bash":
            activity.awaiting[block.id] = shape


def api_error_event(activity: Activity, error: ApiError) -> None:
    """Record a synthetic API-error line: a rate-limit hit, or another error by its kind."""
    kind = Kind.RATE_LIMIT if error.error == "rate_limit" else Kind.API_ERROR
    key = key_of(error.uuid or f"{error.session_id}:{error.timestamp_utc}:{error.error}")
    activity.events.append(Event(key, kind, error.error[:100], error.timestamp_utc, error.session_id, error.cwd))


# --- user, system and cost-state lines ---------------------------------------------------------

_NEWLINE = b"\n"
USER_CONTENT = b'"role":"user","content":'
IS_ERROR = b'"is_error":true'
PATCH = b'"structuredPatch":['
SYSTEM = b'"type":"system"'
COST_STATE = b'"type":"cost-state"'
_TOOL_USE_ID = b'"tool_use_id":"'
_CREATE = b'"type":"create"'
# A patch's lines are the elements of its hunks' "lines" arrays: each follows [ or , (see above).
_ADDED = (b'["+', b',"+')
_REMOVED = (b'["-', b',"-')
_TEXT_FIRST = (b'[{"type":"text"', b'[{"type":"image"')


class _UserBlock(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    tool_use_id: str | None = None
    is_error: bool | None = None
    content: msgspec.Raw = msgspec.Raw()


class _UserMessage(msgspec.Struct):
    content: str | list[_UserBlock] | None = None


class _Origin(msgspec.Struct):
    kind: str | None = None


class _TextBlock(msgspec.Struct):
    type: str | None = None
    text: msgspec.Raw = msgspec.Raw()


class _PromptMessage(msgspec.Struct):
    content: msgspec.Raw = msgspec.Raw()  # a prompt can be long: only its start is decoded


class _PromptLine(msgspec.Struct, rename="camel"):
    type: str | None = None
    uuid: str | None = None
    timestamp: str | None = None
    session_id: str | None = None
    cwd: str | None = None
    is_meta: bool | None = None
    is_sidechain: bool | None = None
    is_compact_summary: bool | None = None
    is_visible_in_transcript_only: bool | None = None
    origin: _Origin | None = None
    message: _PromptMessage | None = None


class _Written(msgspec.Struct, rename="camel"):
    type: str | None = None
    content: str | None = None


class _WriteLine(msgspec.Struct, rename="camel"):
    """A Write's result line, as far as a new file's line count needs it."""

    type: str | None = None
    tool_use_result: _Written | None = None


class _ResultLine(msgspec.Struct, rename="camel"):
    """A user line of tool results, as far as their outcomes need it."""

    type: str | None = None
    tool_denial_kind: str | None = None
    message: _UserMessage | None = None


class _CompactMetadata(msgspec.Struct, rename="camel"):
    trigger: str | None = None
    pre_tokens: int | None = None
    post_tokens: int | None = None


class _SystemLine(msgspec.Struct, rename="camel"):
    type: str | None = None
    subtype: str | None = None
    uuid: str | None = None
    timestamp: str | None = None
    session_id: str | None = None
    cwd: str | None = None
    duration_ms: int | float | None = None
    compact_metadata: _CompactMetadata | None = None


class _ModelUsage(msgspec.Struct, rename="camel"):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_ephemeral5m_input_tokens: int | None = msgspec.field(
        default=None, name="cacheCreationEphemeral5mInputTokens"
    )
    cache_creation_ephemeral1h_input_tokens: int | None = msgspec.field(
        default=None, name="cacheCreationEphemeral1hInputTokens"
    )
    web_search_requests: int = 0


class _CostLine(msgspec.Struct, rename="camel"):
    type: str | None = None
    session_id: str | None = None
    total_cost_usd: float | None = msgspec.field(default=None, name="totalCostUSD")
    total_lines_added: int | None = None
    total_lines_removed: int | None = None
    total_duration: int | float | None = None
    total_api_duration: int | float | None = msgspec.field(default=None, name="totalAPIDuration")
    model_usage: msgspec.Raw = msgspec.Raw()  # decoded apart: totals without it are still totals


_MODEL_USAGE = msgspec.json.Decoder(dict[str, _ModelUsage])


_RESULTS = msgspec.json.Decoder(_ResultLine)
_PROMPT = msgspec.json.Decoder(_PromptLine)
_BLOCKS = msgspec.json.Decoder(list[_TextBlock])
_TEXT = msgspec.json.Decoder(str)
_PREFIX_BYTES = 4096  # of a prompt: enough to tell a command or markup from typed text
_SYSTEM = msgspec.json.Decoder(_SystemLine)
_COST = msgspec.json.Decoder(_CostLine)
_WRITE_LINE = msgspec.json.Decoder(_WriteLine)
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)

_REJECTED = "The user doesn't want to proceed with this tool use"
_COMMIT_MADE_RE = re.compile(r"\[[^\]\s]+(?: \(root-commit\))? [0-9a-f]{7,40}\]")
_PR_MADE_RE = re.compile(r"https?://\S+/(?:pull|merge_requests)/\d+")
_COMMAND_RE = re.compile(r"<command-name>\s*/?([^<\s]{1,100})\s*</command-name>")
# Text a person did not type: Claude Code's markup around command output, shell-mode input,
# hook and reminder text, notifications from background tasks and teammates, interruptions.
_NOT_TYPED_RE = re.compile(r"\s*(?:<[a-z][\w-]*[\s>]|\[Request interrupted|Caveat: The messages below)")


def scan_block(activity: Activity, buffer: bytearray, text: Str, last: int) -> None:
    """Record the activity in ``buffer[:last + 1]``, which ends with a complete line."""
    find, rfind = text.find, text.rfind

    def lines_with(needle: bytes) -> list[tuple[int, int, int]]:
        found: list[tuple[int, int, int]] = []
        at = find(needle, 0, last)
        while at >= 0:
            begin = rfind(_NEWLINE, 0, at) + 1
            end = find(_NEWLINE, at, last + 1)
            found.append((begin, at, end))
            at = find(needle, end, last)
        return found

    at = find(USER_CONTENT, 0, last)
    while at >= 0:
        after = at + len(USER_CONTENT)
        if buffer[after] == 0x22 or buffer[after : after + 16].startswith(_TEXT_FIRST):  # '"': text content
            begin = rfind(_NEWLINE, 0, at) + 1
            end = find(_NEWLINE, at, last + 1)
            _prompt(activity, buffer[begin:end])
            at = find(USER_CONTENT, end, last)
        else:
            at = find(USER_CONTENT, after, last)
    for begin, _, end in lines_with(IS_ERROR):
        _results(activity, buffer[begin:end])
    for begin, at, end in lines_with(PATCH):
        _patch(activity, buffer, text, begin, at, end)
    for begin, _, end in lines_with(SYSTEM):
        _system(activity, buffer[begin:end])
    for begin, _, end in lines_with(COST_STATE):
        _cost_state(activity, buffer[begin:end])
    for tool_use_id in list(activity.awaiting):
        at = find(_TOOL_USE_ID + tool_use_id.encode(), 0, last)
        if at >= 0:
            begin = rfind(_NEWLINE, 0, at) + 1
            _results(activity, buffer[begin : find(_NEWLINE, at, last + 1)])


def _decode_results(line: bytes | bytearray) -> _ResultLine | None:
    try:
        record = _RESULTS.decode(line)
    except _DECODE_ERRORS:
        return None
    return record if record.type == "user" else None


def _prompt(activity: Activity, line: bytes | bytearray) -> None:
    """A user line with text content: a prompt a person typed, a slash command, or neither."""
    try:
        record = _PROMPT.decode(line)
    except _DECODE_ERRORS:
        return
    if record.type != "user" or record.message is None or not record.message.content:
        return
    if record.is_meta or record.is_sidechain or record.is_compact_summary or record.is_visible_in_transcript_only:
        return
    if record.origin is not None and record.origin.kind not in (None, "human"):
        return
    content = _text_start(record.message.content)
    if not content or not content.strip():
        return
    timestamp_utc = normalize_timestamp(record.timestamp)
    if timestamp_utc is None:
        return
    key = key_of(record.uuid or hashlib.sha1(line).hexdigest())
    command = _COMMAND_RE.search(content)
    if command is not None:
        activity.events.append(Event(key, Kind.COMMAND, command.group(1), timestamp_utc, record.session_id, record.cwd))
    elif not _NOT_TYPED_RE.match(content):
        activity.events.append(Event(key, Kind.PROMPT, None, timestamp_utc, record.session_id, record.cwd))


def _text_start(content: msgspec.Raw) -> str | None:
    """The first characters of a user message's text: its string, or its first text block's;
    None for a message of tool results."""
    raw = bytes(content)
    if raw[:1] == b"[":
        try:
            blocks = _BLOCKS.decode(raw)
        except _DECODE_ERRORS:
            return None
        if any(block.type == "tool_result" for block in blocks):
            return None
        raw = next((bytes(block.text) for block in blocks if block.type == "text" and block.text), b"")
    if raw[:1] != b'"':
        return None
    if len(raw) <= _PREFIX_BYTES:
        try:
            return _TEXT.decode(raw)
        except _DECODE_ERRORS:
            return None
    cut = raw[:_PREFIX_BYTES]
    for trim in range(8):  # off a cut escape sequence or UTF-8 character
        try:
            return _TEXT.decode(cut[: len(cut) - trim] + b'"')
        except _DECODE_ERRORS:
            continue
    return None


def _results(activity: Activity, line: bytes | bytearray) -> None:
    """A user line holding tool results: record each one's error, rejection or commit."""
    record = _decode_results(line)
    if record is None or record.message is None or not isinstance(record.message.content, list):
        return
    for block in record.message.content:
        if block.type != "tool_result" or not block.tool_use_id:
            continue
        text = _text_of(block.content)
        shape = activity.awaiting.pop(block.tool_use_id, Shape.OTHER)
        result = ToolResult(block.tool_use_id[:200])
        if block.is_error:
            rejected = record.tool_denial_kind is not None or text.startswith(_REJECTED)
            result.outcome = Outcome.REJECTED if rejected else Outcome.ERROR
        if shape:
            made = _COMMIT_MADE_RE if shape == Shape.COMMIT else _PR_MADE_RE
            result.made = 0 if block.is_error else int(made.search(text) is not None)
        if result.outcome is not None or result.made is not None:
            activity.results.append(result)


def _text_of(content: msgspec.Raw) -> str:
    """A tool result's text (its first 64 KiB is enough for every check made on it)."""
    if not content:
        return ""
    try:
        value = msgspec.json.decode(content)
    except _DECODE_ERRORS:
        return ""
    if isinstance(value, str):
        return value[:65536]
    if isinstance(value, list):
        texts = [part.get("text", "") for part in value if isinstance(part, dict)]
        return "\n".join(text for text in texts if isinstance(text, str))[:65536]
    return ""


def _patch(activity: Activity, buffer: bytearray, text: Str, begin: int, at: int, end: int) -> None:
    """An edit's result: the lines its patch adds and removes (a new file's, if it has none)."""
    id_at = text.rfind(_TOOL_USE_ID, begin, at)
    if id_at < 0:
        return
    id_at += len(_TOOL_USE_ID)
    id_end = text.find(b'"', id_at, min(at, id_at + 200))
    if id_end <= id_at:
        return
    tool_use_id = bytes(buffer[id_at:id_end]).decode("utf-8", "replace")[:200]
    after = at + len(PATCH)
    if buffer[after] != 0x5D:  # ']': a non-empty patch
        added = sum(text.count(needle, after, end) for needle in _ADDED)
        removed = sum(text.count(needle, after, end) for needle in _REMOVED)
        result = ToolResult(tool_use_id, lines_added=added, lines_removed=removed)
    elif text.find(_CREATE, begin, end) >= 0:  # a file written whole: its lines
        try:
            written = _WRITE_LINE.decode(buffer[begin:end]).tool_use_result
        except _DECODE_ERRORS:
            return
        if written is None or written.type != "create" or written.content is None:
            return
        result = ToolResult(tool_use_id, lines_added=len(written.content.splitlines()), lines_removed=0)
    else:
        return
    activity.results.append(result)


def _system(activity: Activity, line: bytes | bytearray) -> None:
    """A turn's duration, or a compaction with its trigger and the tokens before and after."""
    try:
        record = _SYSTEM.decode(line)
    except _DECODE_ERRORS:
        return
    if record.type != "system" or not record.uuid:
        return
    timestamp_utc = normalize_timestamp(record.timestamp)
    if timestamp_utc is None:
        return
    key = key_of(record.uuid)
    if record.subtype == "turn_duration" and record.duration_ms is not None and 0 <= record.duration_ms < 2**40:
        activity.events.append(
            Event(key, Kind.TURN, None, timestamp_utc, record.session_id, record.cwd, int(record.duration_ms))
        )
    elif record.subtype == "compact_boundary":
        meta = record.compact_metadata or _CompactMetadata()
        activity.events.append(
            Event(
                key,
                Kind.COMPACTION,
                (meta.trigger or "unknown")[:20],
                timestamp_utc,
                record.session_id,
                record.cwd,
                _tokens(meta.pre_tokens),
                _tokens(meta.post_tokens),
            )
        )


def _tokens(value: int | None) -> int | None:
    return value if value is not None and 0 <= value <= MAX_TOKENS else None


def _cost_state(activity: Activity, line: bytes | bytearray) -> None:
    """Claude Code's running totals for a session; a later line replaces an earlier one."""
    try:
        record = _COST.decode(line)
    except _DECODE_ERRORS:
        return
    cost = record.total_cost_usd
    if record.type != "cost-state" or not record.session_id or cost is None or not 0 <= cost < 1e9:
        return
    usage: dict[str, list[int]] = {}
    try:
        by_model = _MODEL_USAGE.decode(record.model_usage) if record.model_usage else {}
    except _DECODE_ERRORS:
        by_model = {}
    for model, used in by_model.items():
        split = used.cache_creation_ephemeral5m_input_tokens, used.cache_creation_ephemeral1h_input_tokens
        write_5m = split[0] if split[0] is not None or split[1] is not None else used.cache_creation_input_tokens
        counts = [
            used.input_tokens, used.output_tokens, write_5m or 0, split[1] or 0, used.cache_read_input_tokens,
            used.web_search_requests,
        ]  # fmt: skip
        if all(0 <= count <= MAX_TOKENS for count in counts):
            usage[model[:200]] = counts
    activity.costs[record.session_id] = CostState(
        record.session_id, cost, _count(record.total_lines_added), _count(record.total_lines_removed),
        _count(record.total_duration), _count(record.total_api_duration), usage,
    )  # fmt: skip


def _count(value: int | float | None) -> int | None:
    return int(value) if value is not None and 0 <= value < 2**53 else None
