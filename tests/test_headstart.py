"""The head start of ``ccledger index``: a helper process started before the ledger is opened."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REAL_PROJECTS_TOTALS, many_files, totals

from ccledger import headstart, index, sharing
from ccledger.db import open_db


@pytest.fixture
def spawned(monkeypatch) -> list:
    """The helper processes the head start starts."""
    processes = []
    spawn = headstart.spawn_helper

    def recording_spawn():
        processes.append(spawn())
        return processes[-1]

    monkeypatch.setattr(headstart, "spawn_helper", recording_spawn)
    return processes


def _no_second_helper(monkeypatch) -> None:
    def second_helper(*args, **kwargs):
        raise AssertionError("the refresh started a helper of its own")

    monkeypatch.setattr(index, "Helper", second_helper)


def test_the_helper_reads_before_the_ledger_exists_and_the_refresh_adopts_it(claude_dir, monkeypatch, spawned):
    many_files(claude_dir, 2)
    monkeypatch.setattr(sharing, "PARALLEL_BYTES", 1)  # the corpus is small: share it anyway
    ledger = Path(os.environ["CCLEDGER_DB"])
    head_start = headstart.start(["--json"])
    assert head_start is not None and head_start.helper is not None
    assert len(spawned) == 1  # started before the plans were made: there was no ledger yet
    time.sleep(1.0)  # the helper reads (most likely all of its share) meanwhile
    assert not ledger.exists()  # it never creates the ledger: only open_db does, migrated
    _no_second_helper(monkeypatch)
    db = open_db()
    try:
        stats = index.refresh(db, head_start=head_start)
        assert totals(db) == REAL_PROJECTS_TOTALS
    finally:
        db.close()
    assert stats.files_seen == stats.files_read == 2 * 99 and stats.new_responses == 878
    assert head_start.helper is None and spawned[0].returncode == 0


def test_a_head_start_whose_plans_no_longer_hold_is_dropped(claude_dir, monkeypatch, spawned):
    many_files(claude_dir, 2)
    monkeypatch.setattr(sharing, "PARALLEL_BYTES", 1)
    head_start = headstart.start([])
    assert head_start is not None and head_start.helper is not None
    db = open_db()
    try:
        index.refresh(db, [claude_dir])  # another indexer gets there first
        stats = index.refresh(db, head_start=head_start)
        assert totals(db) == REAL_PROJECTS_TOTALS  # nothing counted twice
    finally:
        db.close()
    assert stats.files_read == 0 and stats.new_responses == 0
    assert spawned[0].returncode is not None  # ended, not left behind


def test_a_head_start_for_other_roots_is_dropped(claude_dir, monkeypatch, spawned, tmp_path):
    many_files(claude_dir, 2)
    monkeypatch.setattr(sharing, "PARALLEL_BYTES", 1)
    head_start = headstart.start(["--root", str(claude_dir)])
    assert head_start is not None and head_start.helper is not None
    other = tmp_path / "other"
    (other / "projects").mkdir(parents=True)
    db = open_db()
    try:
        stats = index.refresh(db, [other], head_start=head_start)
        assert stats.roots == [str(other)] and stats.files_seen == 0
        assert db.execute("select count(*) from responses").fetchone() == (0,)
    finally:
        db.close()
    assert spawned[0].returncode is not None


def test_a_small_first_index_ends_the_helper_started_early(real_projects, spawned):
    head_start = headstart.start(["--quiet"])
    assert head_start is not None and head_start.helper is None  # 6 MB: not worth sharing
    assert len(spawned) == 1 and spawned[0].returncode is not None
    db = open_db()
    try:
        stats = index.refresh(db, head_start=head_start)
        assert totals(db) == REAL_PROJECTS_TOTALS
    finally:
        db.close()
    assert stats.files_read == 99


def test_a_ledger_that_exists_is_planned_against_before_any_helper_starts(real_projects, monkeypatch, spawned):
    db = open_db()
    try:
        index.refresh(db)
        monkeypatch.setattr(sharing, "PARALLEL_BYTES", 1)
        head_start = headstart.start([])
        assert head_start is not None and head_start.helper is None and spawned == []  # nothing to read
        assert index.refresh(db, head_start=head_start).files_read == 0
    finally:
        db.close()


def test_an_unreadable_ledger_means_no_head_start(tmp_path, monkeypatch, spawned):
    Path(os.environ["CCLEDGER_DB"]).write_bytes(b"not a database" * 100)
    assert headstart.start([]) is None and spawned == []


@pytest.mark.parametrize(
    ("args", "roots"),
    [
        ([], "default"),
        (["--json", "--quiet"], "default"),
        (["--root", "a", "--root=b"], [Path("a"), Path("b")]),
        (["--help"], None),
        (["--jsn"], None),
        (["--root"], None),
        (["--root="], None),
    ],
)
def test_only_arguments_the_index_command_takes_get_a_head_start(args, roots, claude_dir, spawned):
    head_start = headstart.start(args)
    if roots is None:
        assert head_start is None and spawned == []
        return
    assert head_start is not None
    assert head_start.roots == ([claude_dir] if roots == "default" else roots)
    head_start.close()


def test_a_root_that_is_a_file_is_left_to_the_usage_error(tmp_path, spawned):
    (tmp_path / "file").write_text("")
    assert headstart.start(["--root", str(tmp_path / "file")]) is None and spawned == []


def test_the_index_command_creates_no_pydantic_model(real_projects, tmp_path):
    # The first pydantic model of a process costs 0.1 s of the core that writes the ledger.
    script = (
        "import sys; from ccledger.entry import main; sys.argv = ['ccledger', 'index', '--json']\n"
        "try: main()\n"
        "finally: print('pydantic' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["new_responses"] == 878
    assert done.stderr.strip() == "False"
