"""The dashboard's views, one per tab: each one HTML built from the answer a tool gives.

A view calls the same function its tool calls (``queries``, ``pace``, ``budgets``, ``activity``,
``team.usage``) and draws that answer; nothing here sums or prices anything again, so a figure
on the page is the figure Claude would quote. Every view's root element carries its headline
figures as ``data-`` attributes, for a test (or a script) to read back. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ..answers import activity, budgets, pace, queries
from ..answers.periods import resolve_period
from ..team.connect import TeamError, on_team, redact
from ..team.usage import TeamUsage, team_usage
from ..timestamps import parse
from . import svg
from .svg import money

if TYPE_CHECKING:
    import psycopg

__all__ = ["TABS", "View", "team_tab"]

TOP_MODELS = 5  # series in the stacked chart; the rest sum into 'other'
TOP_ROWS = 15  # bars in a leaderboard
SESSIONS_PAGE = 25
BLOCKS_SHOWN = 40  # usage_blocks' largest page
SPEND_COLUMNS = ("day", "week", "month")


class Period(TypedDict):
    """The keywords every answer takes for its period."""

    since: str
    until: str | None
    zone: ZoneInfo
    now: datetime


@dataclass(frozen=True)
class View:
    """What every view is asked for: the period, the repo filter, the zone and the moment."""

    since: str
    until: str | None
    repo: str | None
    zone: ZoneInfo
    now: datetime
    tab: str = "spend"
    by: str | None = None  # the spend chart's columns: day, week or month (default: by the period's length)
    session: str | None = None  # the sessions tab's drill-down
    offset: int = 0  # the sessions tab's page

    @property
    def period(self) -> Period:
        return {"since": self.since, "until": self.until, "zone": self.zone, "now": self.now}

    def local(self, utc: str | None, shape: str = "%m-%d %H:%M") -> str:
        """A ledger timestamp in the view's zone."""
        return parse(utc).astimezone(self.zone).strftime(shape) if utc else ""

    def link(self, **changes: object) -> str:
        """A query string for this view with ``changes`` (escaped for an attribute)."""
        params = {"tab": self.tab, "since": self.since, "until": self.until or "", "repo": self.repo or "",
                  "by": self.by or ""}  # fmt: skip
        params.update({key: str(value) for key, value in changes.items()})
        return escape("?" + urlencode({key: value for key, value in params.items() if value}))


def _page(first: int, shown: int, total: int, noun: str) -> str:
    """Which rows a page holds, e.g. '26-50 of 58 sessions' (the page links to the others)."""
    return f"{first + 1}-{first + shown} of {total} {noun}" if shown < total else f"all {total} {noun}"


def _section(kind: str, title: str, figures: dict[str, object], *body: str) -> str:
    data = "".join(f' data-{name}="{escape(str(value))}"' for name, value in figures.items())
    return f'<section class="{kind}"{data}><h2>{title}</h2>{"".join(body)}</section>'


def spend_view(db: Database, view: View) -> str:
    """Totals, spend over time stacked by model, spend by repo, and when the spend happens."""
    grouping = view.by or ("day" if view.since in ("today", "this week", "this month", "last month") else "month")
    if grouping not in SPEND_COLUMNS:
        raise queries.QueryError(f"by={grouping!r} is not one of: {', '.join(SPEND_COLUMNS)}")
    over_time = queries.usage_summary(db, group_by=grouping, repo=view.repo, **view.period)
    models = queries.usage_summary(db, group_by="model", repo=view.repo, **view.period).rows
    labels = sorted(row.key for row in over_time.rows)
    series = []
    for row in models[:TOP_MODELS]:
        rows = queries.usage_summary(db, group_by=grouping, model=row.key, repo=view.repo, **view.period).rows
        by_label = {r.key: r.cost_usd for r in rows}
        series.append((row.key, [by_label.get(label, 0.0) for label in labels]))
    if len(models) > TOP_MODELS:
        shown = [sum(values[i] for _, values in series) for i in range(len(labels))]
        costs = {r.key: r.cost_usd for r in over_time.rows}
        series.append(("other", [max(costs.get(label, 0.0) - shown[i], 0.0) for i, label in enumerate(labels)]))
    repos = queries.cost_by_repo(db, **view.period).repos
    heat = activity.activity_heatmap(db, repo=view.repo, metric="cost", **view.period)
    totals = over_time.totals
    return "".join([
        _section(
            "totals", f"{escape(over_time.period.label)}: <b>{money(totals.cost_usd)}</b>",
            {"cost": f"{totals.cost_usd:.6f}", "responses": totals.responses},
            f"<p>{totals.responses:,} responses, {totals.total_tokens:,} tokens; "
            f"Claude Code {money(totals.dev_cost_usd)}",
            f", production {money(totals.prod_cost_usd)}</p>" if totals.prod_cost_usd else "</p>",
            *(f'<p class="unpriced">{escape(m.model)}: {m.responses} responses with no price (not counted)</p>'
              for m in over_time.unpriced_models),
        ),
        f"<h3>Spend by {grouping}, by model</h3>",
        '<p class="note">' + " ".join(
            f'<a href="{view.link(by=name)}">by {name}</a>' if name != grouping else f"by {name}"
            for name in SPEND_COLUMNS
        ) + "</p>",
        svg.stacked_bars(labels, series),
        "<h3>Spend by repo (Claude Code, then production)</h3>",
        svg.leaderboard([(r.repo_id, r.dev_cost_usd, r.prod_cost_usd) for r in repos[:TOP_ROWS]]),
        f"<h3>When the spend happens ({escape(view.zone.key)})</h3>", svg.heat_grid(heat.grid, unit="$"),
    ])  # fmt: skip


