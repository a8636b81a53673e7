"""The MCP server: usage answers as tools Claude (or any MCP client) can call.

Tools are thin: refresh the ledger (incremental, so the answer includes the turn that just
happened), then call one function from ``answers`` (mostly ``queries``). A bad argument raises ``ToolError``
with a message that says what would work.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult, ToolAnnotations
from pydantic import Field
from sqlite_utils import Database

from .. import __version__, paths
from ..answers import activity, budgets, pace, queries
from ..answers import status as ledger_status
from ..answers.periods import PeriodError, resolve_period
from ..choices import ActivityGroupBy, BudgetPeriod, HeatmapMetric
from ..config import ConfigError, load_config
from ..ledger.db import LedgerError, open_db
from ..models import (
    ActivityHeatmap,
    ActivitySummary,
    BlockList,
    BudgetInfo,
    BudgetStatusList,
    BurnRateReport,
    IndexStatus,
    PlanValue,
    ProdPullResult,
    RepoCosts,
    SessionDetail,
    SessionList,
    UsagePace,
    UsageSummary,
)
from ..pricing import table as pricing
from ..prod.pull import pull_sources
from ..prod.sources import load_sources, select_sources
from .mcp_app import usage_app
from .server_state import ServerState, open_state
from .team_tools import TEAM_TOOLS
from .tool_parts import (
    DELETES,
    PULLS,
    READ_ONLY,
    WRITES,
    Offset,
    PaceArg,
    PlanArg,
    Since,
    SourceArg,
    Timezone,
    Until,
    reply,
)

__all__ = ["TOOLS", "ServerState", "build_server"]

INSTRUCTIONS = """\
ccledger answers questions about Claude Code usage and cost from a local ledger of the user's
Claude Code transcripts (kept after Claude Code deletes them). Costs are API list-price
equivalents in US dollars, computed from tokens with dated prices; for Pro/Max subscribers they
are what the same usage would cost on the API, not their bill. Models with no known price are
listed in `unpriced_models` and are NOT included in cost_usd. Only metadata is stored (tokens,
models, times, repos, branches), never prompt or file content. The ledger can also hold the usage
of apps the user ships (production telemetry, pulled with pull_prod_telemetry): usage_summary and
cost_by_repo then show Claude Code (dev) and production (prod) spend side by side.
"""


@contextmanager
def _tool_errors() -> Iterator[None]:
    try:
        yield
    except (queries.QueryError, pricing.PriceFileError, ConfigError, LedgerError) as exc:
        raise ToolError(str(exc)) from exc


@contextmanager
def _answer(ctx: Context[ServerState]) -> Iterator[tuple[ServerState, Database]]:
    """What every answering tool starts with: the state, the ledger brought up to date and held,
    and a bad argument turned into an error the model can act on."""
    state = ctx.request_context.lifespan_context
    with _tool_errors(), state.fresh() as db:
        yield state, db


AGENTS_SHOWN = 25  # of a session's subagents, the costliest; agents_total says how many there are

# --- the tools: each a thin call into answers/ ---------------------------------------------------


def usage_summary(
    ctx: Context[ServerState],
    since: Since = None,
    until: Until = None,
    group_by: Annotated[
        queries.GroupBy,
        Field(description="How to group rows: day, week, month, repo, branch, model, session or machine."),
    ] = "day",
    repo: Annotated[str | None, Field(description="Only this repo: its id or short name, e.g. 'api-server'.")] = None,
    model: Annotated[str | None, Field(description="Only this model id, e.g. 'claude-opus-4-6'.")] = None,
    timezone: Timezone = None,
    source: SourceArg = "all",
    limit: Annotated[int, Field(ge=1, le=100, description="Rows per page; totals always cover every row.")] = 40,
    offset: Offset = 0,
) -> Annotated[CallToolResult, UsageSummary]:
    """Claude Code tokens and cost over a period, grouped by day, week, month, repo, branch, model,
    session or machine. Use it for "what did I spend this week?", "which model costs most?",
    "daily spend this month". Defaults to this month by day. Read `totals.cost_usd` for the
    answer and `rows` for the breakdown; mention `unpriced_models` if it is not empty (their
    cost is not included). Pulled production usage is included by default (source='all'), split
    out in `totals.dev_cost_usd` / `totals.prod_cost_usd`; prod rows group under '(prod)' by
    session, branch or machine. Rows come a page at a time (`showing` says which; pass
    `next_offset` as offset for more): the most recent periods by time, else the costliest."""
    with _answer(ctx) as (state, db):
        return reply(state.with_alerts(db, queries.usage_summary(
            db, since=since, until=until, group_by=group_by, repo=repo, model=model, source=source,
            limit=limit, offset=offset, zone=state.zone(timezone), now=state.now(),
        )))  # fmt: skip


def cost_by_repo(
    ctx: Context[ServerState],
    since: Since = None,
    until: Until = None,
    timezone: Timezone = None,
    source: SourceArg = "all",
    limit: Annotated[int, Field(ge=1, le=100, description="Repos per page, costliest first.")] = 40,
    offset: Offset = 0,
) -> Annotated[CallToolResult, RepoCosts]:
    """Claude Code spend per repository over a period (default: this month), biggest first, with
    each repo's `share` of the total (0 to 1) and its session count. Use it for "which repo
    costs the most?" or "what did project X cost this month?". Repos are identified by their
    git remote (github.com/owner/name) or, without one, their path. With pulled production
    telemetry (source='all', the default) each repo also shows `dev_cost_usd` (Claude Code) and
    `prod_cost_usd` (its shipped app)."""
    with _answer(ctx) as (state, db):
        costs = queries.cost_by_repo(
            db, since=since, until=until, source=source, limit=limit, offset=offset, zone=state.zone(timezone),
            now=state.now(),
        )  # fmt: skip
        return reply(state.with_alerts(db, costs))


def sessions(
    ctx: Context[ServerState],
    since: Since = "last 7 days",
    until: Until = None,
    repo: Annotated[str | None, Field(description="Only sessions in this repo (id or short name).")] = None,
    limit: Annotated[int, Field(ge=1, le=60, description="Sessions per page, most recent first.")] = 20,
    offset: Offset = 0,
    timezone: Timezone = None,
) -> Annotated[CallToolResult, SessionList]:
    """Claude Code sessions active in a period (default: the last 7 days), most recent first, with
    each one's repo, branch, models, tokens and cost (subagents included). Use it to find a
    session or to see which sessions were expensive; pass a session_id to session_detail for
    more."""
    with _answer(ctx) as (state, db):
        found = queries.sessions(
            db,
            since=since,
            until=until,
            repo=repo,
            limit=limit,
            offset=offset,
            zone=state.zone(timezone),
            now=state.now(),
        )
        return reply(state.with_alerts(db, found))


def session_detail(
    ctx: Context[ServerState],
    session_id: Annotated[str, Field(description="A session id from sessions(); a unique prefix is enough.")],
) -> Annotated[CallToolResult, SessionDetail]:
    """Everything known about one Claude Code session: cost and tokens by model and by agent
    (main vs each subagent), branches, working directories, machines and Claude Code versions,
    first and last response. Use it after sessions() to explain what a session cost."""
    with _answer(ctx) as (_, db):
        return reply(queries.session_detail(db, session_id, agents=AGENTS_SHOWN))


def activity_summary(
    ctx: Context[ServerState],
    since: Since = None,
    until: Until = None,
    repo: Annotated[str | None, Field(description="Only this repo: its id or short name, e.g. 'api-server'.")] = None,
    group_by: Annotated[
        ActivityGroupBy,
        Field(description="Rows per day, week, month, repo, session or model; 'none' for totals and top lists."),
    ] = "none",
    timezone: Timezone = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Rows per page; totals always cover every row.")] = 40,
    offset: Offset = 0,
) -> Annotated[CallToolResult, ActivitySummary]:
    """What Claude Code did for the money over a period (default: this month): prompts, tool
    uses and errors, lines added and removed, commits and pull requests, edits accepted and
    rejected, compactions, rate-limit hits, active time, beside cost_usd; cost per commit and per
    100 lines; the most used tools and slash commands; subagent spend by type. Use it for "what
    did I get for my spend?", "how many commits did Claude make this week?", "which tools fail
    most?". `totals.auxiliary_cost_usd` is what Claude Code's own session totals report beyond
    its transcripts (titles, compaction): not part of cost_usd. If `activity_known_since` is set,
    activity before it was not recorded (only its cost is known)."""
    with _answer(ctx) as (state, db):
        return reply(state.with_alerts(db, activity.activity_summary(
            db, since=since, until=until, repo=repo, group_by=group_by, limit=limit, offset=offset,
            zone=state.zone(timezone), now=state.now(),
        )))  # fmt: skip


def activity_heatmap(
    ctx: Context[ServerState],
    since: Since = None,
    until: Until = None,
    repo: Annotated[str | None, Field(description="Only this repo: its id or short name.")] = None,
    metric: Annotated[
        HeatmapMetric, Field(description="What each cell counts: responses, cost (USD), prompts or active_time (s).")
    ] = "responses",
    timezone: Timezone = None,
) -> Annotated[CallToolResult, ActivityHeatmap]:
    """When Claude Code is used: a 7 x 24 grid (grid[weekday][hour], Monday first, local time) of
    responses, cost, prompts or active time over a period (default: this month), with the
    busiest hour. Use it for "when do I use Claude Code most?" or "what hours cost the most?"."""
    with _answer(ctx) as (state, db):
        return reply(state.with_alerts(db, activity.activity_heatmap(
            db, since=since, until=until, repo=repo, metric=metric, zone=state.zone(timezone), now=state.now(),
        )))  # fmt: skip


def index_status(ctx: Context[ServerState]) -> Annotated[CallToolResult, IndexStatus]:
    """The state of the ledger: which log folders are read, how many files and responses, the
    time range covered, the last change, lines that could not be used (by kind), unreadable
    files, and models that have no price with how to add one. Use it when numbers look wrong
    or missing, or to say how far back the data goes."""
    with _answer(ctx) as (state, db):
        status = ledger_status.index_status(
            db,
            roots=state.roots or paths.claude_roots(),
            ledger_path=str(state.path),
            prices_path=str(pricing.user_prices_path()),
            refresh=state.last_refresh,
        )
        return reply(state.with_alerts(db, status))


def usage_blocks(
    ctx: Context[ServerState],
    since: Since = "last 3 days",
    until: Until = None,
    timezone: Timezone = None,
    limit: Annotated[int, Field(ge=1, le=40, description="Blocks and gaps per page, the most recent.")] = 20,
    offset: Offset = 0,
) -> Annotated[CallToolResult, BlockList]:
    """Claude Code's 5-hour usage blocks that started in a period (default: the last 3 days), oldest
    first, each with tokens, cost and models; gaps mark idle time. Use it for "when did my windows
    start?" or "how much did I use per window this week?". These are estimates from this machine's
    transcripts (ccusage's algorithm); for the official limit percentages call burn_rate. A long
    period comes a page at a time, the most recent first (pass `next_offset` for earlier ones)."""
    with _answer(ctx) as (state, db):
        return reply(
            pace.usage_blocks(
                db, since=since, until=until, limit=limit, offset=offset, zone=state.zone(timezone), now=state.now()
            )
        )


def burn_rate(ctx: Context[ServerState]) -> Annotated[CallToolResult, BurnRateReport]:
    """How fast the current 5-hour window is being used: the active block's start, end and minutes
    left, tokens and cost so far, tokens/minute and $/hour, projected tokens and cost at the block's
    end, and the split per model. Use it for "how fast am I burning?" or "when does my window reset?".
    `official` holds the OFFICIAL 5-hour and weekly percentages Claude Code reported (needs
    `ccledger statusline`); every other number is a local ESTIMATE, and say so. `active_block` is
    null when idle; then `last_block` summarises the latest one."""
    with _answer(ctx) as (state, db):
        return reply(state.with_alerts(db, pace.burn_rate(db, now=state.now())))


def plan_value(
    ctx: Context[ServerState], plan: PlanArg, since: Since = None, until: Until = None, timezone: Timezone = None
) -> Annotated[CallToolResult, PlanValue]:
    """Whether a Claude subscription pays off: Claude Code's API-equivalent spend in a period
    (default: this month so far) against the plan's price prorated over the same days. Use it for
    "am I getting value from Max?" or "would the API be cheaper?". value_ratio above 1 means the plan
    costs less than the same usage at API prices."""
    with _answer(ctx) as (state, db):
        value = pace.plan_value(db, plan=plan, since=since, until=until, zone=state.zone(timezone), now=state.now())
        return reply(value)


def usage_pace(
    ctx: Context[ServerState], period: PaceArg = "month", timezone: Timezone = None
) -> Annotated[CallToolResult, UsagePace]:
    """The pace of Claude Code spend this week or this month: spent so far, the daily average, the
    projected total at the period's end, and whether spend is increasing, stable or decreasing (the
    rule is in `trend_rule`). Use it for "where will I end up this month?" or "am I spending more
    lately?"."""
    with _answer(ctx) as (state, db):
        result = pace.usage_pace(db, period=period, zone=state.zone(timezone), now=state.now())
        return reply(state.with_alerts(db, result))


