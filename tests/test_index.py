"""The indexer against real files on disk and a real SQLite ledger."""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import (
    REAL_PROJECTS_TOTALS,
    assistant_line,
    many_files,
    progress_echo,
    share_anything,
    totals,
    write_lines,
)

from ccledger.ingest import file_result, index, merge, scan
from ccledger.ingest.repos import RepoCache
from ccledger.ingest.scan import planned_bytes
from ccledger.ingest.speedups import helper_client as sharing
from ccledger.ingest.speedups import spawn as spawn_module
from ccledger.ledger.db import open_db
from ccledger.ledger.deferred import DEFERRABLE_ACTIVITY, DEFERRABLE_INDEXES, drop_deferrable


def session_file(claude_dir: Path, name: str = "s1.jsonl", project: str = "-home-u-repo") -> Path:
    return claude_dir / "projects" / project / name


def test_real_projects_totals_are_exact(db, real_projects):
    stats = index.refresh(db, [real_projects])
    assert totals(db) == REAL_PROJECTS_TOTALS
    assert stats.new_responses == 878
    assert stats.files_seen == stats.files_read == 99
    assert stats.bad_lines == 0 and stats.errors == []


def test_a_second_refresh_reads_nothing(db, real_projects):
    index.refresh(db, [real_projects])
    again = index.refresh(db, [real_projects])
    assert (again.files_read, again.new_responses, again.updated_responses) == (0, 0, 0)
    assert totals(db) == REAL_PROJECTS_TOTALS


def test_default_roots_come_from_claude_config_dir(db, real_projects, monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path / 'absent'}, {real_projects / 'projects'}")
    stats = index.refresh(db)
    assert stats.roots == [str(tmp_path / "absent"), str(real_projects)]
    assert totals(db)["responses"] == 878


def test_xdg_and_home_roots_when_claude_config_dir_is_unset(db, monkeypatch, tmp_path):
    monkeypatch.delenv("CLAUDE_CONFIG_DIR")
    xdg = tmp_path / "home" / ".config" / "claude"
    home = tmp_path / "home" / ".claude"
    write_lines(xdg / "projects" / "p" / "a.jsonl", assistant_line(message_id="m1"))
    write_lines(home / "projects" / "p" / "b.jsonl", assistant_line(message_id="m2"))
    stats = index.refresh(db)
    assert stats.roots == [str(xdg), str(home)]
    assert totals(db)["responses"] == 2


def test_subagent_files_are_found_recursively(db, claude_dir):
    write_lines(session_file(claude_dir), assistant_line(message_id="m1"))
    sub = claude_dir / "projects" / "-home-u-repo" / "s1" / "subagents" / "agent-a1.jsonl"
    write_lines(sub, assistant_line(message_id="m2", sidechain=True, agent_id="a1"))
    index.refresh(db, [claude_dir])
    row = db.execute("select agent_id, is_sidechain, session_id from responses where message_id='m2'").fetchone()
    assert row == ("a1", 1, "session-1")


def test_incremental_append_reads_only_new_lines(db, claude_dir):
    path = write_lines(session_file(claude_dir), assistant_line(message_id="m1"))
    index.refresh(db, [claude_dir])
    size_before = path.stat().st_size
    with path.open("a") as handle:
        handle.write(assistant_line(message_id="m2") + "\n")
    stats = index.refresh(db, [claude_dir])
    assert stats.files_read == 1 and stats.new_responses == 1
    assert stats.bytes_read == path.stat().st_size - size_before
    assert totals(db)["responses"] == 2


def test_streaming_copies_keep_the_largest(db, claude_dir):
    # Claude Code writes one line per content block; output_tokens grows.
    write_lines(
        session_file(claude_dir),
        assistant_line(output_tokens=1),
        assistant_line(output_tokens=1502),
        assistant_line(output_tokens=7),
    )
    index.refresh(db, [claude_dir])
    assert totals(db)["output_tokens"] == 1502 and totals(db)["responses"] == 1


def test_copies_across_files_count_once_whatever_the_order(db, claude_dir):
    # Resumed sessions copy earlier lines into the new session's file.
    write_lines(session_file(claude_dir, "new.jsonl"), assistant_line(output_tokens=10, session_id="new"))
    index.refresh(db, [claude_dir])
    write_lines(session_file(claude_dir, "old.jsonl"), assistant_line(output_tokens=900, session_id="old"))
    stats = index.refresh(db, [claude_dir])
    assert stats.updated_responses == 1
    assert totals(db)["output_tokens"] == 900 and totals(db)["responses"] == 1
    assert db.execute("select session_id from responses").fetchone()[0] == "old"  # the whole line wins


def test_sidechain_replay_with_new_request_id_counts_once(db, claude_dir):
    write_lines(
        session_file(claude_dir, "btw.jsonl", "-home-u-repo/s1/subagents"),
        assistant_line(request_id="req_replay", sidechain=True, output_tokens=350),
    )
    index.refresh(db, [claude_dir])
    write_lines(session_file(claude_dir), assistant_line(request_id="req_1", output_tokens=350))
    index.refresh(db, [claude_dir])
    rows = db.execute("select key, is_sidechain from responses").fetchall()
    assert rows == [("msg_1:req_1", 0)]  # the parent's copy replaced the replay


