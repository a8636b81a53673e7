"""The ``ccledger`` command line: the same queries the MCP tools answer, for people.

Modules that only some commands need (the query layer, pydantic, rich) are imported when first
used: ``ccledger index`` reads transcripts sooner for it, and that is when a first index starts
its helper process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from .. import __version__, paths
from ..choices import (
    ACTIVITY_GROUP_BY_CHOICES,
    BUDGET_PERIODS,
    GROUP_BY_CHOICES,
    HEATMAP_METRICS,
    PLANS,
    SOURCE_CHOICES,
)
from ..config import load_config
from ..ledger.db import LedgerError, open_db
from . import console, dashboard_cli, serve_cli, team_cli
from .console import ask, demo_ledger, empty_hint, err, json_option, lazy, ledger, out, prices_option, show, zone

if TYPE_CHECKING:
    from ..answers import activity, budgets, pace, queries
    from ..answers import status as ledger_status
    from ..ingest.speedups.headstart import HeadStart
    from ..pricing import table as pricing
    from . import render


_LAZY = "answers.activity answers.budgets answers.status answers.pace pricing.table answers.queries surfaces.render"
if not TYPE_CHECKING:
    activity, budgets, ledger_status, pace, pricing, queries, render = (lazy(f"ccledger.{n}") for n in _LAZY.split())


__all__ = ["cli", "main"]

T = TypeVar("T")

GROUP_BY = click.Choice(GROUP_BY_CHOICES)
source_option = click.option(
    "--source",
    type=click.Choice(SOURCE_CHOICES),
    default="all",
    show_default=True,
    help="dev: Claude Code; prod: shipped apps' pulled telemetry (`ccledger pull`); all: both.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ccledger")
def cli() -> None:
    """ccledger: what Claude Code costs, from a durable local ledger.

    Reads Claude Code transcripts (CLAUDE_CONFIG_DIR, else ~/.config/claude and ~/.claude)
    into a SQLite ledger (CCLEDGER_DB) that keeps them after Claude Code deletes the files,
    and answers from it here and, as an MCP server (`ccledger serve`), inside Claude Code.
    """


def _period_options(default_since: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def decorate(command: Callable[..., T]) -> Callable[..., T]:
        command = click.option(
            "--timezone", help="IANA zone for day/week/month boundaries (default: config, else this machine's)."
        )(command)
        command = click.option("--until", help="Inclusive end: a date, a period or a datetime (default: now).")(command)
        return click.option(
            "--since",
            default=default_since,
            show_default=True,
            help="Start, or a whole period: today, yesterday, 'this week', 'last week', 'this month', "
            "'last 7 days', all, 2026-11-01, 2026-11 ...",
        )(command)

    return decorate


@cli.command("index")
@json_option
@click.option("--quiet", is_flag=True, help="Print nothing (for background runs).")
@click.option(
    "--root",
    "roots",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A Claude config dir to read instead of the defaults (repeatable).",
)
@click.option("--no-sync", is_flag=True, help="Do not send what changed to the team database (CCLEDGER_TEAM_URL).")
@click.pass_obj
def index_command(
    head_start: HeadStart | None, as_json: bool, quiet: bool, roots: tuple[Path, ...], no_sync: bool
) -> None:
    """Bring the ledger up to date with the transcripts (incremental), then sync it to the team
    database when one is configured."""
    db = open_db()
    try:
        # Keep prices and the rollup current too: the statusline reads them without refreshing.
        stats = console.update(db, list(roots) or None, show_progress=not (as_json or quiet), head_start=head_start)
    finally:
        db.close()
    if stats.read_only:
        raise LedgerError(
            f"the ledger at {paths.db_path()} is read-only here: nothing can be indexed into it "
            "(questions still answer from what it holds)"
        )
    if as_json:
        click.echo(stats.to_json())
    elif not quiet:
        out.print(
            f"{stats.files_seen:,} files seen, {stats.files_read:,} read, "
            f"{stats.new_responses:,} new responses, {stats.updated_responses:,} updated, "
            f"{stats.bad_lines:,} bad lines in {stats.seconds:.2f}s"
        )
        for kind, count in sorted(stats.problems.items()):
            out.print(f"  {kind}: {count:,}")
        for error in stats.errors:
            out.print(f"  [yellow]unreadable[/yellow] {error.path}: {error.error}")
    if not no_sync:
        team_cli.sync_after_index(quiet=quiet)


@cli.command()
def statusline() -> None:
    """A Claude Code statusline: today's cost, the 5-hour block's burn and the official limits.

    Reads Claude Code's statusline JSON on stdin and prints one line. Set it up in
    ~/.claude/settings.json: {"statusLine": {"type": "command", "command": "ccledger statusline"}}
    """
    from .statusline import main as statusline_main

    statusline_main()


@cli.command()
@click.option("--by", "group_by", type=GROUP_BY, default="day", show_default=True, help="How to group rows.")
@_period_options("this month")
@click.option("--repo", help="Only this repo (id or short name).")
@click.option("--model", help="Only this model.")
@source_option
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@prices_option
@click.pass_obj
def report(
    head_start: HeadStart | None,
    group_by: str,
    since: str,
    until: str | None,
    timezone: str | None,
    repo: str | None,
    model: str | None,
    source: str,
    as_json: bool,
    as_csv: bool,
    prices_file: Path | None,
) -> None:
    """Usage and cost over a period, grouped by day, week, month, repo, branch, model, ...

    With no Claude Code transcripts on this machine and an empty ledger, shows the bundled
    demo data instead (and says so).
    """
    _one_format(as_json, as_csv)
    with ledger(prices_file, quiet=as_json or as_csv, demo_when_empty=True, head_start=head_start) as (db, demo):
        if demo and since == "this month":
            since = "all"
        summary = ask(
            queries.usage_summary, db, since=since, until=until, group_by=group_by, repo=repo, model=model,
            source=source, zone=zone(timezone), now=datetime.now(UTC),
        )  # fmt: skip
        hint = None if summary.rows or as_json or as_csv else empty_hint(db)
    if as_csv:
        render.write_csv(sys.stdout, "key", summary.rows)
    else:
        show(summary, render.usage_table, as_json, hint)


@cli.command()
@_period_options("this month")
@source_option
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@prices_option
def repos(
    since: str,
    until: str | None,
    timezone: str | None,
    source: str,
    as_json: bool,
    as_csv: bool,
    prices_file: Path | None,
) -> None:
    """Spend per repository, biggest first, with each one's share (and dev / prod split)."""
    _one_format(as_json, as_csv)
    with ledger(prices_file, quiet=as_json or as_csv) as (db, _):
        costs = ask(
            queries.cost_by_repo, db, since=since, until=until, source=source, zone=zone(timezone),
            now=datetime.now(UTC),
        )  # fmt: skip
        hint = None if costs.repos or as_json or as_csv else empty_hint(db)
    if as_csv:
        render.write_csv(sys.stdout, "repo_id", costs.repos)
    else:
        show(costs, render.repo_table, as_json, hint)


