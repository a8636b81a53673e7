"""Activity: what the spend bought, on real transcripts, hand-counted and against a plain reference."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from activity_reference import per_session
from conftest import FIXTURES, REAL_PROJECTS, assistant_line, write_lines

from ccledger.answers.activity import activity_heatmap, activity_summary
from ccledger.answers.queries import QueryError
from ccledger.ingest.activity import Shape, command_shape
from ccledger.ledger.db import open_db
from ccledger.update import update

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
FIELDS = ("tool_uses", "tool_errors", "lines_added", "lines_removed", "commits", "edits_rejected", "prompts",
          "slash_commands")  # fmt: skip


def summary(db, **arguments):
    return activity_summary(db, zone=UTC_ZONE, now=NOW, **{"since": "all", **arguments})


def by_session(db) -> dict[str, dict[str, int]]:
    rows = summary(db, group_by="session").rows
    return {row.key: {field: getattr(row, field) for field in FIELDS} for row in rows}


def copy_projects(source: Path, claude_dir: Path) -> Path:
    shutil.copytree(source, claude_dir / "projects", dirs_exist_ok=True)
    return claude_dir


# --- real sessions, counted by hand ------------------------------------------------------------

# Counted by hand in the files (grep for tool_use ids, git's "[branch sha]" lines, <command-name>
# markup, + and - patch lines), and by the plain reference: two sessions of real_projects.
HAND_COUNTED = {
    # /src/deep-manifest: 123 tool_use ids, 4 commits ([master 17015f9], [master 1d28f1e], ...),
    # /context and /model, 7 typed prompts.
    "a7da6a22-facc-4fcd-8bab-f83c87862004": {
        "tool_uses": 123, "tool_errors": 4, "lines_added": 934, "lines_removed": 279, "commits": 4,
        "edits_rejected": 0, "prompts": 7, "slash_commands": 2,
    },
    # claude-code-log: 19 failed tool uses, two edits the user declined, no commit.
    "37f83ec9-f2ea-42a9-925e-0d5c105cb6e8": {
        "tool_uses": 101, "tool_errors": 19, "lines_added": 207, "lines_removed": 195, "commits": 0,
        "edits_rejected": 2, "prompts": 6, "slash_commands": 0,
    },
}  # fmt: skip


def test_two_real_sessions_match_the_hand_count(real_projects, db):
    update(db, [real_projects])
    found = by_session(db)
    for session_id, expected in HAND_COUNTED.items():
        assert found[session_id] == expected, session_id


@pytest.mark.parametrize(
    "corpus", ["real_projects/projects", "claude_code_viewer/projects", "newest_format/projects", "claude_cli/projects"]
)
def test_every_session_matches_the_plain_reference(corpus, claude_dir, db):
    copy_projects(FIXTURES / corpus, claude_dir)
    update(db, [claude_dir])
    expected = {session: counts for session, counts in per_session(FIXTURES / corpus).items() if any(counts.values())}
    found = {session: counts for session, counts in by_session(db).items() if any(counts.values())}
    assert found == expected


def test_totals_and_top_lists(real_projects, db):
    update(db, [real_projects])
    answer = summary(db)
    reference = per_session(REAL_PROJECTS / "projects")
    assert answer.totals.tool_uses == sum(s["tool_uses"] for s in reference.values()) == 905
    assert answer.totals.prompts == sum(s["prompts"] for s in reference.values())
    assert answer.tools[0].name == "Bash" and answer.tools[0].uses == 257
    assert sum(tool.uses for tool in answer.tools) <= answer.totals.tool_uses
    assert {c.name for c in answer.slash_commands} >= {"clear", "model", "context"}
    assert answer.totals.cost_usd > 0
    assert answer.totals.cost_per_commit_usd == round(answer.totals.cost_usd / answer.totals.commits, 4)
    changed = answer.totals.lines_added + answer.totals.lines_removed
    assert answer.totals.cost_per_100_lines_usd == round(answer.totals.cost_usd * 100 / changed, 4)
    # Subagent spend by type: the types come from the meta.json files beside their transcripts.
    assert "general-purpose" in {agent.agent_type for agent in answer.agents}
    assert answer.totals.active_seconds > 0
    assert answer.activity_known_since is None


def test_group_by_day_sums_to_the_totals(real_projects, db):
    update(db, [real_projects])
    totals = summary(db).totals
    for group_by in ("day", "month", "repo", "session"):
        rows = summary(db, group_by=group_by).rows
        for field in ("tool_uses", "prompts", "lines_added", "commits"):
            assert sum(getattr(row, field) for row in rows) == getattr(totals, field), (group_by, field)
        assert abs(sum(row.cost_usd for row in rows) - totals.cost_usd) < 1e-5


def test_bad_arguments_say_what_works(real_projects, db):
    update(db, [real_projects])
    with pytest.raises(QueryError, match="none, day, week"):
        summary(db, group_by="tool")
    with pytest.raises(QueryError, match="responses, cost, prompts"):
        activity_heatmap(db, since="all", metric="lines", zone=UTC_ZONE, now=NOW)
    with pytest.raises(QueryError, match="not in the ledger"):
        summary(db, repo="no-such-repo")


# --- copies, rejections, results that come later -------------------------------------------------


def test_a_resumed_copy_counts_once(real_projects, db):
    """An old-style resume: a new file holding copies of another session's lines (same uuids and
    tool_use ids) under a new sessionId."""
    source = next((real_projects / "projects").rglob("a7da6a22-*.jsonl"))
    copied = [line.replace("a7da6a22-facc-4fcd-8bab-f83c87862004", "c0ffee00-0000-4000-8000-000000000001")
              for line in source.read_text().splitlines()]  # fmt: skip
    write_lines(source.parent / "c0ffee00-0000-4000-8000-000000000001.jsonl", *copied)
    update(db, [real_projects])
    assert summary(db).totals.tool_uses == 905
    assert summary(db).totals.prompts == sum(s["prompts"] for s in per_session(REAL_PROJECTS / "projects").values())


def test_a_fork_of_the_real_cli_counts_its_copies_once(claude_dir, db):
    copy_projects(FIXTURES / "claude_cli" / "projects", claude_dir)
    update(db, [claude_dir])
    answer = summary(db)
    assert answer.totals.prompts == 4  # hello, and again, a fork, a fork of the fork: each typed once
    prompts = summary(db, group_by="session").rows
    first = "a94959eb-5fb2-406c-99bd-872758a05aa8"
    # The copies of "hello" and "and again" in both forks belong to the session that typed them.
    assert {row.key: row.prompts for row in prompts}[first] == 2


def _edit_call(tool_id: str, *, message_id: str, name: str = "Edit", command: str | None = None) -> str:
    line = json.loads(assistant_line(message_id=message_id, request_id=f"req_{message_id}"))
    tool_input = {"command": command} if command is not None else {"file_path": "/home/u/repo/a.py"}
    line["message"]["content"] = [{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}]
    return json.dumps(line, separators=(",", ":"))


def _result(tool_id: str, text: str, *, is_error: bool = False, patch: list | None = None, uuid: str = "r1") -> str:
    line = {
        "parentUuid": None, "isSidechain": False, "type": "user", "sessionId": "session-1", "cwd": "/home/u/repo",
        "message": {"role": "user", "content": [
            {"tool_use_id": tool_id, "type": "tool_result", "content": text, "is_error": is_error}]},
        "uuid": uuid, "timestamp": "2026-11-20T09:05:09.000Z",
    }  # fmt: skip
    if patch is not None:
        line["toolUseResult"] = {"filePath": "/home/u/repo/a.py", "structuredPatch": patch, "originalFile": "x"}
    elif is_error:
        line["toolUseResult"] = "Error: " + text
    return json.dumps(line, separators=(",", ":"))


def test_a_rejected_edit_counts_as_rejected(claude_dir, db):
    rejection = "The user doesn't want to proceed with this tool use. The tool use was rejected."
    write_lines(
        claude_dir / "projects" / "p" / "s.jsonl",
        _edit_call("toolu_1", message_id="msg_1"),
        _result("toolu_1", rejection, is_error=True, uuid="r1"),
        _edit_call("toolu_2", message_id="msg_2"),
        _result("toolu_2", "ok", patch=[{"lines": [" a", "-b", "+c", "+d"]}], uuid="r2"),
    )
    update(db, [claude_dir])
    totals = summary(db).totals
    assert (totals.tool_uses, totals.edits_rejected, totals.edits_accepted, totals.tool_errors) == (2, 1, 1, 0)
    assert (totals.lines_added, totals.lines_removed) == (2, 1)


def test_a_result_read_after_its_call_is_still_counted(claude_dir, db):
    """A live session indexed between a tool call and its result: the result comes in the next read."""
    path = write_lines(claude_dir / "projects" / "p" / "s.jsonl", _edit_call("toolu_9", message_id="msg_9"))
    update(db, [claude_dir])
    assert summary(db).totals.tool_uses == 1
    with path.open("a") as handle:
        handle.write(_result("toolu_9", "done", patch=[{"lines": ["+x", "+y", "-z"]}]) + "\n")
    update(db, [claude_dir])
    totals = summary(db).totals
    assert (totals.tool_uses, totals.lines_added, totals.lines_removed) == (1, 2, 1)
    assert summary(db).tools[0].name == "Edit"


def test_commits_and_pull_requests_by_shape_and_result(claude_dir, db):
    write_lines(
        claude_dir / "projects" / "p" / "s.jsonl",
        _edit_call("t1", message_id="m1", name="Bash", command="git add -A && git commit -m 'fix'"),
        _result("t1", "[main 1a2b3c4] fix\n 1 file changed", uuid="u1"),
        _edit_call("t2", message_id="m2", name="Bash", command="git commit -m 'again'"),
        _result("t2", "nothing to commit, working tree clean", is_error=True, uuid="u2"),
        _edit_call("t3", message_id="m3", name="Bash", command="gh pr create --fill"),
        _result("t3", "https://github.com/acme/api/pull/12", uuid="u3"),
        _edit_call("t4", message_id="m4", name="Bash", command="git log --grep commit"),
        _result("t4", "[main 1a2b3c4] fix", uuid="u4"),
    )
    update(db, [claude_dir])
    totals = summary(db).totals
    assert (totals.commits, totals.pull_requests, totals.tool_errors) == (1, 1, 1)


@pytest.mark.parametrize(
    ("command", "shape"),
    [
        ("git commit -m 'x'", Shape.COMMIT),
        ("cd repo && git -C sub commit --amend --no-edit", Shape.COMMIT),
        ("GIT_AUTHOR_NAME=a git commit -am x", Shape.COMMIT),
        ("gh pr create --title t", Shape.PULL_REQUEST),
        ("glab mr create", Shape.PULL_REQUEST),
        ("git status", Shape.OTHER),
        ("echo git commit", Shape.OTHER),
        ("git log --grep commit", Shape.OTHER),
        ("x" * 200_000 + " git commit", Shape.OTHER),
    ],
)
def test_command_shapes(command, shape):
    assert command_shape(command) == shape


# --- Claude Code's own totals -------------------------------------------------------------------


def _cost_state(session_id: str, cost: float, model_usage: dict, lines: int = 0, duration: int = 1000) -> str:
    return json.dumps({
        "type": "cost-state", "sessionId": session_id, "totalCostUSD": cost, "totalLinesAdded": lines,
        "totalLinesRemoved": 0, "totalDuration": duration, "totalAPIDuration": 10, "modelUsage": model_usage,
    }, separators=(",", ":"))  # fmt: skip


def test_a_2_1_332_transcript_is_read(claude_dir, db):
    """requestRef instead of requestId, and cost-state lines: the real CLI's files."""
    copy_projects(FIXTURES / "claude_cli" / "projects", claude_dir)
    update(db, [claude_dir])
    states = {row[0]: row[1] for row in db.execute("select session_id, cost_usd from session_costs")}
    assert states["a94959eb-5fb2-406c-99bd-872758a05aa8"] == pytest.approx(0.00028)  # the latest of its two
    answer = summary(db)
    assert answer.totals.lines_added_reported == 0
    assert answer.totals.auxiliary_cost_usd == 0.0  # Claude Code's own figure is what its lines sum to


