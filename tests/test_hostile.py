"""The threat model, one hostile input per row: what it is, and what must happen.

A user's ``~/.claude`` may hold transcripts rsynced from other machines, and Claude Code runs in
repositories someone else wrote. Nothing in a transcript or a repository may run code, hang,
exhaust memory or break a refresh; a bad line is counted and reported, and the good lines
around it are kept exactly.
"""

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import assistant_line, totals, write_lines

from ccledger.answers import pace, queries
from ccledger.answers import status as ledger_status
from ccledger.ingest import repos
from ccledger.ingest.speedups import spawn
from ccledger.surfaces import statusline
from ccledger.update import update

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ZONES = [ZoneInfo("UTC"), ZoneInfo("America/Los_Angeles"), ZoneInfo("Pacific/Kiritimati")]


# --- one line that would break every refresh --------------------------------------------------


def _at(timestamp: str) -> str:
    return assistant_line(message_id="bad", timestamp=timestamp)


HOSTILE_LINES = [
    # what it is, the line, the problem it is counted as
    ("a usage field of 2**63", assistant_line(message_id="bad", input_tokens=2**63), "invalid_usage"),
    ("a usage field of 2**70", assistant_line(message_id="bad", cache_read=2**70), "invalid_usage"),
    (
        "fields whose sum overflows a 64-bit integer",
        assistant_line(message_id="bad", input_tokens=2**62, output_tokens=2**62),
        "invalid_usage",
    ),
    ("a negative token count", assistant_line(message_id="bad", output_tokens=-5), "invalid_usage"),
    ("JSON nested 100,000 deep", '{"type":"assistant","usage":' + "[" * 100_000 + "]" * 100_000 + "}", "invalid_json"),
    (
        "a good response with a field nested 100,000 deep",
        assistant_line(message_id="bad")[:-1] + ',"x":' + "[" * 100_000 + "]" * 100_000 + "}",
        "invalid_json",
    ),
    (
        "the first moment datetime holds, east of UTC",
        assistant_line(message_id="bad", timestamp="0001-01-01T00:00:00+01:00"),
        "invalid_timestamp",
    ),
    ("the last moment datetime holds", _at("9999-12-31T23:59:59.999Z"), "invalid_timestamp"),
    ("a day no month has, in Claude Code's shape", _at("2026-02-31T10:00:00.000Z"), "invalid_timestamp"),
    ("year 1, read later in a western zone", _at("0001-01-01T00:00:00.000Z"), "invalid_timestamp"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "line", "problem"), HOSTILE_LINES, ids=[row[0] for row in HOSTILE_LINES])
def test_a_hostile_line_is_counted_and_the_lines_around_it_are_kept(db, claude_dir, what, line, problem):
    path = claude_dir / "projects" / "-home-u-repo" / "s1.jsonl"
    write_lines(
        path,
        assistant_line(message_id="before", timestamp="2026-11-20T09:00:00.000Z"),
        line,
        assistant_line(message_id="after", timestamp="2026-11-20T10:00:00.000Z"),
    )
    stats = update(db, [claude_dir])
    assert stats.problems == {problem: 1} and stats.bad_lines == 1
    assert totals(db)["responses"] == 2
    assert {row[0] for row in db.execute("select message_id from responses")} == {"before", "after"}
    for zone in ZONES:  # every question still answers, in zones either side of UTC
        assert queries.usage_summary(db, since="all", zone=zone, now=NOW).totals.responses == 2
        assert queries.sessions(db, since="all", zone=zone, now=NOW).total_sessions == 1
        assert len(pace.usage_blocks(db, since="all", until=None, zone=zone, now=NOW).blocks) == 1
    status = ledger_status.index_status(db, roots=[claude_dir], ledger_path="", prices_path="")
    assert status.bad_lines == 1 and status.problems[0].kind == problem
    assert update(db, [claude_dir]).files_read == 0  # and the next refresh has nothing to redo


HOSTILE_PERIODS = [
    # what a caller (often a model) asks for; each is an error it can act on, never a crash
    ("0001-01-01", None),
    ("0001-01-01T00:00:00+01:00", None),
    ("9999-12-31", None),
    ("9999-12", None),
    ("all", "9999-12-31"),
]


@pytest.mark.parametrize(("since", "until"), HOSTILE_PERIODS)
@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_a_period_at_the_edges_of_time_is_an_error_that_says_what_works(db, since, until, zone):
    with pytest.raises(queries.QueryError, match="outside the years the ledger can hold"):
        queries.usage_summary(db, since=since, until=until, zone=zone, now=NOW)


