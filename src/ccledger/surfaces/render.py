"""How results look on a terminal (rich tables) and as CSV. Presentation only."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..models import (
    ActivityHeatmap,
    ActivitySummary,
    BlockInfo,
    BlockList,
    BudgetStatusList,
    BurnRateReport,
    IndexStatus,
    PlanValue,
    PriceTable,
    ProdPullResult,
    RepoCosts,
    SessionDetail,
    SessionList,
    TokenPrices,
    UnpricedModel,
    Usage,
    UsagePace,
    UsageRow,
    UsageSummary,
    UsageTotals,
)

if TYPE_CHECKING:
    from ..team.budgets import TeamBudgetList
    from ..team.usage import TeamUsage

__all__ = [
    "activity_view",
    "blocks_table",
    "budgets_table",
    "burn_view",
    "heatmap_view",
    "money",
    "pace_view",
    "plan_view",
    "prices_table",
    "pull_view",
    "repo_table",
    "session_detail_view",
    "sessions_table",
    "status_view",
    "team_table",
    "usage_table",
    "write_csv",
    "write_rows_csv",
]

USAGE_FIELDS = (
    "responses",
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "total_tokens",
    "web_search_requests",
    "cost_usd",
)


def money(value: float) -> str:
    """Dollars for people: cents, and more precision below a cent."""
    return f"${value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"${value:.4f}"


def tokens(value: int) -> str:
    """Token counts for a table: 3 significant figures (exact counts are in --json and --csv)."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return str(value)


def _key_column(table: Table, title: str) -> None:
    # Repo ids and session ids are what the reader looks for: fold them, never drop them.
    table.add_column(title, overflow="fold", min_width=12, ratio=1)


def _table(title: str, caption: str | None = None) -> Table:
    return Table(title=title, caption=caption, box=box.SIMPLE_HEAD, title_justify="left", caption_justify="left")


def _count(n: int, noun: str) -> str:
    """``1 response``, ``2 responses``: prose, not a field name."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def short_repo(repo_id: str) -> str:
    """A repo as people name it: 'acme/api' for github.com/acme/api, 'src/api' for /home/u/src/api."""
    if re.match(r"^[\w.-]+\.[a-z]{2,}/", repo_id):
        return repo_id.split("/", 1)[1]
    parts = [part for part in re.split(r"[/\\]", repo_id) if part]
    return "/".join(parts[-2:]) or repo_id


def short_model(model: str) -> str:
    """'opus-4-7' for claude-opus-4-7, 'haiku-4-5' for claude-haiku-4-5-20251001."""
    return re.sub(r"-\d{8}$", "", model.removeprefix("claude-"))


def _usage_columns(table: Table) -> None:
    for title in ("Resp.", "Input", "Output", "Cache wr.", "Cache rd."):
        table.add_column(title, justify="right", no_wrap=True)
    table.add_column("Cost", justify="right", style="bold", no_wrap=True)


def _usage_cells(usage: Usage) -> list[str]:
    return [
        tokens(usage.responses),
        tokens(usage.input_tokens),
        tokens(usage.output_tokens),
        tokens(usage.cache_write_5m_tokens + usage.cache_write_1h_tokens),
        tokens(usage.cache_read_tokens),
        money(usage.cost_usd),
    ]


def usage_table(summary: UsageSummary) -> Group:
    """A usage summary: one row per group and a total."""
    filters = "".join(f", {name} {value}" for name, value in summary.filters.items())
    title = f"{_subject(summary.source, summary.totals)} usage by {summary.group_by}: {summary.period.label}{filters}"
    table = _grouped_table(title, summary.period.timezone, summary.group_by, summary.rows, summary.totals)
    return Group(table, *_split_note(summary.totals), *_unpriced_notes(summary.unpriced_models))


def _grouped_table(title: str, timezone: str, group_by: str, rows: Iterable[UsageRow], totals: Usage) -> Table:
    """Usage rows under their group's name, and the total."""
    table = _table(title, _caption(timezone))
    _key_column(table, group_by.capitalize())
    _usage_columns(table)
    label = {"repo": short_repo, "model": short_model}.get(group_by, str)
    for row in rows:
        table.add_row(label(row.key), *_usage_cells(row))
    table.add_section()
    table.add_row("Total", *_usage_cells(totals), style="bold")
    return table