def blocks_view(db: Database, view: View) -> str:
    """The official 5-hour and weekly percentages, the active block's burn and projection, and
    the period's blocks (the latest ones) by cost."""
    report = pace.burn_rate(db, now=view.now)
    listed = pace.usage_blocks(db, since=view.since, until=view.until, limit=BLOCKS_SHOWN, zone=view.zone, now=view.now)
    meters = [
        svg.Meter(
            f"{limit.window.replace('_', '-')} (official)", limit.used_percentage / 100,
            text=f"{limit.used_percentage:.0f}%" + (f", resets {view.local(limit.resets_at_utc)}" if limit.resets_at_utc
                                                   else "") + ("" if limit.current else " (stale)"),
        )
        for limit in report.official
    ]  # fmt: skip
    active = report.active_block
    if active is not None and report.projected_cost_usd:
        meters.append(svg.Meter(
            "this block's cost (estimate)", active.cost_usd / report.projected_cost_usd, 1.0,
            text=f"{money(active.cost_usd)} of {money(report.projected_cost_usd)} projected",
        ))  # fmt: skip
    shown = [block for block in listed.blocks if not block.is_gap]
    labels = [view.local(block.start_utc) for block in shown]
    projected = [
        max((report.projected_cost_usd or 0) - block.cost_usd, 0) if block.is_active else 0.0 for block in shown
    ]
    series = [("cost", [block.cost_usd for block in shown]), ("projected to the block's end", projected)]
    if active is not None:
        burn = (
            f"<p>Active block {view.local(active.start_utc)} to {view.local(active.end_utc, '%H:%M')}: "
            f"{money(active.cost_usd)} so far, {money(report.cost_per_hour_usd)}/hour, "
            f"{report.minutes_left or 0:.0f} minutes left, {money(report.projected_cost_usd)} projected.</p>"
        )
    else:
        last = report.last_block
        began = f" The last one began {view.local(last.start_utc)}." if last else ""
        burn = f"<p>No block is active.{began}</p>"
    if not report.official:
        burn += "<p>No official percentages yet: `ccledger statusline` records them as Claude Code reports them.</p>"
    return _section(
        "blocks", f"5-hour blocks: {escape(listed.period.label)} &middot; "
        + _page(0, len(listed.blocks), listed.blocks_total, "blocks and gaps (the most recent)"),
        {"blocks": len(shown), "cost": f"{sum(block.cost_usd for block in shown):.6f}"},
        burn, svg.meters(meters) if meters else "",
        f"<h3>Cost per block ({escape(view.zone.key)}), estimates from this machine's transcripts</h3>",
        svg.stacked_bars(labels, series, axis_chars=11), f'<p class="note">{escape(listed.note)}</p>',
    )  # fmt: skip


