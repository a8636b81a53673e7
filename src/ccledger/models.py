"""Result models: the Python return types, the MCP tools' output schemas and the CLI's ``--json``.

Field names follow one vocabulary everywhere: ``input_tokens``, ``output_tokens``,
``cache_write_5m_tokens``, ``cache_write_1h_tokens``, ``cache_read_tokens``, ``total_tokens``,
``web_search_requests`` and ``cost_usd``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .ingest.stats import FileError, IndexStats

__all__ = [
    "Activity",
    "ActivityHeatmap",
    "ActivityRow",
    "ActivitySummary",
    "ActivityTotals",
    "AgentCost",
    "BlockInfo",
    "BlockList",
    "BudgetAlert",
    "BudgetInfo",
    "BudgetStatus",
    "BudgetStatusList",
    "BurnRateReport",
    "CommandCount",
    "FileError",
    "IndexStats",
    "IndexStatus",
    "LongContextPrices",
    "ModelPrices",
    "OfficialLimit",
    "Period",
    "PlanValue",
    "PricePeriod",
    "PriceTable",
    "ProblemCount",
    "ProdPullResult",
    "ProdSourcePull",
    "RepoCost",
    "RepoCosts",
    "RootStatus",
    "SessionDetail",
    "SessionList",
    "SessionSummary",
    "TokenPrices",
    "ToolCount",
    "UnpricedModel",
    "Usage",
    "UsagePace",
    "UsageRow",
    "UsageSummary",
    "UsageTotals",
]


class Period(BaseModel):
    """The window an answer covers."""

    label: str = Field(description="The period as asked, e.g. 'this week' or '2026-11-01 to 2026-11-07'.")
    since_utc: str | None = Field(description="Inclusive start (UTC); null means since the first record.")
    until_utc: str = Field(description="Exclusive end (UTC).")
    timezone: str = Field(description="The IANA zone that day/week/month boundaries follow.")


class BudgetAlert(BaseModel):
    """A budget past one of its thresholds: mention it to the user."""

    budget_id: int
    scope: str
    period: str
    status: str = Field(description="warning or exceeded.")
    percent: float
    message: str


def alerts_field() -> Any:
    """The ``budget_alerts`` field every usage answer carries (see ``server``), so that a model
    sees budgets past a threshold unasked. A call rather than an ``Annotated`` alias: type
    checkers see the default only on an assignment."""
    return Field(default_factory=list, description="Budgets past a threshold: mention them to the user.")


def team_field() -> Any:
    """The ``team_view`` note of the answers a team database also gives (see ``team``)."""
    return Field(None, description="Set when a team database is configured: this answer is this machine's alone.")


class Usage(BaseModel):
    """Tokens and cost of a set of API responses."""

    responses: int = Field(description="Distinct API responses (de-duplicated).")
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    total_tokens: int = Field(description="All five token kinds together.")
    web_search_requests: int
    cost_usd: float = Field(
        description="API list-price equivalent in US dollars, of the priced responses only "
        "(see unpriced_models for any that have no price)."
    )


class UsageRow(Usage):
    """One group of a usage summary."""

    key: str = Field(
        description="The group: a date (day), the Monday of a week, YYYY-MM (month), or a repo, "
        "branch, model, session id or machine name."
    )


class UsageTotals(Usage):
    """Usage over a period with its cost split by where it was spent."""

    dev_cost_usd: float = Field(description="The part of cost_usd spent in Claude Code (from its transcripts).")
    prod_cost_usd: float = Field(
        description="The part of cost_usd spent by shipped apps (production telemetry pulled with "
        "pull_prod_telemetry), priced by the same table."
    )
    prod_provider_cost_usd: float | None = Field(
        None,
        description="What the production sources report themselves (Anthropic's cost report, per UTC day; "
        "Claude Code's or an export's cost_usd), to compare with prod_cost_usd; null when none does.",
    )


class UnpricedModel(BaseModel):
    """A model with usage but no price: its cost is NOT in cost_usd (never counted as $0)."""

    model: str
    responses: int
    total_tokens: int
    reason: Literal["unknown model", "no fast-mode price"] = Field(
        "unknown model",
        description="'unknown model': the price table has no entry for it. 'no fast-mode price': the model is "
        "priced, but not its fast mode (speed 'fast'), so those responses are left out rather than underpriced.",
    )


class UsageSummary(BaseModel):
    """Usage and cost over a period, grouped one way."""

    period: Period
    group_by: str
    filters: dict[str, str] = Field(default_factory=dict, description="repo / model filters applied.")
    source: str = Field("all", description="dev (Claude Code), prod (shipped apps' pulled telemetry) or all (both).")
    totals: UsageTotals = Field(description="The whole period, every row included: the answer.")
    rows_total: int = Field(0, description="Rows in the whole answer; `rows` holds one page of them.")
    showing: str = Field("", description="Which rows these are, and the offset that gives the next page.")
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null: no more.")
    rows: list[UsageRow]
    unpriced_models: list[UnpricedModel] = Field(default_factory=list)
    budget_alerts: list[BudgetAlert] = alerts_field()
    team_view: str | None = team_field()


class RepoCost(Usage):
    """One repository's spend over a period."""

    repo_id: str = Field(description="github.com/owner/name, else the repository's path.")
    share: float = Field(description="This repo's fraction of the period's total cost, 0 to 1.")
    sessions: int
    dev_cost_usd: float = Field(description="The part of cost_usd spent in Claude Code.")
    prod_cost_usd: float = Field(description="The part of cost_usd spent by the repo's shipped app (pulled).")