def test_a_replacement_takes_a_rowid_past_every_earlier_one(db, claude_dir):
    # A team sync sends the rows past the highest rowid it sent: a replacement must never take
    # the rowid of the rival it deletes, even when that rival held the highest one.
    write_lines(session_file(claude_dir), assistant_line(message_id="first"))
    write_lines(
        session_file(claude_dir, "btw.jsonl", "-home-u-repo/s1/subagents"),
        assistant_line(request_id="req_replay", sidechain=True, output_tokens=350),
    )
    index.refresh(db, [claude_dir])
    ((highest,),) = db.execute("select max(rowid) from responses").fetchall()
    assert db.execute("select key from responses where rowid = ?", [highest]).fetchone() == ("msg_1:req_replay",)
    write_lines(session_file(claude_dir, "s2.jsonl"), assistant_line(request_id="req_1", output_tokens=350))
    index.refresh(db, [claude_dir])
    rows = db.execute("select rowid, key from responses order by rowid").fetchall()
    assert [key for _, key in rows] == ["first:req_1", "msg_1:req_1"]
    assert rows[-1][0] > highest


def test_same_message_id_different_requests_both_count_outside_sidechains(db, claude_dir):
    write_lines(session_file(claude_dir), assistant_line(request_id="req_a"), assistant_line(request_id="req_b"))
    index.refresh(db, [claude_dir])
    assert totals(db)["responses"] == 2


def test_progress_echoes_count_once_and_fill_gaps(db, claude_dir):
    write_lines(
        session_file(claude_dir),
        progress_echo("msg_sub", "req_sub", 5),
        progress_echo("msg_only_echoed", "req_x", 40),
    )
    write_lines(
        claude_dir / "projects" / "-home-u-repo" / "session-1" / "subagents" / "agent-a1.jsonl",
        assistant_line(message_id="msg_sub", request_id="req_sub", output_tokens=5, sidechain=True, agent_id="a1"),
    )
    index.refresh(db, [claude_dir])
    rows = dict(db.execute("select message_id, from_progress from responses").fetchall())
    assert rows == {"msg_sub": 0, "msg_only_echoed": 1}  # the real line wins a tie; the echo fills a gap


def test_half_written_last_line_is_read_next_time(db, claude_dir):
    path = session_file(claude_dir)
    full = assistant_line(message_id="m2")
    write_lines(path, assistant_line(message_id="m1"))
    with path.open("a") as handle:
        handle.write(full[:100])  # Claude Code is mid-write
    stats = index.refresh(db, [claude_dir])
    assert stats.bad_lines == 0 and totals(db)["responses"] == 1
    with path.open("a") as handle:
        handle.write(full[100:] + "\n")
    stats = index.refresh(db, [claude_dir])
    assert stats.new_responses == 1 and stats.bad_lines == 0
    assert totals(db)["responses"] == 2


def test_a_complete_last_line_without_newline_counts_once(db, claude_dir):
    path = write_lines(session_file(claude_dir), assistant_line(message_id="m1"), newline_at_end=False)
    index.refresh(db, [claude_dir])
    assert totals(db)["responses"] == 1
    with path.open("a") as handle:
        handle.write("\n" + assistant_line(message_id="m2") + "\n")
    index.refresh(db, [claude_dir])
    index.refresh(db, [claude_dir])
    assert totals(db)["responses"] == 2
    assert db.execute("select lines, read_offset, size from files").fetchone() == (
        2,
        path.stat().st_size,
        path.stat().st_size,
    )


def test_a_shrunk_file_is_read_again_without_double_counting(db, claude_dir):
    path = write_lines(session_file(claude_dir), assistant_line(message_id="m1"), assistant_line(message_id="m2"))
    index.refresh(db, [claude_dir])
    write_lines(path, assistant_line(message_id="m3"))
    stats = index.refresh(db, [claude_dir])
    assert stats.files_read == 1
    assert totals(db)["responses"] == 3  # nothing lost, nothing doubled


def test_a_replaced_file_is_read_again(db, claude_dir):
    path = write_lines(session_file(claude_dir), assistant_line(message_id="m1"))
    index.refresh(db, [claude_dir])
    replacement = path.with_suffix(".tmp")
    write_lines(
        replacement,
        assistant_line(message_id="m1"),
        assistant_line(message_id="m2"),
        assistant_line(message_id="m3"),
    )
    os.replace(replacement, path)  # a new inode under the same name
    index.refresh(db, [claude_dir])
    assert totals(db)["responses"] == 3


def test_a_rewrite_in_place_of_the_same_size_is_noticed(db, claude_dir):
    path = write_lines(session_file(claude_dir), assistant_line(message_id="mA", output_tokens=111))
    index.refresh(db, [claude_dir])
    with path.open("r+") as handle:  # same inode, same length, new content
        handle.write(assistant_line(message_id="mB", output_tokens=222))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    index.refresh(db, [claude_dir])
    assert {r[0] for r in db.execute("select message_id from responses")} == {"mA", "mB"}


