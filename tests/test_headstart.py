"""The head start of ``ccledger index``: a helper process started before the ledger is opened."""

import json
import os
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from conftest import REAL_PROJECTS_TOTALS, many_files, share_anything, totals

from ccledger.ingest import index
from ccledger.ingest.speedups import headstart
from ccledger.ingest.speedups import spawn as spawn_module
from ccledger.ledger.db import open_db


@pytest.fixture
def spawned(monkeypatch) -> list:
    """The helper processes the head start starts."""
    processes = []
    spawn = spawn_module.spawn_helper

    def recording_spawn():
        processes.append(spawn())
        return processes[-1]

    monkeypatch.setattr(spawn_module, "spawn_helper", recording_spawn)
    return processes


def _shared_head_start(claude_dir, monkeypatch, args: list[str]) -> headstart.HeadStart:
    """A head start whose helper reads two copies of the real corpus (small: shared anyway)."""
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    head_start = headstart.start(args)
    assert head_start is not None and head_start.helper is not None
    return head_start


def _no_second_helper(monkeypatch) -> None:
    def second_helper(*args, **kwargs):
        raise AssertionError("the refresh started a helper of its own")

    monkeypatch.setattr(index, "Helper", second_helper)


def test_the_helper_reads_before_the_ledger_exists_and_the_refresh_adopts_it(claude_dir, monkeypatch, spawned):
    ledger = Path(os.environ["CCLEDGER_DB"])
    head_start = _shared_head_start(claude_dir, monkeypatch, ["--json"])
    assert len(spawned) == 1  # started before the plans were made: there was no ledger yet
    time.sleep(1.0)  # the helper reads (most likely all of its share) meanwhile
    assert not ledger.exists()  # it never creates the ledger: only open_db does, migrated
    _no_second_helper(monkeypatch)
    with closing(open_db()) as db:
        stats = index.refresh(db, head_start=head_start)
        assert totals(db) == REAL_PROJECTS_TOTALS
    assert stats.files_seen == stats.files_read == 2 * 99 and stats.new_responses == 878
    assert head_start.helper is None and spawned[0].returncode == 0


def test_a_head_start_whose_plans_no_longer_hold_is_dropped(claude_dir, monkeypatch, spawned):
    head_start = _shared_head_start(claude_dir, monkeypatch, [])
    with closing(open_db()) as db:
        index.refresh(db, [claude_dir])  # another indexer gets there first
        stats = index.refresh(db, head_start=head_start)
        assert totals(db) == REAL_PROJECTS_TOTALS  # nothing counted twice
    assert stats.files_read == 0 and stats.new_responses == 0
    assert spawned[0].returncode is not None  # ended, not left behind


def test_a_head_start_for_other_roots_is_dropped(claude_dir, monkeypatch, spawned, tmp_path):
    head_start = _shared_head_start(claude_dir, monkeypatch, ["--root", str(claude_dir)])
    other = tmp_path / "other"
    (other / "projects").mkdir(parents=True)
    with closing(open_db()) as db:
        stats = index.refresh(db, [other], head_start=head_start)
        assert stats.roots == [str(other)] and stats.files_seen == 0
        assert db.execute("select count(*) from responses").fetchone() == (0,)
    assert spawned[0].returncode is not None


def test_a_small_first_index_ends_the_helper_started_early(real_projects, monkeypatch, spawned):
    monkeypatch.setattr(spawn_module, "usable_cpus", lambda: 2)  # a CPU to spare: started early
    monkeypatch.setattr(spawn_module, "PARALLEL_BYTES", 64 << 20)
    head_start = headstart.start(["--quiet"])
    assert head_start is not None and head_start.helper is None  # 11 MB of 64: not worth sharing
    assert len(spawned) == 1 and spawned[0].returncode is not None
    with closing(open_db()) as db:
        stats = index.refresh(db, head_start=head_start)
        assert totals(db) == REAL_PROJECTS_TOTALS
    assert stats.files_read == 99


def test_a_ledger_that_exists_is_planned_against_before_any_helper_starts(real_projects, monkeypatch, spawned):
    monkeypatch.setattr(spawn_module, "PARALLEL_BYTES", 64 << 20)  # the first index alone
    with closing(open_db()) as db:
        index.refresh(db)
        share_anything(monkeypatch)
        head_start = headstart.start([])
        assert head_start is not None and head_start.helper is None and spawned == []  # nothing to read
        assert index.refresh(db, head_start=head_start).files_read == 0


def test_an_unreadable_ledger_means_no_head_start(real_projects, monkeypatch, spawned):
    share_anything(monkeypatch)  # enough to share: the ledger is read
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
    script = (  # the command leaves through os._exit: look just before
        "import os, sys; from ccledger.entry import main; sys.argv = ['ccledger', 'index', '--json']\n"
        "leave = os._exit\n"
        "os._exit = lambda code: (print('pydantic' in sys.modules, file=sys.stderr), leave(code))\n"
        "main()"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["new_responses"] == 878
    assert done.stderr.strip() == "False"


def test_below_the_sharing_threshold_the_files_table_is_read_once(real_projects, monkeypatch, spawned):
    monkeypatch.setattr(spawn_module, "PARALLEL_BYTES", 64 << 20)
    with closing(open_db()) as db:
        index.refresh(db)

        def read_twice(ledger):
            raise AssertionError("the head start read the files table the refresh reads")

        monkeypatch.setattr(headstart, "_known_files", read_twice)
        head_start = headstart.start([])  # 11 MB of transcripts in all, of 64: never worth a helper
        assert head_start is not None and spawned == []
        assert index.refresh(db, head_start=head_start).files_read == 0


def test_one_usable_cpu_is_never_worth_a_helper(monkeypatch):
    # The affinity a container or `taskset` grants counts, not the machine's CPUs.
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert spawn_module.usable_cpus() == 1
    assert not spawn_module.worth_sharing(1 << 40)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert spawn_module.usable_cpus() == 3 and spawn_module.worth_sharing(spawn_module.PARALLEL_BYTES)
