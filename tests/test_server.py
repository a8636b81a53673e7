"""The MCP server through the SDK's in-memory Client, a real stdio subprocess and real HTTP."""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime

import anyio
import httpx2
import pytest
from conftest import REAL_PROJECTS_TOTALS, assistant_line, free_port, totals, write_lines
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from ccledger.ledger.db import open_db
from ccledger.surfaces import server as server_module
from ccledger.surfaces.server import build_server

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
READ_ONLY_TOOLS = {
    "usage_summary", "cost_by_repo", "sessions", "session_detail", "index_status", "usage_blocks", "burn_rate",
    "plan_value", "usage_pace", "budget_status", "activity_summary", "activity_heatmap", "team_usage",
    "team_budget_status",
}  # fmt: skip
WRITING_TOOLS = {"set_budget", "delete_budget"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def server(real_projects, tmp_path):
    return build_server(tmp_path / "ledger.db", roots=[real_projects], now=lambda: NOW)


async def call(client, tool, **arguments):
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def error_of(client, tool, **arguments) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text


async def test_tools_are_described_read_only_and_typed(server):
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) >= READ_ONLY_TOOLS | WRITING_TOOLS
        for name, tool in tools.items():
            assert tool.annotations.read_only_hint is (name in READ_ONLY_TOOLS)
            assert tool.output_schema is not None and tool.output_schema["type"] == "object"
            assert len(tool.description) > 150, f"{tool.name} needs a description a model can act on"
        assert tools["usage_summary"].output_schema["title"] == "UsageSummary"
        # Each tool is a function of the module, registered from TOOLS in that order (those the
        # MCP App charts first), and the description a host hands the model is its docstring
        # without the code's indentation.
        ordered = sorted(server_module.TOOLS, key=lambda entry: entry[0] not in server_module.CHARTED)
        assert list(tools) == [tool.__name__ for tool, _, _ in ordered] + [
            name for _, name, _, _ in server_module.TEAM_TOOLS
        ]
        for tool, title, _ in server_module.TOOLS:
            assert getattr(server_module, tool.__name__) is tool and tools[tool.__name__].title == title
            assert "\n    " not in tools[tool.__name__].description
        assert tools["delete_budget"].annotations.destructive_hint is True
        group_by = tools["usage_summary"].input_schema["properties"]["group_by"]
        assert set(group_by["enum"]) == {"day", "week", "month", "repo", "branch", "model", "session", "machine"}


async def test_usage_summary_totals_match_the_corpus(server):
    async with Client(server) as client:
        summary = await call(client, "usage_summary", since="all", group_by="model")
    totals = summary["totals"]
    assert {key: totals[key] for key in REAL_PROJECTS_TOTALS} == REAL_PROJECTS_TOTALS
    assert totals["total_tokens"] == sum(REAL_PROJECTS_TOTALS[k] for k in REAL_PROJECTS_TOTALS if k != "responses")
    assert summary["unpriced_models"] == []
    assert totals["cost_usd"] > 0
    assert sum(row["responses"] for row in summary["rows"]) == 878
    costs = [row["cost_usd"] for row in summary["rows"]]
    assert costs == sorted(costs, reverse=True)
    assert abs(sum(costs) - totals["cost_usd"]) < 1e-4
    assert summary["period"]["since_utc"] is None and summary["group_by"] == "model"


async def test_usage_summary_by_day_in_a_timezone(server):
    async with Client(server) as client:
        utc = await call(client, "usage_summary", since="2025-07-14", until="2025-07-15", timezone="UTC")
        tokyo = await call(client, "usage_summary", since="2025-07-14", until="2025-07-15", timezone="Asia/Tokyo")
    assert [row["key"] for row in utc["rows"]] == sorted(row["key"] for row in utc["rows"])
    assert all(row["key"] in ("2025-07-14", "2025-07-15") for row in utc["rows"])
    assert utc["period"]["timezone"] == "UTC" and tokyo["period"]["timezone"] == "Asia/Tokyo"
    assert utc["period"]["since_utc"] == "2025-07-14T00:00:00.000Z"
    assert tokyo["period"]["since_utc"] == "2025-07-13T15:00:00.000Z"