def budget_status(
    ctx: Context[ServerState],
    scope: Annotated[str | None, Field(description="'all', or a repo id or name; default: all budgets.")] = None,
) -> Annotated[CallToolResult, BudgetStatusList]:
    """Where each spending budget stands this period: spent, remaining, percent, status (ok,
    warning past the first threshold, exceeded at 100%), the spend projected at the period's end
    at the pace so far, and when that pace crosses 100%. Most urgent first. Use it for "am I over
    budget?" or "how much of the api-server budget is left this month?"."""
    with _answer(ctx) as (state, db):
        return reply(budgets.budget_status(db, scope=scope, zone=state.config.zone(), now=state.now()))


def set_budget(
    ctx: Context[ServerState],
    scope: Annotated[str, Field(description="'all' for all Claude Code use, or a repo id or short name.")],
    period: Annotated[BudgetPeriod, Field(description="Calendar period, user's timezone.")],
    amount_usd: Annotated[float, Field(gt=0, description="The limit in US dollars (API list-price equivalent).")],
    model: Annotated[str | None, Field(description="Only this model's spend; default: every model.")] = None,
    thresholds: Annotated[
        list[float] | None, Field(description="Fractions that alert, e.g. [0.8, 1.0]; default [0.9, 1.0].")
    ] = None,
    include_prod: Annotated[bool, Field(description="Count the repo's pulled production spend too.")] = False,
) -> Annotated[CallToolResult, BudgetInfo]:
    """Set a spending budget, e.g. "api-server: $200 a month". Setting one again for the same scope,
    model and period updates it. Only when the user asks for a budget."""
    with _answer(ctx) as (_, db):
        return reply(budgets.set_budget(
            db, scope=scope, period=period, amount_usd=amount_usd, model=model, thresholds=thresholds,
            include_prod=include_prod,
        ))  # fmt: skip


