"""Forks, resumes and copies: every API call counts once, in the session that made it.

``fixtures/claude_cli`` was written by the real Claude Code CLI (2.1.332) against a loopback
stand-in of the Messages API (``fixtures/claude_cli/record.py``): ``-p "hello"``, a resume, a
``--fork-session`` of it and a fork of that fork, four API calls in all (``calls.json``). Its
assistant lines carry ``requestRef`` and no ``requestId``, and a fork's file holds copies of its
parent's responses under its own ``sessionId``.
"""

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import share_anything, totals

from ccledger.answers import queries
from ccledger.ledger.db import open_db
from ccledger.update import update

FIXTURES = Path(__file__).parent / "fixtures"
CLI = FIXTURES / "claude_cli"
RECORDED = json.loads((CLI / "calls.json").read_text())
SESSIONS = RECORDED["sessions"]
CALLS = RECORDED["calls"]
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 12, 31, tzinfo=UTC)


def _copy(fixture: Path, claude_dir: Path, *names: str) -> None:
    """The fixture's transcripts (only those named, if any) under ``claude_dir``."""
    for source in (fixture / "projects").rglob("*.jsonl"):
        if names and source.stem not in names:
            continue
        target = claude_dir / "projects" / source.relative_to(fixture / "projects")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _by_session(db) -> dict[str, tuple[int, str | None]]:
    found = queries.sessions(db, since="all", zone=UTC_ZONE, now=NOW).sessions
    return {session.session_id: (session.responses, session.forked_from) for session in found}


def _own_cost_usd(session_id: str) -> float:
    """What Claude Code itself says the session cost: its latest cost-state line."""
    path = next((CLI / "projects").rglob(f"{session_id}.jsonl"))
    states = [json.loads(line) for line in path.read_text().splitlines() if '"cost-state"' in line]
    return max(state["totalCostUSD"] for state in states)


EXPECTED_SESSIONS = {
    SESSIONS["first"]: (2, None),  # "hello", then the resume in the same file
    SESSIONS["fork"]: (1, SESSIONS["first"]),
    SESSIONS["fork_of_fork"]: (1, SESSIONS["fork"]),
}


@pytest.mark.parametrize("helper", [False, True], ids=["alone", "with a helper"])
def test_a_fork_and_a_fork_of_a_fork_count_each_call_once(db, claude_dir, monkeypatch, helper):
    if helper:
        share_anything(monkeypatch)  # a first load merged in memory, with a helper process
    _copy(CLI, claude_dir)
    update(db, [claude_dir])
    assert totals(db) == {
        "responses": len(CALLS),
        "input_tokens": sum(call["input_tokens"] for call in CALLS),
        "output_tokens": sum(call["output_tokens"] for call in CALLS),
        "cache_write_5m_tokens": 0,
        "cache_write_1h_tokens": 0,
        "cache_read_tokens": 0,
    }
    summary = queries.usage_summary(db, since="all", zone=UTC_ZONE, now=NOW)
    # The fork of the fork carries the whole history in its cost-state: Claude Code's own figure.
    assert summary.totals.cost_usd == pytest.approx(_own_cost_usd(SESSIONS["fork_of_fork"]), abs=1e-9)
    assert _by_session(db) == EXPECTED_SESSIONS


def test_the_original_keeps_its_responses_whatever_order_the_files_come_in(db, claude_dir):
    # Newest fork first: its copies are all the ledger knows of the earlier calls for a while.
    seen = 0
    for name in ("fork_of_fork", "fork", "first"):
        _copy(CLI, claude_dir, SESSIONS[name])
        stats = update(db, [claude_dir])
        seen += stats.new_responses
        assert totals(db)["responses"] == seen
    assert seen == len(CALLS)
    assert _by_session(db) == EXPECTED_SESSIONS
    detail = queries.session_detail(db, SESSIONS["fork"])
    assert detail.forked_from == SESSIONS["first"] and detail.totals.responses == 1


def test_a_resumed_session_that_copied_a_response_without_request_id_counts_it_once(db, claude_dir):
    # An older Claude Code behind a gateway: no requestId, and no requestSessionId on the copy.
    _copy(FIXTURES / "copied_session", claude_dir)
    update(db, [claude_dir])
    assert totals(db)["responses"] == 2
    assert sum(responses for responses, _ in _by_session(db).values()) == 2


def test_a_ledger_from_before_m012_merges_its_copies_exactly(tmp_path, claude_dir):
    # Made by the previous release from the same transcripts (see fixtures/ledger_m011/make.py):
    # each copy was a row of its own there.
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.executescript((FIXTURES / "ledger_m011" / "ledger.sql").read_text())
        assert conn.execute("select count(*) from responses").fetchone()[0] == 12
    migrated = open_db(old)
    _copy(CLI, claude_dir)
    _copy(FIXTURES / "copied_session", claude_dir)
    fresh = open_db(tmp_path / "fresh.db")
    update(fresh, [claude_dir])
    rows = "select key, timestamp_utc, total_tokens, cost_nanousd from response_costs order by key"
    assert migrated.execute(rows).fetchall() == fresh.execute(rows).fetchall()
    assert totals(migrated) == totals(fresh) == {**totals(fresh), "responses": len(CALLS) + 2}
    # The rollup is rebuilt from the merged rows: answers agree with a ledger indexed afresh.
    update(migrated, [])
    assert queries.usage_summary(migrated, since="all", zone=UTC_ZONE, now=NOW).totals == (
        queries.usage_summary(fresh, since="all", zone=UTC_ZONE, now=NOW).totals
    )
    duplicates = "select count(*) from (select key from responses group by key having count(*) > 1)"
    assert migrated.execute(duplicates).fetchone()[0] == 0
    assert migrated.execute("select 1 from session_forks").fetchall() == []  # no copy was read since
