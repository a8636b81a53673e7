"""The team ledger's MCP tools: the team's usage, its budgets, and a sync on request.

Each reaches a database over the network, so each uses a connection of its own for as long as
it needs one and never holds the local ledger meanwhile: a team database that is slow or gone
costs these tools an error, and the local answers nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field
from sqlite_utils import Database

from ..answers.periods import PeriodError, resolve_period
from ..choices import TeamGroupBy
from ..config import Config, ConfigError, load_config
from ..ledger.db import open_db
from ..team.budgets import TeamBudgetList, team_budget_status
from ..team.connect import TeamError, on_team, redact, team_url
from ..team.sync import SyncResult, sync
from ..team.usage import TeamUsage, team_usage_at
from .tool_parts import PULLS, Offset, Since, SourceArg, Timezone, Until, reply

__all__ = ["TEAM_TOOLS", "team_configured"]

_NOT_CONFIGURED = (
    "no team database is configured. Tell the user: set CCLEDGER_TEAM_URL (or [team] url in the "
    "ccledger config file) to the team's postgresql:// URL, then run `ccledger sync`"
)
# The team's answer reads a database on another machine: not the host's own world.
TEAM_READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=True)


class _State(Protocol):
    """What these tools need of the server's state (``server.ServerState``)."""

    path: Path
    config: Config
    now: Callable[[], datetime]

    def fresh(self) -> AbstractContextManager[Database]: ...

    def zone(self, timezone: str | None) -> ZoneInfo: ...


@contextmanager
def _team_errors() -> Iterator[None]:
    try:
        yield
    except (TeamError, ConfigError, PeriodError, ValueError) as exc:
        raise ToolError(str(exc)) from exc


def team_configured(config: Config) -> bool:
    """Whether a team database is configured (a malformed URL counts: its tools say what is wrong)."""
    try:
        return team_url(config) is not None
    except TeamError:
        return True


def _url(state: _State) -> str:
    url = team_url(load_config(state.config.path))
    if url is None:
        raise ToolError(_NOT_CONFIGURED)
    return url


def team_usage_tool(
    ctx: Context[Any],
    since: Since = None,
    until: Until = None,
    group_by: Annotated[TeamGroupBy, Field(description="How to group rows.")] = "developer",
    developer: Annotated[str | None, Field(description="Only this developer (as the answer names them).")] = None,
    repo: Annotated[str | None, Field(description="Only this repo id, as the answer names it.")] = None,
    model: Annotated[str | None, Field(description="Only this model id.")] = None,
    source: SourceArg = "all",
    timezone: Timezone = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Rows per page; totals always cover every row.")] = 40,
    offset: Offset = 0,
) -> Annotated[CallToolResult, TeamUsage]:
    """Usage and cost across the whole team: every developer's machines synced to the team
    database (PostgreSQL), summed there. Default: this month by developer. Totals first (with how
    many developers and machines, and the split between Claude Code (dev) and shipped apps' synced
    production telemetry (prod), which groups under '(prod)'); rows by cost, or in time order by
    day, week or month. Use it for
    "what did the team spend this month?", "who spent most?", "team cost by repo". Costs are API
    list-price equivalents from the same dated prices as usage_summary. Only what machines have
    synced is here: call sync_team first for this machine's latest."""
    state: _State = ctx.request_context.lifespan_context
    with _team_errors():
        url = _url(state)
        window = resolve_period(since, until, zone=state.zone(timezone), now=state.now().astimezone(UTC))
        filters = {"developer": developer or "", "repo": repo or "", "model": model or ""}
        options = {"group_by": group_by, "filters": filters, "source": source, "limit": limit, "offset": offset}
        answer = team_usage_at(url, window, **options)
    return reply(answer)


def sync_team(ctx: Context[Any]) -> Annotated[CallToolResult, SyncResult]:
    """Send this machine's new Claude Code usage to the team database, so that team_usage
    includes it. Only what changed since the last sync is sent; sending again never counts
    anything twice. Returns how many responses it sent. Call it when the user asks to sync, or
    before team_usage when they want this machine's latest in the team's figures."""
    state: _State = ctx.request_context.lifespan_context
    with _team_errors():
        url = _url(state)
        with state.fresh():
            pass  # the transcripts indexed first, as every answer does
        db = open_db(state.path)  # its own connection: the sync waits on the network, answers need not
        try:
            return reply(sync(db, url))
        finally:
            db.close()


def team_budget_status_tool(ctx: Context[Any]) -> Annotated[CallToolResult, TeamBudgetList]:
    """The team's budgets (set with `ccledger team-budget set`), for the whole team or one
    developer: each one's spend this period across every synced machine, remaining, percent,
    status (ok, warning past the first threshold, exceeded at 100%), the spend projected at the
    period's end at the pace so far and when it crosses 100%. Most urgent first. Use it for "is
    the team over budget?" or "how much of my team budget is left this month?"."""
    state: _State = ctx.request_context.lifespan_context
    with _team_errors():
        url = _url(state)
        now = state.now().astimezone(UTC)
        return reply(on_team(url, lambda conn: team_budget_status(conn, team=redact(url), now=now)))


TEAM_TOOLS: list[tuple[Callable[..., object], str, str, ToolAnnotations]] = [
    (team_usage_tool, "team_usage", "Team usage", TEAM_READ),
    (team_budget_status_tool, "team_budget_status", "Team budget status", TEAM_READ),
    (sync_team, "sync_team", "Sync to the team ledger", PULLS),
]
"""The team tools: function, name, title, hints."""