class RepoCosts(BaseModel):
    """Spend per repository, biggest first."""

    period: Period
    source: str = Field("all", description="dev (Claude Code), prod (shipped apps' pulled telemetry) or all (both).")
    totals: UsageTotals = Field(description="Every repo included: the answer.")
    repos_total: int = Field(0, description="Repos with usage in the period; `repos` holds one page of them.")
    showing: str = Field("", description="Which repos these are, and the offset that gives the next page.")
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null: no more.")
    repos: list[RepoCost]
    unpriced_models: list[UnpricedModel] = Field(default_factory=list)
    budget_alerts: list[BudgetAlert] = alerts_field()
    team_view: str | None = team_field()


class SessionSummary(Usage):
    """One Claude Code session (subagents rolled in)."""

    session_id: str
    repo_id: str | None
    git_branch: str | None = Field(description="The branch of the session's latest response.")
    machine: str
    first_utc: str
    last_utc: str
    models: list[str]
    subagent_responses: int = Field(description="Responses made by subagents (sidechains).")
    prompts: int = Field(0, description="The session's typed prompts (all of it, not only the period's).")
    tool_uses: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    commits: int = 0
    forked_from: str | None = Field(
        None,
        description="The session this one was forked from (claude --fork-session); its copies of that "
        "session's responses are counted there, once, and not here.",
    )


class SessionList(BaseModel):
    """Sessions active in a period, most recent first."""

    period: Period
    total_sessions: int = Field(description="Sessions in the period, before the limit.")
    showing: str = Field("", description="Which sessions these are, and the offset that gives the next page.")
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null: no more.")
    sessions: list[SessionSummary]
    unpriced_models: list[UnpricedModel] = Field(default_factory=list)
    budget_alerts: list[BudgetAlert] = alerts_field()


class SessionDetail(BaseModel):
    """Everything the ledger knows about one session (metadata only, never content)."""

    session_id: str
    repo_id: str | None
    cwds: list[str]
    git_branches: list[str]
    machines: list[str]
    cc_versions: list[str] = Field(description="Claude Code versions that wrote the session.")
    forked_from: str | None = Field(
        None, description="The session this one was forked from; the responses it copied are counted there."
    )
    first_utc: str
    last_utc: str
    duration_minutes: float = Field(description="From the first to the last response.")
    totals: Usage
    by_model: list[UsageRow]
    agents_total: int = Field(0, description="The session itself and its subagents; by_agent lists the costliest.")
    by_agent: list[UsageRow] = Field(description="'main' for the session itself, else the subagent id.")
    activity: Activity | None = Field(None, description="What the session did: prompts, tools, lines, commits.")
    unpriced_models: list[UnpricedModel] = Field(default_factory=list)


class RootStatus(BaseModel):
    """A Claude config directory the ledger reads."""

    path: str
    exists: bool
    files: int = Field(description="Transcript files known under it (including deleted ones).")


class ProblemCount(BaseModel):
    """Lines of one kind that could not be used."""

    kind: str
    lines: int
    files: int


