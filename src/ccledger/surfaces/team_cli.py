"""``ccledger sync`` and ``ccledger team``: the team ledger on the command line.

The team modules (and psycopg) are imported by these commands alone: every other command starts
as fast without them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from .. import timestamps
from ..choices import BUDGET_PERIODS, SOURCE_CHOICES, TEAM_GROUP_BY_CHOICES
from ..config import ConfigError, load_config
from ..ledger.db import open_db
from . import console
from .console import err, out, show, zone

__all__ = ["COMMANDS", "SYNC_EVERY_SECONDS", "sync_after_index", "sync_command", "team_budget_group", "team_command"]

T = TypeVar("T")

SYNC_EVERY_SECONDS = 300
"""How often a background ``ccledger index`` (the statusline's) syncs to the team database."""
LAST_ATTEMPT_SQL = "select last_attempt_utc from team_sync where id = 1"
_TEAM_HELP = "set CCLEDGER_TEAM_URL (or [team] url in the config file) to a postgresql:// URL"


def _url() -> str:
    from ..team.connect import TeamError, team_url

    try:
        url = team_url(load_config())
    except TeamError as exc:
        raise click.UsageError(str(exc)) from exc
    if url is None:
        raise click.UsageError(f"no team database is configured: {_TEAM_HELP}")
    return url


@click.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a line.")
@click.option("--no-index", is_flag=True, help="Send what the ledger holds without indexing first.")
@click.option(
    "--batch-rows",
    type=click.IntRange(1, 1_000_000),
    help="Responses per transaction (default 20,000; fewer on a slow link).",
)
def sync_command(as_json: bool, no_index: bool, batch_rows: int | None) -> None:
    """Index, then send this machine's new responses to the team database (CCLEDGER_TEAM_URL).

    Only what changed since the last sync is sent; sending again never counts anything twice.
    The developer is CCLEDGER_DEVELOPER (default: git's user.email), the machine CCLEDGER_MACHINE.
    """
    from ..team.connect import TeamError
    from ..team.sync import BATCH_ROWS, sync

    url = _url()
    db = open_db()
    try:
        if not no_index:
            console.update(db, None, show_progress=False)
        try:
            result = sync(db, url, batch_rows=batch_rows or BATCH_ROWS)
        except TeamError as exc:
            raise click.ClickException(f"{exc} (the local ledger is intact; run `ccledger sync` again later)") from exc
    finally:
        db.close()
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    pending = f", {result.pending:,} still to send" if result.pending else ""
    out.print(
        f"Sent {result.sent:,} responses ({result.batches} batches) to {result.team} as {result.developer} "
        f"on {result.machine} in {result.seconds:.2f}s{pending}"
    )


@click.command("team")
@click.option("--since", default="this month", show_default=True, help="Start, or a whole period (as everywhere).")
@click.option("--until", help="Inclusive end: a date, a period or a datetime (default: now).")
@click.option("--timezone", help="IANA zone for day/week/month boundaries (default: config, else this machine's).")
@click.option(
    "--by",
    "group_by",
    type=click.Choice(TEAM_GROUP_BY_CHOICES),
    default="developer",
    show_default=True,
    help="How to group rows.",
)
@click.option("--developer", help="Only this developer's usage.")
@click.option("--repo", help="Only this repo (as the team answer names it).")
@click.option("--model", help="Only this model.")
@click.option(
    "--source",
    type=click.Choice(SOURCE_CHOICES),
    default="all",
    show_default=True,
    help="dev: Claude Code; prod: shipped apps' pulled telemetry, synced; all: both.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Rows per page.")
@click.option("--offset", type=click.IntRange(0), default=0, help="Rows to skip (the next page's offset).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def team_command(
    since: str,
    until: str | None,
    timezone: str | None,
    group_by: str,
    developer: str | None,
    repo: str | None,
    model: str | None,
    source: str,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Usage and cost across every machine synced to the team database, summed there."""
    from ..answers.periods import PeriodError, resolve_period
    from ..team.usage import team_usage_at
    from . import render

    url = _url()
    try:
        window = resolve_period(since, until, zone=zone(timezone), now=datetime.now(UTC))
    except PeriodError as exc:
        raise click.UsageError(str(exc)) from exc
    filters = {"developer": developer or "", "repo": repo or "", "model": model or ""}
    options = {"group_by": group_by, "filters": filters, "source": source, "limit": limit, "offset": offset}
    answer = _plainly(lambda: team_usage_at(url, window, **options))
    more = answer.next_offset is not None
    show(
        answer,
        render.team_table,
        as_json,
        f"[dim]{answer.rows_total} rows; next page: --offset {answer.next_offset}[/dim]" if more else None,
    )


def sync_after_index(*, quiet: bool) -> None:
    """After ``ccledger index``: send what changed to the team database, when one is configured.
    A background run (``--quiet``: the statusline's) syncs at most every SYNC_EVERY_SECONDS and
    says nothing; a failure is a warning, not an error (the index is done), retried next time."""
    from ..team.connect import TeamError, team_url

    try:
        url = team_url(load_config())
    except (TeamError, ConfigError) as exc:
        if not quiet:
            err.print(f"[yellow]ccledger: not synced to the team ledger: {exc}[/yellow]")
        return
    if url is None:
        return
    from ..team.sync import sync

    db = open_db()
    try:
        (last,) = db.execute(LAST_ATTEMPT_SQL).fetchone() or (None,)
        due = timestamps.now(ago=SYNC_EVERY_SECONDS)
        if quiet and last is not None and last > due:
            return
        try:
            result = sync(db, url)
        except TeamError as exc:
            if not quiet:
                err.print(f"[yellow]ccledger: {exc}; the index is done, `ccledger sync` sends it later[/yellow]")
            return
    finally:
        db.close()
    if not quiet:
        err.print(f"[dim]Sent {result.sent:,} responses to the team ledger at {result.team}[/dim]")


@click.group("team-budget", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def team_budget_group(context: click.Context, as_json: bool) -> None:
    """Team budgets in the team database: where each stands (this command alone), or set / rm one."""
    if context.invoked_subcommand is not None:
        return
    from ..team.budgets import team_budget_status
    from ..team.connect import redact
    from . import render

    url = _url()
    answer = _on_team(url, lambda conn: team_budget_status(conn, team=redact(url), now=datetime.now(UTC)))
    show(answer, render.team_budgets_table, as_json)


@team_budget_group.command("set")
@click.argument("scope")
@click.argument("period", type=click.Choice(list(BUDGET_PERIODS)))
@click.argument("amount_usd", type=click.FloatRange(min=0, min_open=True))
@click.option("--threshold", "thresholds", multiple=True, type=float, help="A fraction that warns (repeatable).")
@click.option("--include-prod", is_flag=True, help="Count synced production spend too (the team's budget only).")
@click.option("--timezone", help="IANA zone its periods follow (default: config, else this machine's).")
def team_budget_set(
    scope: str, period: str, amount_usd: float, thresholds: tuple[float, ...], include_prod: bool, timezone: str | None
) -> None:
    """Set a budget for the whole team (SCOPE 'team') or one developer, e.g. `team month 2000`."""
    from ..team.budgets import set_team_budget

    budget = _on_team(
        _url(),
        lambda conn: set_team_budget(
            conn,
            scope=scope,
            period=period,
            amount_usd=amount_usd,
            timezone=zone(timezone),
            thresholds=list(thresholds) or None,
            include_prod=include_prod,
        ),
    )
    out.print(
        f"Team budget {budget.id}: {budget.scope}, ${budget.amount_usd:,.2f} a {budget.period} ({budget.timezone})"
    )


@team_budget_group.command("rm")
@click.argument("budget_id", type=int)
def team_budget_rm(budget_id: int) -> None:
    """Delete a team budget by its id (from `ccledger team-budget`)."""
    from ..team.budgets import delete_team_budget

    budget = _on_team(_url(), lambda conn: delete_team_budget(conn, budget_id))
    out.print(f"Deleted team budget {budget.id} ({budget.scope}, {budget.period})")


def _on_team(url: str, work: Callable[[Any], T]) -> T:
    """``team.connect.on_team``, its errors made one-line ones (see :func:`_plainly`)."""
    from ..team.connect import on_team

    return _plainly(lambda: on_team(url, work))


def _plainly(call: Callable[[], T]) -> T:
    """``call()``, with the team database's errors one-line ones and a bad argument a usage error."""
    from ..team.connect import TeamError

    try:
        return call()
    except TeamError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


COMMANDS = (sync_command, team_command, team_budget_group)
"""The commands this module adds to ``cli``."""