def budgets_view(db: Database, view: View) -> str:
    """Each budget's spend this period as a bar, its projection behind it, its thresholds ticked."""
    found = budgets.budget_status(db, zone=view.zone, now=view.now).budgets
    if not found:
        hint = "<p>No budgets yet. Set one with <code>ccledger budget set all month 200</code> (or ask Claude).</p>"
        return _section("budgets", "Budgets", {"budgets": 0}, hint)
    rows = [
        svg.Meter(
            " ".join(filter(None, (b.scope, b.model, "per", b.period))), b.percent / 100,
            b.projected_usd / b.amount_usd, b.thresholds,
            f"{money(b.spent_usd)} of {money(b.amount_usd)} ({b.percent:.0f}%), {b.status}",
        )
        for b in found
    ]  # fmt: skip
    crossing = [
        f"<li>{escape(b.scope)} per {b.period}: projected {money(b.projected_usd)}"
        + (f", crosses 100% {view.local(b.projected_cross_utc)}" if b.projected_cross_utc else "")
        + "</li>"
        for b in found
    ]
    percents = ",".join(f"{b.percent:.4f}" for b in found)
    return _section(
        "budgets", "Budgets, this period", {"budgets": len(found), "percents": percents},
        svg.meters(rows), f"<ul>{''.join(crossing)}</ul>",
    )  # fmt: skip


def activity_view(db: Database, view: View) -> str:
    """What the spend bought: prompts, tool uses, lines and commits, the top tools, slash
    commands and subagents, and when prompts are typed."""
    found = activity.activity_summary(db, repo=view.repo, **view.period)
    heat = activity.activity_heatmap(db, repo=view.repo, metric="prompts", **view.period)
    t = found.totals
    facts = (
        f"<p>{t.prompts:,} prompts in {t.sessions:,} sessions, {t.tool_uses:,} tool uses ({t.tool_errors:,} errors), "
        f"+{t.lines_added:,} / -{t.lines_removed:,} lines, {t.commits:,} commits, {t.pull_requests:,} pull requests, "
        f"{t.active_seconds / 3600:,.1f} active hours (estimate) for {money(t.cost_usd)}"
        + (f"; {money(t.cost_per_commit_usd)} a commit" if t.cost_per_commit_usd is not None else "")
        + "</p>"
    )
    known = f"<p class=\"note\">Activity known since {escape(found.activity_known_since)}.</p>" if (
        found.activity_known_since) else ""  # fmt: skip
    tools = [(tool.name, float(tool.uses - tool.errors), float(tool.errors)) for tool in found.tools[:TOP_ROWS]]
    commands = [(command.name, float(command.uses), 0.0) for command in found.slash_commands[:TOP_ROWS]]
    agents = [(agent.agent_type, agent.cost_usd, 0.0) for agent in found.agents[:TOP_ROWS]]
    return _section(
        "activity", f"Activity: {escape(found.period.label)}",
        {"prompts": t.prompts, "tool-uses": t.tool_uses, "commits": t.commits, "lines-added": t.lines_added},
        facts, known,
        "<h3>Top tools (uses, errors after)</h3>", svg.leaderboard(tools, unit=""),
        "<h3>Slash commands</h3>", svg.leaderboard(commands, unit="") if commands else "<p>None.</p>",
        "<h3>Subagents by cost</h3>", svg.leaderboard(agents) if agents else "<p>None.</p>",
        f"<h3>When prompts are typed ({escape(view.zone.key)})</h3>", svg.heat_grid(heat.grid),
    )  # fmt: skip


def sessions_view(db: Database, view: View) -> str:
    """The period's sessions, most recent first, a page at a time; or one session (drill-down)."""
    if view.session:
        return _session_view(db, view)
    found = queries.sessions(db, repo=view.repo, limit=SESSIONS_PAGE, offset=view.offset, **view.period)
    rows = "".join(
        f'<tr><td><a href="{view.link(session=s.session_id)}" title="{escape(s.session_id)}">'
        f"{escape(s.session_id[:8])}</a></td><td>{escape(s.repo_id or '')}</td><td>{escape(s.git_branch or '')}</td>"
        f"<td>{view.local(s.last_utc, '%Y-%m-%d %H:%M')}</td><td>{s.prompts:,}</td><td>{s.tool_uses:,}</td>"
        f"<td>+{s.lines_added:,} / -{s.lines_removed:,}</td><td>{s.commits:,}</td>"
        f'<td class="cost">{money(s.cost_usd)}</td></tr>'
        for s in found.sessions
    )
    more = f'<p><a href="{view.link(offset=found.next_offset)}">Earlier sessions</a></p>' if found.next_offset else ""
    costliest = sorted(found.sessions, key=lambda s: -s.cost_usd)[:TOP_ROWS]
    bars = [(s.session_id[:8] + " " + (s.repo_id or ""), s.cost_usd, 0.0) for s in costliest]
    return _section(
        "sessions", f"Sessions: {escape(found.period.label)} &middot; "
        + _page(view.offset, len(found.sessions), found.total_sessions, "sessions"),
        {"sessions": found.total_sessions},
        f"<h3>The page's costliest</h3>{svg.leaderboard(bars)}",
        "<table><tr><th>session</th><th>repo</th><th>branch</th><th>last</th><th>prompts</th><th>tools</th>"
        f"<th>lines</th><th>commits</th><th>cost</th></tr>{rows}</table>", more,
    )  # fmt: skip