def delete_budget(
    ctx: Context[ServerState],
    budget_id: Annotated[int | None, Field(description="The budget's id, from budget_status.")] = None,
    scope: Annotated[str | None, Field(description="Or its scope ('all' or the repo) with its period.")] = None,
    period: Annotated[BudgetPeriod | None, Field(description="The period, with scope.")] = None,
    model: Annotated[str | None, Field(description="The model, if the budget has one.")] = None,
) -> Annotated[CallToolResult, BudgetInfo]:
    """Delete a spending budget, by its id (from budget_status) or by its scope and period (and
    model, if it has one). Only when the user asks to remove a budget; to change an amount, call
    set_budget again instead. An unknown budget is an error that lists the existing ones."""
    with _answer(ctx) as (_, db):
        return reply(budgets.delete_budget(db, budget_id=budget_id, scope=scope, period=period, model=model))


def pull_prod_telemetry(
    ctx: Context[ServerState],
    source_id: Annotated[
        str | None, Field(description="One source's id from [[prod.sources]]; default: every source.")
    ] = None,
) -> Annotated[CallToolResult, ProdPullResult]:
    """Pull the LLM usage of apps the user ships (production telemetry: Anthropic's Admin API, an
    app's export endpoint, OTLP/JSON) into the ledger, from the sources in the config file's
    [[prod.sources]]. Call it before answering about production spend or a repo's total cost when
    the user asks for fresh numbers or the last pull is old; it fetches only what is new and never
    counts twice. Then call usage_summary or cost_by_repo (source 'prod' or 'all'). Per source it
    returns pages saved, records added / replaced / unchanged / removed, and `error`: why it
    stopped and what to do (tell the user; pages saved before it are kept). Fails when every
    source failed."""
    state = ctx.request_context.lifespan_context
    with _tool_errors():
        config = load_config(state.config.path)
        sources = select_sources(load_sources(config), source_id, config.path)
    with _tool_errors():
        db = open_db(state.path)  # its own connection: a pull waits on the network, answers need not
    try:
        result = pull_sources(db, sources, now=state.now())
    finally:
        db.close()
    if all(pulled.error for pulled in result.sources):
        raise ToolError("; ".join(f"{pulled.id}: {pulled.error}" for pulled in result.sources))
    return reply(result)


