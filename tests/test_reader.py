"""The block reader against a line-by-line reference, at buffer sizes that cut lines anywhere."""

import os
import random

import pytest
from conftest import assistant_line, progress_echo

from ccledger.ingest import lines as reader
from ccledger.ingest.lines import read_head, read_usage_lines
from ccledger.ingest.transcript import parse_line


def reference(data: bytes, start: int = 0):
    """What reading ``data`` from ``start`` must give: split into lines, parse each."""
    keys, problems, offsets, complete = [], {}, {}, start
    lines = data[start:].split(b"\n")
    for line in lines[:-1]:
        parsed = parse_line(line)
        if parsed.response is not None:
            keys.append((parsed.response.key, parsed.response.output_tokens))
        if parsed.problem is not None:
            problems[parsed.problem] = problems.get(parsed.problem, 0) + 1
            offsets[parsed.problem] = complete
        complete += len(line) + 1
    tail = parse_line(lines[-1])
    if tail.response is not None:
        keys.append((tail.response.key, tail.response.output_tokens))
    return keys, problems, offsets, complete, len(lines) - 1


def transcript(seed: int) -> bytes:
    rng = random.Random(seed)
    lines = []
    for n in range(60):
        kind = rng.random()
        if kind < 0.5:
            line = assistant_line(message_id=f"m{n}", request_id=f"r{n}", output_tokens=rng.randrange(1, 500))
        elif kind < 0.6:
            line = progress_echo(f"p{n}", f"q{n}", rng.randrange(1, 500))
        elif kind < 0.7:
            line = '{"type":"assistant","message":{"usage":{"input_tokens":"12"}}}'  # invalid usage
        elif kind < 0.75:
            line = '{"type":"assistant", "usage" broken'  # invalid JSON
        else:  # a user line whose text mentions the marker, at any length
            line = '{"type":"user","message":{"content":"' + '\\"usage\\" ' * rng.randrange(0, 300) + '"}}'
        lines.append(line.encode())
    data = b"\n".join(lines)
    if seed % 2:
        data += b"\n"  # ends on a complete line; otherwise the last one is half-written
    return data


@pytest.fixture(params=["preadv", "seek and read"])
def reading(request, monkeypatch):
    """Both ways of reading a block: positional (where the platform has preadv) and the fallback."""
    if request.param == "seek and read":
        monkeypatch.setattr(reader, "read_at", reader._seek_and_read_at)
    elif not hasattr(os, "preadv"):
        pytest.skip("no preadv on this platform")
    return request.param


@pytest.mark.parametrize("size", [1, 7, 64, 333, 4096, 1 << 20])
@pytest.mark.parametrize("seed", range(4))
def test_any_buffer_size_reads_what_line_splitting_reads(size, seed, tmp_path, reading):
    data = transcript(seed)
    start = data.index(b"\n", len(data) // 3) + 1 if seed >= 2 else 0  # an incremental read, too
    read = read_at(tmp_path, data, start, bytearray(size))
    keys, problems, offsets, end, lines = reference(data, start)
    assert [(r.key, r.output_tokens) for r in read.responses] == keys
    assert dict(read.problems) == problems
    assert read.problem_offsets == offsets
    assert read.end_offset == end
    assert read.lines == lines
    assert read.bytes_read == len(data) - start


def test_the_callers_buffer_is_never_resized(tmp_path):
    buffer = bytearray(8)
    read_at(tmp_path, transcript(1), 0, buffer)
    assert len(buffer) == 8


def read_at(tmp_path, data: bytes, start: int, buffer: bytearray):
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_usage_lines(fd, start, buffer)
    finally:
        os.close(fd)


def test_the_head_is_read_from_the_start_whatever_was_read_before(tmp_path, reading):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"0123456789")
    fd = os.open(path, reader.OPEN_FLAGS)
    try:
        read_usage_lines(fd, 4, bytearray(4))
        assert read_head(fd, 4) == b"0123" and read_head(fd, 64) == b"0123456789"
    finally:
        os.close(fd)
