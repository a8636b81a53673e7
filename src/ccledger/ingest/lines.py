"""Reading a transcript file from an offset: its complete lines that carry usage, parsed.

Most of a transcript's bytes are prompts, file contents and tool results that carry no usage,
so the reader never splits a file into lines. It reads large blocks into one reused buffer,
finds the usage marker with StringZilla's SIMD search (several times faster than
``bytes.find`` for a multi-byte needle) and cuts out only the lines around each hit.

The offset it reports is just past the last complete line: a half-written last line is left for
the next read, so it is neither lost nor counted twice.
"""

from __future__ import annotations

import os

import msgspec
from stringzilla import Str

from .activity import Activity, api_error_event, scan_block, tool_uses_of
from .transcript import USAGE_MARKER, Parsed, Response, might_hold_usage, parse_line, parse_usage_line

__all__ = ["BLOCK_BYTES", "OPEN_FLAGS", "FileRead", "new_buffer", "read_at", "read_head", "read_usage_lines"]

BLOCK_BYTES = 4 << 20
"""How much is read at a time, and the starting size of a buffer (it grows for longer lines)."""

_NEWLINE = b"\n"
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which an editor may put before the first line

OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_CLOEXEC", 0)  # not inherited by the helper process
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO that replaced a transcript since the scan fails, not waits
    | getattr(os, "O_BINARY", 0)  # Windows: no newline translation
)
"""Flags to open a transcript with (:func:`os.open`): a bare descriptor costs four system calls
fewer per file than a file object (fstat, isatty and two seeks)."""


class FileRead(msgspec.Struct, array_like=True):
    """What reading one file produced, before it is written to the ledger.

    A msgspec Struct so that a helper process can send it (without ``responses``) to the writer.
    """

    responses: list[Response] = []
    lines: int = 0
    usage_lines: int = 0
    problems: dict[str, int] = {}  # problem kind -> lines
    problem_offsets: dict[str, int] = {}  # problem kind -> offset of its last line
    synthetic: int = 0
    end_offset: int = 0  # just past the last complete line
    bytes_read: int = 0
    activity: Activity = msgspec.field(default_factory=Activity)


def new_buffer() -> bytearray:
    """A buffer for :func:`read_usage_lines`; reuse it across files to spare the allocation."""
    return bytearray(BLOCK_BYTES)


def _preadv_at(fd: int, space: memoryview, offset: int) -> int:
    return os.preadv(fd, [space], offset)


def _seek_and_read_at(fd: int, space: memoryview, offset: int) -> int:
    os.lseek(fd, offset, os.SEEK_SET)
    data = os.read(fd, len(space))
    space[: len(data)] = data
    return len(data)


read_at = _preadv_at if hasattr(os, "preadv") else _seek_and_read_at
"""Read into ``space`` from ``offset`` of ``fd``: one system call and no copy where the platform
has ``preadv`` (Linux, macOS 11, the BSDs); a seek, a read and a copy elsewhere (Windows)."""


def read_head(fd: int, size: int) -> bytes:
    """The first ``size`` bytes of ``fd`` (fewer if it is shorter)."""
    head = bytearray(size)
    return bytes(head[: read_at(fd, memoryview(head), 0)])


def read_usage_lines(fd: int, start: int, buffer: bytearray | None = None) -> FileRead:
    """Parse every complete line of the open file ``fd`` from offset ``start``.

    A trailing partial line is left for next time. One that already parses is used (a finished
    file need not end in a newline), but the offset stays before it, so it is read again once
    it is complete. ``buffer`` is only read into, never resized: a line longer than it is
    gathered in a larger buffer of this call's own.
    """
    read = FileRead(end_offset=start)
    if buffer is None:
        buffer = new_buffer()
    filled = 0  # bytes of buffer holding data; buffer[0] is at file offset read.end_offset
    while True:
        if filled == len(buffer):  # a line longer than the buffer: gather it in a larger one
            buffer = buffer + bytes(len(buffer))
        space = memoryview(buffer)[filled:]
        count = read_at(fd, space, read.end_offset + filled)
        if not count:
            break
        read.bytes_read += count
        if not read.end_offset and not filled and buffer.startswith(_BOM):
            buffer[:3] = b"   "  # JSON whitespace: the first line parses, and no offset moves
        filled += count
        done = _parse_complete_lines(read, buffer, filled)
        if done:
            buffer[: filled - done] = buffer[done:filled]  # the partial line, to the front
            filled -= done
            read.end_offset += done
        if count < len(space):
            break  # a short read of a regular file: its end, for now
    tail = bytes(buffer[:filled])
    if tail.strip():
        # Used now but read again once complete, so its problems are counted then, not twice.
        # Without a response it is still being written, most likely: not a problem yet. What
        # it holds of activity is keyed, so reading it again adds nothing.
        if might_hold_usage(tail):
            parsed = parse_line(tail)
            if parsed.response is not None:
                read.responses.append(parsed.response)
                if parsed.blocks:
                    tool_uses_of(read.activity, parsed.response, parsed.blocks)
        if _is_json(tail):  # not half of one: a patch's lines would be miscounted
            whole = bytearray(tail + _NEWLINE)
            scan_block(read.activity, whole, Str(whole), len(tail))
    return read


class _Anything(msgspec.Struct):
    pass


_CHECK = msgspec.json.Decoder(_Anything | list | str | int | float | bool | None)


def _is_json(line: bytes) -> bool:
    try:
        _CHECK.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False
    return True


def _parse_complete_lines(read: FileRead, buffer: bytearray, filled: int) -> int:
    """Parse the complete lines in ``buffer[:filled]`` that hold usage; return their length."""
    text = Str(buffer)  # a view, not a copy; every search below is bounded by `filled`
    last = text.rfind(_NEWLINE, 0, filled)
    if last < 0:
        return 0
    read.lines += text.count(_NEWLINE, 0, last + 1)
    find, rfind = text.find, text.rfind
    base = read.end_offset
    # A match cannot cross a newline, so every match before `last` lies in a complete line.
    at = find(USAGE_MARKER, 0, last)
    while at >= 0:
        begin = rfind(_NEWLINE, 0, at) + 1
        end = find(_NEWLINE, at, last + 1)
        parsed = parse_usage_line(buffer[begin:end])  # one copy: msgspec reads a bytearray as well
        _record(read, parsed, base + begin)
        at = find(USAGE_MARKER, end, last)
    scan_block(read.activity, buffer, text, last)
    return last + 1


def _record(read: FileRead, parsed: Parsed, offset: int) -> None:
    if parsed.problem is not None:
        read.problems[parsed.problem] = read.problems.get(parsed.problem, 0) + 1
        read.problem_offsets[parsed.problem] = offset
    if parsed.synthetic:
        read.synthetic += 1
        if parsed.api_error is not None:
            api_error_event(read.activity, parsed.api_error)
    if parsed.response is not None:
        read.responses.append(parsed.response)
        read.usage_lines += 1
        if parsed.blocks:
            tool_uses_of(read.activity, parsed.response, parsed.blocks)