@cli.command()
@_period_options("last 7 days")
@click.option("--repo", help="Only this repo (id or short name).")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@json_option
@prices_option
def sessions(
    since: str,
    until: str | None,
    timezone: str | None,
    repo: str | None,
    limit: int,
    as_json: bool,
    prices_file: Path | None,
) -> None:
    """Sessions active in a period, most recent first."""
    with ledger(prices_file, quiet=as_json) as (db, _):
        found = ask(
            queries.sessions, db, since=since, until=until, repo=repo, limit=limit, zone=zone(timezone),
            now=datetime.now(UTC),
        )  # fmt: skip
    show(found, render.sessions_table, as_json)


@cli.command()
@click.argument("session_id")
@json_option
@prices_option
def session(session_id: str, as_json: bool, prices_file: Path | None) -> None:
    """One session in full (a unique prefix of its id is enough)."""
    with ledger(prices_file, quiet=as_json) as (db, _):
        detail = ask(queries.session_detail, db, session_id)
    show(detail, render.session_detail_view, as_json)


@cli.command("activity")
@click.option(
    "--by", "group_by", type=click.Choice(ACTIVITY_GROUP_BY_CHOICES), default="none", show_default=True,
    help="Rows per day, week, month, repo, session or model (none: totals and top lists).",
)  # fmt: skip
@_period_options("this month")
@click.option("--repo", help="Only this repo (id or short name).")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows (or the totals) as CSV.")
@prices_option
def activity_command(
    group_by: str, since: str, until: str | None, timezone: str | None, repo: str | None, as_json: bool,
    as_csv: bool, prices_file: Path | None,
) -> None:  # fmt: skip
    """What Claude Code did for the money: prompts, tool uses, lines, commits, errors, beside cost."""
    _one_format(as_json, as_csv)
    with ledger(prices_file, quiet=as_json or as_csv, demo_when_empty=True) as (db, demo):
        since = "all" if demo and since == "this month" else since
        summary = ask(
            activity.activity_summary, db, since=since, until=until, repo=repo, group_by=group_by,
            zone=zone(timezone), now=datetime.now(UTC),
        )  # fmt: skip
    if as_csv:
        render.write_rows_csv(sys.stdout, summary.rows if group_by != "none" else [summary.totals])
    else:
        show(summary, render.activity_view, as_json)


