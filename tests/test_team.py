"""The team ledger against a real PostgreSQL server: three machines, two developers.

a1-laptop (alice) holds the real corpus and a sidechain replay of one of bob's responses;
a2-desktop (alice) holds an rsynced copy of a1-laptop's transcripts and a session of its own;
b1-laptop (bob) holds a session of his own. Whatever order and however often they sync, the team
database must hold the local ledgers' de-duplicated union, exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import REAL_PROJECTS, assistant_line, write_lines
from dashboard_process import dashboard_process, figures, get
from postgres_server import start_or_skip

from ccledger.answers import queries
from ccledger.answers.periods import resolve_period
from ccledger.ingest.transcript import rank_of
from ccledger.ledger.db import open_db
from ccledger.team import sync as team_sync
from ccledger.team.connect import TeamError, connect, redact
from ccledger.team.usage import team_usage
from ccledger.update import update

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
MACHINES = {"a1-laptop": "alice@example.com", "a2-desktop": "alice@example.com", "b1-laptop": "bob@example.com"}
TOKENS = ("input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens")


@pytest.fixture(scope="module")
def server():
    running = start_or_skip()
    yield running
    running.stop()


@pytest.fixture
def team_url(server):
    """A fresh database on the server for each test, its URL with a password libpq ignores here."""
    import psycopg

    name = f"team_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.url(name).replace("postgres@", "postgres:s3cret-pw@")


def _session(folder: Path, name: str, prefix: str, count: int, *, day: int, cwd: str) -> None:
    lines = [
        assistant_line(
            message_id=f"{prefix}_{n}",
            request_id=f"req_{prefix}_{n}",
            session_id=f"{prefix}-session",
            timestamp=f"2026-11-{day:02d}T{9 + n % 10:02d}:{(7 * n) % 60:02d}:07.512Z",
            output_tokens=100 + n,
            cache_read=1000 * n,
            cwd=cwd,
            model="claude-opus-4-5-20251101" if n % 3 else "claude-sonnet-4-5-20250929",
        )
        for n in range(count)
    ]
    write_lines(folder / "projects" / f"-{prefix}" / f"{name}.jsonl", *lines)


@pytest.fixture
def machines(tmp_path) -> dict[str, Path]:
    """Each machine's Claude dir; the ledgers are indexed by :func:`ledger_of`."""
    dirs = {name: tmp_path / name / "claude" for name in MACHINES}
    shutil.copytree(REAL_PROJECTS / "projects", dirs["a1-laptop"] / "projects")
    write_lines(
        dirs["a1-laptop"] / "projects" / "-bob" / "s" / "subagents" / "agent-x.jsonl",
        assistant_line(message_id="bob_3", request_id="req_replay", session_id="bob-session", sidechain=True,
                       timestamp="2026-11-21T12:21:07.512Z", output_tokens=103, cache_read=3000, agent_id="x"),
    )  # fmt: skip
    shutil.copytree(dirs["a1-laptop"] / "projects", dirs["a2-desktop"] / "projects")  # the rsynced copy
    _session(dirs["a2-desktop"], "own", "desk", 30, day=25, cwd="/home/alice/api")
    _session(dirs["b1-laptop"], "own", "bob", 40, day=21, cwd="/home/bob/web")
    return dirs


def ledger_of(machines: dict[str, Path], name: str):
    db = open_db(machines[name].parent / "ledger.db")
    os.environ["CCLEDGER_MACHINE"] = name
    update(db, [machines[name]])
    return db


