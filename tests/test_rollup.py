"""The rollup is a cache: after any change it must equal a fresh aggregation of the view."""

import pytest
from conftest import assistant_line, many_files, share_anything, write_lines

from ccledger.ingest import index
from ccledger.ingest.speedups import helper_client as sharing
from ccledger.ledger.buckets import bounds as bucket_bounds
from ccledger.ledger.db import open_db
from ccledger.ledger.deferred import DEFERRABLE_INDEXES, MODEL_INDEX
from ccledger.ledger.rollup import aggregate_rows, dirty_rows, ensure_rollup
from ccledger.pricing import table as pricing

GRAIN = "bucket_utc, session_id, model, canonical_model, repo_id, git_branch, machine"
SUMS = """count(*), sum(is_sidechain), sum(input_tokens), sum(output_tokens), sum(cache_write_5m_tokens),
       sum(cache_write_1h_tokens), sum(cache_read_tokens), sum(total_tokens), sum(web_search_requests),
       coalesce(sum(cost_nanousd), 0), sum(cost_nanousd is null),
       sum(case when cost_nanousd is null then total_tokens else 0 end), min(timestamp_utc), max(timestamp_utc)"""
EXPECTED_SQL = f"""
select * from (
    select substr(timestamp_utc, 1, 14)
           || printf('%02d', cast(substr(timestamp_utc, 15, 2) as integer) / 15 * 15) || ':00.000Z' as bucket_utc,
           session_id, model, canonical_model, repo_id, git_branch, machine, {SUMS}
    from response_costs group by {GRAIN}
) order by 1, 2, 3, 4, 5, 6, 7
"""
ACTUAL_SQL = f"""
select {GRAIN}, responses, subagent_responses, input_tokens, output_tokens, cache_write_5m_tokens,
       cache_write_1h_tokens, cache_read_tokens, total_tokens, web_search_requests, cost_nanousd,
       unpriced_responses, unpriced_tokens, first_utc, last_utc
from usage_rollup order by 1, 2, 3, 4, 5, 6, 7
"""


DAILY_GRAIN = "day_utc, session_id, model, canonical_model, repo_id, git_branch, machine"
EXPECTED_DAILY_SQL = f"""
select * from (
    select substr(timestamp_utc, 1, 10) as day_utc, session_id, model, canonical_model, repo_id, git_branch,
           machine, {SUMS}
    from response_costs group by {DAILY_GRAIN}
) order by 1, 2, 3, 4, 5, 6, 7
"""
ACTUAL_DAILY_SQL = ACTUAL_SQL.replace(GRAIN, DAILY_GRAIN).replace("usage_rollup", "usage_daily")
HOURLY_GRAIN = DAILY_GRAIN.replace("day_utc", "hour_utc")
EXPECTED_HOURLY_SQL = EXPECTED_DAILY_SQL.replace(
    "substr(timestamp_utc, 1, 10) as day_utc", "substr(timestamp_utc, 1, 13) as hour_utc"
).replace(DAILY_GRAIN, HOURLY_GRAIN)
ACTUAL_HOURLY_SQL = ACTUAL_SQL.replace(GRAIN, HOURLY_GRAIN).replace("usage_rollup", "usage_hourly")


def refresh_all(db, roots, prices_file=None):
    index.refresh(db, roots)
    pricing.ensure_prices(db, prices_file=prices_file)
    ensure_rollup(db)


def assert_exact(db):
    assert db.execute(ACTUAL_SQL).fetchall() == db.execute(EXPECTED_SQL).fetchall()
    assert db.execute(ACTUAL_DAILY_SQL).fetchall() == db.execute(EXPECTED_DAILY_SQL).fetchall()
    assert db.execute(ACTUAL_HOURLY_SQL).fetchall() == db.execute(EXPECTED_HOURLY_SQL).fetchall()
    assert db.execute("select count(*) from rollup_dirty").fetchone() == (0,)


def test_bucket_bounds():
    assert bucket_bounds("2026-11-20T09:44:59.999Z") == ("2026-11-20T09:30:00.000Z", "2026-11-20T09:45:00.000Z")
    assert bucket_bounds("2026-12-31T23:45:00.000Z") == ("2026-12-31T23:45:00.000Z", "2027-01-01T00:00:00.000Z")
    assert bucket_bounds("2028-02-28T23:59:59.999Z") == ("2028-02-28T23:45:00.000Z", "2028-02-29T00:00:00.000Z")
    assert bucket_bounds("2026-03-01T07:00:00.000Z") == ("2026-03-01T07:00:00.000Z", "2026-03-01T07:15:00.000Z")