def test_auxiliary_cost_is_what_the_totals_hold_beyond_the_lines(claude_dir, db):
    model = "claude-sonnet-4-5-20250929"
    line = assistant_line(message_id="m1", input_tokens=1000, output_tokens=100, cache_write_5m=0, cache_read=0)
    # Claude Code's totals hold 3,000 input and 400 output tokens: a title and a compaction it
    # made without a transcript line, 2,000 input and 300 output tokens at Sonnet 4.5's prices.
    usage = {model: {"inputTokens": 3000, "outputTokens": 400, "cacheReadInputTokens": 0,
                     "cacheCreationInputTokens": 0, "webSearchRequests": 0, "costUSD": 0.015}}  # fmt: skip
    write_lines(
        claude_dir / "projects" / "p" / "session-1.jsonl",
        line,
        _cost_state("session-1", 0.001, {}, duration=10),
        _cost_state("session-1", 0.015, usage, lines=7, duration=20),
    )
    update(db, [claude_dir])
    totals = summary(db).totals
    assert totals.auxiliary_cost_usd == pytest.approx(2000 * 3e-6 + 300 * 15e-6)
    assert totals.cost_usd == pytest.approx(1000 * 3e-6 + 100 * 15e-6)  # not added in twice
    assert totals.lines_added_reported == 7


