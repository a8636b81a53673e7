"""Team budgets, kept in the team database: one for the whole team, or one per developer.

A team budget is the team's, not a machine's: it lives beside the synced usage, so every member
sees the same ones. Its periods follow the timezone it was set in (a team spans zones; each
member's own would disagree about when a month starts). Where a budget stands is computed as
this machine's are (``answers.budgets.standing``), from ``team_usage`` totals.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from ..answers.budgets import standing, valid_thresholds
from ..answers.periods import resolve_period
from ..choices import BUDGET_PERIODS, BudgetPeriod
from ..models import BudgetStanding
from .usage import team_usage

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "TeamBudget",
    "TeamBudgetList",
    "TeamBudgetStatus",
    "delete_team_budget",
    "set_team_budget",
    "team_budget_status",
]

TEAM = "team"
"""The scope of a budget for the whole team (else a developer, as the team ledger names them)."""

_COLUMNS = "id, scope, period, amount_nanousd, thresholds, include_prod, timezone"  # as _budget reads them
UPSERT_SQL = f"""
INSERT INTO team_budgets (scope, period, amount_nanousd, thresholds, include_prod, timezone)
VALUES (%(scope)s, %(period)s, %(amount)s, %(thresholds)s, %(include_prod)s, %(timezone)s)
ON CONFLICT (scope, period) DO UPDATE SET amount_nanousd = excluded.amount_nanousd,
    thresholds = excluded.thresholds, include_prod = excluded.include_prod, timezone = excluded.timezone
RETURNING {_COLUMNS}
"""
SELECT_SQL = f"SELECT {_COLUMNS} FROM team_budgets ORDER BY id"
DELETE_SQL = f"DELETE FROM team_budgets WHERE id = %s RETURNING {_COLUMNS}"
DEVELOPERS_SQL = "SELECT DISTINCT developer FROM team_machines ORDER BY 1"


class TeamBudget(BaseModel):
    """A spending limit for the team, or for one developer across their machines."""

    id: int
    scope: str = Field(description="'team' for everyone, else one developer (as team_usage names them).")
    period: BudgetPeriod = Field(description="A calendar period in `timezone`.")
    amount_usd: float
    thresholds: list[float] = Field(description="Fractions of the amount that warn, e.g. [0.9, 1.0].")
    include_prod: bool = Field(description="Whether shipped apps' synced production spend counts (team budgets only).")
    timezone: str = Field(description="The zone its periods follow: the one it was set in.")


class TeamBudgetStatus(BudgetStanding, TeamBudget):
    """Where a team budget stands in its current period."""


class TeamBudgetList(BaseModel):
    """Every team budget's standing, most urgent first."""

    team: str = Field(description="The team database, its password masked.")
    budgets: list[TeamBudgetStatus]


def set_team_budget(
    conn: psycopg.Connection,
    *,
    scope: str,
    period: str,
    amount_usd: float,
    timezone: ZoneInfo,
    thresholds: list[float] | None = None,
    include_prod: bool = False,
) -> TeamBudget:
    """Set (or update) the budget of ``scope`` for ``period``. A developer must have synced."""
    scope = scope.strip()
    if period not in BUDGET_PERIODS:
        raise ValueError(f"period must be day, week or month, not {period!r}")
    if not amount_usd > 0:
        raise ValueError(f"amount_usd must be above 0, not {amount_usd!r}")
    if scope != TEAM:
        developers = [name for (name,) in conn.execute(DEVELOPERS_SQL)]
        if scope not in developers:
            known = ", ".join(developers) or "none has synced yet"
            raise ValueError(f"no developer {scope!r} in the team ledger; use 'team' or one of: {known}")
        if include_prod:
            raise ValueError("include_prod is for the team's budget: production spend is nobody's own")
    with conn.transaction():
        row = conn.execute(
            UPSERT_SQL,
            {"scope": scope, "period": period, "amount": round(amount_usd * 1e9), "include_prod": include_prod,
             "thresholds": json.dumps(valid_thresholds(thresholds)), "timezone": timezone.key},
        ).fetchone()  # fmt: skip
    assert row is not None
    return _budget(row)


def delete_team_budget(conn: psycopg.Connection, budget_id: int) -> TeamBudget:
    """Delete a team budget by its id; an unknown id is an error that lists the budgets."""
    with conn.transaction():
        row = conn.execute(DELETE_SQL, [budget_id]).fetchone()
    if row is None:
        ids = ", ".join(str(budget.id) for budget in _budgets(conn)) or "there are none"
        raise ValueError(f"no team budget {budget_id}; the team budgets are: {ids}")
    return _budget(row)


def team_budget_status(conn: psycopg.Connection, *, team: str, now: datetime) -> TeamBudgetList:
    """Each team budget's spend this period, remaining, status and projection; most urgent first."""
    statuses = []
    for budget in _budgets(conn):
        window = resolve_period(BUDGET_PERIODS[budget.period], None, zone=ZoneInfo(budget.timezone), now=now)
        filters = {} if budget.scope == TEAM else {"developer": budget.scope}
        source = "all" if budget.include_prod else "dev"
        usage = team_usage(conn, window, team=team, group_by="developer", filters=filters, source=source, limit=1)
        statuses.append(
            TeamBudgetStatus(
                **budget.model_dump(),
                **standing(usage.totals.cost_usd, budget.amount_usd, budget.thresholds, window, now),
                unpriced_models=usage.unpriced_models,
            )
        )
    statuses.sort(key=lambda status: (-status.percent, status.id))
    return TeamBudgetList(team=team, budgets=statuses)


def _budgets(conn: psycopg.Connection) -> list[TeamBudget]:
    return [_budget(row) for row in conn.execute(SELECT_SQL)]


def _budget(row: tuple[Any, ...]) -> TeamBudget:
    budget_id, scope, period, nanousd, thresholds, include_prod, timezone = row
    return TeamBudget(
        id=budget_id, scope=scope, period=period, amount_usd=int(nanousd) / 1e9, thresholds=json.loads(thresholds),
        include_prod=include_prod, timezone=timezone,
    )  # fmt: skip