def team_table(usage: TeamUsage) -> Group:
    """The team's usage: one row per group and a total, with how many developers and machines."""
    filters = "".join(f", {name} {value}" for name, value in usage.filters.items())
    totals = usage.totals
    people = f"{totals.developers} developers, {totals.machines} machines"
    title = f"Team usage by {usage.group_by}: {usage.period.label}{filters} ({people})"
    table = _grouped_table(title, usage.period.timezone, usage.group_by, usage.rows, totals)
    split = [Text(f"Claude Code (dev) {money(totals.dev_cost_usd)} + production (prod) {money(totals.prod_cost_usd)}")]
    return Group(table, *(split if totals.prod_cost_usd else []), *_unpriced_notes(usage.unpriced_models))


def repo_table(costs: RepoCosts) -> Group:
    """Spend per repository with each one's share."""
    table = _table(f"Cost by repo: {costs.period.label}", _caption(costs.period.timezone))
    _key_column(table, "Repo")
    table.add_column("Share", justify="right", no_wrap=True)
    table.add_column("Sessions", justify="right", no_wrap=True)
    table.add_column("Tokens", justify="right", no_wrap=True)
    split = bool(costs.totals.prod_cost_usd)  # dev and prod columns only once there is prod spend
    if split:
        table.add_column("Dev", justify="right", no_wrap=True)
        table.add_column("Prod", justify="right", no_wrap=True)
    table.add_column("Cost", justify="right", style="bold", no_wrap=True)
    for repo in costs.repos:
        by_source = [money(repo.dev_cost_usd), money(repo.prod_cost_usd)] if split else []
        table.add_row(
            short_repo(repo.repo_id), f"{repo.share:.1%}", str(repo.sessions), tokens(repo.total_tokens),
            *by_source, money(repo.cost_usd),
        )  # fmt: skip
    table.add_section()
    totals = costs.totals
    by_source = [money(totals.dev_cost_usd), money(totals.prod_cost_usd)] if split else []
    table.add_row("Total", "", "", tokens(totals.total_tokens), *by_source, money(totals.cost_usd), style="bold")
    return Group(table, *_split_note(totals), *_unpriced_notes(costs.unpriced_models))


def sessions_table(found: SessionList) -> Group:
    """Sessions, most recent first."""
    table = _table(f"Sessions: {found.period.label} ({len(found.sessions)} of {found.total_sessions})")
    table.pad_edge, table.collapse_padding = False, True  # seven columns in an 80-column terminal
    table.add_column("Session", no_wrap=True)
    table.add_column("Last (UTC)", no_wrap=True)
    _key_column(table, "Repo")
    table.add_column("Branch", overflow="fold", max_width=10)
    table.add_column("Models", overflow="fold", max_width=16)
    table.add_column("Resp.", justify="right", no_wrap=True)
    table.add_column("Cost", justify="right", style="bold", no_wrap=True)
    for session in found.sessions:
        table.add_row(
            session.session_id[:8],
            session.last_utc[:16].replace("T", " "),
            short_repo(session.repo_id) if session.repo_id else "",
            session.git_branch or "",
            ", ".join(short_model(model) for model in session.models),
            str(session.responses),
            money(session.cost_usd),
        )
    return Group(table, *_unpriced_notes(found.unpriced_models))


def session_detail_view(detail: SessionDetail) -> Group:
    """One session: facts, then cost by model and by agent."""
    facts = Text.assemble(
        ("Session ", "bold"),
        detail.session_id,
        f"\nRepo: {detail.repo_id or '-'}   Branches: {', '.join(detail.git_branches) or '-'}",
        f"\nFrom {detail.first_utc} to {detail.last_utc} ({detail.duration_minutes} min)",
        f"\nMachines: {', '.join(detail.machines)}   Claude Code: {', '.join(detail.cc_versions) or '-'}",
        ("\nCost: ", "bold"),
        money(detail.totals.cost_usd),
        f" for {tokens(detail.totals.total_tokens)} tokens in {_count(detail.totals.responses, 'response')}",
    )
    return Group(
        facts,
        _rows_table("By model", "Model", detail.by_model),
        _rows_table("By agent", "Agent", detail.by_agent),
        *_unpriced_notes(detail.unpriced_models),
    )