# --- the heatmap --------------------------------------------------------------------------------


def test_heatmap_cells_follow_local_time(claude_dir, db):
    # 2026-11-20 is a Friday; 09:05 UTC is 10:05 in Berlin.
    write_lines(claude_dir / "projects" / "p" / "s.jsonl", assistant_line(timestamp="2026-11-20T09:05:07.512Z"))
    update(db, [claude_dir])
    grid = activity_heatmap(db, since="all", metric="responses", zone=ZoneInfo("Europe/Berlin"), now=NOW)
    assert grid.grid[4][10] == 1 and grid.total == 1 and grid.busiest == "Fri 10:00"
    cost = activity_heatmap(db, since="all", metric="cost", zone=UTC_ZONE, now=NOW)
    assert cost.grid[4][9] == pytest.approx(summary(db).totals.cost_usd, abs=1e-4)


def test_heatmap_of_prompts_on_real_sessions(real_projects, db):
    update(db, [real_projects])
    grid = activity_heatmap(db, since="all", metric="prompts", zone=UTC_ZONE, now=NOW)
    assert grid.total == summary(db).totals.prompts
    assert len(grid.grid) == 7 and all(len(hours) == 24 for hours in grid.grid)


# --- existing ledgers, privacy ------------------------------------------------------------------