class IndexStatus(BaseModel):
    """The state of the ledger and of the transcripts it reads."""

    ledger_path: str
    ledger_bytes: int
    roots: list[RootStatus]
    files: int
    files_deleted: int = Field(description="Transcripts Claude Code has deleted; their responses are kept.")
    files_unreadable: list[FileError]
    files_with_partial_last_line: int = Field(
        description="Files whose last line is incomplete (being written, or cut); read again when they grow."
    )
    responses: int
    first_response_utc: str | None
    last_response_utc: str | None
    last_change_utc: str | None = Field(description="When an index run last found something new.")
    bad_lines: int
    problems: list[ProblemCount]
    unpriced_models: list[UnpricedModel]
    how_to_add_prices: str | None = Field(description="Set when some models have no price.")
    refresh: IndexStats | None = Field(None, description="What the refresh made for this answer did.")
    budget_alerts: list[BudgetAlert] = alerts_field()


class TokenPrices(BaseModel):
    """Prices of the five token kinds, in US dollars per million tokens."""

    input_mtok: float
    output_mtok: float
    cache_write_5m_mtok: float
    cache_write_1h_mtok: float
    cache_read_mtok: float


class LongContextPrices(TokenPrices):
    """A long-context tier: a request whose prompt exceeds the threshold pays these prices for ALL its tokens."""

    threshold_tokens: int = Field(
        description="The tier applies when input + cache write + cache read tokens exceed this."
    )
    from_utc: str | None = Field(description="When the tier started; null means with its period.")
    until_utc: str | None = Field(description="When the tier stopped (exclusive); null means with its period.")


class PricePeriod(TokenPrices):
    """A model's prices from from_utc until until_utc."""

    from_utc: str
    until_utc: str | None = Field(description="Exclusive end: the next period's start; null means still in force.")
    web_search_usd: float = Field(description="US dollars per web search request.")
    long_context: LongContextPrices | None = None
    fast: TokenPrices | None = Field(
        None, description="Prices of responses logged with speed 'fast'; they override the long-context tier."
    )


class ModelPrices(BaseModel):
    """One model's dated prices."""

    model: str = Field(description="The canonical id that logged ids resolve to.")
    name: str
    aliases: list[str] = Field(description="Other ids that mean this model.")
    source: str = Field(
        description="'built-in', the prices file it came from, or 'genai-prices <version>' for a fallback price."
    )
    periods: list[PricePeriod] = Field(description="Oldest first.")


class PriceTable(BaseModel):
    """The price table every cost is computed from."""

    sources: list[str] = Field(description="Where the prices came from; a later source replaces a model wholesale.")
    user_prices_path: str = Field(description="Where a prices.toml that adds or replaces models is read from.")
    models: list[ModelPrices]
    notes: list[str] = Field(description="How prices are applied and how logged model ids are matched.")


class BlockInfo(BaseModel):
    """A 5-hour block of Claude Code use (a local estimate), or the idle gap between two."""

    start_utc: str = Field(description="The block's start: its first response floored to the UTC hour.")
    end_utc: str = Field(description="Start + 5 hours (for a gap: when the next block began).")
    is_gap: bool
    is_active: bool = Field(description="In progress now: its last response is under 5 hours old and it has not ended.")
    first_response_utc: str | None = None
    last_response_utc: str | None = None
    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = Field(0.0, description="API list-price equivalent of the priced responses.")
    unpriced_responses: int = Field(0, description="Responses with no known price: NOT in cost_usd.")
    models: list[str] = Field(default_factory=list)


class BlockList(BaseModel):
    """5-hour blocks that started in a period, oldest first (estimates from this machine's transcripts)."""

    period: Period
    blocks_total: int = Field(0, description="Blocks and gaps in the period; `blocks` holds one page of them.")
    showing: str = Field("", description="Which blocks these are, and the offset that gives the next page.")
    next_offset: int | None = Field(None, description="Pass as offset for the next (earlier) page; null: no more.")
    blocks: list[BlockInfo]
    note: str = Field(description="How blocks are computed and what they cannot see.")


class OfficialLimit(BaseModel):
    """An official usage-limit reading, as Claude Code reported it to the statusline."""

    window: str = Field(description="five_hour or seven_day.")
    used_percentage: float = Field(description="Official: 0 to 100.")
    resets_at_utc: str | None
    captured_utc: str = Field(description="When the statusline recorded it.")
    age_minutes: float
    current: bool = Field(description="False once its reset time has passed or it is over 10 minutes old.")


