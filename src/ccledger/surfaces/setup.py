"""``ccledger setup``: register ccledger in Claude Code in one command, and undo it.

Two things, each only where nothing else is in the way:

- the MCP server, for the user (every project), with the absolute path of this install, so that
  Claude Code finds it whatever its PATH: through ``claude mcp add --scope user`` when ``claude``
  is on PATH, else by writing ``mcpServers`` in the file Claude Code reads (``~/.claude.json``);
- the statusline, in ``~/.claude/settings.json``, only if none is set: another is never replaced.

A file is backed up (``<name>.ccledger-backup``) before it is first changed. ``--undo`` removes
exactly what setup adds (an entry that runs this ccledger), nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Plan", "SetupError", "ccledger_command", "setup", "undo"]

NAME = "ccledger"
BACKUP_SUFFIX = ".ccledger-backup"


@dataclass
class Plan:
    """What setup did (or, with ``dry_run``, would do), as lines for a person."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(("would " if self.dry_run else "") + line)


def ccledger_command() -> list[str]:
    """How Claude Code should start this ccledger: its console script by absolute path, else
    this interpreter (``-P``: a repository's ccledger/ can never shadow it)."""
    script = Path(sys.argv[0])
    if script.name == NAME and script.exists():
        return [str(script.resolve())]
    found = shutil.which(NAME, path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-P", "-m", NAME]


def _claude_home() -> Path:
    configured = os.environ.get("CLAUDE_CONFIG_DIR", "").split(",")[0].strip()
    return Path(configured).expanduser() if configured else Path.home() / ".claude"


def _claude_json() -> Path:
    configured = os.environ.get("CLAUDE_CONFIG_DIR", "").split(",")[0].strip()
    return Path(configured).expanduser() / ".claude.json" if configured else Path.home() / ".claude.json"


def setup(*, dry_run: bool = False, claude: str | None = None) -> Plan:
    """Register the MCP server and the statusline; see the module docstring."""
    plan = Plan(dry_run)
    command = ccledger_command()
    claude = claude if claude is not None else shutil.which("claude")
    _register_server(plan, command, claude)
    _install_statusline(plan, command)
    plan.lines.append("undo with: ccledger setup --undo")
    return plan


def undo(*, dry_run: bool = False, claude: str | None = None) -> Plan:
    """Remove what :func:`setup` added, and nothing else."""
    plan = Plan(dry_run)
    claude = claude if claude is not None else shutil.which("claude")
    servers = _read(_claude_json()).get("mcpServers", {})
    if NAME in servers and _is_ours(servers[NAME]):
        if claude:
            _run(plan, [claude, "mcp", "remove", "--scope", "user", NAME], f"remove the MCP server {NAME!r}")
        else:
            _edit(plan, _claude_json(), lambda data: data.get("mcpServers", {}).pop(NAME, None))
            plan.say(f"remove the MCP server {NAME!r} from {_claude_json()}")
    else:
        plan.lines.append(f"no MCP server {NAME!r} of ccledger's to remove")
    settings = _claude_home() / "settings.json"
    line = _read(settings).get("statusLine")
    if isinstance(line, dict) and _is_ours(line):
        _edit(plan, settings, lambda data: data.pop("statusLine", None))
        plan.say(f"remove the statusline from {settings}")
    else:
        plan.lines.append("no statusline of ccledger's to remove")
    return plan


def _register_server(plan: Plan, command: list[str], claude: str | None) -> None:
    servers = _read(_claude_json()).get("mcpServers", {})
    existing = servers.get(NAME)
    if existing is not None:
        if _command_of(existing) == [*command, "serve"]:
            plan.lines.append(f"the MCP server {NAME!r} is already registered for this ccledger")
        else:
            plan.lines.append(
                f"an MCP server named {NAME!r} is already registered ({' '.join(_command_of(existing))}): left as it "
                f"is; `claude mcp remove --scope user {NAME}` first to register this one"
            )
        return
    if claude:
        _run(plan, [claude, "mcp", "add", "--scope", "user", NAME, "--", *command, "serve"],
             f"register the MCP server {NAME!r} for every project: {' '.join([*command, 'serve'])}")  # fmt: skip
        return
    entry = {"type": "stdio", "command": command[0], "args": [*command[1:], "serve"], "env": {}}
    _edit(plan, _claude_json(), lambda data: data.setdefault("mcpServers", {}).__setitem__(NAME, entry))
    plan.say(f"register the MCP server {NAME!r} in {_claude_json()} (claude is not on PATH)")


def _install_statusline(plan: Plan, command: list[str]) -> None:
    settings = _claude_home() / "settings.json"
    current = _read(settings).get("statusLine")
    wanted = {"type": "command", "command": " ".join(_quoted(part) for part in [*command, "statusline"])}
    if current is not None:
        if isinstance(current, dict) and current.get("command") == wanted["command"]:
            plan.lines.append("the statusline is already ccledger's")
        else:
            plan.lines.append(f"a statusline is already set in {settings}: left as it is")
        return
    _edit(plan, settings, lambda data: data.__setitem__("statusLine", wanted))
    plan.say(f"install the statusline in {settings}: {wanted['command']}")


def _command_of(entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return []
    if "args" in entry or entry.get("type") == "stdio":
        return [str(entry.get("command", "")), *(str(arg) for arg in entry.get("args", []))]
    return str(entry.get("command", "")).split()


def _is_ours(entry: Any) -> bool:
    """Whether a server or statusline entry runs ccledger (this install or another)."""
    words = " ".join(_command_of(entry))
    return NAME in words and ("serve" in words or "statusline" in words)


def _quoted(part: str) -> str:
    return f'"{part}"' if " " in part else part


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SetupError(f"cannot read {path} ({exc}); fix or move it, then run ccledger setup again") from exc
    if not isinstance(data, dict):
        raise SetupError(f"{path} does not hold a JSON object; fix or move it, then run ccledger setup again")
    return data


def _edit(plan: Plan, path: Path, change: Any) -> None:
    """Change a JSON file in place, backing it up first (once)."""
    if plan.dry_run:
        return
    data = _read(path)
    change(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    _backup(plan, path)
    temporary = path.with_name(path.name + ".ccledger-tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _backup(plan: Plan, path: Path) -> None:
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if path.exists() and not backup.exists():
        shutil.copy2(path, backup)
        plan.lines.append(f"backed up {path} to {backup}")


def _run(plan: Plan, command: list[str], what: str) -> None:
    plan.say(what)
    if plan.dry_run:
        return
    _backup(plan, _claude_json())  # claude changes this file
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SetupError(f"{' '.join(command[:4])} ... failed: {(result.stderr or result.stdout).strip()[:300]}")


class SetupError(Exception):
    """Setup could not finish; the message says what to fix."""