# --- repositories someone else wrote ----------------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _huge(path: Path) -> None:
    path.write_text('[remote "origin"]\n    url = https://github.com/acme/huge.git\n' + "#" * (2 << 20))


HOSTILE_REPOS = [
    # what it is, the .git entry it is made of, how it is made
    ("a .git/config that is a FIFO (reading it would wait forever)", "config", _fifo),
    ("a .git/commondir that is a FIFO", "commondir", _fifo),
    ("a .git/config linked to /dev/zero (reading it would exhaust memory)", "config", _dev_zero),
    ("a .git/commondir linked to /dev/zero", "commondir", _dev_zero),
    ("a 2 MiB .git/config", "config", _huge),
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize(("what", "entry", "make"), HOSTILE_REPOS, ids=[row[0] for row in HOSTILE_REPOS])
def test_a_hostile_git_folder_neither_hangs_nor_fills_memory(tmp_path, what, entry, make):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    make(repo / ".git" / entry)
    found: list[repos.RepoIdentity] = []
    worker = threading.Thread(target=lambda: found.append(repos.resolve_repo(str(repo / "src"))), daemon=True)
    worker.start()
    worker.join(timeout=60)  # a blocking read never returns: far more than the milliseconds this takes
    assert not worker.is_alive(), f"{what}: resolving the repository hung"
    assert found[0].repo_id == str(repo) and found[0].remote is None  # the git root, without its remote


def _evil_checkout(folder: Path, marker: Path) -> Path:
    """A repository that would run code if anything of it were imported or executed: a
    ``ccledger`` package and module shadowing ours, and git settings that run commands."""
    payload = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
    (folder / "ccledger").mkdir(parents=True)
    (folder / "ccledger" / "__init__.py").write_text(payload)
    (folder / "ccledger" / "__main__.py").write_text(payload)
    (folder / "ccledger.py").write_text(payload)
    (folder / ".git" / "hooks").mkdir(parents=True)
    command = f"{sys.executable} -c {payload!r}"
    (folder / ".git" / "config").write_text(
        f'[core]\n    fsmonitor = {command}\n    hooksPath = hooks\n[remote "origin"]\n'
        "    url = https://github.com/acme/evil.git\n"
    )
    for hook in ("post-checkout", "pre-commit", "post-index-change"):
        (folder / ".git" / "hooks" / hook).write_text(f"#!/bin/sh\n{command}\n")
        (folder / ".git" / "hooks" / hook).chmod(0o755)
    return folder


def test_a_repository_named_by_a_transcript_runs_nothing(db, claude_dir, tmp_path):
    marker = tmp_path / "marker"
    evil = _evil_checkout(tmp_path / "evil", marker)
    write_lines(claude_dir / "projects" / "-evil" / "s.jsonl", assistant_line(message_id="m", cwd=str(evil)))
    update(db, [claude_dir])
    assert db.execute("select repo_id from responses").fetchone()[0] == "github.com/acme/evil"
    assert not marker.exists()


def test_the_helper_process_imports_our_package_whatever_the_working_directory(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.chdir(_evil_checkout(tmp_path / "evil", marker))
    helper = spawn.spawn_helper()
    _, errors = helper.communicate(b"", timeout=120)  # no request: it starts, says so, ends
    assert b"ccledger.ingest.speedups.helper: no request on stdin" in errors  # ours, not theirs
    assert not marker.exists()


def test_the_statusline_background_index_imports_our_package_whatever_the_working_directory(tmp_path, monkeypatch):
    # The statusline starts `ccledger index` detached; run the very command it starts, from the
    # repository Claude Code would be in, and wait for it.
    marker = tmp_path / "marker"
    evil = _evil_checkout(tmp_path / "evil", marker)
    started: list[list[str]] = []
    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "Popen", lambda command, **options: started.append(command))
        assert statusline._refresh_in_background(str(tmp_path / "ledger.db"))
    result = subprocess.run(started[0], cwd=evil, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


# --- files that change under the reader ---------------------------------------------------------


def test_a_byte_order_mark_before_the_first_line_does_not_cost_that_line(db, claude_dir):
    path = claude_dir / "projects" / "-home-u-repo" / "s1.jsonl"
    path.parent.mkdir(parents=True)
    first, second = assistant_line(message_id="first"), assistant_line(message_id="second")
    path.write_bytes(b"\xef\xbb\xbf" + first.encode() + b"\n" + second.encode() + b"\n")
    stats = update(db, [claude_dir])
    assert stats.bad_lines == 0 and totals(db)["responses"] == 2


def test_a_transcript_rewritten_in_place_that_keeps_its_head_is_read_again(db, claude_dir):
    # rsync --inplace from another machine, say: the same inode and the same first 4 KiB, but a
    # response now stands before the offset the last read stopped at.
    path = claude_dir / "projects" / "-home-u-repo" / "s1.jsonl"
    prompt = '{"type":"user","message":{"role":"user","content":"' + "x" * 5000 + '"}}'
    write_lines(path, prompt, assistant_line(message_id="a"), assistant_line(message_id="b"))
    update(db, [claude_dir])
    inode, mtime = path.stat().st_ino, path.stat().st_mtime_ns
    rewritten = "\n".join([prompt, assistant_line(message_id="a"), assistant_line(message_id="inserted"),
                           assistant_line(message_id="b")]) + "\n"  # fmt: skip
    with path.open("r+") as file:
        file.write(rewritten)
    os.utime(path, ns=(mtime + 10**9, mtime + 10**9))
    assert path.stat().st_ino == inode
    stats = update(db, [claude_dir])
    assert stats.new_responses == 1 and stats.bad_lines == 0
    assert sorted(row[0] for row in db.execute("select message_id from responses")) == ["a", "b", "inserted"]


def test_absurd_usage_an_earlier_release_stored_is_dropped_and_counted(tmp_path, db, claude_dir):
    # Before m013 a field up to 2**63 - 1 went in, and sums over it broke every answer, even
    # after its transcript was deleted.
    from sqlite_utils import Database

    from ccledger.ledger.db import open_db
    from ccledger.ledger.schema import MIGRATIONS

    write_lines(claude_dir / "projects" / "-home-u-repo" / "s1.jsonl", assistant_line(message_id="good"))
    update(db, [claude_dir])
    old = Database(tmp_path / "old.db")
    MIGRATIONS.apply(old, stop_before="m013_files_tail_and_sane_usage")
    old.execute("attach database ? as fresh", [db.conn.execute("pragma database_list").fetchone()[2]])
    columns = ", ".join(row[1] for row in old.execute("pragma table_info(files)"))  # the columns before m013
    old.execute(f"insert into files ({columns}) select {columns} from fresh.files")
    columns = ", ".join(row[1] for row in old.execute("PRAGMA table_info(responses)"))
    old.execute(f"insert into responses select {columns} from fresh.responses")
    old.execute(
        "insert into responses select 'absurd', 'absurd', 'r', timestamp_utc, session_id, agent_id, is_sidechain,"
        " model, 9223372036854775807, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens,"
        " cache_read_tokens, web_search_requests, speed, service_tier, inference_geo, cwd, git_branch, repo_id,"
        " machine, cc_version, from_progress, file_id from fresh.responses"
    )
    old.conn.commit()
    old.close()
    migrated = open_db(tmp_path / "old.db")
    assert [row[0] for row in migrated.execute("select message_id from responses")] == ["good"]
    update(migrated, [])
    assert queries.usage_summary(migrated, since="all", zone=ZONES[1], now=NOW).totals.responses == 1
    assert migrated.execute("select kind, count from file_problems").fetchall() == [("invalid_usage", 1)]


# --- the ledger and its path --------------------------------------------------------------------


def _folder(path: Path) -> None:
    path.mkdir(parents=True)


def _not_sqlite(path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text("a shopping list, not a ledger\n" * 100)


def _under_a_file(path: Path) -> None:
    path.parent.write_text("a file where the ledger's folder should be")


def _from_a_newer_release(path: Path) -> None:
    from ccledger.ledger.db import open_db

    path.parent.mkdir(exist_ok=True)
    db = open_db(path)
    db["_sqlite_migrations"].insert({"migration_set": "ccledger", "name": "m999_from_the_future", "applied_at": "x"})
    db.close()


HOSTILE_LEDGERS = [
    # what CCLEDGER_DB names, how it is made, what the one line says
    ("a folder", "ledger.db", _folder, "names a folder"),
    ("a file that is not SQLite", "ledger.db", _not_sqlite, "is not a ccledger ledger"),
    ("a place that cannot be created", "file/ledger.db", _under_a_file, "cannot create the ledger's folder"),
    ("a ledger written by a newer ccledger", "ledger.db", _from_a_newer_release, "written by a newer ccledger"),
]


@pytest.mark.parametrize(("what", "name", "make", "says"), HOSTILE_LEDGERS, ids=[row[0] for row in HOSTILE_LEDGERS])
def test_a_ledger_that_cannot_be_used_is_one_clear_line_and_a_tool_error(tmp_path, claude_dir, what, name, make, says):
    import anyio
    from mcp import Client

    from ccledger.surfaces.server import build_server

    path = tmp_path / "bad" / name
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    make(path)
    write_lines(claude_dir / "projects" / "-home-u-repo" / "s1.jsonl", assistant_line())
    for command in (["report"], ["index"], ["status", "--json"]):
        result = subprocess.run(
            [sys.executable, "-P", "-m", "ccledger", *command],
            env={**os.environ, "CCLEDGER_DB": str(path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1 and result.stdout == "", (command, result.stderr)
        assert result.stderr.startswith("ccledger: ") and says in result.stderr and result.stderr.count("\n") == 1

    async def ask() -> str:
        async with Client(build_server(path, roots=[claude_dir])) as client:
            answer = await client.call_tool("usage_summary", {})
            assert answer.is_error
            return answer.content[0].text

    assert says in anyio.run(ask)


def test_a_read_only_ledger_answers_every_question_and_refuses_writes_clearly(tmp_path, claude_dir, monkeypatch):
    import anyio
    from mcp import Client

    from ccledger.ledger import db as ledger_db
    from ccledger.surfaces.server import build_server

    write_lines(claude_dir / "projects" / "-home-u-repo" / "s1.jsonl", assistant_line())
    ledger = ledger_db.open_db(tmp_path / "ledger.db")
    update(ledger, [claude_dir])
    ledger.close()
    # As on a read-only mount, or for a user who may not write the file (root may write anything,
    # so the check is what is replaced here; SQLite itself then refuses every write).
    monkeypatch.setattr(ledger_db, "_writable", lambda path: False)
    write_lines(claude_dir / "projects" / "-home-u-repo" / "s2.jsonl", assistant_line(message_id="new"))

    async def ask() -> tuple[int, str]:
        async with Client(build_server(tmp_path / "ledger.db", roots=[claude_dir])) as client:
            summary = await client.call_tool("usage_summary", {"since": "all"})
            assert not summary.is_error, summary.content[0].text
            for tool in ("sessions", "index_status", "burn_rate", "budget_status", "cost_by_repo"):
                answer = await client.call_tool(tool, {"since": "all"} if tool in ("sessions", "cost_by_repo") else {})
                assert not answer.is_error, (tool, answer.content[0].text)
            refused = await client.call_tool("set_budget", {"scope": "all", "period": "month", "amount_usd": 10})
            assert refused.is_error
            return summary.structured_content["totals"]["responses"], refused.content[0].text

    from ccledger.surfaces.cli import main

    monkeypatch.setattr(sys, "argv", ["ccledger", "index"])
    with pytest.raises(SystemExit) as exit_code:
        main()
    assert exit_code.value.code == 1  # and a one-line message on stderr (the cases above)
    responses, refusal = anyio.run(ask)
    assert responses == 1  # what the ledger holds: s2 could not be indexed into it
    assert "read-only" in refusal and "every question that only reads still answers" in refusal


def test_a_scan_older_than_the_ledger_row_does_not_read_an_active_transcript_again(db, claude_dir):
    # Concurrent `ccledger index` runs: one scans (a head start scans before it reads the ledger),
    # another reads the growing transcript on meanwhile. The first must go on from where the
    # ledger says, not take the file for shrunk and read it from byte 0.
    from ccledger.ingest import scan

    path = claude_dir / "projects" / "-home-u-repo" / "s1.jsonl"
    write_lines(path, assistant_line(message_id="a"))
    update(db, [claude_dir])
    stale = list(scan.scan([claude_dir], []))  # the size before the append
    with path.open("a") as file:
        file.write(assistant_line(message_id="b") + "\n")
    update(db, [claude_dir])  # the other indexer: the ledger now has read past the stale size
    write_lines(path, assistant_line(message_id="a"), assistant_line(message_id="b"), assistant_line(message_id="c"))
    known = scan.known_files(db.conn)
    [(item, previous, start)] = scan.make_plans(stale, known)
    assert previous is not None and start == previous.read_offset > stale[0].stat.st_size
    assert item.stat.st_size == path.stat().st_size  # planned against what is there now