class BurnRateReport(BaseModel):
    """How fast the current 5-hour block is burning, with the official limits beside the estimates."""

    active_block: BlockInfo | None = Field(description="The block in progress (estimate); null when idle.")
    minutes_left: float | None = Field(None, description="Until the active block ends (estimate).")
    tokens_per_minute: float | None = Field(None, description="Estimate: tokens per minute, first to last response.")
    cost_per_hour_usd: float | None = Field(None, description="Estimate, at the same pace.")
    projected_tokens: int | None = Field(None, description="Estimate at the block's end, at the current pace.")
    projected_cost_usd: float | None = Field(None, description="Estimate at the block's end, at the current pace.")
    by_model: list[UsageRow] = Field(default_factory=list, description="The active block per model.")
    last_block: BlockInfo | None = Field(None, description="The most recent finished block, when idle.")
    official: list[OfficialLimit] = Field(
        default_factory=list,
        description="OFFICIAL percentages of the real 5-hour and weekly limits (from the statusline); empty when "
        "none was recorded (set up `ccledger statusline`; Pro/Max only).",
    )
    note: str
    budget_alerts: list[BudgetAlert] = alerts_field()


class PlanValue(BaseModel):
    """API-equivalent spend against a subscription's price over a period."""

    period: Period
    plan: str
    plan_monthly_usd: float
    subscription_usd: float = Field(description="The plan's price prorated over the period's days so far.")
    api_equivalent_usd: float = Field(description="What the same usage costs at API list prices.")
    value_ratio: float | None = Field(description="api_equivalent_usd / subscription_usd; null for the api plan.")
    savings_usd: float = Field(description="api_equivalent_usd - subscription_usd (negative: the plan costs more).")
    rule: str = Field(description="How the subscription was prorated.")


class UsagePace(BaseModel):
    """Spend so far in a week or month, the pace, and where it ends up."""

    period: Period
    days_elapsed: float
    days_in_period: float
    spent_usd: float
    daily_average_usd: float
    projected_usd: float = Field(description="spent_usd + daily_average_usd x the days left.")
    last_7_days_daily_usd: float
    previous_7_days_daily_usd: float
    trend: str = Field(description="increasing, stable or decreasing.")
    trend_rule: str
    budget_alerts: list[BudgetAlert] = alerts_field()


class BudgetInfo(BaseModel):
    """A spending limit."""

    id: int
    scope: str = Field(description="'all' (all Claude Code use) or a repo id.")
    model: str | None = Field(description="Only this model's spend, or null for every model.")
    period: str = Field(description="day, week (from Monday) or month: calendar periods in the configured timezone.")
    amount_usd: float
    thresholds: list[float] = Field(description="Fractions of the amount that alert, e.g. [0.9, 1.0].")
    include_prod: bool = Field(description="Whether production spend pulled for the repo counts.")


class BudgetStanding(BaseModel):
    """Where a budget stands in its current period (this machine's, and a team's: ``team.budgets``)."""

    period_start_utc: str
    period_end_utc: str
    spent_usd: float
    remaining_usd: float
    percent: float = Field(description="spent / amount x 100.")
    status: str = Field(description="ok, warning (past the first threshold) or exceeded (100% or more).")
    projected_usd: float = Field(description="Spend at the period's end at the pace so far.")
    projected_cross_utc: str | None = Field(
        description="When the pace so far reaches 100% within this period; null if it does not or already has."
    )
    unpriced_models: list[UnpricedModel] = Field(
        default_factory=list, description="Models with usage but no price: their spend is NOT counted."
    )


class BudgetStatus(BudgetStanding, BudgetInfo):
    """Where a budget stands in its current period."""


class BudgetStatusList(BaseModel):
    """Every budget's standing, most urgent first."""

    budgets: list[BudgetStatus]
    timezone: str


class ProdSourcePull(BaseModel):
    """What one pull brought from one production source."""

    id: str = Field(description="The source's id in [[prod.sources]].")
    kind: str = Field(description="anthropic-admin, export or otlp-json.")
    repo_id: str = Field(description="The repo its spend is charged to.")
    pages: int = Field(description="Pages saved by this pull (each in one transaction).")
    records_added: int = Field(description="Records new to the ledger.")
    records_replaced: int = Field(description="Records pulled before that changed since (a bucket that grew).")
    records_unchanged: int = Field(description="Records pulled again as they were: not counted twice.")
    records_removed: int = Field(description="Records a re-pulled bucket no longer has.")
    cursor: str | None = Field(description="Where the next pull starts (opaque); null: from the beginning.")
    error: str | None = Field(description="Why the pull stopped, and what to do; null when it completed.")
    seconds: float