@cli.command()
@click.option(
    "--metric", type=click.Choice(HEATMAP_METRICS), default="responses", show_default=True,
    help="What each cell counts (cost in USD, active_time in seconds).",
)  # fmt: skip
@_period_options("this month")
@click.option("--repo", help="Only this repo (id or short name).")
@json_option
@prices_option
def heatmap(
    metric: str, since: str, until: str | None, timezone: str | None, repo: str | None, as_json: bool,
    prices_file: Path | None,
) -> None:  # fmt: skip
    """When Claude Code is used: a weekday by hour grid, like a contribution graph."""
    with ledger(prices_file, quiet=as_json, demo_when_empty=True) as (db, demo):
        since = "all" if demo and since == "this month" else since
        grid = ask(
            activity.activity_heatmap, db, since=since, until=until, repo=repo, metric=metric, zone=zone(timezone),
            now=datetime.now(UTC),
        )  # fmt: skip
    show(grid, render.heatmap_view, as_json)


@cli.command()
@_period_options("last 3 days")
@json_option
@prices_option
def blocks(since: str, until: str | None, timezone: str | None, as_json: bool, prices_file: Path | None) -> None:
    """5-hour usage blocks that started in a period (estimates from the transcripts)."""
    with ledger(prices_file, quiet=as_json) as (db, _):
        found = ask(pace.usage_blocks, db, since=since, until=until, zone=zone(timezone), now=datetime.now(UTC))
    show(found, render.blocks_table, as_json)


@cli.command()
@json_option
@prices_option
def burn(as_json: bool, prices_file: Path | None) -> None:
    """How fast the current 5-hour block burns, with the official limits beside the estimates."""
    with ledger(prices_file, quiet=as_json) as (db, _):
        report = pace.burn_rate(db, now=datetime.now(UTC))
    show(report, render.burn_view, as_json)


@cli.command()
@click.argument("plan", type=click.Choice(sorted(PLANS)))
@_period_options("this month")
@json_option
@prices_option
def plan(
    plan: str, since: str, until: str | None, timezone: str | None, as_json: bool, prices_file: Path | None
) -> None:
    """API-equivalent spend against a plan's price (pro, max5, max20, api), prorated."""
    with ledger(prices_file, quiet=as_json) as (db, _):
        value = ask(
            pace.plan_value, db, plan=plan, since=since, until=until, zone=zone(timezone), now=datetime.now(UTC)
        )
    show(value, render.plan_view, as_json)


@cli.command("pace")
@click.option("--period", type=click.Choice(["week", "month"]), default="month", show_default=True)
@click.option("--timezone", help="IANA zone for week and month boundaries.")
@json_option
@prices_option
def pace_command(period: str, timezone: str | None, as_json: bool, prices_file: Path | None) -> None:
    """Spend so far this week or month, the daily average, trend and projection."""
    with ledger(prices_file, quiet=as_json) as (db, _):
        result = ask(pace.usage_pace, db, period=period, zone=zone(timezone), now=datetime.now(UTC))
    show(result, render.pace_view, as_json)


