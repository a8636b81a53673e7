import subprocess
import sys

from ccledger.db import MIGRATIONS, open_db


def test_a_blank_ledger_gets_the_schema(tmp_path):
    db = open_db(tmp_path / "blank.db")
    assert {"files", "responses", "file_problems", "repos", "index_runs"} <= set(db.table_names())
    assert list(db["responses"].columns_dict) == [
        "key", "message_id", "request_id", "timestamp_utc", "session_id", "agent_id", "is_sidechain",
        "model", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
        "cache_read_tokens", "web_search_requests", "speed", "service_tier", "inference_geo", "cwd",
        "git_branch", "repo_id", "machine", "cc_version", "from_progress", "file_id",
    ]  # fmt: skip
    applied = [m.name for m in MIGRATIONS.applied(db)]
    assert applied == [m.name for m in MIGRATIONS._migrations]
    assert applied[0] == "m001_initial"
    assert db.execute("pragma journal_mode").fetchone() == ("wal",)
    db.close()


def test_reopening_applies_nothing_twice(tmp_path):
    open_db(tmp_path / "l.db").close()
    db = open_db(tmp_path / "l.db")
    assert db.execute("select count(*) from _sqlite_migrations").fetchone()[0] == len(MIGRATIONS._migrations)
    db.close()


def test_processes_opening_a_new_ledger_at_once(tmp_path):
    path = tmp_path / "race.db"
    code = "import sys; from ccledger.db import open_db; open_db(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE) for _ in range(6)]
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr.decode()
    db = open_db(path)
    assert db.execute("select count(*) from _sqlite_migrations").fetchone()[0] == len(MIGRATIONS._migrations)
    db.close()