def test_dirty_rows_are_the_buckets_of_the_timestamps():
    stamps = {
        "2026-11-20T09:44:59.999Z",
        "2026-11-20T09:30:00.000Z",
        "2026-11-20T09:45:00.000Z",
        "2026-11-30T23:59:00.000Z",
    }
    assert dirty_rows(stamps) == [
        ("2026-11-20T09:30:00.000Z", "2026-11-20T09:45:00.000Z"),
        ("2026-11-20T09:45:00.000Z", "2026-11-20T10:00:00.000Z"),
        ("2026-11-30T23:45:00.000Z", "2026-12-01T00:00:00.000Z"),
    ]


def test_the_rollup_equals_the_view_on_the_real_corpus(db, real_projects):
    refresh_all(db, [real_projects])
    assert_exact(db)
    rows, responses = db.execute("select count(*), sum(responses) from usage_rollup").fetchone()
    assert responses == 878 and rows < 878
    assert not ensure_rollup(db)  # nothing changed: nothing to do


def test_incremental_changes_rebuild_their_buckets(db, claude_dir):
    path = claude_dir / "projects" / "p" / "s.jsonl"
    write_lines(path, assistant_line(message_id="m1", timestamp="2026-11-20T09:05:00.000Z", output_tokens=5))
    refresh_all(db, [claude_dir])
    assert_exact(db)
    with path.open("a") as handle:
        # the same response again, complete, logged in another bucket; a new one; a sidechain replay
        handle.write(assistant_line(message_id="m1", timestamp="2026-11-20T09:20:00.000Z", output_tokens=900) + "\n")
        handle.write(assistant_line(message_id="m2", request_id="r2", timestamp="2026-11-20T11:00:00.000Z") + "\n")
    replay = claude_dir / "projects" / "p" / "s" / "subagents" / "agent-x.jsonl"
    write_lines(
        replay, assistant_line(message_id="m3", request_id="rx", sidechain=True, timestamp="2026-11-20T12:00:00.000Z")
    )
    refresh_all(db, [claude_dir])
    assert_exact(db)
    with path.open("a") as handle:  # the parent's copy of m3 replaces the replay, in another bucket
        handle.write(assistant_line(message_id="m3", request_id="r3", timestamp="2026-11-20T13:00:00.000Z") + "\n")
    refresh_all(db, [claude_dir])
    assert_exact(db)
    assert db.execute("select count(*) from usage_rollup where bucket_utc = '2026-11-20T12:00:00.000Z'").fetchone() == (
        0,
    )


def test_a_price_change_rebuilds_everything(db, real_projects, tmp_path):
    refresh_all(db, [real_projects])
    before = db.execute("select sum(cost_nanousd) from usage_rollup").fetchone()[0]
    override = tmp_path / "negotiated.toml"
    override.write_text(
        '[models.claude-sonnet-4-5]\naliases = ["claude-sonnet-4-5-20250929"]\n'
        "[[models.claude-sonnet-4-5.periods]]\nfrom = 2025-01-01\ninput_mtok = 30\noutput_mtok = 150\n"
    )
    refresh_all(db, [real_projects], prices_file=override)
    assert_exact(db)
    assert db.execute("select sum(cost_nanousd) from usage_rollup").fetchone()[0] > before
    refresh_all(db, [real_projects])
    assert db.execute("select sum(cost_nanousd) from usage_rollup").fetchone()[0] == before


def test_unpriced_models_are_counted_apart(db, claude_dir):
    write_lines(claude_dir / "projects" / "p" / "s.jsonl", assistant_line(model="glm-9-air"))
    refresh_all(db, [claude_dir])
    assert db.execute("select cost_nanousd, unpriced_responses, unpriced_tokens from usage_rollup").fetchone() == (
        0,
        1,
        3354,
    )


class SecondConnection:
    """A rollup share computing its part on another connection to the same ledger file."""

    caller_part = 0.6

    def __init__(self, path, fail=False):
        self.path, self.fail, self.asked = path, fail, []

    def aggregate(self, dirty, since):
        self.asked.append((dirty, since))
        if self.fail:
            return lambda: None
        other = open_db(self.path)
        try:
            rows = aggregate_rows(other, dirty, since, None)
        finally:
            other.close()
        return lambda: rows