def test_an_old_ledger_is_backfilled_from_files_on_disk(real_projects, tmp_path):
    ledger = tmp_path / "old.db"
    conn = sqlite3.connect(ledger)
    conn.executescript((FIXTURES / "ledger_m011" / "ledger.sql").read_text())
    conn.close()
    db = open_db(ledger)  # migrates: activity tables, files to read again
    update(db, [real_projects])
    answer = summary(db)
    assert answer.totals.tool_uses == 905
    # The old ledger held responses from files that are gone: activity is known after them.
    (known,) = db.execute("select known_since_utc from activity_state").fetchone()
    assert answer.activity_known_since == known
    assert summary(db, since="2026-11-01").activity_known_since is None or known >= "2026-11-01"
    db.close()


def test_no_prompt_or_command_text_is_stored(claude_dir, db):
    secret = "please refactor the payment module with my card 4242"
    prompt = {
        "type": "user", "sessionId": "s", "uuid": "p1", "timestamp": "2026-11-20T09:00:00.000Z",
        "message": {"role": "user", "content": secret},
    }  # fmt: skip
    write_lines(
        claude_dir / "projects" / "p" / "s.jsonl",
        json.dumps(prompt, separators=(",", ":")),
        _edit_call("toolu_s", message_id="m1", name="Bash", command=f"git commit -m '{secret}'"),
    )
    update(db, [claude_dir])
    assert summary(db).totals.prompts == 1
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"payment module" not in Path(db.conn.execute("PRAGMA database_list").fetchone()[2]).read_bytes()


