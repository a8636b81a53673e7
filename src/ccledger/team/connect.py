"""Where the team database is, who is syncing to it, and a connection that never hangs.

The URL comes from ``CCLEDGER_TEAM_URL``, else the config file's ``[team] url``; its password
(if any) from the URL, ``PGPASSWORD`` or ``~/.pgpass``, as libpq reads them. ccledger never
stores, logs or returns a password: :func:`redact` is the only form of the URL it shows.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..config import Config, load_config

if TYPE_CHECKING:
    import psycopg

__all__ = ["CONNECT_SECONDS", "TeamError", "connect", "developer", "first_line", "on_team", "redact", "team_url"]

T = TypeVar("T")

CONNECT_SECONDS = 5
"""How long to wait for the team database before reporting it unreachable."""

_SCHEMES = ("postgresql", "postgres")


class TeamError(RuntimeError):
    """The team database is not configured, not reachable, or refused a statement; the message
    says which and what to do, and never holds a password."""


def team_url(config: Config | None = None) -> str | None:
    """The team database's URL, or None when no team is configured."""
    url = os.environ.get("CCLEDGER_TEAM_URL", "").strip()
    if not url:
        section = (config or load_config()).raw.get("team")
        value = section.get("url") if isinstance(section, dict) else None
        url = value.strip() if isinstance(value, str) else ""
    if not url:
        return None
    if urlsplit(url).scheme not in _SCHEMES:
        raise TeamError(f"the team URL must start with postgresql://, not {redact(url)!r}")
    return url


def redact(url: str) -> str:
    """The URL without its password (``postgresql://user:***@host/db``), fit to show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def developer() -> str:
    """Who this machine's rows belong to: ``CCLEDGER_DEVELOPER``, else git's global
    ``user.email``, else the OS user."""
    name = os.environ.get("CCLEDGER_DEVELOPER", "").strip()
    if name:
        return name[:200]
    git = shutil.which("git")
    if git is not None:
        try:
            # The global setting only, run from no repository: a repository's own config is
            # someone else's (see the hostile-repository rules in ingest.repos).
            done = subprocess.run(
                [git, "config", "--global", "--get", "user.email"],
                capture_output=True, text=True, timeout=5, cwd=os.path.expanduser("~"), check=False,
                env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"},
            )  # fmt: skip
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip()[:200]
        except (OSError, subprocess.SubprocessError):
            pass
    return getpass.getuser()


def connect(url: str) -> psycopg.Connection:
    """A connection to the team database, or TeamError saying why not. In autocommit mode: each
    ``conn.transaction()`` is then a transaction of its own, committed when its block ends (not
    a savepoint inside one left open until the connection closes), and a read holds no locks.
    Its time zone is UTC, which the rollup's hours and days are cut in."""
    try:
        import psycopg
    except ImportError as exc:
        raise TeamError("the team ledger needs psycopg: pip install 'ccledger[team]'") from exc
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_SECONDS,
            application_name="ccledger",
            options="-c TimeZone=UTC",
        )
    except psycopg.Error as exc:
        raise TeamError(f"cannot reach the team database at {redact(url)}: {first_line(exc, url)}") from exc


def first_line(exc: BaseException, url: str) -> str:
    """An error's first line, with the URL's password (should libpq ever quote it) masked."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def on_team(url: str, work: Callable[[psycopg.Connection], T]) -> T:
    """``work`` on a connection to the team database, its tables made first (a team nobody has
    synced to answers with zeros); a statement the database refuses is a TeamError, its
    password masked."""
    import psycopg

    from .schema import migrate

    try:
        with connect(url) as conn:
            migrate(conn)
            return work(conn)
    except psycopg.Error as exc:
        raise TeamError(f"the team database at {redact(url)} refused: {first_line(exc, url)}") from exc