TOOLS: list[tuple[Callable[..., object], str, ToolAnnotations]] = [
    (usage_summary, "Usage summary", READ_ONLY),
    (cost_by_repo, "Cost by repo", READ_ONLY),
    (sessions, "Sessions", READ_ONLY),
    (session_detail, "Session detail", READ_ONLY),
    (activity_summary, "Activity summary", READ_ONLY),
    (activity_heatmap, "Activity heatmap", READ_ONLY),
    (index_status, "Index status", READ_ONLY),
    (usage_blocks, "5-hour blocks", READ_ONLY),
    (burn_rate, "Burn rate", READ_ONLY),
    (plan_value, "Plan value", READ_ONLY),
    (usage_pace, "Usage pace", READ_ONLY),
    (budget_status, "Budget status", READ_ONLY),
    (set_budget, "Set a budget", WRITES),
    (delete_budget, "Delete a budget", DELETES),
    (pull_prod_telemetry, "Pull production telemetry", PULLS),
]
"""Every tool, with its title and its hints to the host; a client lists them in this order, the
CHARTED ones first."""
CHARTED = (usage_summary, cost_by_repo, usage_blocks)
"""The tools bound to the MCP App's chart (``mcp_app``): hosts that render apps draw their answers."""


def weekly_report(
    period: Annotated[
        str, Field(description="The period to review: 'last week', 'this month', 'last 7 days', '2026-11', ...")
    ] = "last week",
) -> str:
    """A short review of Claude Code spend for a period, built from ccledger's tools."""
    try:
        resolve_period(period, None, zone=ZoneInfo("UTC"), now=datetime.now(UTC))
    except PeriodError as exc:
        raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
    return (
        f"Review my Claude Code usage for {period}. Use the ccledger tools: usage_summary with "
        f"since='{period}' grouped by day and by model, and cost_by_repo for the same period. "
        "Then write a short review (under 200 words): the total cost, the most expensive day, "
        "repo and model, anything unusual (a spike, an expensive session: use sessions() and "
        "session_detail() to explain it), and any unpriced models. Costs are API list-price "
        "equivalents. End with one concrete suggestion to spend less."
    )