def test_sessions_and_session_detail_carry_activity(real_projects, db):
    from ccledger.answers.queries import session_detail, sessions

    update(db, [real_projects])
    listed = {s.session_id: s for s in sessions(db, since="all", limit=500, zone=UTC_ZONE, now=NOW).sessions}
    for session_id, expected in HAND_COUNTED.items():
        row = listed[session_id]
        assert (row.prompts, row.tool_uses, row.lines_added, row.lines_removed, row.commits) == (
            expected["prompts"], expected["tool_uses"], expected["lines_added"], expected["lines_removed"],
            expected["commits"],
        )  # fmt: skip
        detail = session_detail(db, session_id)
        assert detail.activity is not None
        assert {field: getattr(detail.activity, field) for field in FIELDS} == expected
        assert detail.activity.cost_usd == detail.totals.cost_usd


# --- the CLI and the MCP tools ------------------------------------------------------------------


def _run(*args: str):
    from click.testing import CliRunner

    from ccledger.surfaces.cli import cli

    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_activity_and_heatmap(real_projects):
    answer = json.loads(_run("activity", "--since", "all", "--json"))
    assert answer["totals"]["tool_uses"] == 905
    table = _run("activity", "--since", "all")
    assert "Tool uses" in table and "905" in table and "Bash" in table
    rows = _run("activity", "--since", "all", "--by", "month", "--csv").splitlines()
    assert rows[0].startswith("sessions,prompts") and rows[0].endswith(",key")
    assert sum(int(line.split(",")[3]) for line in rows[1:]) == 905  # the tool_uses column
    grid = _run("heatmap", "--since", "all", "--metric", "prompts")
    assert grid.count("■") == 7 * 24 and "busiest" in grid
    responses = json.loads(_run("report", "--since", "all", "--json"))["totals"]["responses"]
    assert json.loads(_run("heatmap", "--since", "all", "--json"))["total"] == responses


@pytest.mark.anyio
async def test_mcp_tools(real_projects, tmp_path):
    from mcp import Client

    from ccledger.surfaces.server import build_server

    server = build_server(tmp_path / "ledger.db", roots=[real_projects], now=lambda: NOW)
    async with Client(server) as client:
        result = await client.call_tool("activity_summary", {"since": "all", "group_by": "repo", "limit": 3})
        assert not result.is_error
        answer = result.structured_content
        assert answer["totals"]["tool_uses"] == 905 and len(answer["rows"]) == 3 and answer["next_offset"] == 3
        assert "tool_uses 905" in result.content[0].text
        result = await client.call_tool("activity_heatmap", {"since": "all", "metric": "active_time"})
        assert not result.is_error and result.structured_content["total"] > 0
        result = await client.call_tool("activity_summary", {"group_by": "tools"})
        assert result.is_error and "'none'" in result.content[0].text and "'model'" in result.content[0].text


@pytest.fixture
def anyio_backend():
    return "asyncio"


# --- the rollup ---------------------------------------------------------------------------------

WINDOWS = [
    {"since": "all"},
    {"since": "2026-01-15T10:07", "until": "2026-04-18T13:22"},  # unaligned edges: read from the rows
    {"since": "2025-12", "until": "2026-02"},
]


def _answers(db) -> list:
    answers = []
    for window in WINDOWS:
        for group_by in ("none", "day", "session", "model"):
            answer = summary(db, **window, group_by=group_by)
            answers.append((answer.totals, answer.rows, answer.tools, answer.slash_commands, answer.agents))
        grid = activity_heatmap(db, **{"since": "all", **window}, metric="active_time", zone=UTC_ZONE, now=NOW)
        answers.append(grid.grid)
    return answers


def test_the_rollup_answers_as_the_rows_do(real_projects, db, monkeypatch):
    from ccledger.answers import activity

    update(db, [real_projects])
    from_rollup = _answers(db)
    assert db.execute("select count(*) from activity_rollup").fetchone()[0] > 0
    monkeypatch.setattr(activity, "is_built", lambda db: False)
    monkeypatch.setattr(activity, "read_only", lambda db: True)
    assert _answers(db) == from_rollup