def status_view(status: IndexStatus) -> Group:
    """The ledger's state."""
    table = _table("ccledger status")
    table.show_header = False
    table.add_column("What")
    table.add_column("Value")
    table.add_row("Ledger", f"{status.ledger_path} ({status.ledger_bytes / 1e6:.1f} MB)")
    for root in status.roots:
        state = "" if root.exists else " (no projects folder)"
        table.add_row("Log root", f"{root.path}{state}: {root.files:,} files known")
    table.add_row("Files", f"{status.files:,} ({status.files_deleted:,} deleted by Claude Code, rows kept)")
    table.add_row("Responses", f"{status.responses:,}")
    table.add_row("Covers", f"{status.first_response_utc or '-'} .. {status.last_response_utc or '-'}")
    table.add_row("Last change", status.last_change_utc or "-")
    table.add_row("Bad lines", ", ".join(f"{p.kind} {p.lines:,}" for p in status.problems) or "none")
    if status.files_with_partial_last_line:
        table.add_row("Partial last lines", f"{status.files_with_partial_last_line} files (read again when they grow)")
    for error in status.files_unreadable:
        table.add_row("Unreadable", f"{error.path}: {error.error}")
    notes: list[Text] = []
    if status.how_to_add_prices:
        notes.append(Text(status.how_to_add_prices, style="yellow"))
    return Group(table, *notes)


def _rows_table(title: str, label: str, rows: Sequence[UsageRow]) -> Table:
    table = _table(title)
    _key_column(table, label)
    _usage_columns(table)
    for row in rows:
        table.add_row(row.key, *_usage_cells(row))
    return table


def _subject(source: str, totals: UsageTotals) -> str:
    if source == "prod":
        return "Production"
    return "Claude Code and production" if totals.prod_cost_usd else "Claude Code"


def _split_note(totals: UsageTotals) -> list[Text]:
    if not totals.prod_cost_usd and totals.prod_provider_cost_usd is None:
        return []
    reported = totals.prod_provider_cost_usd
    theirs = "" if reported is None else f"; the production sources report {money(reported)} themselves"
    split = f"Claude Code (dev) {money(totals.dev_cost_usd)} + production (prod) {money(totals.prod_cost_usd)}"
    return [Text(split + theirs)]


def _caption(timezone: str) -> str:
    return f"API list-price equivalent; dates in {timezone}"


_UNPRICED_WHAT = {"unknown model": "price", "no fast-mode price": "fast-mode price"}
_UNPRICED_RESPONSES = {"unknown model": "responses", "no fast-mode price": "fast responses"}


def _unpriced_notes(unpriced: Iterable[UnpricedModel]) -> list[Text]:
    return [
        Text(
            f"No {_UNPRICED_WHAT[model.reason]} for {model.model}: {model.total_tokens:,} tokens in "
            f"{model.responses:,} {_UNPRICED_RESPONSES[model.reason]} are not in the cost (see `ccledger status`).",
            style="yellow",
        )
        for model in unpriced
    ]


def write_csv(handle: IO[str], key: str, rows: Iterable[Any]) -> None:
    """Rows of usage (anything with the usage fields and a key attribute) as CSV."""
    writer = csv.writer(handle)
    writer.writerow([key, *USAGE_FIELDS])
    for row in rows:
        writer.writerow([getattr(row, key), *(getattr(row, name) for name in USAGE_FIELDS)])


def write_rows_csv(handle: IO[str], rows: Sequence[Any]) -> None:
    """Result models as CSV: one column per field, in the model's order."""
    writer = csv.writer(handle)
    dumped = [row.model_dump(mode="json") for row in rows]
    if dumped:
        writer.writerow(list(dumped[0]))
        writer.writerows([list(row.values()) for row in dumped])