def expected_union(machines: dict[str, Path]) -> dict[tuple[str, str], dict[str, int]]:
    """What the team must hold, by (developer, machine), from the local ledgers' rows: of each
    key the copy with the higher rank, the lower machine name on a tie; a sidechain's replay
    under another request id dropped against a copy that outranks it (the local rule)."""
    best: dict[str, tuple[tuple, str, tuple]] = {}
    for name in MACHINES:
        db = open_db(machines[name].parent / "ledger.db")
        columns = ", ".join(TOKENS)
        sql = f"select key, message_id, is_sidechain, speed is not null, from_progress, {columns} from responses"
        for key, message_id, sidechain, speed, progress, *tokens in db.execute(sql):
            rank = (rank_of(bool(sidechain), sum(tokens), bool(speed), bool(progress)), tuple(-ord(c) for c in name))
            if key not in best or rank > best[key][0]:
                best[key] = (rank, name, (message_id, bool(sidechain), *tokens))
        db.close()
    by_message: dict[str, list[str]] = {}
    for key, (_, _, (message_id, *_)) in best.items():
        if message_id:
            by_message.setdefault(message_id, []).append(key)
    for keys in by_message.values():
        for key in list(keys):
            rivals = [k for k in keys if k != key and (best[k][2][1] or best[key][2][1])]
            if any(best[k][0] > best[key][0] for k in rivals):
                keys.remove(key)
                del best[key]
    union: dict[tuple[str, str], dict[str, int]] = {}
    for _, name, (_, _, *tokens) in best.values():
        sums = union.setdefault((MACHINES[name], name), dict.fromkeys(("responses", *TOKENS), 0))
        sums["responses"] += 1
        for column, value in zip(TOKENS, tokens, strict=True):
            sums[column] += value
    return union


def team_totals(url: str) -> dict[tuple[str, str], dict[str, int]]:
    """The team database's sums by (developer, machine), read from its rollup (and its days)."""
    sums = (
        f"select developer, machine, sum(responses), {', '.join(f'sum({c})' for c in TOKENS)} from {{}} group by 1, 2"
    )
    with connect(url) as conn:
        rows = conn.execute(sums.format("team_rollup")).fetchall()
        assert sorted(conn.execute(sums.format("team_daily")).fetchall()) == sorted(rows)  # the days sum the hours
        raw = conn.execute("select count(*) from team_responses").fetchone()[0]
    found = {
        (dev, machine): dict(zip(("responses", *TOKENS), map(int, sums), strict=True)) for dev, machine, *sums in rows
    }
    assert sum(row["responses"] for row in found.values()) == raw  # the rollup sums every response once
    return found