def _around_a_month_start() -> list[str]:
    """Tool uses every four minutes from Saturday 2026-02-28 18:00 UTC to Monday 2026-03-02 12:00:
    across a month's and a week's start in every zone, with a failed call every tenth."""
    lines = []
    for n in range(630):
        moment = datetime(2026, 2, 28, 18, tzinfo=UTC) + timedelta(minutes=4 * n)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        call = json.loads(_edit_call(f"toolu_m{n}", message_id=f"msg_m{n}", name="Bash", command="ls"))
        call.update(timestamp=stamp, sessionId="month-start", uuid=f"a-m{n}")
        lines.append(json.dumps(call))
        if n % 10 == 0:
            result = json.loads(_result(f"toolu_m{n}", "no such file", is_error=True, uuid=f"r-m{n}"))
            result.update(timestamp=stamp, sessionId="month-start")
            lines.append(json.dumps(result))
    return lines


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
def test_the_daily_rollup_answers_as_the_rows_do_in_every_zone(real_projects, db, monkeypatch, zone):
    """Long windows read whole UTC days from the daily rollup, except a day that two local days,
    weeks or months share: those come from the 15-minute rollup."""
    from ccledger.answers import activity

    write_lines(real_projects / "projects" / "-home-u-repo" / "month-start.jsonl", *_around_a_month_start())
    update(db, [real_projects])

    def answers() -> list:
        found = []
        for window in [*WINDOWS, {"since": "2026-02-20", "until": "2026-03-05T07:30"}]:
            for group_by in ("none", "day", "week", "month", "repo", "model"):
                answer = activity_summary(db, zone=ZoneInfo(zone), now=NOW, **window, group_by=group_by)
                found.append((answer.totals, answer.rows, answer.tools, answer.agents))
        return found

    from_rollups = answers()
    assert db.execute("select count(*) from activity_daily").fetchone()[0] > 0
    monkeypatch.setattr(activity, "is_built", lambda db: False)
    monkeypatch.setattr(activity, "read_only", lambda db: True)
    assert answers() == from_rollups


def test_the_rollup_follows_new_lines(real_projects, db, monkeypatch):
    from ccledger.answers import activity

    update(db, [real_projects])
    before = summary(db).totals  # builds the rollup
    path = next((real_projects / "projects").rglob("a7da6a22-*.jsonl"))
    with path.open("a") as handle:
        handle.write(_edit_call("toolu_new", message_id="msg_new").replace("session-1", "a7da6a22") + "\n")
        handle.write(_result("toolu_new", "ok", patch=[{"lines": ["+a", "+b"]}], uuid="r-new") + "\n")
    update(db, [real_projects])  # marks the touched buckets; the rollup rebuilds them
    after = summary(db).totals
    assert (after.tool_uses, after.lines_added) == (before.tool_uses + 1, before.lines_added + 2)
    monkeypatch.setattr(activity, "is_built", lambda db: False)
    monkeypatch.setattr(activity, "read_only", lambda db: True)
    assert summary(db).totals == after


def test_a_subagent_type_known_after_its_responses_were_rolled_up(claude_dir, db, monkeypatch):
    """The meta.json naming a subagent's type may come after the rollups summed its first
    responses (on another day here): those move under the type too, as the rows say."""
    from ccledger.answers import activity

    folder = claude_dir / "projects" / "-home-u-repo" / "session-1" / "subagents"
    first = assistant_line(message_id="m1", request_id="r1", sidechain=True, agent_id="abc123")
    transcript = write_lines(folder / "agent-abc123.jsonl", first)
    update(db, [claude_dir])
    assert [(agent.agent_type, agent.responses) for agent in summary(db).agents] == [("unknown", 1)]
    (folder / "agent-abc123.meta.json").write_text(json.dumps({"agentType": "Explore"}), encoding="utf-8")
    later = assistant_line(
        message_id="m2", request_id="r2", sidechain=True, agent_id="abc123", timestamp="2026-11-22T10:00:00.000Z"
    )
    with transcript.open("a", encoding="utf-8") as handle:
        handle.write(later + "\n")
    update(db, [claude_dir])
    agents = summary(db).agents
    assert [(agent.agent_type, agent.responses) for agent in agents] == [("Explore", 2)]
    from_rollups = activity_summary(db, zone=UTC_ZONE, now=NOW, since="all", group_by="day")
    monkeypatch.setattr(activity, "is_built", lambda db: False)
    monkeypatch.setattr(activity, "read_only", lambda db: True)
    assert activity_summary(db, zone=UTC_ZONE, now=NOW, since="all", group_by="day") == from_rollups


