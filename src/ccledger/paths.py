"""Where Claude Code keeps its transcripts, and where the ledger and its config live.

Roots follow Claude Code itself: ``CLAUDE_CONFIG_DIR`` (a comma-separated list) replaces the
defaults, which are ``$XDG_CONFIG_HOME/claude`` (``~/.config/claude``) and ``~/.claude``.
Transcripts are every ``*.jsonl`` below ``<root>/projects``.
"""

from __future__ import annotations

import os

# pathlib (and typing) are not imported here at the top: the statusline reads db_file() and
# config_file() on every tick, and pathlib alone would cost it 10 ms, a tenth of its budget.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "claude_roots",
    "config_file",
    "config_path",
    "db_file",
    "db_path",
    "machine_name",
    "projects_dir",
    "sqlite_uri",
]


def _xdg(var: str, default: str) -> str:
    value = os.environ.get(var, "").strip()
    return os.path.expanduser(value) if value else os.path.join(os.path.expanduser("~"), default)


def claude_roots() -> list[Path]:
    """The Claude config directories to read, deduplicated, in order.

    A root given as its ``projects`` folder is accepted too. Roots that do not exist are kept:
    the indexer reports them, and a root that comes back (a mounted archive) is read again.
    """
    from pathlib import Path

    raw = os.environ.get("CLAUDE_CONFIG_DIR", "")
    if raw.strip():
        candidates = [Path(part.strip()).expanduser() for part in raw.split(",") if part.strip()]
    else:
        candidates = [Path(_xdg("XDG_CONFIG_HOME", ".config")) / "claude", Path.home() / ".claude"]
    roots: list[Path] = []
    seen: set[str] = set()
    for candidate in candidates:
        root = candidate.parent if candidate.name == "projects" else candidate
        root = Path(os.path.abspath(root))
        identity = os.path.realpath(root)
        if identity not in seen:
            seen.add(identity)
            roots.append(root)
    return roots


def projects_dir(root: Path) -> Path:
    """The folder under a root that holds the session transcripts."""
    return root / "projects"


def db_path() -> Path:
    """The ledger file: ``CCLEDGER_DB``, else ``$XDG_DATA_HOME/ccledger/ledger.db``."""
    from pathlib import Path

    return Path(db_file())


def config_path() -> Path:
    """The config file: ``CCLEDGER_CONFIG``, else ``$XDG_CONFIG_HOME/ccledger/config.toml``."""
    from pathlib import Path

    return Path(config_file())


def db_file() -> str:
    """:func:`db_path` as a string."""
    value = os.environ.get("CCLEDGER_DB", "").strip()
    if value:
        return os.path.expanduser(value)
    return os.path.join(_xdg("XDG_DATA_HOME", ".local/share"), "ccledger", "ledger.db")


def config_file() -> str:
    """:func:`config_path` as a string."""
    value = os.environ.get("CCLEDGER_CONFIG", "").strip()
    if value:
        return os.path.expanduser(value)
    return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "ccledger", "config.toml")


def sqlite_uri(path: str, **params: str) -> str:
    """A file as a SQLite URI with these parameters (``mode="ro"``: never create it)."""
    quoted = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{quoted}?" + "&".join(f"{name}={value}" for name, value in params.items())


def machine_name() -> str:
    """The name this machine's rows carry: ``CCLEDGER_MACHINE``, else the host name."""
    import socket  # only here: the statusline imports this module on every tick

    return os.environ.get("CCLEDGER_MACHINE", "").strip() or socket.gethostname()