async def test_usage_summary_filters(server):
    async with Client(server) as client:
        by_repo = await call(client, "usage_summary", since="all", group_by="repo")
        one = await call(client, "usage_summary", since="all", repo="JSSoundRecorder", group_by="model")
        model = await call(client, "usage_summary", since="all", model="claude-opus-4-7", group_by="repo")
    repo_row = next(r for r in by_repo["rows"] if r["key"].endswith("JSSoundRecorder"))
    assert one["totals"]["responses"] == repo_row["responses"] == 44
    assert one["filters"] == {"repo": repo_row["key"]}
    assert [row["key"] for row in model["rows"]] == ["-experiments/worktrees"]


@pytest.mark.parametrize(
    ("arguments", "hint"),
    [
        ({"since": "2025-07-15", "until": "2025-07-01"}, "is not after since"),
        ({"since": "the other day"}, "'last 7 days'"),
        ({"repo": "no-such-repo", "since": "all"}, "Known repos include"),
        ({"timezone": "Mars/Base"}, "IANA timezone"),
    ],
)
async def test_bad_arguments_say_what_works(server, arguments, hint):
    async with Client(server) as client:
        assert hint in await error_of(client, "usage_summary", **arguments)


async def test_unknown_group_by_is_refused(server):
    async with Client(server) as client:
        message = await error_of(client, "usage_summary", group_by="fortnight")
    assert "fortnight" in message and "'day'" in message


async def test_cost_by_repo(server):
    async with Client(server) as client:
        costs = await call(client, "cost_by_repo", since="all")
    repos = costs["repos"]
    assert [r["cost_usd"] for r in repos] == sorted((r["cost_usd"] for r in repos), reverse=True)
    assert abs(sum(r["share"] for r in repos) - 1) < 0.01
    assert sum(r["responses"] for r in repos) == 878
    assert {"-experiments/worktrees", "/Users/dain/workspace/claude-code-log"} <= {r["repo_id"] for r in repos}


async def test_sessions_and_session_detail(server):
    async with Client(server) as client:
        found = await call(client, "sessions", since="all", limit=5)
        assert len(found["sessions"]) == 5 and found["total_sessions"] > 5
        lasts = [s["last_utc"] for s in found["sessions"]]
        assert lasts == sorted(lasts, reverse=True)
        newest = found["sessions"][0]
        detail = await call(client, "session_detail", session_id=newest["session_id"][:8])
        assert detail["session_id"] == newest["session_id"]
        assert detail["totals"]["responses"] == newest["responses"]
        assert sum(row["responses"] for row in detail["by_agent"]) == newest["responses"]
        assert {row["key"] for row in detail["by_model"]} == set(newest["models"])
        in_repo = await call(client, "sessions", since="all", repo="-experiments/worktrees")
        assert {s["repo_id"] for s in in_repo["sessions"]} == {"-experiments/worktrees"}
        assert "Recent sessions" in await error_of(client, "session_detail", session_id="nope")


async def test_worktree_subagents_roll_into_their_session(server):
    async with Client(server) as client:
        found = await call(client, "sessions", since="all", repo="-experiments/worktrees")
        session = found["sessions"][0]
        detail = await call(client, "session_detail", session_id=session["session_id"])
    agents = {row["key"] for row in detail["by_agent"]}
    assert "main" in agents and len(agents) > 1
    assert session["subagent_responses"] > 0


async def test_index_status(server, real_projects):
    async with Client(server) as client:
        status = await call(client, "index_status")
    assert status["responses"] == 878 and status["files"] == 99
    assert status["roots"] == [{"path": str(real_projects), "exists": True, "files": 99}]
    assert status["first_response_utc"].startswith("2025-06-14")
    assert status["bad_lines"] == 0 and status["unpriced_models"] == []
    assert status["refresh"]["files_seen"] == 99


async def test_every_answer_includes_the_turn_that_just_happened(server, real_projects):
    async with Client(server) as client:
        before = await call(client, "usage_summary", since="all")
        write_lines(
            real_projects / "projects" / "-new-project" / "s-new.jsonl",
            assistant_line(message_id="msg_new", session_id="s-new", timestamp="2026-11-22T11:59:00.000Z"),
        )
        after = await call(client, "usage_summary", since="today", timezone="UTC")
    assert before["totals"]["responses"] == 878
    assert after["totals"]["responses"] == 1