def test_deleted_files_keep_their_rows_forever(db, claude_dir):
    path = write_lines(session_file(claude_dir), assistant_line(message_id="m1"))
    index.refresh(db, [claude_dir])
    path.unlink()
    stats = index.refresh(db, [claude_dir])
    assert stats.files_missing == 1
    assert totals(db)["responses"] == 1
    assert db.execute("select missing_since_utc is not null from files").fetchone() == (1,)
    write_lines(path, assistant_line(message_id="m1"), assistant_line(message_id="m2"))
    index.refresh(db, [claude_dir])
    assert db.execute("select missing_since_utc from files").fetchone() == (None,)
    assert totals(db)["responses"] == 2


def test_an_absent_root_does_not_mark_its_files_missing(db, claude_dir, tmp_path):
    write_lines(session_file(claude_dir), assistant_line())
    index.refresh(db, [claude_dir])
    shutil.move(claude_dir, tmp_path / "unmounted")
    assert index.refresh(db, [claude_dir]).files_missing == 0


def test_rows_record_repo_machine_and_file(db, claude_dir, tmp_path):
    repo = tmp_path / "work" / "api"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text('[remote "origin"]\n\turl = git@github.com:acme/api.git\n')
    (repo / "sub").mkdir()
    write_lines(session_file(claude_dir), assistant_line(cwd=str(repo / "sub")))
    index.refresh(db, [claude_dir])
    row = db.execute("select repo_id, machine, files.path from responses join files on files.id = file_id").fetchone()
    assert row == ("github.com/acme/api", "test-machine", str(session_file(claude_dir)))
    assert db.execute("select how from repos").fetchone() == ("remote",)


STORED_TYPES_SQL = """
select typeof(request_id), typeof(agent_id), typeof(speed), typeof(git_branch), typeof(repo_id),
       is_sidechain, typeof(is_sidechain), from_progress, typeof(from_progress)
from responses order by message_id
"""


@pytest.mark.parametrize("first_load", [False, True])
def test_missing_fields_are_stored_as_null_and_flags_as_integers(db, claude_dir, monkeypatch, first_load):
    # Rows travel to SQLite with "" for a missing text and 0/1 for a flag (see merge.NULLABLE_TEXT);
    # the ledger must still hold NULL and integers, on the first load's path and the merge's.
    if first_load:
        share_anything(monkeypatch)
    write_lines(
        session_file(claude_dir),
        assistant_line(message_id="bare", request_id=None, gitBranch="", cwd="/nowhere/at/all"),
        assistant_line(message_id="full", agent_id="a7", speed="fast", sidechain=True),
    )
    index.refresh(db, [claude_dir])
    assert db.execute(STORED_TYPES_SQL).fetchall() == [
        ("null", "null", "null", "null", "text", 0, "integer", 0, "integer"),
        ("text", "text", "text", "text", "text", 1, "integer", 0, "integer"),
    ]


def test_the_ledger_never_stores_content(db, claude_dir, tmp_path):
    write_lines(session_file(claude_dir), assistant_line())
    index.refresh(db, [claude_dir])
    db.close()
    for name in os.listdir(tmp_path):
        if name.startswith("ledger.db"):
            assert b"secret prompt-derived text" not in (tmp_path / name).read_bytes()


# --- bad input: each is counted and reported, none stops the run, nothing good is lost -------------


def good_lines() -> list[str]:
    return [assistant_line(message_id="good1"), assistant_line(message_id="good2")]


def index_with(db, claude_dir, *bad: bytes):
    path = session_file(claude_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    first, second = good_lines()
    path.write_bytes(first.encode() + b"\n" + b"\n".join(bad) + b"\n" + second.encode() + b"\n")
    stats = index.refresh(db, [claude_dir])
    assert totals(db)["responses"] == 2, "a good line was lost"
    return stats


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (b'{"type":"assistant","message":{"usage":', "invalid_json"),
        (assistant_line(message_id="cut").encode()[:-40], "invalid_json"),  # truncated mid-file
        (assistant_line(message_id="wrong", output_tokens="12").encode(), "invalid_usage"),
        (assistant_line(message_id="wrong", output_tokens=None).encode(), "invalid_usage"),
        (assistant_line(message_id="wrong", input_tokens=-5).encode(), "invalid_usage"),
        (assistant_line(message_id="wrong", cache_read=None).encode(), "invalid_usage"),
    ],
)
def test_bad_lines_are_counted_by_kind(db, claude_dir, bad, kind):
    stats = index_with(db, claude_dir, bad)
    assert stats.problems == {kind: 1} and stats.bad_lines == 1
    assert db.execute("select kind, count from file_problems").fetchall() == [(kind, 1)]
    assert db.execute("select bad_lines from files").fetchone() == (1,)


def test_non_utf8_lines_are_repaired_and_counted(db, claude_dir):
    line = assistant_line(message_id="latin1").encode().replace(b"secret", b"caf\xe9")
    stats = index_with(db, claude_dir)
    path = session_file(claude_dir)
    with path.open("ab") as handle:
        handle.write(line + b"\n")
    stats = index.refresh(db, [claude_dir])
    assert stats.problems == {"non_utf8_repaired": 1}
    assert totals(db)["responses"] == 3  # the usage in it was kept