def _session_view(db: Database, view: View) -> str:
    """One session: its totals, by model and by agent, and what it did."""
    detail = queries.session_detail(db, view.session or "", agents=TOP_ROWS)
    done = detail.activity
    facts = f"<p>{escape(detail.repo_id or 'no repo')} on {escape(', '.join(detail.git_branches) or 'no branch')}, "
    facts += f"{view.local(detail.first_utc)} to {view.local(detail.last_utc)} ({detail.duration_minutes:,.0f} min), "
    facts += f"{detail.totals.responses:,} responses, {detail.totals.total_tokens:,} tokens"
    if done is not None:
        facts += f"; {done.prompts:,} prompts, {done.tool_uses:,} tool uses, +{done.lines_added:,} / "
        facts += f"-{done.lines_removed:,} lines, {done.commits:,} commits"
    return _section(
        "session", f"Session {escape(detail.session_id)}: <b>{money(detail.totals.cost_usd)}</b>",
        {"session": detail.session_id, "cost": f"{detail.totals.cost_usd:.6f}"},
        facts + "</p>", f'<p><a href="{view.link(session="")}">All sessions</a></p>',
        "<h3>By model</h3>", svg.leaderboard([(row.key, row.cost_usd, 0.0) for row in detail.by_model]),
        f"<h3>By agent ({detail.agents_total} in all)</h3>",
        svg.leaderboard([(row.key, row.cost_usd, 0.0) for row in detail.by_agent]),
    )  # fmt: skip


def team_tab(url: str) -> Callable[[Database, View], str]:
    """The team view over the team database at ``url``: the team's totals, by developer and by
    day (what ``team_usage`` answers). A database that cannot be reached says so in the tab."""

    def team_view(db: Database, view: View) -> str:
        window = resolve_period(view.since, view.until, zone=view.zone, now=view.now)
        team, filters = redact(url), {"repo": queries.resolve_repo(db, view.repo) if view.repo else ""}

        def answers(conn: psycopg.Connection) -> tuple[TeamUsage, TeamUsage]:  # one connection for both
            return (
                team_usage(conn, window, team=team, group_by="developer", filters=filters, limit=TOP_ROWS),
                team_usage(conn, window, team=team, group_by="day", filters=filters, limit=100),
            )

        try:
            people, days = on_team(url, answers)
        except TeamError as exc:
            return _section("team", "Team", {}, f'<p class="unpriced">{escape(str(exc))}</p>')
        t = people.totals
        return _section(
            "team", f"Team: <b>{money(t.cost_usd)}</b>",
            {"cost": f"{t.cost_usd:.6f}", "responses": t.responses, "developers": t.developers},
            f"<p>{t.developers} developers on {t.machines} machines; Claude Code {money(t.dev_cost_usd)}, "
            f"production {money(t.prod_cost_usd)}; as of each machine's last sync to {escape(people.team)}.</p>",
            "<h3>By developer</h3>", svg.leaderboard([(row.key, row.cost_usd, 0.0) for row in people.rows]),
            "<h3>By day</h3>",
            svg.stacked_bars([row.key for row in days.rows], [("team", [row.cost_usd for row in days.rows])]),
        )  # fmt: skip

    return team_view


TABS: dict[str, Callable[[Database, View], str]] = {
    "spend": spend_view,
    "blocks": blocks_view,
    "budgets": budgets_view,
    "activity": activity_view,
    "sessions": sessions_view,
}
"""The tabs every dashboard has, by name (``team`` is added when a team database is configured)."""