async def test_unpriced_models_are_listed_not_zeroed(server, real_projects):
    write_lines(
        real_projects / "projects" / "-proxy" / "p.jsonl",
        assistant_line(message_id="m_proxy", model="glm-9-air", timestamp="2026-11-22T10:00:00.000Z"),
        # Sonnet 4.5 is priced, but has no fast mode price: left out, and said so, not priced at standard.
        assistant_line(message_id="m_fast", request_id="r_fast", speed="fast", timestamp="2026-11-22T10:01:00.000Z"),
    )
    async with Client(server) as client:
        summary = await call(client, "usage_summary", since="today", timezone="UTC")
        status = await call(client, "index_status")
    assert summary["unpriced_models"] == [
        {"model": "claude-sonnet-4-5-20250929", "responses": 1, "total_tokens": 3354, "reason": "no fast-mode price"},
        {"model": "glm-9-air", "responses": 1, "total_tokens": 3354, "reason": "unknown model"},
    ]
    assert summary["totals"]["cost_usd"] == 0 and summary["totals"]["responses"] == 2
    hint = status["how_to_add_prices"]
    assert "No price is known for: glm-9-air." in hint and "prices.toml" in hint
    assert "No fast-mode price is known for: claude-sonnet-4-5-20250929." in hint and "fast = {" in hint


async def test_blocks_burn_rate_plan_and_pace(server):
    async with Client(server) as client:
        found = await call(client, "usage_blocks", since="all", timezone="UTC")
        assert found["blocks_total"] == 56 and len(found["blocks"]) == 20 and "ccusage" in found["note"]
        pages, offset = [found["blocks"]], found["next_offset"]  # the most recent page first
        while offset is not None:
            more = await call(client, "usage_blocks", since="all", timezone="UTC", offset=offset)
            pages.insert(0, more["blocks"])
            offset = more["next_offset"]
        every = [block for page in pages for block in page]
        assert len(every) == 56 and every == sorted(every, key=lambda block: block["start_utc"])
        burn = await call(client, "burn_rate")
        assert burn["active_block"] is None  # the corpus ends in April; the clock says November
        assert burn["last_block"]["start_utc"] == "2026-04-18T13:00:00.000Z"
        assert "estimate" in burn["note"].lower() and burn["official"] == []
        value = await call(client, "plan_value", plan="max20", since="2025-11", timezone="UTC")
        assert value["subscription_usd"] == 200.0 and value["api_equivalent_usd"] > 0
        assert "'pro'" in await error_of(client, "plan_value", plan="ultra")
        pace = await call(client, "usage_pace", period="week")
        assert pace["spent_usd"] == 0 and pace["trend"] == "stable"


async def test_prices_resource_and_weekly_prompt(server):
    async with Client(server) as client:
        resources = (await client.list_resources()).resources
        assert [str(r.uri) for r in resources] == ["ui://ccledger/usage.html", "ccledger://prices"]
        table = json.loads((await client.read_resource("ccledger://prices")).contents[0].text)
        assert "claude-opus-4-6" in json.dumps(table)
        prompt = await client.get_prompt("weekly_report", {"period": "last week"})
        text = prompt.messages[0].content.text
        assert "usage_summary" in text and "cost_by_repo" in text and "last week" in text


# --- real processes ------------------------------------------------------------------------------


def serve_env(real_projects, tmp_path) -> dict[str, str]:
    return {**os.environ, "CLAUDE_CONFIG_DIR": str(real_projects), "CCLEDGER_DB": str(tmp_path / "served.db")}


async def test_stdio_subprocess(real_projects, tmp_path):
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "ccledger", "serve"], env=serve_env(real_projects, tmp_path)
    )
    async with Client(params) as client:
        summary = await call(client, "usage_summary", since="all", group_by="model")
        assert summary["totals"]["responses"] == 878
        assert "not in the ledger" in await error_of(client, "usage_summary", repo="nope")


def _responses_in(path) -> int:
    """Responses in the ledger file, read as another process would, without opening it for writes."""
    if not path.exists():
        return 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        try:
            return db.execute("select count(*) from responses").fetchone()[0]
        except sqlite3.OperationalError:  # the schema is being made
            return 0


async def test_a_stdio_server_indexes_once_its_tools_are_listed_before_any_call(real_projects, tmp_path):
    env = serve_env(real_projects, tmp_path)
    params = StdioServerParameters(command=sys.executable, args=["-m", "ccledger", "serve"], env=env)
    ledger = tmp_path / "served.db"
    async with Client(params) as client:
        assert "usage_summary" in {tool.name for tool in (await client.list_tools()).tools}
        deadline = time.monotonic() + 60
        while _responses_in(ledger) < 878 and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        assert _responses_in(ledger) == 878  # indexed without a call
        summary = await call(client, "usage_summary", since="all", group_by="model")
        assert summary["totals"]["responses"] == 878
        status = await call(client, "index_status")
        assert status["responses"] == 878 and status["files"] == 99


