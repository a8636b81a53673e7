"""The MCP server's state: the ledger connection every tool call shares, refreshed before each
answer, and how it is opened."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp.server.mcpserver.exceptions import ToolError
from sqlite_utils import Database

from .. import paths
from ..answers import budgets
from ..config import Config, ConfigError, load_config
from ..ingest import scan
from ..ledger.db import LedgerError, open_db
from ..models import BudgetAlert, IndexStats
from ..update import update
from .team_tools import team_configured

__all__ = ["Alerted", "AlertedT", "ServerState", "open_state"]

_log = logging.getLogger(__name__)

# How long the host must have sent nothing before the first refresh starts: its handshake is a
# burst of requests (initialize, the tools, prompts and resources listed) well within this.
_QUIET_SECONDS = 0.5


class Alerted(Protocol):
    """A result that carries the budgets past a threshold."""

    budget_alerts: list[BudgetAlert]


AlertedT = TypeVar("AlertedT", bound=Alerted)


@dataclass
class ServerState:
    """The server's state: one ledger connection, used by one tool call at a time.

    mcp runs sync tools on worker threads; the lock keeps one refresh-and-query on the
    connection at a time, which also makes concurrent calls cheap (the second finds the
    ledger fresh).
    """

    db: Database | None  # None: the ledger could not be opened, and `unusable` says why
    path: Path
    config: Config
    unusable: str | None = None
    roots: list[Path] | None = None
    prices_file: Path | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_refresh: IndexStats | None = None
    scan_cache: scan.ScanCache = field(default_factory=scan.ScanCache)
    warm: bool = False  # index as soon as the host has the tools (see warm_up)
    _warming: threading.Thread | None = field(default=None, init=False, repr=False)
    _heard: float = field(default=0.0, init=False, repr=False)  # time.monotonic() of the host's last message

    @contextmanager
    def fresh(self) -> Iterator[Database]:
        """The ledger brought up to date with the transcripts and prices, held for one answer."""
        with self.lock:
            if self.db is None:
                raise ToolError(f"{self.unusable}. Tell the user: ccledger answers again once that is fixed.")
            self.last_refresh = update(self.db, self.roots, prices_file=self.prices_file, cache=self.scan_cache)
            yield self.db

    def heard(self) -> None:
        """Note that the host just sent something (see :meth:`warm_up`)."""
        self._heard = time.monotonic()

    def warm_up(self) -> None:
        """Start the first refresh in a thread, when the server was made to (``warm``; once):
        the first question then finds the ledger indexed, or the indexing under way, instead of
        indexing a first history itself. The server calls it once the host has listed the
        tools, and the refresh waits until the host has been quiet a moment: a refresh during
        the handshake slows its replies, and a host that waits for them no longer (Claude
        Code's ``-p``) then starts without the tools."""
        if self.warm and self._warming is None and self.db is not None:
            self._warming = threading.Thread(target=self._refresh_first, name="ccledger-warm-up", daemon=True)
            self._warming.start()

    def _refresh_first(self) -> None:
        while (wait := self._heard + _QUIET_SECONDS - time.monotonic()) > 0:
            time.sleep(wait)
        with self.lock:
            try:
                assert self.db is not None
                self.last_refresh = update(self.db, self.roots, prices_file=self.prices_file, cache=self.scan_cache)
            except Exception as exc:  # the next tool call's own refresh repeats it, and reports it
                _log.info("the first refresh failed (%s); the next tool call tries again", exc)

    def close(self) -> None:
        """Close the ledger, unless a first refresh is still using it: the host has gone (a
        health check that only listed the tools), and the refresh ends with the process. A
        refresh cut short is safe (see ``ingest.index``); a connection closed under it is not."""
        if self._warming is not None and self._warming.is_alive():
            return
        if self.db is not None:
            self.db.close()

    def with_alerts(self, db: Database, result: AlertedT) -> AlertedT:
        """The result, carrying the budgets that are past a threshold (so Claude mentions them)."""
        result.budget_alerts = budgets.alerts(db, zone=self.config.zone(), now=self.now())
        if hasattr(result, "team_view") and team_configured(self.config):
            result.team_view = "This machine's usage only: team_usage answers for every machine synced to the team."
        return result

    def zone(self, timezone: str | None) -> ZoneInfo:
        """The zone a tool was given, else the user's."""
        if not timezone:
            return self.config.zone()
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ToolError(
                f"timezone={timezone!r} is not an IANA timezone; use e.g. 'UTC', 'Europe/Berlin' "
                "or 'America/Los_Angeles', or leave it empty for the user's own"
            ) from exc


def open_state(path: Path) -> ServerState:
    """The server's state over the ledger at ``path``. A ledger or config that cannot be used
    does not stop the server: every tool then answers with an error that says why."""
    problems = []
    try:
        db: Database | None = open_db(path)
    except LedgerError as exc:
        db = None
        problems.append(str(exc))
    try:
        config = load_config()
    except ConfigError as exc:
        config = Config(path=paths.config_path())
        problems.append(str(exc))
    if problems and db is not None:
        db.close()
        db = None
    return ServerState(db=db, path=path, config=config, unusable="; ".join(problems) or None)