@pytest.mark.parametrize("fail", [False, True], ids=["shared", "the share fails"])
def test_a_shared_rebuild_equals_one_process(db, claude_dir, tmp_path, fail):
    many_files(claude_dir, 1)
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    share = SecondConnection(tmp_path / "ledger.db", fail)
    assert ensure_rollup(db, share)  # a full rebuild
    assert_exact(db)
    ((dirty, since),) = share.asked
    assert not dirty and db.execute(
        "select min(bucket_utc) < ? and max(bucket_utc) >= ? from usage_rollup", [since, since]
    ).fetchone() == (1,)
    path = claude_dir / "projects" / "p" / "new.jsonl"
    write_lines(
        path,
        assistant_line(message_id="n1", timestamp="2025-12-01T09:05:00.000Z"),
        assistant_line(message_id="n2", request_id="r2", timestamp="2027-01-01T09:05:00.000Z"),
    )
    index.refresh(db, [claude_dir])
    assert ensure_rollup(db, share)  # the two dirty buckets, one on each side
    assert_exact(db)
    assert share.asked[1] == (True, "2027-01-01T09:00:00.000Z")


INDEXES_SQL = "select name from sqlite_master where type = 'index'"


def test_a_large_refresh_shares_the_rollup_with_its_helper(db, claude_dir, monkeypatch):
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    monkeypatch.setattr(sharing.Helper, "claim", lambda self: [])  # the helper reads everything
    shares, indexes = [], []
    aggregate = sharing.Helper.aggregate

    def aggregate_seeing_indexes(self, dirty, since):
        indexes.append(set(DEFERRABLE_INDEXES) & {name for (name,) in db.execute(INDEXES_SQL)})
        rows = aggregate(self, dirty, since)
        indexes.append(set(DEFERRABLE_INDEXES) & {name for (name,) in db.execute(INDEXES_SQL)})
        return rows

    monkeypatch.setattr(sharing.Helper, "aggregate", aggregate_seeing_indexes)

    def finish(share):
        shares.append(share)
        pricing.ensure_prices(db)
        ensure_rollup(db, share)

    stats = index.refresh(db, [claude_dir], finish=finish)
    assert isinstance(shares[0], sharing.Helper) and not shares[0].failure
    assert stats.new_responses == 878
    assert_exact(db)
    # A first load: prices found the models by their index, and the other indexes were built
    # while the helper computed its part of the rollup.
    assert indexes == [{MODEL_INDEX}, set(DEFERRABLE_INDEXES)]


@pytest.mark.parametrize("rebuilt_meanwhile", [False, True], ids=["alone", "another process rebuilds meanwhile"])
def test_a_first_load_lists_no_dirty_buckets_and_is_rebuilt_whole(db, claude_dir, monkeypatch, rebuilt_meanwhile):
    refresh_all(db, [claude_dir])  # an empty ledger's rollup, built: a first load must not trust it
    assert db.execute("select count(*) from rollup_state").fetchone() == (1,)
    many_files(claude_dir, 2)
    share_anything(monkeypatch)
    monkeypatch.setattr(index, "_BATCH_FILES", 20)
    monkeypatch.setattr(sharing.Helper, "claim", lambda self: [])
    write_batch, dirty_after_each = index._write_batch, []

    def write_batch_then_maybe_rebuild(*args):
        write_batch(*args)
        dirty_after_each.append(db.execute("select count(*) from rollup_dirty").fetchone()[0])
        if rebuilt_meanwhile and len(dirty_after_each) == 1:
            other = open_db(db.conn.execute("PRAGMA database_list").fetchone()[2])
            pricing.ensure_prices(other)
            ensure_rollup(other)  # a full rebuild of what is there so far
            other.close()

    monkeypatch.setattr(index, "_write_batch", write_batch_then_maybe_rebuild)

    def finish(share):
        pricing.ensure_prices(db)
        ensure_rollup(db, share)

    index.refresh(db, [claude_dir], finish=finish)
    assert dirty_after_each[0] == 0  # loaded in memory: nothing listed
    assert any(dirty_after_each) == rebuilt_meanwhile  # after another writer, buckets are listed again
    assert_exact(db)
