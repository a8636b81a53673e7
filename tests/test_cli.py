import asyncio
import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import assistant_line, write_lines

from ccledger.surfaces.cli import cli

README = Path(__file__).parent.parent / "README.md"


def run(*args: str, ok: bool = True):
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_index_json(real_projects):
    stats = json.loads(run("index", "--json").stdout)
    assert stats["new_responses"] == 878 and stats["files_seen"] == 99
    assert json.loads(run("index", "--json").stdout)["files_read"] == 0


def test_report_json_and_table(real_projects):
    summary = json.loads(run("report", "--since", "all", "--by", "model", "--json").stdout)
    assert summary["totals"]["responses"] == 878
    table = run("report", "--since", "all", "--by", "repo").stdout
    assert "JSSoundRecorder" in table and "Total" in table


def test_report_csv(real_projects):
    rows = list(csv.DictReader(io.StringIO(run("report", "--since", "2025-07", "--by", "day", "--csv").stdout)))
    assert rows and all(re.fullmatch(r"2025-07-\d\d", row["key"]) for row in rows)
    assert {"input_tokens", "cache_write_1h_tokens", "cost_usd"} <= set(rows[0])


def test_bad_arguments_exit_2_with_a_message(real_projects):
    result = run("report", "--since", "whenever", ok=False)
    assert result.exit_code == 2 and "'last 7 days'" in result.stderr
    result = run("report", "--repo", "nope", "--since", "all", ok=False)
    assert result.exit_code == 2 and "not in the ledger" in result.stderr
    result = run("report", "--by", "fortnight", ok=False)
    assert result.exit_code == 2


@pytest.mark.parametrize("projects", ["missing", "empty"])
def test_report_falls_back_to_demo_data_on_a_fresh_machine(claude_dir, projects):
    if projects == "missing":
        claude_dir.joinpath("projects").rmdir()
    else:
        claude_dir.joinpath("projects", "-home-u-repo").mkdir()  # a folder, and no transcript in it
    result = run("report", "--json")
    assert "showing the bundled demo data" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["totals"]["responses"] > 100 and summary["unpriced_models"] == []
    assert summary["period"]["label"] == "all"


def test_demo(claude_dir):
    summary = json.loads(run("demo", "--json").stdout)
    assert summary["group_by"] == "model" and len(summary["rows"]) >= 4
    assert summary["totals"]["cost_usd"] > 0
    assert "Cost by repo" in run("demo").stdout


def test_repos_sessions_session_status(real_projects):
    repos = json.loads(run("repos", "--since", "all", "--json").stdout)
    assert repos["repos"][0]["share"] >= repos["repos"][-1]["share"]
    found = json.loads(run("sessions", "--since", "all", "--limit", "3", "--json").stdout)
    assert len(found["sessions"]) == 3
    session_id = found["sessions"][0]["session_id"]
    detail = json.loads(run("session", session_id[:10], "--json").stdout)
    assert detail["session_id"] == session_id
    status = json.loads(run("status", "--json").stdout)
    assert status["responses"] == 878
    assert "Responses" in run("status").stdout


def test_prices(real_projects):
    table = json.loads(run("prices", "--json").stdout)
    assert "claude-sonnet-4-5" in json.dumps(table)
    assert "claude-opus-4-6" in run("prices").stdout


def test_a_broken_prices_file_is_a_clear_error(real_projects, tmp_path):
    broken = tmp_path / "prices.toml"
    broken.write_text("[models.x]\ninput = \n")
    result = run("report", "--prices", str(broken), ok=False)
    assert result.exit_code == 2 and "prices.toml" in result.stderr and "line" in result.stderr


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name):
    command = cli.commands[name]
    assert command.help and len(command.help) > 20
    assert run(name, "--help").stdout


def test_readme_documents_every_command_and_tool():
    from ccledger.surfaces.server import build_server

    readme = README.read_text()
    for name in cli.commands:
        assert f"ccledger {name}" in readme, f"README does not mention `ccledger {name}`"
    for tool in asyncio.run(build_server(":memory:").list_tools()):
        assert f"`{tool.name}" in readme, f"README does not list the {tool.name} tool"


def test_an_empty_period_says_where_the_data_is(real_projects):
    days = [
        row["key"] for row in json.loads(run("report", "--since", "all", "--timezone", "UTC", "--json").stdout)["rows"]
    ]
    for command in ("report", "repos"):
        result = run(command, "--since", "2020-01-01", "--until", "2020-02-01")
        assert f"the ledger holds usage from {days[0]} to {days[-1]} (UTC)" in result.stderr
    assert "ledger holds" not in run("report", "--since", "all").stderr
    assert "ledger holds" not in run("repos", "--since", "2020-01-01", "--until", "2020-02-01", "--json").stderr


def test_an_empty_ledger_says_how_to_fill_it(claude_dir):
    assert "The ledger holds no usage yet" in run("repos").stderr


def test_every_repo_name_the_cli_shows_can_be_typed_back(real_projects):
    from ccledger.surfaces.render import short_repo

    repos = json.loads(run("repos", "--since", "all", "--json").output)["repos"]
    shown = [short_repo(repo["repo_id"]) for repo in repos]
    assert len(set(shown)) == len(shown)  # the short names of this corpus are unique
    for repo, name in zip(repos, shown, strict=True):
        found = json.loads(run("report", "--since", "all", "--repo", name, "--json").output)
        assert found["filters"]["repo"] == repo["repo_id"], name
        assert found["totals"]["cost_usd"] == pytest.approx(repo["cost_usd"], abs=1e-6), name


def test_an_ambiguous_repo_name_lists_the_candidates(db, claude_dir, tmp_path):
    for owner in ("acme", "other"):
        checkout = tmp_path / owner / "api"
        (checkout / ".git").mkdir(parents=True)
        (checkout / ".git" / "config").write_text(f'[remote "origin"]\n    url = https://github.com/{owner}/api\n')
        write_lines(
            claude_dir / "projects" / f"-{owner}" / "s.jsonl", assistant_line(message_id=owner, cwd=str(checkout))
        )
    result = run("report", "--since", "all", "--repo", "api", ok=False)
    assert "github.com/acme/api" in result.output and "github.com/other/api" in result.output
    assert run("report", "--since", "all", "--repo", "acme/api", "--json").exit_code == 0


def test_small_mistakes_get_messages_that_say_what_works(real_projects):
    assert "pass one of them" in run("report", "--json", "--csv", ok=False).output
    assert "must be a positive number" in run("budget", "set", "all", "month", "-5", ok=False).output
    assert "call sessions()" not in run("session", "zzz", ok=False).output  # MCP wording, not the CLI's


def test_sessions_fit_an_80_column_terminal(real_projects):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ccledger", "sessions", "--since", "all"],
        env={**os.environ, "COLUMNS": "80", "CLAUDE_CONFIG_DIR": str(real_projects)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout


def test_a_gap_between_blocks_shows_where_it_starts_and_ends(real_projects):
    output = run("blocks", "--since", "all").output
    gaps = [line for line in output.splitlines() if " gap" in line]
    assert gaps and all(line.count("-") >= 4 for line in gaps)  # two dates: its start and its end