def sync_cli(machines: dict[str, Path], name: str, url: str, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ, "CCLEDGER_TEAM_URL": url, "CCLEDGER_MACHINE": name, "CCLEDGER_DEVELOPER": MACHINES[name],
        "CLAUDE_CONFIG_DIR": str(machines[name]), "CCLEDGER_DB": str(machines[name].parent / "ledger.db"),
    }  # fmt: skip
    command = [sys.executable, "-m", "ccledger", "sync", "--json", *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_three_machines_syncing_at_once_twice_hold_the_union_exactly(machines, team_url):
    for name in MACHINES:
        ledger_of(machines, name).close()
    union = expected_union(machines)
    assert {machine for _, machine in union} == set(MACHINES)  # each machine keeps some copies
    assert union[("bob@example.com", "b1-laptop")]["responses"] == 40  # bob's copy beat the replay
    for _ in (1, 2):
        running = [sync_cli(machines, name, team_url) for name in MACHINES]  # in parallel
        outputs = [process.communicate(timeout=120) for process in running]
        assert [process.returncode for process in running] == [0, 0, 0], outputs
        assert "s3cret-pw" not in "".join(out + err for out, err in outputs)
        assert team_totals(team_url) == union
    sent = [json.loads(out)["sent"] for out, _ in outputs]
    assert sent == [0, 0, 0]  # the second round had nothing new


def test_team_usage_equals_the_union_ledger_by_developer_and_in_cost(machines, team_url, tmp_path):
    for name in MACHINES:
        db = ledger_of(machines, name)
        team_sync.sync(db, team_url, who=MACHINES[name], machine=name)
        db.close()
    everything = tmp_path / "all" / "claude"
    for name in MACHINES:  # one ledger of every machine's files: the local de-duplication of the union
        shutil.copytree(machines[name] / "projects", everything / "projects" / name)
    union_db = open_db(tmp_path / "all" / "ledger.db")
    update(union_db, [everything])
    local = queries.usage_summary(union_db, since="all", group_by="model", zone=ZoneInfo("UTC"), now=NOW)
    window = resolve_period("all", None, zone=ZoneInfo("UTC"), now=NOW)
    with connect(team_url) as conn:
        answer = team_usage(conn, window, team=redact(team_url), group_by="developer")
        by_model = team_usage(conn, window, team=redact(team_url), group_by="model")
    assert answer.totals.responses == local.totals.responses
    assert answer.totals.total_tokens == local.totals.total_tokens
    assert answer.totals.cost_usd == pytest.approx(local.totals.cost_usd, abs=1e-6)
    assert {row.key: row.cost_usd for row in by_model.rows} == pytest.approx(
        {row.key: row.cost_usd for row in local.rows}, abs=1e-6
    )
    assert answer.totals.developers == 2 and answer.totals.machines == 3
    assert {row.key for row in answer.rows} == {"alice@example.com", "bob@example.com"}
    assert [row.cost_usd for row in answer.rows] == sorted((row.cost_usd for row in answer.rows), reverse=True)
    assert "s3cret-pw" not in answer.model_dump_json()
    # Long windows read whole UTC days, but for those two of the answer's groups share; a zone
    # whose offset is not whole hours reads the responses: every way, the local answer's rows.
    with connect(team_url) as conn:
        for zone_name in ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"):
            zone = ZoneInfo(zone_name)
            for since, until in (("all", None), ("2026-11-03T10:20", "2026-11-25T15:10")):
                window = resolve_period(since, until, zone=zone, now=NOW)
                for group_by in ("day", "week", "month", "repo"):
                    team = team_usage(conn, window, team="t", group_by=group_by, limit=1000)
                    mine = queries.usage_summary(
                        union_db, since=since, until=until, group_by=group_by, zone=zone, now=NOW, limit=1000
                    )
                    shown = {row.key: (row.responses, row.total_tokens) for row in team.rows}
                    expected = {row.key: (row.responses, row.total_tokens) for row in mine.rows}
                    assert shown == expected, (zone_name, since, group_by)
                    assert team.totals.cost_usd == pytest.approx(mine.totals.cost_usd, abs=1e-6)


def test_a_window_with_unaligned_edges_is_exact_to_the_response(machines, team_url):
    db = ledger_of(machines, "b1-laptop")
    team_sync.sync(db, team_url, who="bob", machine="b1-laptop")
    zone = ZoneInfo("America/New_York")
    for since, until in (("2026-11-21T05:30", "2026-11-21T11:10"), ("2026-11-21T06:05", "2026-11-21T06:40")):
        window = resolve_period(since, until, zone=zone, now=NOW)
        local = queries.usage_summary(db, since=since, until=until, group_by="day", zone=zone, now=NOW)
        with connect(team_url) as conn:
            answer = team_usage(conn, window, team="t", group_by="day")
        assert local.totals.responses > 0
        assert answer.totals.responses == local.totals.responses
        assert answer.totals.total_tokens == local.totals.total_tokens
        assert [(row.key, row.responses) for row in answer.rows] == [(row.key, row.responses) for row in local.rows]


def test_a_sync_stopped_half_way_resumes_and_a_late_append_arrives(machines, team_url, monkeypatch):
    db = ledger_of(machines, "a1-laptop")
    first = team_sync.sync(db, team_url, who="alice", machine="a1-laptop", batch_rows=100, max_batches=2)
    assert first.sent == 200 and first.pending == 679
    calls = 0
    real = team_sync._send_batch

    def killed_in_third_batch(conn, rows, *args):
        nonlocal calls
        calls += 1
        if calls == 2:  # after its COPY and upsert, before its commit: as if the process died there
            conn.execute(team_sync.UPSERT_SQL, {"developer": "alice", "machine": "a1-laptop"})
            raise TeamError("killed")
        real(conn, rows, *args)

    monkeypatch.setattr(team_sync, "_send_batch", killed_in_third_batch)
    with pytest.raises(TeamError):
        team_sync.sync(db, team_url, who="alice", machine="a1-laptop", batch_rows=100)
    monkeypatch.setattr(team_sync, "_send_batch", real)
    assert db.execute("select last_error from team_sync").fetchone()[0] == "killed"
    rest = team_sync.sync(db, team_url, who="alice", machine="a1-laptop", batch_rows=100)
    assert rest.sent == 879 - 200 - 100 and rest.pending == 0
    assert db.execute("select last_error, responses_sent from team_sync").fetchone() == (None, 879)
    local = {column: db.execute(f"select sum({column}) from responses").fetchone()[0] for column in TOKENS}
    assert team_totals(team_url)[("alice", "a1-laptop")] == {"responses": 879, **local}
    # A late append to a transcript arrives with the next sync, and only it is sent.
    late = next((machines["a1-laptop"] / "projects").rglob("*.jsonl"))
    with late.open("a", encoding="utf-8") as file:
        file.write(assistant_line(message_id="late", request_id="req_late", output_tokens=7, cache_read=0) + "\n")
    update(db, [machines["a1-laptop"]])
    assert team_sync.sync(db, team_url, who="alice", machine="a1-laptop").sent == 1
    assert team_totals(team_url)[("alice", "a1-laptop")]["responses"] == 880


def test_an_unreachable_team_database_leaves_local_answers_intact(machines, server):
    db = ledger_of(machines, "b1-laptop")
    before = queries.usage_summary(db, since="all", group_by="model", zone=ZoneInfo("UTC"), now=NOW)
    closed = f"postgresql://postgres:s3cret-pw@127.0.0.1:{server.port + 1 if server.port < 65535 else 1}/none"
    with pytest.raises(TeamError) as raised:
        team_sync.sync(db, closed, who="bob", machine="b1-laptop")
    assert "cannot reach the team database" in str(raised.value) and "s3cret-pw" not in str(raised.value)
    error = db.execute("select last_error from team_sync").fetchone()[0]
    assert "cannot reach" in error and "s3cret-pw" not in error
    after = queries.usage_summary(db, since="all", group_by="model", zone=ZoneInfo("UTC"), now=NOW)
    assert after == before
    process = sync_cli(machines, "b1-laptop", closed, "--no-index")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "cannot reach" in err and "s3cret-pw" not in out + err


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_mcp_tools_sync_and_answer_for_the_team(machines, team_url, monkeypatch, anyio_backend):
    from mcp import Client

    from ccledger.surfaces.server import build_server

    server = build_server(machines["b1-laptop"].parent / "ledger.db", roots=[machines["b1-laptop"]], now=lambda: NOW)
    async with Client(server) as client:
        missing = await client.call_tool("team_usage", {"since": "all"})
        assert missing.is_error and "CCLEDGER_TEAM_URL" in missing.content[0].text
        alone = await client.call_tool("cost_by_repo", {"since": "all"})
        assert alone.structured_content["team_view"] is None
        monkeypatch.setenv("CCLEDGER_TEAM_URL", team_url)
        monkeypatch.setenv("CCLEDGER_DEVELOPER", "bob@example.com")
        synced = await client.call_tool("sync_team", {})
        assert not synced.is_error and synced.structured_content["sent"] == 40
        answer = await client.call_tool("team_usage", {"since": "all", "group_by": "day"})
        assert not answer.is_error, answer.content[0].text
        local = await client.call_tool("usage_summary", {"since": "all", "group_by": "day", "timezone": "UTC"})
        team, mine = answer.structured_content, local.structured_content
        assert "team_usage" in mine["team_view"]  # a local answer says a team view exists
        assert team["totals"]["responses"] == mine["totals"]["responses"] == 40
        assert team["totals"]["cost_usd"] == pytest.approx(mine["totals"]["cost_usd"], abs=1e-6)
        assert "s3cret-pw" not in json.dumps(team) + json.dumps(synced.structured_content)
        bad = await client.call_tool("team_usage", {"since": "the day after never"})
        assert bad.is_error and "since" in bad.content[0].text.lower()


def run_cli(machines: dict[str, Path], name: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "CCLEDGER_TEAM_URL": url, "CCLEDGER_MACHINE": name, "CCLEDGER_DEVELOPER": MACHINES[name],
        "CLAUDE_CONFIG_DIR": str(machines[name]), "CCLEDGER_DB": str(machines[name].parent / "ledger.db"),
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "ccledger", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_index_syncs_when_a_team_is_configured_and_a_background_one_at_most_every_few_minutes(machines, team_url):
    assert run_cli(machines, "b1-laptop", team_url, "index", "--no-sync").returncode == 0
    with connect(team_url) as conn:  # nothing sent: not even the tables made
        assert conn.execute("select to_regclass('team_responses')").fetchone() == (None,)
    done = run_cli(machines, "b1-laptop", team_url, "index")
    assert done.returncode == 0 and "Sent 40 responses to the team ledger" in done.stderr
    assert team_totals(team_url)[("bob@example.com", "b1-laptop")]["responses"] == 40
    own = machines["b1-laptop"] / "projects" / "-bob" / "own.jsonl"
    with own.open("a", encoding="utf-8") as file:
        file.write(assistant_line(message_id="later", request_id="req_later", session_id="bob-session") + "\n")
    quiet = run_cli(machines, "b1-laptop", team_url, "index", "--quiet")  # the statusline's: synced a moment ago
    assert quiet.returncode == 0 and quiet.stdout == quiet.stderr == ""
    assert team_totals(team_url)[("bob@example.com", "b1-laptop")]["responses"] == 40
    db = open_db(machines["b1-laptop"].parent / "ledger.db")
    db.execute("update team_sync set last_attempt_utc = '2026-01-01T00:00:00.000Z'")
    db.conn.commit()
    db.close()
    assert run_cli(machines, "b1-laptop", team_url, "index", "--quiet").returncode == 0
    assert team_totals(team_url)[("bob@example.com", "b1-laptop")]["responses"] == 41
    unreachable = team_url.rsplit(":", 1)[0] + ":1/none"
    failed = run_cli(machines, "b1-laptop", unreachable, "index")
    assert failed.returncode == 0 and "the index is done" in failed.stderr and "s3cret-pw" not in failed.stderr


_RECORD = {
    "source_id": "shop", "bucket_end_utc": "2026-11-20T11:00:00.000Z", "repo_id": "github.com/acme/shop",
    "model": "claude-sonnet-4-5-20250929", "requests": 3, "input_tokens": 1000, "cache_write_5m_tokens": 0,
    "cache_write_1h_tokens": 0, "cache_read_tokens": 500, "web_search_requests": 0, "speed": None,
    "context_window": None, "provider_cost_nanousd": None,
}  # fmt: skip


def _pulled(db, pulled_utc: str, records: list[tuple[str, int]]) -> None:
    """A pull of source 'shop' (its records as ``prod.pull`` writes them): (record key, output tokens)."""
    from ccledger.prod.pull import UPSERT_SQL

    with db.conn:
        db.execute("delete from prod_usage where source_id = 'shop'")
        for key, output in records:
            start = f"2026-11-2{len(key) % 3}T10:00:00.000Z"
            tier = "batch" if key == "b" else None
            db.execute(
                UPSERT_SQL,
                {**_RECORD, "record_key": key, "bucket_start_utc": start, "output_tokens": output,
                 "service_tier": tier, "pulled_utc": pulled_utc},
            )  # fmt: skip
        db.execute(
            "insert into prod_cursors (source_id, last_pull_utc) values ('shop', ?) "
            "on conflict (source_id) do update set last_pull_utc = excluded.last_pull_utc",
            [pulled_utc],
        )
    update(db, [])  # prices for the model, and the rollup


def test_production_records_count_once_whichever_machines_pulled_them(machines, team_url):
    first, second = ledger_of(machines, "a1-laptop"), ledger_of(machines, "b1-laptop")
    _pulled(first, "2026-11-22T08:00:00.000Z", [("a", 100), ("b", 200), ("cc", 300)])
    _pulled(second, "2026-11-22T09:00:00.000Z", [("a", 100), ("b", 250), ("cc", 300), ("dddd", 50)])  # later, corrected
    window = resolve_period("all", None, zone=ZoneInfo("UTC"), now=NOW)

    def team_prod():
        with connect(team_url) as conn:
            return team_usage(conn, window, team="t", group_by="repo", source="prod")

    assert team_sync.sync(first, team_url, who="alice", machine="a1-laptop").prod_records_sent == 3
    assert team_sync.sync(second, team_url, who="bob", machine="b1-laptop").prod_records_sent == 4
    assert team_sync.sync(first, team_url, who="alice", machine="a1-laptop").prod_records_sent == 0  # older pull
    assert team_sync.sync(second, team_url, who="bob", machine="b1-laptop").prod_records_sent == 0  # unchanged
    local = queries.usage_summary(second, since="all", group_by="repo", source="prod", zone=ZoneInfo("UTC"), now=NOW)
    answer = team_prod()
    assert answer.totals.responses == local.totals.responses == 12
    assert answer.totals.output_tokens == local.totals.output_tokens == 700
    assert (
        answer.totals.prod_cost_usd == pytest.approx(local.totals.prod_cost_usd, abs=1e-9) and local.totals.cost_usd > 0
    )
    assert [row.key for row in answer.rows] == ["github.com/acme/shop"]
    _pulled(first, "2026-11-23T08:00:00.000Z", [("a", 100)])  # the source now says one record
    assert team_sync.sync(first, team_url, who="alice", machine="a1-laptop").prod_records_sent == 1
    assert team_prod().totals.output_tokens == 100
    with connect(team_url) as conn:
        everything = team_usage(conn, window, team="t", group_by="developer")
    totals = everything.totals
    assert totals.prod_cost_usd == team_prod().totals.cost_usd and totals.dev_cost_usd > 0
    assert totals.dev_cost_usd == pytest.approx(totals.cost_usd - totals.prod_cost_usd)
    assert "(prod)" in [row.key for row in everything.rows] and everything.totals.developers == 2


def test_team_budgets_for_the_team_and_a_developer(machines, team_url):
    for name in ("a1-laptop", "b1-laptop"):
        db = ledger_of(machines, name)
        team_sync.sync(db, team_url, who=MACHINES[name], machine=name)
        db.close()
    unknown = run_cli(machines, "b1-laptop", team_url, "team-budget", "set", "carol@example.com", "month", "100")
    assert unknown.returncode == 2 and "alice@example.com, bob@example.com" in unknown.stderr
    assert run_cli(machines, "b1-laptop", team_url, "team-budget", "set", "team", "month", "2000").returncode == 0
    done = run_cli(machines, "b1-laptop", team_url, "team-budget", "set", "bob@example.com", "month", "0.05")
    assert done.returncode == 0, done.stderr
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    with connect(team_url) as conn:
        from ccledger.team.budgets import team_budget_status

        statuses = {status.scope: status for status in team_budget_status(conn, team="t", now=now).budgets}
        window = resolve_period("this month", None, zone=ZoneInfo("UTC"), now=now)
        month = {row.key: row.cost_usd for row in team_usage(conn, window, team="t", group_by="developer").rows}
    bob, team = statuses["bob@example.com"], statuses["team"]
    assert bob.spent_usd == round(month["bob@example.com"], 2) and bob.status == "exceeded"
    assert team.spent_usd == round(sum(month.values()), 2) and team.status == "ok"
    assert next(iter(statuses)) == "bob@example.com"  # the most urgent first
    listed = run_cli(machines, "b1-laptop", team_url, "team-budget", "--json")  # this month (now): nothing spent
    assert listed.returncode == 0 and {b["scope"] for b in json.loads(listed.stdout)["budgets"]} == {
        "bob@example.com",
        "team",
    }
    gone = run_cli(machines, "b1-laptop", team_url, "team-budget", "rm", "99")
    assert gone.returncode == 2 and "the team budgets are: 1, 2" in gone.stderr


def test_a_sync_killed_at_any_moment_then_run_again_counts_everything_once(machines, team_url):
    db = ledger_of(machines, "a1-laptop")
    sums = db.execute(f"select count(*), {', '.join(f'sum({c})' for c in TOKENS)} from responses").fetchone()
    db.close()
    expected = {("alice@example.com", "a1-laptop"): dict(zip(("responses", *TOKENS), sums, strict=True))}
    import signal
    import time as clock

    process = sync_cli(machines, "a1-laptop", team_url, "--no-index", "--batch-rows", "25")
    deadline = clock.monotonic() + 60
    while process.poll() is None and clock.monotonic() < deadline:  # kill it once a batch is in
        with connect(team_url) as conn:
            exists = conn.execute("select to_regclass('team_machines') is not null").fetchone()[0]
            sent = exists and conn.execute("select coalesce(max(high_water), 0) from team_machines").fetchone()[0]
        if sent:
            process.send_signal(signal.SIGKILL)
            break
        clock.sleep(0.005)
    process.communicate(timeout=60)
    again = sync_cli(machines, "a1-laptop", team_url, "--no-index")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert team_totals(team_url) == expected
    assert json.loads(out)["sent"] < 879 or process.returncode == 0  # the rerun sent only what the killed one had not


def test_the_readmes_row_level_security_shows_a_developer_their_own_rows_only(machines, team_url):
    for name in ("a1-laptop", "b1-laptop"):
        db = ledger_of(machines, name)
        team_sync.sync(db, team_url, who=MACHINES[name], machine=name)
        db.close()
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("<!-- row-level security: tests/test_team.py runs this block as written -->")[1]
    script = block.split("```sql\n", 1)[1].split("```", 1)[0]
    import psycopg

    with psycopg.connect(team_url, autocommit=True) as conn:  # the owner (here a superuser) runs it
        conn.execute(script)
    alice_url = team_url.replace("postgres:s3cret-pw@", "alice@")
    try:
        # All time, and a window whose edges are read from the responses (through a view).
        for since, until in (("all", None), ("2026-11-21T09:20", "2026-11-21T12:45")):
            window = resolve_period(since, until, zone=ZoneInfo("UTC"), now=NOW)
            with connect(alice_url) as conn:
                mine = team_usage(conn, window, team="t", group_by="developer")
            with connect(team_url) as conn:
                everyone = team_usage(conn, window, team="t", group_by="developer")
            assert "bob@example.com" in {row.key for row in everyone.rows}
            assert {row.key for row in mine.rows} <= {"alice@example.com"}
            alice = next((row for row in everyone.rows if row.key == "alice@example.com"), None)
            assert mine.totals.responses == (alice.responses if alice else 0)
            assert mine.totals.cost_usd == (alice.cost_usd if alice else 0)
    finally:
        with psycopg.connect(team_url, autocommit=True) as conn:  # roles are the server's, not the database's
            conn.execute("DROP OWNED BY alice")
            conn.execute("DROP ROLE alice")


def test_the_dashboards_team_tab_shows_team_usage(machines, team_url, tmp_path):
    for name in MACHINES:
        db = ledger_of(machines, name)
        team_sync.sync(db, team_url, who=MACHINES[name], machine=name)
        db.close()
    env = {
        **os.environ, "CCLEDGER_TEAM_URL": team_url, "CLAUDE_CONFIG_DIR": str(machines["b1-laptop"]),
        "CCLEDGER_DB": str(machines["b1-laptop"].parent / "ledger.db"),
    }  # fmt: skip
    window = resolve_period("all", None, zone=ZoneInfo("UTC"), now=datetime.now(UTC))
    with connect(team_url) as conn:
        expected = team_usage(conn, window, team=redact(team_url), group_by="developer").totals
    with dashboard_process(env) as base:
        status, html = get(f"{base}/?tab=team&since=all")
        assert status == 200 and ">team</a>" in html  # the tab is offered
        shown = figures(html, "team")
        assert (float(shown["cost"]), int(shown["responses"]), int(shown["developers"])) == (
            pytest.approx(expected.cost_usd, abs=1e-6),
            expected.responses,
            2,
        )
        assert html.count("<svg") == 2 and "bob@example.com" in html and "s3cret-pw" not in html
        chromium = shutil.which("chromium")
        if chromium and os.environ.get("CCLEDGER_SCREENSHOTS"):  # the README's picture of the tab
            shot = Path(__file__).parent.parent / "docs" / "screenshots" / "dashboard-team.png"
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=960,900",
                 f"--screenshot={shot}", f"{base}/?tab=team&since=all"],
                capture_output=True, timeout=120, check=True,
            )  # fmt: skip
    env["CCLEDGER_TEAM_URL"] = team_url.rsplit("/", 1)[0] + "/no_such_database"
    with dashboard_process(env) as base:  # a team database that is gone: the tab says so
        status, html = get(f"{base}/?tab=team&since=all")
        assert status == 200 and "no_such_database" in html and "s3cret-pw" not in html
        assert get(f"{base}/?since=all")[0] == 200  # and the local tabs answer as before