def test_a_session_timed_later_loses_its_gaps_everywhere(claude_dir, db, monkeypatch):
    """Active time: a session's gaps count only while it has no turn duration. When its first
    arrives (here a day after the gaps were rolled up), the gaps go from every day of it."""
    from ccledger.answers import activity

    def response(n: int, stamp: str) -> str:
        return assistant_line(message_id=f"m{n}", request_id=f"r{n}", timestamp=stamp)

    transcript = write_lines(
        claude_dir / "projects" / "-home-u-repo" / "session-1.jsonl",
        response(1, "2026-11-20T09:00:00.000Z"),
        response(2, "2026-11-20T09:02:00.000Z"),  # a gap of two minutes
    )
    update(db, [claude_dir])
    assert summary(db).totals.active_seconds == 120
    turn = {
        "type": "system", "subtype": "turn_duration", "uuid": "turn-1", "sessionId": "session-1",
        "timestamp": "2026-11-22T10:00:30.000Z", "durationMs": 30_000, "cwd": "/home/u/repo",
    }  # fmt: skip
    with transcript.open("a", encoding="utf-8") as handle:
        handle.write(response(3, "2026-11-22T10:00:00.000Z") + "\n" + json.dumps(turn, separators=(",", ":")) + "\n")
    update(db, [claude_dir])
    by_day = activity_summary(db, zone=UTC_ZONE, now=NOW, since="all", group_by="day")
    assert by_day.totals.active_seconds == 30
    assert [(row.key, row.active_seconds) for row in by_day.rows] == [("2026-11-20", 0), ("2026-11-22", 30)]
    monkeypatch.setattr(activity, "is_built", lambda db: False)
    monkeypatch.setattr(activity, "read_only", lambda db: True)
    assert activity_summary(db, zone=UTC_ZONE, now=NOW, since="all", group_by="day") == by_day


# --- hostile input ------------------------------------------------------------------------------


def test_activity_of_unexpected_shapes_costs_nothing_else(claude_dir, db):
    """Activity fields of the wrong type lose only that activity: never a response, never a crash."""
    bad_block = json.loads(assistant_line(message_id="m1", request_id="r1"))
    bad_block["message"]["content"] = [{"type": "tool_use", "id": ["x"], "name": {"a": 1}, "input": 3}]
    lines = [
        json.dumps(bad_block),
        _edit_call("t1", message_id="m2", name="Bash", command="x" * 300_000),
        json.dumps(
            {
                "type": "user",
                "uuid": "u1",
                "timestamp": "2026-11-20T09:00:00.000Z",
                "message": {"role": "user", "content": 42},
            }
        ),
        '{"type":"user","message":{"role":"user","content":"half a pro',  # not JSON, no usage
        json.dumps(
            {"type": "cost-state", "sessionId": "s", "totalCostUSD": "a lot", "modelUsage": [1]}, separators=(",", ":")
        ),
        json.dumps({"type": "cost-state", "sessionId": "s2", "totalCostUSD": 1e300}, separators=(",", ":")),
        json.dumps(
            {
                "type": "system",
                "subtype": "compact_boundary",
                "uuid": "c1",
                "timestamp": "2026-11-20T09:00:00Z",
                "compactMetadata": "big",
            },
            separators=(",", ":"),
        ),
        json.dumps(
            {
                "type": "system",
                "subtype": "turn_duration",
                "uuid": "t1",
                "timestamp": "2026-11-20T09:00:00Z",
                "durationMs": -5,
            },
            separators=(",", ":"),
        ),
        _result("t1", "ok", patch=[{"lines": "+not a list"}], uuid="r9"),
    ]
    write_lines(claude_dir / "projects" / "p" / "s.jsonl", *lines)
    update(db, [claude_dir])
    assert db.execute("select count(*) from responses").fetchone()[0] == 2
    totals = summary(db).totals
    assert (totals.tool_uses, totals.prompts, totals.compactions, totals.active_seconds) == (1, 0, 0, 0)
    assert db.execute("select count(*) from session_costs").fetchone()[0] == 0