def build_server(
    db_path: Path | str | None = None,
    *,
    roots: list[Path] | None = None,
    prices_file: Path | None = None,
    now: Callable[[], datetime] | None = None,
    warm: bool = False,
) -> MCPServer:
    """An MCP server over the ledger at ``db_path`` (default: ``CCLEDGER_DB``). A ``warm`` one
    (``ccledger serve``) indexes once the host has listed the tools (:meth:`ServerState.warm_up`)."""

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[ServerState]:
        path = Path(db_path) if db_path is not None else paths.db_path()
        state = open_state(path)
        state.roots, state.prices_file, state.now = roots, prices_file, now or _utcnow
        state.warm = warm
        try:
            yield state
        finally:
            state.close()

    # The tools a chart says more for are added by the MCP App extension (mcp_app); the rest here.
    # The docstring without its indentation: the host hands the model every space of it.
    options: dict[Callable[..., object], dict[str, Any]] = {
        tool: {"title": title, "description": inspect.cleandoc(tool.__doc__ or ""), "annotations": hints}
        for tool, title, hints in TOOLS
    }
    app = usage_app({tool: options[tool] for tool in CHARTED})
    mcp = _Server(
        "ccledger", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan, extensions=[app],
        middleware=[_warm_up_once_listed],
    )  # fmt: skip
    for tool, _, _ in TOOLS:
        if tool not in CHARTED:
            mcp.add_tool(tool, **options[tool])
    for tool, name, title, hints in TEAM_TOOLS:
        mcp.add_tool(tool, name, title, inspect.cleandoc(tool.__doc__ or ""), hints)

    @mcp.resource("ccledger://prices", name="prices", title="Price table", mime_type="application/json")
    def prices() -> str:
        """The dated per-model prices (USD per million tokens) every cost is computed from."""
        return pricing.price_table(prices_file).model_dump_json(indent=2)

    mcp.prompt(title="Weekly spend review")(weekly_report)
    return mcp


async def _warm_up_once_listed(ctx: ServerRequestContext[ServerState, Any], call_next: CallNext) -> HandlerResult:
    """Once the host has the tools, the first refresh starts, when the host is quiet
    (:meth:`ServerState.warm_up`)."""
    state = ctx.lifespan_context
    state.heard()
    result = await call_next(ctx)
    state.heard()
    if ctx.method == "tools/list":
        state.warm_up()
    return result


class _Server(MCPServer):
    """The SDK's server, with an unknown prompt answered as the client's mistake it is (an
    invalid-params error naming the prompts), not an exception logged with its traceback."""

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Any = None
    ) -> GetPromptResult | InputRequiredResult:
        known = [prompt.name for prompt in await self.list_prompts()]
        if name not in known:
            raise MCPError(
                code=INVALID_PARAMS, message=f"no prompt named {name!r}; the prompts are: {', '.join(known)}"
            )
        return await super().get_prompt(name, arguments, context)


def _utcnow() -> datetime:
    return datetime.now(UTC)