def test_a_host_gone_before_the_first_refresh_ends_leaves_a_ledger_the_next_run_completes(real_projects, tmp_path):
    env = serve_env(real_projects, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccledger", "serve"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    for message in (
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "check", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ):  # fmt: skip
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
    answered = [json.loads(proc.stdout.readline()) for _ in range(2)]
    assert [message["id"] for message in answered] == [1, 2]
    proc.stdin.close()  # a health check: gone once it has the tools, the first refresh under way or not
    assert proc.wait(timeout=60) == 0
    proc.stdout.close()
    indexed = subprocess.run(
        [sys.executable, "-m", "ccledger", "index", "--json"], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(indexed.stdout)["bad_lines"] == 0
    ledger = open_db(tmp_path / "served.db")
    assert totals(ledger) == REAL_PROJECTS_TOTALS
    ledger.close()


def start_http(real_projects, tmp_path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccledger", "serve", "--http", "--port", str(port), *args],
        env={**serve_env(real_projects, tmp_path), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the HTTP server did not start")


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    _, stderr = proc.communicate(timeout=10)
    return stderr.decode()


async def test_streamable_http_on_loopback(real_projects, tmp_path):
    proc, port = start_http(real_projects, tmp_path)
    try:
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            summary = await call(client, "usage_summary", since="all")
            assert summary["totals"]["responses"] == 878
        evil = httpx2.post(
            f"http://127.0.0.1:{port}/mcp",
            headers={"Origin": "http://evil.example", "Content-Type": "application/json"},
            content=b"{}",
        )
        assert evil.status_code == 403  # DNS-rebinding protection
    finally:
        stop(proc)


async def test_streamable_http_off_loopback_needs_the_token(real_projects, tmp_path):
    token = "s3cret-token-value"
    proc, port = start_http(real_projects, tmp_path, "--host", "0.0.0.0", "--token", token)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        anonymous = httpx2.post(url, headers={"Content-Type": "application/json"}, content=b"{}")
        assert anonymous.status_code == 401
        wrong = httpx2.post(url, headers={"Authorization": "Bearer nope"}, content=b"{}")
        assert wrong.status_code == 401
        browser = httpx2.post(
            url, headers={"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}, content=b"{}"
        )
        assert browser.status_code == 403
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as authed,
            Client(streamable_http_client(url, http_client=authed)) as client,
        ):
            summary = await call(client, "usage_summary", since="all")
            assert summary["totals"]["responses"] == 878
    finally:
        logs = stop(proc)
    assert token not in logs


def test_off_loopback_without_a_token_is_refused(real_projects, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ccledger", "serve", "--http", "--host", "0.0.0.0", "--port", str(free_port())],
        env={**serve_env(real_projects, tmp_path), "CCLEDGER_HTTP_TOKEN": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "bearer token" in result.stderr


def test_ctrl_c_ends_a_stdio_server_at_once_and_quietly(real_projects, tmp_path):
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "ccledger", "serve"],
        env=serve_env(real_projects, tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    client = {"name": "test", "version": "0"}
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}}  # fmt: skip
    proc.stdin.write(json.dumps(hello).encode() + b"\n")
    proc.stdin.flush()
    assert b'"serverInfo"' in proc.stdout.readline()  # it is up, its stdin reader waiting on a read
    proc.send_signal(signal.SIGINT)
    _, errors = proc.communicate(timeout=30)  # at once: a server that keeps running would time out
    assert proc.returncode == 128 + signal.SIGINT
    assert b"Traceback" not in errors and b"Aborted" not in errors, errors


async def test_http_auth_that_clients_can_act_on(real_projects, tmp_path):
    token = "s3cret-token-value"
    origin = "https://dashboard.example"
    proc, port = start_http(real_projects, tmp_path, "--host", "0.0.0.0", "--allow-origin", origin,
                            env={"CCLEDGER_HTTP_TOKEN": token})  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        anonymous = httpx2.post(url, headers={"Content-Type": "application/json"}, content=b"{}")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
        assert "CCLEDGER_HTTP_TOKEN" in anonymous.json()["error"]
        for discovery in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server"):
            assert httpx2.get(f"http://127.0.0.1:{port}{discovery}").status_code == 404  # no OAuth dance
        preflight = httpx2.options(url, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == origin
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"bearer {token}", "Origin": origin}) as authed,
            Client(streamable_http_client(url, http_client=authed)) as client,
        ):
            summary = await call(client, "usage_summary", since="all")  # the scheme in any case
            assert summary["totals"]["responses"] == 878
    finally:
        logs = stop(proc)
    assert f"on http://0.0.0.0:{port}/mcp" in logs and token not in logs


@pytest.mark.parametrize(
    ("host", "url"), [("127.0.0.2", "http://127.0.0.2:{port}/mcp"), ("::1", "http://[::1]:{port}/mcp")]
)
def test_every_loopback_address_needs_no_token_and_is_named_right(real_projects, tmp_path, host, url):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip(f"{host} cannot be bound on this machine")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccledger", "serve", "--http", "--host", host, "--port", str(port)],
        env={**serve_env(real_projects, tmp_path), "CCLEDGER_HTTP_TOKEN": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = proc.stderr.readline().decode()  # said once the port is bound
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert url.format(port=port) in line, line


def test_a_port_in_use_is_an_error_not_a_serving_line(real_projects, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "ccledger", "serve", "--http", "--port", str(port)],
            env=serve_env(real_projects, tmp_path), capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert result.returncode == 2 and "cannot listen on" in result.stderr and "server on" not in result.stderr


def test_a_token_on_the_command_line_is_warned_about(real_projects, tmp_path):
    proc, _ = start_http(real_projects, tmp_path, "--token", "visible-in-ps")
    assert "CCLEDGER_HTTP_TOKEN" in stop(proc)


async def test_a_heavy_history_answers_a_page_at_a_time_with_totals_first(tmp_path, claude_dir):
    # 400 sessions: grouped by session, the whole answer would be ~100 KB, past what Claude Code
    # hands a model whole. Each page stays small, the totals come first and cover every row, and
    # the pages together hold every row once.
    from conftest import assistant_line, write_lines

    for n in range(400):
        write_lines(
            claude_dir / "projects" / "-home-u-repo" / f"s{n}.jsonl",
            assistant_line(message_id=f"m{n}", session_id=f"session-{n:04d}", timestamp="2026-11-20T09:05:07.512Z"),
        )
    async with Client(build_server(tmp_path / "ledger.db", roots=[claude_dir], now=lambda: NOW)) as client:
        first = await client.call_tool("usage_summary", {"since": "all", "group_by": "session"})
        assert len(json.dumps(first.structured_content, separators=(",", ":"))) < 40_000
        assert list(first.structured_content).index("totals") < list(first.structured_content).index("rows")
        summary, keys = first.structured_content, []
        while True:
            keys += [row["key"] for row in summary["rows"]]
            if summary["next_offset"] is None:
                break
            summary = await call(
                client, "usage_summary", since="all", group_by="session", offset=summary["next_offset"]
            )
        assert summary["rows_total"] == 400 and sorted(keys) == sorted(f"session-{n:04d}" for n in range(400))
        assert first.structured_content["totals"]["responses"] == 400
        assert "rows 1-40 of 400" in first.structured_content["showing"]


async def test_prompts_say_what_they_take_and_refuse_what_they_cannot_use(server, caplog):
    from mcp import MCPError

    async with Client(server) as client:
        [prompt] = (await client.list_prompts()).prompts
        assert prompt.arguments[0].name == "period" and "last week" in prompt.arguments[0].description
        review = await client.get_prompt("weekly_report", {"period": "this month"})
        assert "since='this month'" in review.messages[0].content.text
        with pytest.raises(MCPError, match="banana"):
            await client.get_prompt("weekly_report", {"period": "banana"})
        with pytest.raises(MCPError, match="the prompts are: weekly_report"):
            await client.get_prompt("nope", {})
    assert "Traceback" not in caplog.text


async def test_delete_budget_without_a_budget_asks_for_one(server):
    async with Client(server) as client:
        assert "budget_id" in await error_of(client, "delete_budget")
        assert "needs a period" in await error_of(client, "delete_budget", scope="all")
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["pull_prod_telemetry"].annotations.destructive_hint is False


async def test_the_text_a_text_only_client_reads_is_a_brief_not_the_json_again(server):
    async with Client(server) as client:
        result = await client.call_tool("usage_summary", {"since": "all", "group_by": "model"})
        text = result.content[0].text
        assert not text.lstrip().startswith("{") and "totals: responses 878" in text
        assert "rows: 8 listed; the first: responses" in text
        assert len(text) < len(json.dumps(result.structured_content)) / 2