def test_a_50_mb_line(db, claude_dir):
    huge = json.loads(assistant_line(message_id="huge", output_tokens=4242))
    huge["message"]["content"] = [{"type": "tool_use", "name": "Write", "input": {"content": "x" * 50_000_000}}]
    huge_user = b'{"type":"user","message":{"content":"' + b'"usage" ' * 6_000_000 + b'"}}'
    first, second = good_lines()
    path = session_file(claude_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\n".join([first.encode(), json.dumps(huge).encode(), huge_user, second.encode(), b""]))
    stats = index.refresh(db, [claude_dir])
    assert stats.new_responses == 3 and stats.bad_lines == 1  # the user line's quotes are not JSON
    assert db.execute("select output_tokens from responses where message_id = 'huge'").fetchone() == (4242,)


def test_an_empty_file_and_blank_lines(db, claude_dir):
    empty = session_file(claude_dir, "empty.jsonl")
    empty.parent.mkdir(parents=True)
    empty.touch()
    stats = index_with(db, claude_dir, b"", b"   ")
    assert stats.bad_lines == 0 and stats.errors == []


def test_a_directory_named_jsonl(db, claude_dir):
    folder = claude_dir / "projects" / "p" / "x.jsonl"
    folder.mkdir(parents=True)
    write_lines(folder / "inside.jsonl", assistant_line(message_id="inside"))
    stats = index.refresh(db, [claude_dir])
    assert [(e.path, e.error) for e in stats.errors] == [(str(folder), "not a regular file")]
    assert totals(db)["responses"] == 1  # the transcript inside the folder still counts
    assert db.execute("select error from files where path = ?", [str(folder)]).fetchone() == ("not a regular file",)
    assert index.refresh(db, [claude_dir]).errors[0].path == str(folder)  # reported every run


def test_a_fifo_that_replaced_a_transcript_after_the_scan_fails_without_waiting(claude_dir):
    # The scan saw a regular file; by the time it is read a FIFO with no writer stands there.
    fifo = claude_dir / "projects" / "p" / "s.jsonl"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    results = []
    reading = threading.Thread(
        target=lambda: results.append(file_result.read_file(str(fifo), 0, None, RepoCache(None), "m", bytearray(64))),
        daemon=True,
    )
    reading.start()
    reading.join(timeout=10)
    assert results, "reading a FIFO blocked"
    assert results[0].error is not None and results[0].read is None


def test_a_dangling_symlink(db, claude_dir):
    link = claude_dir / "projects" / "p" / "gone.jsonl"
    link.parent.mkdir(parents=True)
    link.symlink_to(claude_dir / "nowhere.jsonl")
    stats = index_with(db, claude_dir)
    assert [e.path for e in stats.errors] == [str(link)]


def without_root_file_access() -> None:
    """In the child before exec: make even root obey file permissions.

    Dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set removes them from
    the program about to run, so chmod 000 means what it says whoever runs the tests.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_an_unreadable_file(claude_dir, tmp_path):
    first, second = good_lines()
    write_lines(session_file(claude_dir), first, second)
    locked = write_lines(session_file(claude_dir, "locked.jsonl"), assistant_line(message_id="locked"))
    locked.chmod(0)
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude_dir)}
    command = [sys.executable, "-m", "ccledger", "index", "--json"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, preexec_fn=without_root_file_access)
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    assert stats["errors"] == [{"path": str(locked), "error": "permission denied"}]
    assert stats["new_responses"] == 2
    ledger = open_db()
    assert ledger.execute("select error from files where path = ?", [str(locked)]).fetchone() == ("permission denied",)
    ledger.close()
    locked.chmod(0o644)  # readable again: read next time, the error cleared
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert json.loads(run.stdout)["new_responses"] == 1
    ledger = open_db()
    assert ledger.execute("select error from files where path = ?", [str(locked)]).fetchone() == (None,)
    ledger.close()


# --- several processes ------------------------------------------------------------------------------


def run_index(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ccledger", "index", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_indexers_at_once_neither_fail_nor_double_count(claude_dir, tmp_path):
    many_files(claude_dir, 4)
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude_dir), "CCLEDGER_DB": str(tmp_path / "shared.db")}
    procs = [run_index(env) for _ in range(3)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr
    ledger = open_db(tmp_path / "shared.db")
    assert totals(ledger) == REAL_PROJECTS_TOTALS
    assert ledger.execute("select count(*), sum(lines) from files").fetchone() == (4 * 99, 4 * 3031)
    new = sum(json.loads(stdout)["new_responses"] for stdout, _ in outputs)
    assert new == 878
    ledger.close()


def test_a_killed_run_is_completed_exactly_by_the_next(claude_dir, tmp_path):
    many_files(claude_dir, 12)
    db_path = tmp_path / "killed.db"
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(claude_dir), "CCLEDGER_DB": str(db_path)}
    proc = run_index(env)
    deadline = time.monotonic() + 60
    read = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ledger = open_db(db_path)
            read = ledger.execute("select count(*) from files").fetchone()[0]
            ledger.close()
        except Exception:
            read = 0
        if read >= 100:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert 0 < read < 12 * 99, "the run was not caught half-way"
    result = subprocess.run(
        [sys.executable, "-m", "ccledger", "index", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["files_read"] < 12 * 99
    ledger = open_db(db_path)
    assert totals(ledger) == REAL_PROJECTS_TOTALS
    assert ledger.execute("select sum(lines) from files").fetchone() == (12 * 3031,)
    ledger.close()


def test_a_repaired_last_line_is_counted_once(db, claude_dir):
    path = session_file(claude_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(assistant_line(message_id="latin1").encode().replace(b"secret", b"caf\xe9"))  # no newline yet
    assert index.refresh(db, [claude_dir]).problems == {}
    assert totals(db)["responses"] == 1
    with path.open("ab") as handle:
        handle.write(b"\n")
    assert index.refresh(db, [claude_dir]).problems == {"non_utf8_repaired": 1}
    index.refresh(db, [claude_dir])
    assert db.execute("select kind, count from file_problems").fetchall() == [("non_utf8_repaired", 1)]
    assert totals(db)["responses"] == 1


def test_a_large_refresh_is_shared_with_a_helper_process(db, claude_dir, monkeypatch):
    many_files(claude_dir, 3)
    share_anything(monkeypatch)  # the corpus is small: share it anyway
    seen = []
    stats = index.refresh(db, [claude_dir], progress=lambda done, total: seen.append((done, total)))
    assert totals(db) == REAL_PROJECTS_TOTALS
    assert stats.files_read == 3 * 99 and stats.new_responses == 878 and stats.bad_lines == 0
    assert db.execute("select count(*), sum(lines) from files").fetchone() == (3 * 99, 3 * 3031)
    assert seen[-1][0] <= seen[-1][1]
    assert index.refresh(db, [claude_dir]).files_read == 0


def _helper_reads_all(monkeypatch):
    """Share even a small corpus, and keep this process from claiming any of the helper's plans."""
    share_anything(monkeypatch)
    monkeypatch.setattr(sharing.Helper, "claim", lambda self: [])


def _count_results(monkeypatch) -> list[int]:
    received: list[int] = []
    outcome = sharing.Helper._outcome
    monkeypatch.setattr(
        sharing.Helper, "_outcome", lambda self, message: received.append(message.number) or outcome(self, message)
    )
    return received


def test_the_helper_reads_and_the_refresh_writes(db, claude_dir, monkeypatch):
    many_files(claude_dir, 3)
    _helper_reads_all(monkeypatch)
    received = _count_results(monkeypatch)
    stats = index.refresh(db, [claude_dir])
    assert sorted(received) == list(range(3 * 99))  # every file came from the helper, once
    assert totals(db) == REAL_PROJECTS_TOTALS
    assert stats.files_read == 3 * 99 and stats.new_responses == 878


RESPONSE_INDEXES_SQL = "select name from sqlite_master where type = 'index' and tbl_name = 'responses' order by 1"


def _seen_at_each_write(monkeypatch, sql: str) -> list[list[tuple]]:
    """What ``sql`` reads as each batch of an index is written (the list fills as it runs)."""
    during: list[list[tuple]] = []
    write_batch = index._write_batch
    monkeypatch.setattr(
        index, "_write_batch", lambda db, *a: during.append(db.execute(sql).fetchall()) or write_batch(db, *a)
    )
    return during


def test_a_large_first_index_loads_without_the_deferrable_indexes(db, claude_dir, monkeypatch):
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    before = db.execute(RESPONSE_INDEXES_SQL).fetchall()
    during = _seen_at_each_write(monkeypatch, RESPONSE_INDEXES_SQL)
    index.refresh(db, [claude_dir])
    deferred = {(name,) for name in DEFERRABLE_INDEXES}
    assert deferred <= set(before) and all(not deferred & set(names) for names in during)
    assert db.execute(RESPONSE_INDEXES_SQL).fetchall() == before  # built again
    assert totals(db) == REAL_PROJECTS_TOTALS
    during.clear()
    write_lines(session_file(claude_dir), assistant_line(message_id="new"))  # not a first index: they stay
    index.refresh(db, [claude_dir])
    assert during and all(set(names) == set(before) for names in during)


ACTIVITY_OBJECTS_SQL = "select type, name, sql from sqlite_master where name in ({}) order by name".format(
    ", ".join(f"'{name}'" for name in DEFERRABLE_ACTIVITY)
)


def test_a_first_index_writes_activity_without_its_triggers_and_time_indexes(db, claude_dir, monkeypatch):
    many_files(claude_dir, 2)
    before = db.execute(ACTIVITY_OBJECTS_SQL).fetchall()
    assert {name for _, name, _ in before} == set(DEFERRABLE_ACTIVITY)
    assert {kind for kind, _, _ in before} == {"index", "trigger"}
    during = _seen_at_each_write(monkeypatch, ACTIVITY_OBJECTS_SQL)
    index.refresh(db, [claude_dir])
    assert during and all(names == [] for names in during)
    assert db.execute(ACTIVITY_OBJECTS_SQL).fetchall() == before  # the same definitions, again
    during.clear()
    write_lines(session_file(claude_dir), assistant_line(message_id="new"))  # not a first index: they stay
    index.refresh(db, [claude_dir])
    assert during and all(names == before for names in during)


def test_opening_the_ledger_creates_the_triggers_a_killed_first_index_dropped(tmp_path):
    ledger = open_db(tmp_path / "ledger.db")
    before = ledger.execute(ACTIVITY_OBJECTS_SQL).fetchall()
    drop_deferrable(ledger)
    assert ledger.execute(ACTIVITY_OBJECTS_SQL).fetchall() == []
    ledger.close()
    ledger = open_db(tmp_path / "ledger.db")
    assert ledger.execute(ACTIVITY_OBJECTS_SQL).fetchall() == before
    ledger.close()


def test_a_failed_first_index_builds_the_indexes_again(db, claude_dir, monkeypatch):
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    before = db.execute(RESPONSE_INDEXES_SQL).fetchall()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(index, "_write_batch", fail)
    with pytest.raises(OSError, match="disk full"):
        index.refresh(db, [claude_dir])
    assert db.execute(RESPONSE_INDEXES_SQL).fetchall() == before


def test_opening_the_ledger_builds_indexes_a_killed_first_index_dropped(tmp_path):
    ledger = open_db(tmp_path / "ledger.db")
    before = ledger.execute(RESPONSE_INDEXES_SQL).fetchall()
    for name in DEFERRABLE_INDEXES:
        ledger.execute(f"drop index {name}")
    ledger.close()
    ledger = open_db(tmp_path / "ledger.db")
    assert ledger.execute(RESPONSE_INDEXES_SQL).fetchall() == before
    ledger.close()


# --- a first index keeps what it wrote in memory for the merge (merge.FirstLoad) --------------------


def rivals_corpus(claude_dir: Path) -> None:
    """The real corpus twice, and copies of one response that compete in every way the merge knows:
    more tokens under the same key, sidechain replays under other request ids, progress echoes,
    lines without a message id, and two responses that share a message id outside sidechains."""
    many_files(claude_dir, 2)
    project = claude_dir / "projects" / "-home-u-rivals"
    write_lines(project / "a.jsonl", assistant_line(message_id="m1", output_tokens=10), progress_echo("m3", "r3", 7))
    write_lines(
        project / "b.jsonl",
        assistant_line(message_id="m1", output_tokens=90),  # outranks a.jsonl's copy
        assistant_line(message_id="m1", request_id="replay", sidechain=True, output_tokens=500),
        assistant_line(message_id="m2", request_id="side", sidechain=True),
    )
    write_lines(
        project / "c.jsonl",
        assistant_line(message_id="m2", request_id="parent"),  # replaces b.jsonl's sidechain copy
        assistant_line(message_id="m4", request_id="x"),
        assistant_line(message_id="m4", request_id="y"),
        assistant_line(message_id="", request_id=None, uuid="keyless", output_tokens=3),
    )
    write_lines(
        project / "s" / "subagents" / "agent-a1.jsonl",
        assistant_line(message_id="m3", request_id="r3", output_tokens=7, sidechain=True, agent_id="a1"),
        assistant_line(message_id="", request_id=None, uuid="keyless", output_tokens=30),
    )


def ledger_rows(db) -> list[tuple]:
    return db.execute("select * from responses order by key").fetchall()


def test_a_first_load_merges_in_memory_as_the_ledger_would(db, claude_dir, tmp_path, monkeypatch):
    rivals_corpus(claude_dir)
    monkeypatch.setattr(spawn_module, "PARALLEL_BYTES", 1 << 40)  # one reader: both read the files in one order
    first_load = index._first_load

    def no_first_load(db):
        yield None

    by_ledger = open_db(tmp_path / "by-ledger.db")
    monkeypatch.setattr(index, "_first_load", contextmanager(no_first_load))
    index.refresh(by_ledger, [claude_dir])  # rivals read from the ledger
    loads = []

    def recorded_first_load(db):  # the same files in the same order, merged in memory
        with first_load(db) as load:
            loads.append(load)
            yield load

    monkeypatch.setattr(index, "_first_load", contextmanager(recorded_first_load))
    monkeypatch.setattr(merge.Rivals, "from_ledger", None)  # fails if the merge asks the ledger
    write_batch, duplicates = index._write_batch, []

    def write_batch_and_count_duplicates(*args):  # what a reader sees after each commit
        write_batch(*args)
        duplicates.append(db.execute("select count(*) - count(distinct key) from responses").fetchone()[0])

    monkeypatch.setattr(index, "_write_batch", write_batch_and_count_duplicates)
    monkeypatch.setattr(index, "_BATCH_FILES", 20)
    stats = index.refresh(db, [claude_dir])
    assert isinstance(loads[0], merge.FirstLoad)
    assert len(duplicates) > 5 and not any(duplicates)  # no key index while loading, and no key twice
    assert ledger_rows(db) == ledger_rows(by_ledger)
    assert stats.updated_responses > 0 and totals(db) == totals(by_ledger)
    assert db.execute(RESPONSE_INDEXES_SQL).fetchall() == by_ledger.execute(RESPONSE_INDEXES_SQL).fetchall()
    by_ledger.close()


@pytest.mark.parametrize("opened", ["before the load", "during the load"])
def test_a_first_load_hands_the_merge_back_when_another_indexer_writes(db, claude_dir, tmp_path, monkeypatch, opened):
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    monkeypatch.setattr(index, "_BATCH_FILES", 20)
    monkeypatch.setattr(sharing.Helper, "claim", lambda self: [])
    ledger = db.conn.execute("PRAGMA database_list").fetchone()[2]
    # Opened before, the other connection found every index; opened during the load, its
    # open_db builds the ones the load dropped. Either way its copy must win, once.
    other = open_db(ledger) if opened == "before the load" else None
    write_batch, written, asked = index._write_batch, [], []

    def another_indexer_after_the_first_batch(*args):
        nonlocal other
        write_batch(*args)
        if written:
            return
        # A copy of a response the load has just written, with more output tokens.
        written.append(db.execute(COPIED_SQL).fetchone())
        fields = dict(zip(COPIED, written[0], strict=True))
        fields["sidechain"] = bool(fields["sidechain"])
        fields["output_tokens"] += 1_000_000
        write_lines(tmp_path / "other" / "projects" / "p" / "s.jsonl", assistant_line(**fields))
        other = other or open_db(ledger)
        index.refresh(other, [tmp_path / "other"], parallel=False)
        other.close()

    from_ledger = merge.Rivals.from_ledger
    monkeypatch.setattr(index, "_write_batch", another_indexer_after_the_first_batch)
    monkeypatch.setattr(merge.Rivals, "from_ledger", lambda db, c: asked.append(1) or from_ledger(db, c))
    index.refresh(db, [claude_dir])
    assert asked  # the batches after the other indexer's asked the ledger
    key = f"{written[0][0]}:{written[0][1]}"
    assert db.execute("select output_tokens from responses where key = ?", [key]).fetchall() == [
        (written[0][4] + 1_000_000,)
    ]
    expected = dict(REAL_PROJECTS_TOTALS)
    expected["output_tokens"] += 1_000_000  # the other indexer's copy outranks the corpus's, once
    assert totals(db) == expected
    assert db.execute(RESPONSE_INDEXES_SQL).fetchall() == [(name,) for name in sorted(DEFERRABLE_INDEXES)]


# A stored response as assistant_line's arguments.
COPIED = ["message_id", "request_id", "session_id", "input_tokens", "output_tokens", "cache_write_5m", "cache_write_1h",
          "cache_read", "timestamp", "model", "sidechain"]  # fmt: skip
COPIED_SQL = """
select message_id, request_id, session_id, input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
       cache_read_tokens, timestamp_utc, model, is_sidechain
from responses where message_id is not null and request_id is not null limit 1
"""


def test_two_first_loads_at_once_neither_fail_nor_double_count(claude_dir, tmp_path, monkeypatch):
    many_files(claude_dir, 3)
    share_anything(monkeypatch)  # both are large first loads, with helpers
    monkeypatch.setattr(index, "_BATCH_FILES", 20)
    path = tmp_path / "shared.db"
    open_db(path).close()
    stats, errors = [], []

    def first_load() -> None:
        ledger = open_db(path)
        try:
            stats.append(index.refresh(ledger, [claude_dir]))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            ledger.close()

    threads = [threading.Thread(target=first_load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(stats) == 2
    ledger = open_db(path)
    assert totals(ledger) == REAL_PROJECTS_TOTALS
    assert sum(s.new_responses for s in stats) == 878
    assert ledger.execute("select count(*), sum(lines) from files").fetchone() == (3 * 99, 3 * 3031)
    assert ledger.execute(RESPONSE_INDEXES_SQL).fetchall() == [(name,) for name in sorted(DEFERRABLE_INDEXES)]
    ledger.close()


def test_a_first_load_too_large_for_memory_asks_the_ledger(db, claude_dir, monkeypatch):
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    monkeypatch.setattr(index, "_BATCH_FILES", 20)
    monkeypatch.setattr(merge.FirstLoad, "MAX_KEYS", 50)
    asked = []
    from_ledger = merge.Rivals.from_ledger
    monkeypatch.setattr(merge.Rivals, "from_ledger", lambda db, c: asked.append(1) or from_ledger(db, c))
    index.refresh(db, [claude_dir])
    assert asked and totals(db) == REAL_PROJECTS_TOTALS


@pytest.mark.parametrize("claim_bytes", [1, 1 << 40])
def test_claims_take_runs_of_plans_up_to_a_size(db, claude_dir, monkeypatch, claim_bytes):
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    monkeypatch.setattr(sharing, "_CLAIM_BYTES", claim_bytes)
    claims: list[list] = []
    claim = sharing.Helper.claim
    monkeypatch.setattr(sharing.Helper, "claim", lambda self: claims.append(taken := claim(self)) or taken)
    stats = index.refresh(db, [claude_dir])
    assert totals(db) == REAL_PROJECTS_TOTALS and stats.files_read == 2 * 99
    taken = [run for run in claims if run]
    # No claim goes on once it has the size (empty files make none).
    assert all(sum(planned_bytes(plan) for plan in run[:-1]) < claim_bytes for run in taken)
    if claim_bytes > 1:  # the first claim took all that was left
        assert len(taken) <= 1 and claims[-1] == []


def test_a_file_read_by_both_sides_is_written_once(db, claude_dir, monkeypatch):
    many_files(claude_dir, 2)
    share_anything(monkeypatch)

    def claim_without_telling(self):  # as if every claim crossed the helper's start on that plan
        if self._claimed == 0:
            return []
        self._claimed -= 1
        return [self.plans[self._claimed]]

    monkeypatch.setattr(sharing.Helper, "claim", claim_without_telling)
    received = _count_results(monkeypatch)
    seen = []
    stats = index.refresh(db, [claude_dir], progress=lambda done, total: seen.append((done, total)))
    assert sorted(received) == list(range(2 * 99))  # the helper read them all too
    assert seen[-1][0] == seen[-1][1] and all(done <= total for done, total in seen)  # each file counts once
    assert totals(db) == REAL_PROJECTS_TOTALS
    assert stats.files_read == 2 * 99 and stats.new_responses == 878
    assert db.execute("select count(*), sum(lines) from files").fetchone() == (2 * 99, 2 * 3031)


# A helper that stops after sending three results, as a crash half-way would.
_CRASHING_HELPER = """
import os, ccledger.ingest.speedups.helper as helper
send = helper.write_frames
helper.write_frames = lambda out, results: send(out, (r for _, r in zip(range(3), results))) or os._exit(3)
helper.serve()
"""


@pytest.mark.parametrize(
    ("command", "sent"),
    [
        ([sys.executable, "-c", "import sys; sys.exit(3)"], 0),
        ([sys.executable, "-c", _CRASHING_HELPER], 3),
        ([sys.executable, "-c", "import sys; sys.stdout.write('garbage' * 100)"], 0),
    ],
    ids=["dies at once", "dies half-way", "sends garbage"],
)
def test_a_failed_helper_leaves_the_rest_to_the_refresh(db, claude_dir, monkeypatch, command, sent, caplog):
    many_files(claude_dir, 2)
    _helper_reads_all(monkeypatch)
    monkeypatch.setattr(spawn_module, "HELPER_COMMAND", command)
    received = _count_results(monkeypatch)
    stats = index.refresh(db, [claude_dir])
    assert "the helper indexer failed" in caplog.text
    assert len(received) == sent
    assert totals(db) == REAL_PROJECTS_TOTALS
    assert stats.files_read == 2 * 99 and stats.new_responses == 878
    assert db.execute("select count(*), sum(lines) from files").fetchone() == (2 * 99, 2 * 3031)


# --- the scan cache of a long-running process -----------------------------------------------------


def test_the_scan_cache_sees_appends_new_files_and_deletions_at_once(db, claude_dir):
    cache = scan.ScanCache()
    path = write_lines(session_file(claude_dir), assistant_line(message_id="m1"))
    index.refresh(db, [claude_dir], cache=cache)
    with path.open("a") as handle:  # the turn that just happened
        handle.write(assistant_line(message_id="m2") + "\n")
    assert index.refresh(db, [claude_dir], cache=cache).new_responses == 1
    write_lines(session_file(claude_dir, "s2.jsonl"), assistant_line(message_id="m3"))  # a new session
    assert index.refresh(db, [claude_dir], cache=cache).new_responses == 1
    path.unlink()
    assert index.refresh(db, [claude_dir], cache=cache).files_missing == 1
    assert totals(db)["responses"] == 3


def test_an_old_transcript_appended_to_is_seen_at_the_next_sweep(db, claude_dir):
    cache = scan.ScanCache(sweep_seconds=3600)
    path = write_lines(session_file(claude_dir), assistant_line(message_id="m1"))
    two_days_ago = time.time() - 2 * 86_400
    os.utime(path, (two_days_ago, two_days_ago))
    index.refresh(db, [claude_dir], cache=cache)
    with path.open("a") as handle:
        handle.write(assistant_line(message_id="m2") + "\n")
    assert index.refresh(db, [claude_dir], cache=cache).new_responses == 0  # cold: not stat-ed now
    cache.sweep_seconds = 0
    assert index.refresh(db, [claude_dir], cache=cache).new_responses == 1


def test_the_scan_cache_notices_another_process_writing(db, claude_dir, tmp_path):
    cache = scan.ScanCache()
    write_lines(session_file(claude_dir), assistant_line(message_id="m1"))
    assert cache.known(db) == {}
    other = open_db(tmp_path / "ledger.db")
    index.refresh(other, [claude_dir])  # another connection indexes the file
    other.close()
    assert list(cache.known(db)) == [str(session_file(claude_dir))]
    stats = index.refresh(db, [claude_dir], cache=cache)
    assert (stats.files_read, stats.new_responses) == (0, 0)


def test_a_session_claude_code_runs_now_is_seen_at_once_however_old_its_transcript(db, claude_dir):
    # Claude Code resumes a session from days ago: its transcript is cold to the cache, but the
    # running process names it in sessions/<pid>.json, so the turn it just wrote is in the answer.
    cache = scan.ScanCache(sweep_seconds=3600)
    path = write_lines(session_file(claude_dir, name="5f1c0b7e-resumed.jsonl"), assistant_line(message_id="m1"))
    two_days_ago = time.time() - 2 * 86_400
    os.utime(path, (two_days_ago, two_days_ago))
    index.refresh(db, [claude_dir], cache=cache)
    (claude_dir / "sessions").mkdir()
    (claude_dir / "sessions" / "4242.json").write_text(json.dumps({"pid": 4242, "sessionId": "5f1c0b7e-resumed"}))
    (claude_dir / "sessions" / "4243.json").write_text("not json")  # ignored, as any bad file there
    with path.open("a") as handle:
        handle.write(assistant_line(message_id="m2") + "\n")
    assert index.refresh(db, [claude_dir], cache=cache).new_responses == 1
