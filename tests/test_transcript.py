import json

import pytest
from conftest import assistant_line, progress_echo

from ccledger.ingest.transcript import Problem, parse_line
from ccledger.timestamps import normalize as normalize_timestamp


def parse(line: str | bytes):
    return parse_line(line.encode() if isinstance(line, str) else line)


def test_assistant_line_becomes_a_response():
    parsed = parse(assistant_line(cache_write_5m=1000, cache_write_1h=500, web_search_requests=2, speed="fast"))
    r = parsed.response
    assert parsed.problem is None
    assert r.key == "msg_1:req_1"
    assert (r.input_tokens, r.output_tokens, r.cache_read_tokens) == (4, 350, 2000)
    assert (r.cache_write_5m_tokens, r.cache_write_1h_tokens) == (1000, 500)
    assert r.web_search_requests == 2
    assert r.speed == "fast"
    assert r.session_id == "session-1"
    assert r.cwd == "/home/u/repo" and r.git_branch == "main" and r.cc_version == "2.1.114"
    assert r.timestamp_utc == "2026-11-20T09:05:07.512Z"
    assert r.total_tokens == 4 + 350 + 1000 + 500 + 2000


def test_no_content_is_kept():
    r = parse(assistant_line()).response
    assert "secret" not in repr(r)


def test_cache_writes_without_the_split_are_5_minute():
    r = parse(assistant_line(cache_write_5m=None, cache_write_1h=None)).response
    line = json.loads(assistant_line())
    line["message"]["usage"].pop("cache_creation")
    line["message"]["usage"]["cache_creation_input_tokens"] = 777
    r = parse(json.dumps(line)).response
    assert (r.cache_write_5m_tokens, r.cache_write_1h_tokens) == (777, 0)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"request_id": "req_9"}, "msg_1:req_9"),
        ({"request_id": None}, "msg_1"),  # the same in every session: a copy is the original
        ({"request_id": None, "requestRef": "7e77a702-a37e"}, "msg_1"),  # Claude Code 2.1.3xx
    ],
)
def test_keys(kwargs, key):
    assert parse(assistant_line(**kwargs)).response.key == key


def test_a_line_without_message_id_is_keyed_by_uuid_or_content():
    line = json.loads(assistant_line())
    del line["message"]["id"]
    assert parse(json.dumps(line)).response.key == f"uuid:{line['uuid']}"
    del line["uuid"]
    first = parse(json.dumps(line)).response.key
    assert first.startswith("line:") and first == parse(json.dumps(line)).response.key


def test_synthetic_messages_are_skipped():
    parsed = parse(assistant_line(model="<synthetic>", input_tokens=0, output_tokens=0))
    assert parsed.response is None and parsed.synthetic and parsed.problem is None


def test_a_missing_model_is_unknown_not_dropped():
    line = json.loads(assistant_line())
    del line["message"]["model"]
    assert parse(json.dumps(line)).response.model == "<unknown>"


def test_lines_without_usage_yield_nothing():
    user = {
        "type": "user",
        "message": {"role": "user", "content": "hello"},
        "timestamp": "2026-01-01T00:00:00Z",
    }
    parsed = parse(json.dumps(user))
    assert parsed.response is None and parsed.problem is None


def test_tool_result_usage_is_not_billed():
    # Task results carry the subagent's last call as toolUseResult.usage: not a response.
    user = {
        "type": "user",
        "message": {"role": "user", "content": [{"type": "tool_result", "content": "done"}]},
        "toolUseResult": {"usage": {"input_tokens": 5, "output_tokens": 9}, "totalTokens": 14},
        "timestamp": "2026-01-01T00:00:00Z",
    }
    assert parse(json.dumps(user)).response is None


def test_progress_echo_has_the_subagent_lines_key():
    sub = assistant_line(message_id="msg_sub", request_id="req_sub", sidechain=True, agent_id="a1")
    echo = parse(progress_echo("msg_sub", "req_sub", 350)).response
    original = parse(sub).response
    assert echo.key == original.key == "msg_sub:req_sub"
    assert echo.from_progress and echo.is_sidechain and echo.agent_id == "a1"
    assert echo.timestamp_utc == original.timestamp_utc
    assert original.outranks(echo) and not echo.outranks(original)


def test_other_progress_kinds_are_ignored():
    line = {
        "type": "progress",
        "data": {"type": "bash_progress", "output": '"usage": nope'},
        "timestamp": "x",
    }
    assert parse(json.dumps(line)).response is None


def test_pretty_separators_are_accepted():
    line = json.loads(assistant_line())
    assert parse(json.dumps(line, indent=None, separators=(", ", ": "))).response.key == "msg_1:req_1"


@pytest.mark.parametrize("value", ["12", None, -3, 1.5, True])
def test_wrong_token_types_are_an_invalid_usage_problem(value):
    parsed = parse(assistant_line(output_tokens=value))
    assert parsed.response is None
    assert parsed.problem == Problem.INVALID_USAGE


def test_wrong_envelope_types_are_dropped_not_fatal():
    line = json.loads(assistant_line())
    line["cwd"] = 123
    line["gitBranch"] = ["x"]
    line["isSidechain"] = "yes"
    parsed = parse(json.dumps(line))
    assert parsed.response is not None and parsed.problem is None
    assert parsed.response.cwd is None and parsed.response.git_branch is None
    assert parsed.response.output_tokens == 350


def test_invalid_json():
    assert parse(b'{"type":"assistant","message":{"usage":{"input_tokens":1').problem == Problem.INVALID_JSON
    assert parse(b'not json "usage"').problem == Problem.INVALID_JSON


def test_non_utf8_bytes_are_repaired_and_reported():
    good = assistant_line().encode()
    in_content = good.replace(b"secret", b"s\xff\xfecret")
    in_cwd = good.replace(b"/home/u/repo", b"/home/u/r\xe9po")
    for line in (in_content, in_cwd):
        parsed = parse_line(line)
        assert parsed.problem == Problem.NON_UTF8
        assert parsed.response is not None and parsed.response.output_tokens == 350
    assert parse_line(in_cwd).response.cwd == "/home/u/r\ufffdpo"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("2026-11-20T09:05:07.512Z", "2026-11-20T09:05:07.512Z"),
        ("2026-11-20T09:05:07Z", "2026-11-20T09:05:07.000Z"),
        ("2026-11-20T09:05:07.123456Z", "2026-11-20T09:05:07.123Z"),
        ("2026-11-20T10:05:07.5+01:00", "2026-11-20T09:05:07.500Z"),
        ("2026-11-20T09:05:07", "2026-11-20T09:05:07.000Z"),
        ("yesterday", None),
        ("2026-13-45T99:05:07.512Z", None),
        ("", None),
    ],
)
def test_timestamps(raw, normal):
    assert normalize_timestamp(raw) == normal


def test_a_usage_line_with_a_bad_timestamp_is_a_problem():
    assert parse(assistant_line(timestamp="soon")).problem == Problem.INVALID_TIMESTAMP


def test_outranks_prefers_parent_then_tokens_then_speed():
    small = parse(assistant_line(output_tokens=1)).response
    big = parse(assistant_line(output_tokens=500)).response
    replay = parse(assistant_line(output_tokens=900, sidechain=True)).response
    with_speed = parse(assistant_line(output_tokens=1, speed="standard")).response
    assert big.outranks(small) and not small.outranks(big)
    assert big.outranks(replay)
    assert with_speed.outranks(small)
    assert not small.outranks(parse(assistant_line(output_tokens=1)).response)  # ties keep the first