def prices_table(table: PriceTable) -> Table:
    """The price table for a terminal: a row per model and period, with its tier and fast prices."""
    view = Table(
        title="Prices, USD per million tokens",
        caption="\n".join(table.notes[:2]),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    view.add_column("Model", no_wrap=True)
    view.add_column("From", no_wrap=True)
    for heading in ("Input", "Output", "Write 5m", "Write 1h", "Read"):
        view.add_column(heading, justify="right")

    def add(label: str, when: str, prices: TokenPrices, style: str | None = None) -> None:
        cells = (prices.input_mtok, prices.output_mtok, prices.cache_write_5m_mtok, prices.cache_write_1h_mtok)
        view.add_row(label, when, *map(_rate, (*cells, prices.cache_read_mtok)), style=style)

    for model in table.models:
        for index, period in enumerate(model.periods):
            add(model.model if index == 0 else "", period.from_utc[:10], period)
            tier = period.long_context
            if tier is not None:
                until = f"to {tier.until_utc[:10]}" if tier.until_utc else ""
                add(f"  prompt >{tier.threshold_tokens // 1000}k", until, tier, style="dim")
            if period.fast is not None:
                add("  fast", "", period.fast, style="dim")
    return view


def _rate(value: float) -> str:
    return f"{Decimal(repr(value)).normalize():f}"


def blocks_table(found: BlockList) -> Group:
    """5-hour blocks, oldest first."""
    table = _table(f"5-hour blocks: {found.period.label}", "Estimates from this machine's transcripts")
    table.add_column("Start (UTC)", no_wrap=True)
    table.add_column("End", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("Resp.", justify="right")
    table.add_column("Tokens", justify="right")
    table.add_column("Cost", justify="right", style="bold")
    table.add_column("Models", overflow="fold")
    for block in found.blocks:
        state = "gap" if block.is_gap else "active" if block.is_active else ""
        # A gap runs from the last block's end to the next block's start: both are shown.
        table.add_row(
            block.start_utc[:16].replace("T", " "), block.end_utc[:16].replace("T", " ") if block.is_gap
            else block.end_utc[11:16], state,
            "" if block.is_gap else str(block.responses), "" if block.is_gap else tokens(block.total_tokens),
            "" if block.is_gap else money(block.cost_usd), ", ".join(short_model(m) for m in block.models),
        )  # fmt: skip
    return Group(table)


def burn_view(report: BurnRateReport) -> Group:
    """The active block's burn, the official limits, or the last block when idle."""
    lines: list[Text] = []
    if report.active_block is None:
        lines.append(Text("No active 5-hour block (no response in the last 5 hours).", style="bold"))
        if report.last_block is not None:
            lines.append(Text(f"Last block: {_block_line(report.last_block)}"))
    else:
        block = report.active_block
        lines.append(Text(f"Active block (estimate): {_block_line(block)}", style="bold"))
        lines.append(
            Text(
                f"  {report.minutes_left or 0:.0f} min left; {report.tokens_per_minute or 0:,.0f} tokens/min, "
                f"{money(report.cost_per_hour_usd or 0)}/h; at this pace {tokens(report.projected_tokens or 0)} "
                f"tokens and {money(report.projected_cost_usd or 0)} by its end"
            )
        )
    for limit in report.official:
        label = {"five_hour": "5-hour", "seven_day": "weekly"}.get(limit.window, limit.window)
        resets = f", resets {limit.resets_at_utc[:16].replace('T', ' ')} UTC" if limit.resets_at_utc else ""
        stale = "" if limit.current else " (stale)"
        lines.append(Text(f"Official {label} limit: {limit.used_percentage:.0f}% used{resets}{stale}"))
    if not report.official:
        lines.append(Text("No official limits recorded yet: set up `ccledger statusline` (Pro/Max).", style="dim"))
    return Group(*lines)


def _block_line(block: BlockInfo) -> str:
    return (
        f"{block.start_utc[:16].replace('T', ' ')} to {block.end_utc[11:16]} UTC, "
        f"{_count(block.responses, 'response')}, {tokens(block.total_tokens)} tokens, {money(block.cost_usd)}"
    )


def plan_view(value: PlanValue) -> Group:
    """A plan's price against the API-equivalent spend."""
    ratio = f"{value.value_ratio:.1f}x" if value.value_ratio is not None else "n/a"
    return Group(
        Text(f"{value.plan} plan, {value.period.label}", style="bold"),
        Text(f"  API-equivalent spend: {money(value.api_equivalent_usd)}"),
        Text(f"  Subscription (prorated): {money(value.subscription_usd)}"),
        Text(f"  Value: {ratio}; {'saved' if value.savings_usd >= 0 else 'over'} {money(abs(value.savings_usd))}"),
        Text(value.rule, style="dim"),
    )


def pace_view(result: UsagePace) -> Group:
    """Spend so far, the daily average, the projection and the trend."""
    return Group(
        Text(f"{result.period.label}: {money(result.spent_usd)} so far", style="bold"),
        Text(
            f"  {money(result.daily_average_usd)}/day over {result.days_elapsed:.1f} of {result.days_in_period:.0f} "
            f"days; projected {money(result.projected_usd)}"
        ),
        Text(
            f"  Trend: {result.trend} ({money(result.last_7_days_daily_usd)}/day in the last 7 days, "
            f"{money(result.previous_7_days_daily_usd)}/day the 7 before)"
        ),
        Text(result.trend_rule, style="dim"),
    )


def budgets_table(result: BudgetStatusList) -> Group:
    """Budgets, most urgent first."""
    if not result.budgets:
        return Group(Text("No budgets. Set one: ccledger budget set all month 200", style="dim"))
    table = _table("Budgets", f"Calendar periods in {result.timezone}; projections at the pace so far")
    table.add_column("Id", justify="right")
    _key_column(table, "Scope")
    table.add_column("Period")
    table.add_column("Spent", justify="right", no_wrap=True)
    table.add_column("Budget", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("Projected", justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    colours = {"ok": "green", "warning": "yellow", "exceeded": "bold red"}
    for status in result.budgets:
        scope = status.scope if status.scope == "all" else short_repo(status.scope)
        table.add_row(
            str(status.id), scope + (f" ({short_model(status.model)})" if status.model else ""), status.period,
            money(status.spent_usd), money(status.amount_usd), f"{status.percent:.0f}%", money(status.projected_usd),
            Text(status.status, style=colours.get(status.status, "")),
        )  # fmt: skip
    return Group(table)


def team_budgets_table(result: TeamBudgetList) -> Group:
    """Team budgets, most urgent first."""
    if not result.budgets:
        return Group(Text("No team budgets. Set one: ccledger team-budget set team month 2000", style="dim"))
    table = _table(
        f"Team budgets: {result.team}", "Calendar periods in each budget's zone; projections at the pace so far"
    )
    for heading in ("Id", "Scope", "Period", "Spent", "Budget", "%", "Projected", "Status"):
        table.add_column(heading, justify="right" if heading in ("Id", "Spent", "Budget", "%", "Projected") else "left")
    colours = {"ok": "green", "warning": "yellow", "exceeded": "bold red"}
    for status in result.budgets:
        table.add_row(
            str(status.id), status.scope, f"{status.period} ({status.timezone})", money(status.spent_usd),
            money(status.amount_usd), f"{status.percent:.0f}%", money(status.projected_usd),
            Text(status.status, style=colours.get(status.status, "")),
        )  # fmt: skip
    return Group(table)


def pull_view(result: ProdPullResult) -> Group:
    """What a pull of production telemetry brought, per source, and why any stopped."""
    table = _table("Production telemetry pulled")
    table.add_column("Source", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    _key_column(table, "Repo")
    for heading in ("Pages", "Added", "Replaced", "Unchanged", "Removed"):
        table.add_column(heading, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for source in result.sources:
        table.add_row(
            source.id, source.kind, short_repo(source.repo_id), str(source.pages), f"{source.records_added:,}",
            f"{source.records_replaced:,}", f"{source.records_unchanged:,}", f"{source.records_removed:,}",
            Text("failed", style="bold red") if source.error else Text("ok", style="green"),
        )  # fmt: skip
    errors = [Text(f"{source.id}: {source.error}", style="red") for source in result.sources if source.error]
    return Group(table, *errors)


_ACTIVITY_LINES = (
    ("Sessions", "sessions"), ("Prompts", "prompts"), ("Slash commands", "slash_commands"),
    ("Tool uses", "tool_uses"), ("Tool errors", "tool_errors"), ("Lines added", "lines_added"),
    ("Lines removed", "lines_removed"), ("Commits", "commits"), ("Pull requests", "pull_requests"),
    ("Edits accepted", "edits_accepted"), ("Edits rejected", "edits_rejected"), ("Compactions", "compactions"),
    ("Rate-limit hits", "rate_limit_hits"), ("API errors", "api_errors"),
)  # fmt: skip


def activity_view(summary: ActivitySummary) -> Group:
    """Activity totals beside cost, the top tools and commands, subagent spend, then the rows."""
    totals = summary.totals
    table = _table(f"Activity: {summary.period.label}", _caption(summary.period.timezone))
    table.add_column("What")
    table.add_column("Count", justify="right")
    for label, field in _ACTIVITY_LINES:
        table.add_row(label, f"{getattr(totals, field):,}")
    table.add_row("Active time (estimate)", _duration(totals.active_seconds))
    table.add_row("Cost", money(totals.cost_usd), style="bold")
    if totals.auxiliary_cost_usd:
        table.add_row("Auxiliary cost (not in Cost)", money(totals.auxiliary_cost_usd))
    for label, value in (
        ("Cost per commit", totals.cost_per_commit_usd),
        ("Cost per 100 lines", totals.cost_per_100_lines_usd),
    ):
        if value is not None:
            table.add_row(label, money(value))
    parts: list[Any] = [table]
    if summary.tools:
        tools = _table(f"Top tools ({len(summary.tools)} of {summary.tools_total})")
        for column in ("Tool", "Uses", "Errors", "Rejected"):
            tools.add_column(column, justify="left" if column == "Tool" else "right")
        for tool in summary.tools:
            tools.add_row(tool.name, f"{tool.uses:,}", f"{tool.errors:,}", f"{tool.rejected:,}")
        parts.append(tools)
    if summary.slash_commands:
        parts.append(Text("Slash commands: " + ", ".join(f"/{c.name} {c.uses}" for c in summary.slash_commands)))
    if summary.agents:
        parts.append(Text("Subagents: " + ", ".join(f"{a.agent_type} {money(a.cost_usd)}" for a in summary.agents)))
    if summary.rows:
        rows = _table(f"By {summary.group_by} ({summary.showing})" if summary.showing else f"By {summary.group_by}")
        _key_column(rows, summary.group_by.title())
        for column in ("Prompts", "Tools", "Lines +/-", "Commits", "Cost"):
            rows.add_column(column, justify="right", no_wrap=True)
        for row in summary.rows:
            key = short_repo(row.key) if summary.group_by == "repo" else row.key
            rows.add_row(
                key, f"{row.prompts:,}", f"{row.tool_uses:,}", f"+{row.lines_added:,} -{row.lines_removed:,}",
                f"{row.commits:,}", money(row.cost_usd),
            )  # fmt: skip
        parts.append(rows)
    if summary.activity_known_since:
        parts.append(Text(f"Activity is known from {summary.activity_known_since}: before it, only cost.", "yellow"))
    return Group(*parts)


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHADES = ("grey23", "dark_green", "green4", "green3", "bright_green")


def heatmap_view(heatmap: ActivityHeatmap) -> Group:
    """The 7 x 24 grid as a contribution graph: one square per hour, darker for less."""
    values = sorted(value for hours in heatmap.grid for value in hours if value > 0)

    def shade(value: float) -> str:
        if value <= 0 or not values:
            return _SHADES[0]
        rank = sum(1 for other in values if other <= value) / len(values)
        return _SHADES[min(4, 1 + int(rank * 3.999))]

    lines = [Text(f"{heatmap.metric} by weekday and hour: {heatmap.period.label} ({heatmap.period.timezone})", "bold")]
    lines.append(Text("     " + "".join(f"{hour:<3d}" if hour % 3 == 0 else "   " for hour in range(24))))
    for day, hours in enumerate(heatmap.grid):
        line = Text(f"{_WEEKDAYS[day]}  ")
        for value in hours:
            line.append("■  ", style=shade(value))
        lines.append(line)
    total = money(heatmap.total) if heatmap.metric == "cost" else f"{heatmap.total:,.0f}"
    lines.append(Text(f"Total {total}; busiest: {heatmap.busiest or '-'}"))
    return Group(*lines)
