"""The real Claude Code CLI calling ccledger's tools: what the model really receives.

Claude Code (pinned below) is installed from npm when npm is present, ccledger is registered the
way the README says (``ccledger setup``, which calls ``claude mcp add --scope user``), and ``claude -p`` runs
offline against a loopback stand-in of the Messages API (``messages_standin``) that answers the
first request with a ``tool_use`` of ``mcp__ccledger__<tool>`` and keeps the ``tool_result``
Claude Code sends back. Skipped, saying so, only where npm is absent.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from messages_standin import OFFLINE_ENV, StandIn

CLAUDE_CODE = "2.1.332"
REPO = Path(__file__).resolve().parent.parent
TOO_LARGE = ("persisted-output", "Output too large")

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is absent: Claude Code cannot be installed")


@pytest.fixture(scope="module")
def claude() -> Path:
    """Claude Code's CLI, installed once per machine into the temporary folder."""
    prefix = Path(tempfile.gettempdir()) / f"ccledger-tests-claude-code-{CLAUDE_CODE}"
    binary = prefix / "bin" / "claude"
    if not binary.exists():
        subprocess.run(
            ["npm", "install", "--global", "--prefix", str(prefix), "--no-audit", "--no-fund",
             f"@anthropic-ai/claude-code@{CLAUDE_CODE}", "--allow-scripts=@anthropic-ai/claude-code"],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith(CLAUDE_CODE), version.stdout + version.stderr
    return binary


@pytest.fixture(scope="module")
def host(claude, tmp_path_factory) -> dict:
    """A home with a heavy generated history in ~/.claude, and ccledger registered in Claude Code."""
    home = tmp_path_factory.mktemp("host") / "home"
    project = home / "project"
    project.mkdir(parents=True)
    corpus = home / "generated"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "generate_corpus.py"), str(corpus),
         "--size-mb", "40", "--files", "600", "--days", "300"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    shutil.copytree(corpus / "projects", home / ".claude" / "projects")
    env = {
        "PATH": os.environ["PATH"], "HOME": str(home), "CCLEDGER_DB": str(home / "ledger.db"),
        "CCLEDGER_CONFIG": str(home / "config.toml"), "TZ": "UTC", **OFFLINE_ENV,
    }  # fmt: skip
    # As the README says: `ccledger setup`, with claude on PATH (it calls claude mcp add --scope user).
    env["PATH"] = f"{claude.parent}{os.pathsep}{env['PATH']}"
    ccledger = shutil.which("ccledger") or str(Path(sys.executable).parent / "ccledger")
    added = subprocess.run([ccledger, "setup"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0 and "register the MCP server 'ccledger'" in added.stdout, added.stderr
    listed = subprocess.run(
        [str(claude), "mcp", "list"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert "ccledger" in listed.stdout, listed.stdout + listed.stderr
    return {"claude": claude, "env": env, "project": project, "home": home,
            "manifest": json.loads((corpus / "corpus.json").read_text())}  # fmt: skip


def _ask(host: dict, tool: str, arguments: dict) -> tuple[dict, str]:
    """Run ``claude -p`` whose model calls ``tool`` once; what Claude Code handed the model, and
    the session id of the run."""
    with StandIn([{"tool": f"mcp__ccledger__{tool}", "input": arguments}]) as api:
        result = subprocess.run(
            [str(host["claude"]), "-p", f"use ccledger's {tool}", "--allowedTools", "mcp__ccledger",
             "--output-format", "json"],
            cwd=host["project"], env={**host["env"], "ANTHROPIC_BASE_URL": api.url},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        [received] = api.tool_results()
    text = received if isinstance(received, str) else "".join(block.get("text", "") for block in received)
    assert not any(marker in text for marker in TOO_LARGE), text[:500]
    assert text.startswith("{"), text[:500]  # an answer, not an error
    return json.loads(text), json.loads(result.stdout)["session_id"]


@pytest.mark.parametrize(
    ("tool", "arguments", "total"),
    [
        ("usage_summary", {"since": "all", "group_by": "session"}, lambda answer: answer["totals"]["responses"]),
        ("usage_summary", {"since": "all", "group_by": "day"}, lambda answer: answer["totals"]["responses"]),
        ("usage_blocks", {"since": "all"}, lambda answer: sum(block["responses"] for block in answer["blocks"])),
        ("sessions", {"since": "all", "limit": 60}, lambda answer: answer["total_sessions"]),
    ],
    ids=["summary by session", "summary by day", "blocks", "sessions"],
)
def test_all_time_answers_reach_the_model_whole_with_their_totals(host, tool, arguments, total):
    answer, _ = _ask(host, tool, arguments)
    assert len(json.dumps(answer, separators=(",", ":"))) < 40_000  # what Claude Code passes on
    if tool == "usage_summary":
        assert answer["totals"]["responses"] >= host["manifest"]["responses"]  # every response counted
        assert answer["rows_total"] > len(answer["rows"]) and answer["next_offset"] == len(answer["rows"])
    else:
        assert total(answer) > 0


def test_the_session_claude_code_just_wrote_is_in_the_next_answer_at_its_own_cost(host):
    _, session = _ask(host, "index_status", {})  # a session of two API calls, written by Claude Code
    transcript = next((host["home"] / ".claude" / "projects").rglob(f"{session}.jsonl"))
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    assistant = [line for line in lines if line.get("type") == "assistant"]
    assert assistant and all("requestRef" in line and "requestId" not in line for line in assistant)
    own_cost = max(line["totalCostUSD"] for line in lines if line.get("type") == "cost-state")
    detail, _ = _ask(host, "session_detail", {"session_id": session})
    assert detail["totals"]["responses"] == 2
    assert detail["totals"]["cost_usd"] == pytest.approx(own_cost, abs=1e-9)