@cli.group()
def budget() -> None:
    """Spending budgets per repo or overall: set, list, rm, check."""


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise click.UsageError("--json and --csv are two ways to print the same answer: pass one of them")


def _amount(value: str) -> float:
    try:
        return float(value.strip().lstrip("$").replace(",", ""))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an amount in dollars, e.g. 200 or $200") from exc


@budget.command("set", context_settings={"ignore_unknown_options": True})  # -5 is an amount, not an option
@click.argument("scope")
@click.argument("period", type=click.Choice(sorted(BUDGET_PERIODS)))
@click.argument("amount")
@click.option("--model", help="Only this model's spend.")
@click.option("--threshold", "thresholds", multiple=True, type=float, help="A fraction that alerts (repeatable).")
@click.option("--include-prod", is_flag=True, help="Count the repo's pulled production spend too.")
@json_option
def budget_set(
    scope: str, period: str, amount: str, model: str | None, thresholds: tuple[float, ...], include_prod: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Set (or update) a budget: SCOPE is 'all' or a repo, e.g. `ccledger budget set api-server month 200`."""
    with ledger(None, quiet=True) as (db, _):
        info = ask(
            budgets.set_budget, db, scope=scope, period=period, amount_usd=_amount(amount), model=model,
            thresholds=list(thresholds) or None, include_prod=include_prod,
        )  # fmt: skip
    if as_json:
        click.echo(info.model_dump_json(indent=2))
    else:
        out.print(f"Budget {info.id}: {info.scope} {render.money(info.amount_usd)} per {info.period}")


@budget.command("list")
@click.option("--scope", help="Only budgets of this scope ('all' or a repo).")
@json_option
@prices_option
def budget_list(scope: str | None, as_json: bool, prices_file: Path | None) -> None:
    """Every budget's standing this period, most urgent first."""
    with ledger(prices_file, quiet=as_json) as (db, _):
        result = ask(budgets.budget_status, db, scope=scope, zone=zone(None), now=datetime.now(UTC))
    show(result, render.budgets_table, as_json)


@budget.command("rm")
@click.argument("scope", required=False)
@click.argument("period", required=False, type=click.Choice(sorted(BUDGET_PERIODS)))
@click.option("--model", help="The budget's model, if it has one.")
@click.option("--id", "budget_id", type=int, help="The budget's id (from `ccledger budget list`).")
def budget_rm(scope: str | None, period: str | None, model: str | None, budget_id: int | None) -> None:
    """Delete a budget, by SCOPE and PERIOD or by --id."""
    if budget_id is None and (scope is None or period is None):
        raise click.UsageError("give SCOPE and PERIOD, or --id")
    with ledger(None, quiet=True) as (db, _):
        gone = ask(budgets.delete_budget, db, budget_id=budget_id, scope=scope, period=period, model=model)
    out.print(f"Deleted budget {gone.id}: {gone.scope} {render.money(gone.amount_usd)} per {gone.period}")


@budget.command("check")
@click.option("--webhook", help="POST alerts here (default: CCLEDGER_WEBHOOK_URL or [budgets] webhook_url).")
@json_option
@prices_option
def budget_check(webhook: str | None, as_json: bool, prices_file: Path | None) -> None:
    """Check every budget; exit 0 if all are ok, 1 on a warning, 2 if one is exceeded.

    Sends a webhook alert (Slack-compatible JSON) for each threshold crossed, at most once per
    budget, threshold and period. For hooks and cron: `ccledger budget check || notify-send ...`.
    """
    from .notify import NotifyError, alert_body, post_alert, webhook_url

    with ledger(prices_file, quiet=True) as (db, _):
        result = budgets.budget_status(db, zone=zone(None), now=datetime.now(UTC))
        url = webhook or webhook_url(ask(load_config))
        failures = 0
        if url:
            for status, threshold in budgets.due_alerts(db, result.budgets):
                message = budgets.alert_message(status)
                try:
                    post_alert(url, alert_body(status, threshold, message))
                except NotifyError as exc:
                    failures += 1
                    err.print(f"[yellow]Alert for budget {status.id} not sent: {exc}[/yellow]")
                    continue
                budgets.mark_sent(db, status)
    show(result, render.budgets_table, as_json)
    states = {status.status for status in result.budgets}
    sys.exit(2 if "exceeded" in states else 1 if "warning" in states or failures else 0)


@cli.command()
@click.argument("source_id", required=False)
@json_option
def pull(source_id: str | None, as_json: bool) -> None:
    """Pull production telemetry ([[prod.sources]] in the config file) into the ledger.

    Fetches only what is new and never counts twice. Exits 1 if a source failed; the pages it
    saved before failing are kept. Tokens come from CCLEDGER_TOKEN_<ID>.
    """
    # Here, not at the top: the HTTP client loads only for this command.
    from ..prod.pull import pull_sources
    from ..prod.sources import load_sources, select_sources

    config = ask(load_config)
    sources = ask(select_sources, ask(load_sources, config), source_id, config.path)
    db = open_db()
    try:
        result = pull_sources(db, sources, now=datetime.now(UTC))
    finally:
        db.close()
    show(result, render.pull_view, as_json)
    if not result.ok:
        sys.exit(1)


@cli.command()
@json_option
@prices_option
def status(as_json: bool, prices_file: Path | None) -> None:
    """The ledger's state: roots, files, responses, bad lines, unpriced models."""
    with ledger(prices_file, quiet=True) as (db, _):
        result = ledger_status.index_status(
            db,
            roots=paths.claude_roots(),
            ledger_path=str(paths.db_path()),
            prices_path=str(pricing.user_prices_path()),
        )
    show(result, render.status_view, as_json)


@cli.command()
@json_option
@prices_option
def prices(as_json: bool, prices_file: Path | None) -> None:
    """The price table every cost is computed from (USD per million tokens)."""
    table = ask(pricing.price_table, prices_file=prices_file)
    show(table, render.prices_table, as_json)


@cli.command("setup")
@click.option("--dry-run", is_flag=True, help="Say what would change, and change nothing.")
@click.option("--undo", "undoing", is_flag=True, help="Remove what setup added (nothing else).")
def setup_command(dry_run: bool, undoing: bool) -> None:
    """Register ccledger in Claude Code: the MCP server for every project (with this install's
    absolute path), and the statusline if none is set. Files are backed up before a change."""
    from . import setup

    try:
        plan = (setup.undo if undoing else setup.setup)(dry_run=dry_run)
    except setup.SetupError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in plan.lines:
        click.echo(line)


@cli.command()
@click.option("--by", "group_by", type=GROUP_BY, default="model", show_default=True, help="How to group rows.")
@json_option
def demo(group_by: str, as_json: bool) -> None:
    """Index the bundled sample transcripts into a temporary ledger and show a report."""
    with demo_ledger() as db:
        summary = queries.usage_summary(db, since="all", group_by=group_by, zone=zone(None), now=datetime.now(UTC))
        costs = queries.cost_by_repo(db, since="all", zone=zone(None), now=datetime.now(UTC))
    if as_json:
        click.echo(summary.model_dump_json(indent=2))
        return
    err.print("[dim]Demo: real public transcripts bundled with ccledger, in a temporary ledger.[/dim]")
    out.print(render.usage_table(summary))
    out.print(render.repo_table(costs))


for command in (*serve_cli.COMMANDS, *team_cli.COMMANDS, *dashboard_cli.COMMANDS):
    cli.add_command(command)


def main(head_start: HeadStart | None = None) -> None:
    """Entry point of the ``ccledger`` console script; ``head_start`` is for ``index`` and ``report``."""
    try:
        cli(obj=head_start)
    except KeyboardInterrupt:
        sys.exit(130)
    except LedgerError as exc:  # raised before or after click's own handling: one line, no traceback
        click.echo(f"ccledger: {exc}", err=True)
        sys.exit(1)
