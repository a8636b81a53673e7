"""Shared fixtures. Every test runs against its own Claude dir and ledger under tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from ccledger.ledger.db import open_db

FIXTURES = Path(__file__).parent / "fixtures"
REAL_PROJECTS = FIXTURES / "real_projects"

# ../shared/corpora/README.md: ccusage 20.0.24 agrees with these to the token.
REAL_PROJECTS_TOTALS = {
    "responses": 878,
    "input_tokens": 60_832,
    "output_tokens": 181_363,
    "cache_write_5m_tokens": 2_353_992,
    "cache_write_1h_tokens": 111_225,
    "cache_read_tokens": 36_970_931,
}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Keep every test off the user's real ~/.claude and ledger."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / ".local" / "share"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CCLEDGER_DB", str(tmp_path / "ledger.db"))
    monkeypatch.setenv("CCLEDGER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CCLEDGER_MACHINE", "test-machine")
    monkeypatch.setenv("TZ", "UTC")


@pytest.fixture
def claude_dir(tmp_path) -> Path:
    """An empty Claude config dir (CLAUDE_CONFIG_DIR) with its projects folder."""
    root = tmp_path / "claude"
    (root / "projects").mkdir(parents=True)
    return root


@pytest.fixture
def db(tmp_path):
    ledger = open_db(tmp_path / "ledger.db")
    yield ledger
    ledger.close()


@pytest.fixture
def real_projects(claude_dir) -> Path:
    """The real_projects corpus copied into the test's Claude dir."""
    shutil.copytree(REAL_PROJECTS / "projects", claude_dir / "projects", dirs_exist_ok=True)
    return claude_dir


def assistant_line(
    *,
    message_id: str = "msg_1",
    request_id: str | None = "req_1",
    session_id: str = "session-1",
    timestamp: str = "2026-11-20T09:05:07.512Z",
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: Any = 4,
    output_tokens: Any = 350,
    cache_write_5m: int | None = 1000,
    cache_write_1h: int | None = 0,
    cache_read: Any = 2000,
    cwd: str = "/home/u/repo",
    sidechain: bool = False,
    agent_id: str | None = None,
    speed: str | None = None,
    web_search_requests: int = 0,
    **extra: Any,
) -> str:
    """One assistant transcript line, shaped as Claude Code writes it."""
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": (cache_write_5m or 0) + (cache_write_1h or 0),
        "cache_read_input_tokens": cache_read,
        "output_tokens": output_tokens,
        "service_tier": "standard",
        "server_tool_use": {"web_search_requests": web_search_requests, "web_fetch_requests": 0},
    }
    if cache_write_5m is not None or cache_write_1h is not None:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": cache_write_5m or 0,
            "ephemeral_1h_input_tokens": cache_write_1h or 0,
        }
    if speed is not None:
        usage["speed"] = speed
    line: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session_id,
        "version": "2.1.114",
        "gitBranch": "main",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "secret prompt-derived text"}],
            "stop_reason": None,
            "usage": usage,
        },
        "type": "assistant",
        "uuid": f"uuid-{message_id}-{output_tokens}",
        "timestamp": timestamp,
    }
    if request_id is not None:
        line["requestId"] = request_id
    if agent_id is not None:
        line["agentId"] = agent_id
    line.update(extra)
    return json.dumps(line, separators=(",", ":"))


def progress_echo(message_id: str, request_id: str, output_tokens: int, agent_id: str = "a1") -> str:
    """A parent-transcript progress line echoing a subagent's assistant line (Claude Code 2.1.1x-4x)."""
    sub = json.loads(
        assistant_line(message_id=message_id, request_id=request_id, output_tokens=output_tokens, sidechain=True)
    )
    return json.dumps(
        {
            "type": "progress",
            "isSidechain": False,
            "sessionId": "session-1",
            "cwd": "/home/u/repo",
            "timestamp": "2026-11-20T09:06:00.000Z",
            "data": {
                "type": "agent_progress",
                "agentId": agent_id,
                "message": {
                    "type": "assistant",
                    "timestamp": sub["timestamp"],
                    "message": sub["message"],
                    "requestId": request_id,
                    "uuid": f"echo-{message_id}",
                },
                "normalizedMessages": [],
            },
        }
    )


def write_lines(path: Path, *lines: str, newline_at_end: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + ("\n" if newline_at_end else "")
    path.write_text(text, encoding="utf-8")
    return path


def totals(db) -> dict[str, int]:
    row = next(
        db.query(
            """
            select count(*) as responses,
                   coalesce(sum(input_tokens), 0) as input_tokens,
                   coalesce(sum(output_tokens), 0) as output_tokens,
                   coalesce(sum(cache_write_5m_tokens), 0) as cache_write_5m_tokens,
                   coalesce(sum(cache_write_1h_tokens), 0) as cache_write_1h_tokens,
                   coalesce(sum(cache_read_tokens), 0) as cache_read_tokens
            from responses
            """
        )
    )
    return dict(row)


def many_files(claude_dir: Path, copies: int) -> None:
    """The real corpus, hard-linked ``copies`` times: many files, the same responses."""
    for n in range(copies):
        for source in (REAL_PROJECTS / "projects").rglob("*.jsonl"):
            target = claude_dir / "projects" / f"copy{n}" / source.relative_to(REAL_PROJECTS / "projects")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def share_anything(monkeypatch) -> None:
    """Share every refresh with a helper process, however small, as on a machine with a CPU to
    spare: the helper's path runs (and is tested) whatever this machine has."""
    from ccledger.ingest.speedups import spawn

    monkeypatch.setattr(spawn, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(spawn, "usable_cpus", lambda: 2)
