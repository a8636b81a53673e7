"""`ccledger setup`: Claude Code's own files, changed only where nothing else is in the way."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


def setup(home: Path, *args: str) -> subprocess.CompletedProcess:
    ccledger = Path(sys.executable).parent / "ccledger"
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}  # no claude on PATH: setup writes the files
    return subprocess.run([str(ccledger), "setup", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude.json").write_text(json.dumps({"numStartups": 7, "mcpServers": {"other": {"command": "x"}}}))
    return tmp_path


def test_a_dry_run_changes_nothing(home):
    before = (home / ".claude.json").read_text()
    result = setup(home, "--dry-run")
    assert result.returncode == 0 and "would register the MCP server 'ccledger'" in result.stdout
    assert (home / ".claude.json").read_text() == before and not (home / ".claude" / "settings.json").exists()


def test_setup_registers_the_server_and_the_statusline_keeping_everything_else(home):
    result = setup(home)
    assert result.returncode == 0, result.stderr
    config = json.loads((home / ".claude.json").read_text())
    assert config["numStartups"] == 7 and config["mcpServers"]["other"] == {"command": "x"}
    server = config["mcpServers"]["ccledger"]
    assert Path(server["command"]).is_absolute() and server["args"] == ["serve"]
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["statusLine"]["command"].endswith("ccledger statusline")
    assert (home / ".claude.json.ccledger-backup").exists()  # before the first change
    again = setup(home)
    assert "already registered" in again.stdout and "already ccledger's" in again.stdout
    assert "undo with: ccledger setup --undo" in result.stdout


def test_another_statusline_is_never_replaced(home):
    (home / ".claude" / "settings.json").write_text(json.dumps({"statusLine": {"type": "command", "command": "mine"}}))
    result = setup(home)
    assert "left as it is" in result.stdout
    assert json.loads((home / ".claude" / "settings.json").read_text())["statusLine"]["command"] == "mine"
    setup(home, "--undo")
    assert json.loads((home / ".claude" / "settings.json").read_text())["statusLine"]["command"] == "mine"


def test_undo_removes_what_setup_added_and_nothing_else(home):
    setup(home)
    result = setup(home, "--undo")
    assert result.returncode == 0 and "remove the MCP server 'ccledger'" in result.stdout
    config = json.loads((home / ".claude.json").read_text())
    assert config["mcpServers"] == {"other": {"command": "x"}} and config["numStartups"] == 7
    assert "statusLine" not in json.loads((home / ".claude" / "settings.json").read_text())


def test_a_broken_config_file_is_an_error_that_says_what_to_fix(home):
    (home / ".claude.json").write_text("{not json")
    result = setup(home)
    assert result.returncode == 1 and "cannot read" in result.stderr and "Traceback" not in result.stderr