class ProdPullResult(BaseModel):
    """Production telemetry pulled into the ledger, per source."""

    sources: list[ProdSourcePull]
    ok: bool = Field(description="True when every source completed; otherwise see each one's error.")


class Activity(BaseModel):
    """What Claude Code did, beside what it cost (see the README's "Activity" for each rule)."""

    sessions: int = Field(0, description="Sessions with responses in the period.")
    prompts: int = Field(0, description="Prompts a person typed (not tool results, commands or injected text).")
    slash_commands: int = Field(0, description="Slash commands run, e.g. /clear, /model.")
    tool_uses: int = Field(0, description="Distinct tool_use blocks the model sent.")
    tool_errors: int = Field(0, description="Tool uses whose result was an error (rejections not included).")
    lines_added: int = Field(0, description="Lines added by edits: + lines of their patches, a new file's lines.")
    lines_removed: int = Field(0, description="Lines removed by edits: - lines of their patches.")
    commits: int = Field(0, description="git commits made through Claude Code's Bash tool.")
    pull_requests: int = Field(0, description="Pull / merge requests opened (gh, glab, or an MCP tool).")
    edits_accepted: int = Field(0, description="Edit, MultiEdit, Write and NotebookEdit uses not rejected.")
    edits_rejected: int = Field(0, description="Edit-tool uses the user declined.")
    compactions: int = 0
    rate_limit_hits: int = Field(0, description="Requests Claude Code recorded as refused for a rate limit.")
    api_errors: int = Field(0, description="Other failed requests Claude Code recorded.")
    active_seconds: int = Field(0, description="Estimated: turn durations where written, else gaps up to 5 min.")
    cost_usd: float = Field(0.0, description="What the period's responses cost (as usage_summary).")


class ActivityTotals(Activity):
    """The whole period: activity, cost, what Claude Code itself reported, and value ratios."""

    auxiliary_cost_usd: float = Field(
        0.0,
        description="Calls Claude Code reported in its session totals but wrote no transcript line for "
        "(titles, compaction): NOT included in cost_usd.",
    )
    lines_added_reported: int | None = Field(None, description="Claude Code's own session totals (cost-state).")
    lines_removed_reported: int | None = None
    cost_per_commit_usd: float | None = Field(None, description="cost_usd / commits; null without commits.")
    cost_per_100_lines_usd: float | None = Field(None, description="cost_usd per 100 lines added + removed.")


class ActivityRow(Activity):
    """One group's activity (a day, week, month, repo, session or model)."""

    key: str


class ToolCount(BaseModel):
    name: str = Field(description="As the model named it; MCP tools as mcp__<server>__<tool>.")
    uses: int
    errors: int
    rejected: int


class CommandCount(BaseModel):
    name: str
    uses: int


class AgentCost(BaseModel):
    agent_type: str = Field(description="From the subagent's meta.json; 'unknown' where Claude Code wrote none.")
    responses: int
    cost_usd: float


class ActivitySummary(BaseModel):
    """Activity over a period: totals first, then the top tools, commands and agents, then rows."""

    period: Period
    group_by: str
    filters: dict[str, str] = Field(default_factory=dict)
    activity_known_since: str | None = Field(
        None, description="Set when the period starts before activity was recorded: counts before it are unknown."
    )
    totals: ActivityTotals
    tools_total: int = Field(0, description="Distinct tools used; `tools` lists the most used.")
    tools: list[ToolCount]
    slash_commands: list[CommandCount]
    agents: list[AgentCost] = Field(description="Subagent responses by agent type, costliest first.")
    rows_total: int = 0
    showing: str = ""
    next_offset: int | None = None
    rows: list[ActivityRow] = Field(default_factory=list, description="Empty for group_by 'none'.")
    budget_alerts: list[BudgetAlert] = alerts_field()


class ActivityHeatmap(BaseModel):
    """A 7 x 24 grid: local weekday (Monday first) by local hour."""

    period: Period
    metric: str = Field(description="responses, cost (USD), prompts or active_time (seconds).")
    filters: dict[str, str] = Field(default_factory=dict)
    total: float
    busiest: str | None = Field(description="The busiest weekday and hour, e.g. 'Tue 14:00'.")
    grid: list[list[float]] = Field(description="grid[weekday][hour]; weekday 0 is Monday.")
    activity_known_since: str | None = None
    budget_alerts: list[BudgetAlert] = alerts_field()


SessionDetail.model_rebuild()
