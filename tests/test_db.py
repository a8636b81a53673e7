import sqlite3
import subprocess
import sys
import threading

from ccledger.ledger.db import open_db
from ccledger.ledger.schema import MIGRATIONS


def test_a_blank_ledger_gets_the_schema(tmp_path):
    db = open_db(tmp_path / "blank.db")
    assert {"files", "responses", "file_problems", "repos", "index_runs"} <= set(db.table_names())
    assert list(db["responses"].columns_dict) == [
        "key", "message_id", "request_id", "timestamp_utc", "session_id", "agent_id", "is_sidechain",
        "model", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
        "cache_read_tokens", "web_search_requests", "speed", "service_tier", "inference_geo", "cwd",
        "git_branch", "repo_id", "machine", "cc_version", "from_progress", "file_id", "tools",
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
    code = "import sys; from ccledger.ledger.db import open_db; open_db(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE) for _ in range(6)]
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr.decode()
    db = open_db(path)
    assert db.execute("select count(*) from _sqlite_migrations").fetchone()[0] == len(MIGRATIONS._migrations)
    db.close()


def test_a_new_ledger_waits_for_another_writer_to_enter_wal(tmp_path):
    # SQLite answers "database is locked" at once, not after the busy timeout, when a connection
    # enters WAL while another holds the write lock: two first indexes at once meet this.
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("begin immediate")
    release = threading.Timer(0.3, holder.execute, ["commit"])
    release.start()
    try:
        db = open_db(path)
    finally:
        release.join()
        holder.close()
    assert db.execute("pragma journal_mode").fetchone() == ("wal",)
    assert db.execute("select count(*) from _sqlite_migrations").fetchone()[0] == len(MIGRATIONS._migrations)
    db.close()


def test_a_ledger_from_before_the_key_index_keeps_every_row(tmp_path, real_projects):
    from sqlite_utils import Database

    from ccledger.ingest import index
    from ccledger.pricing import table as pricing

    # The responses as today's indexer writes them, in a ledger whose schema stops before m011
    # (the indexer itself needs the later ones: it cannot write into that schema directly).
    fresh = open_db(tmp_path / "fresh.db")
    index.refresh(fresh, [real_projects], parallel=False)
    fresh.close()
    path = tmp_path / "old.db"
    old = Database(path)
    old.execute("PRAGMA journal_mode=WAL")
    MIGRATIONS.apply(old, stop_before="m011_responses_key_index")
    assert "key TEXT PRIMARY KEY" in old.execute("select sql from sqlite_master where name = 'responses'").fetchone()[0]
    old.execute("attach database ? as fresh", [str(tmp_path / "fresh.db")])
    columns = ", ".join(row[1] for row in old.execute("PRAGMA table_info(responses)"))
    old.execute(f"insert into responses select {columns} from fresh.responses order by rowid")
    old.conn.commit()
    old.execute("detach database fresh")
    pricing.ensure_prices(old)
    old.execute("delete from responses where rowid % 7 = 0")  # rowids with gaps, as replacements leave
    old.conn.commit()
    rows = old.execute(f"select rowid, {columns} from responses order by rowid").fetchall()
    costs = old.execute("select sum(cost_nanousd), count(*) from response_costs").fetchone()
    old.close()

    db = open_db(path)
    assert db.execute(f"select rowid, {columns} from responses order by rowid").fetchall() == rows
    assert db.execute("select sum(cost_nanousd), count(*) from response_costs").fetchone() == costs
    indexes = {name for (name,) in db.execute("select name from sqlite_master where tbl_name = 'responses'")}
    assert indexes == {"responses", "responses_key", "responses_time", "responses_model", "responses_message"}
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    key = rows[0][1]
    db.execute("insert or replace into responses select * from responses where key = ?", [key])
    assert db.execute("select count(*) from responses where key = ?", [key]).fetchone() == (1,)  # still unique
    db.close()


def test_building_the_key_index_keeps_the_last_written_copy_of_a_key(tmp_path):
    from ccledger.ledger.db import restore_indexes
    from ccledger.ledger.deferred import KEY_INDEX

    db = open_db(tmp_path / "l.db")
    db.execute(f"drop index {KEY_INDEX}")
    insert = "insert into responses (key, timestamp_utc, is_sidechain, model, input_tokens, output_tokens,"
    insert += " cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, web_search_requests, machine,"
    insert += " from_progress) values (?, '2026-11-20T09:00:00.000Z', 0, 'm', 1, ?, 0, 0, 0, 0, 'x', 0)"
    for key, output in (("a", 1), ("b", 2), ("a", 3), ("c", 4), ("a", 5)):
        db.execute(insert, [key, output])
    db.conn.commit()
    restore_indexes(db)
    assert db.execute("select key, output_tokens from responses order by key").fetchall() == [
        ("a", 5),
        ("b", 2),
        ("c", 4),
    ]
    assert KEY_INDEX in {name for (name,) in db.execute("select name from sqlite_master where type = 'index'")}
    db.close()
