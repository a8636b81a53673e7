"""Budgets: spending limits per repo or overall, where they stand, and alerts.

A budget caps the API-equivalent spend of one calendar period (day, week from Monday, or month,
in the configured timezone) for all Claude Code use or one repo, optionally one model. Its
status compares the spend so far with the amount and projects the period's end at the pace so
far. Thresholds (fractions of the amount, 90% and 100% by default) decide when it warns and when
``ccledger budget check`` sends a webhook: at most once per budget, threshold and period.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from .. import timestamps
from ..choices import BUDGET_PERIODS
from ..ledger.db import write_transaction
from ..models import BudgetAlert, BudgetInfo, BudgetStatus, BudgetStatusList
from . import queries
from .periods import Window, resolve_period

__all__ = [
    "DEFAULT_THRESHOLDS",
    "alert_message",
    "alerts",
    "budget_status",
    "delete_budget",
    "due_alerts",
    "mark_sent",
    "set_budget",
    "standing",
    "valid_thresholds",
]

DEFAULT_THRESHOLDS = (0.9, 1.0)
# The pace is measured over at least this long, so that a period's first minutes don't project wildly.
MIN_PACE_WINDOW = timedelta(hours=1)

UPSERT_SQL = """
insert into budgets (scope, model, period, amount_nanousd, thresholds, include_prod, created_utc, updated_utc)
values (:scope, :model, :period, :amount_nanousd, :thresholds, :include_prod, :now, :now)
on conflict(scope, model, period) do update set
    amount_nanousd = excluded.amount_nanousd, thresholds = excluded.thresholds,
    include_prod = excluded.include_prod, updated_utc = excluded.updated_utc
"""

SELECT_SQL = """
select id, scope, model, period, amount_nanousd, thresholds, include_prod from budgets {where} order by id
"""

DELETE_SQL = "delete from budgets where id = :id"

SENT_SQL = "select threshold from budget_alerts_sent where budget_id = :id and period_start_utc = :start"

MARK_SENT_SQL = """
insert or ignore into budget_alerts_sent (budget_id, period_start_utc, threshold, sent_utc)
values (:id, :start, :threshold, :now)
"""


def set_budget(
    db: Database,
    *,
    scope: str,
    period: str,
    amount_usd: float,
    model: str | None = None,
    thresholds: list[float] | None = None,
    include_prod: bool = False,
) -> BudgetInfo:
    """Create a budget, or update the one with the same scope, model and period."""
    if period not in BUDGET_PERIODS:
        raise queries.QueryError(f"period={period!r} is not one of: {', '.join(BUDGET_PERIODS)}")
    if isinstance(amount_usd, bool) or not math.isfinite(amount_usd) or amount_usd <= 0:
        raise queries.QueryError(f"amount_usd={amount_usd!r} must be a positive number of US dollars, e.g. 200")
    if amount_usd > 1e9:
        raise queries.QueryError(f"amount_usd={amount_usd!r} is more than a billion dollars; is that right?")
    scope = "all" if scope.strip().lower() == "all" else queries.resolve_repo(db, scope.strip())
    params = {
        "scope": scope,
        "model": _one_model(db, model) if model and model.strip() else "",
        "period": period,
        "amount_nanousd": round(amount_usd * 1_000_000_000),
        "thresholds": json.dumps(valid_thresholds(thresholds)),
        "include_prod": int(include_prod),
        "now": timestamps.now(),
    }
    with write_transaction(db):
        db.execute(UPSERT_SQL, params)
    where = "where scope = :scope and model = :model and period = :period"
    return _info(next(db.query(SELECT_SQL.format(where=where), params)))


def _one_model(db: Database, name: str) -> str:
    """The one canonical model a budget's model names: a family ('sonnet') is several, and a
    budget counts one (the statusline checks it on every tick)."""
    found = queries.resolve_models(db, name)
    if len(found) > 1:
        raise queries.QueryError(f"model={name!r} names several models: {', '.join(found)}; a budget takes one of them")
    return found[0]


def valid_thresholds(given: list[float] | None) -> list[float]:
    chosen = list(DEFAULT_THRESHOLDS) if not given else list(given)
    for value in chosen:
        if isinstance(value, bool) or not math.isfinite(value) or not 0 < value <= 10:
            raise queries.QueryError(
                f"threshold {value!r} must be a fraction of the amount between 0 and 10, e.g. 0.8 for 80%"
            )
    return sorted({round(value, 4) for value in chosen} | {1.0})  # 100% always alerts


def delete_budget(
    db: Database, *, budget_id: int | None = None, scope: str | None = None, period: str | None = None,
    model: str | None = None,
) -> BudgetInfo:  # fmt: skip
    """Delete one budget, by id or by scope and period (and model); the error lists the budgets."""
    if budget_id is None and (scope is None or period is None):
        raise queries.QueryError(
            "say which budget to delete: its budget_id (from budget_status), or its scope and period"
            + ("" if scope is None else f" (scope={scope!r} needs a period: day, week or month)")
        )
    for found in _budgets(db):
        by_id = budget_id is not None and found.id == budget_id
        by_scope = (
            budget_id is None
            and scope is not None
            and period == found.period
            and (found.scope == scope or (scope != "all" and found.scope.rsplit("/", 1)[-1] == scope))
            and (model or None) == found.model
        )
        if by_id or by_scope:
            # With foreign keys on, its sent alerts go too (ON DELETE CASCADE): a budget made
            # later may get the same id, and must not find this one's alerts already sent.
            with write_transaction(db, foreign_keys=True):
                db.execute(DELETE_SQL, {"id": found.id})
            return found
    existing = "; ".join(f"{b.id}: {b.scope} {b.period}" + (f" {b.model}" if b.model else "") for b in _budgets(db))
    raise queries.QueryError(
        "no such budget; " + (f"the budgets are {existing}" if existing else "there are no budgets yet")
    )


def budget_status(db: Database, *, scope: str | None = None, zone: ZoneInfo, now: datetime) -> BudgetStatusList:
    """Each budget's spend this period, remaining, status and projection; most urgent first."""
    budgets = _budgets(db)
    if scope:
        wanted = "all" if scope.strip().lower() == "all" else queries.resolve_repo(db, scope.strip())
        budgets = [budget for budget in budgets if budget.scope == wanted]
    statuses = [_status(db, budget, zone, now) for budget in budgets]
    statuses.sort(key=lambda status: (-status.percent, status.id))
    return BudgetStatusList(budgets=statuses, timezone=zone.key)


def alerts(db: Database, *, zone: ZoneInfo, now: datetime) -> list[BudgetAlert]:
    """Budgets past a threshold, for other answers to carry (empty when there are no budgets)."""
    if db.execute("select not exists (select 1 from budgets)").fetchone()[0]:
        return []
    return [
        BudgetAlert(
            budget_id=status.id,
            scope=status.scope,
            period=status.period,
            status=status.status,
            percent=status.percent,
            message=alert_message(status),
        )
        for status in budget_status(db, zone=zone, now=now).budgets
        if status.status != "ok"
    ]


def due_alerts(db: Database, statuses: list[BudgetStatus]) -> list[tuple[BudgetStatus, float]]:
    """(status, threshold) pairs crossed this period and not yet sent."""
    due = []
    for status in statuses:
        sent = {row[0] for row in db.execute(SENT_SQL, {"id": status.id, "start": status.period_start_utc})}
        crossed = [t for t in status.thresholds if status.percent >= t * 100 and t not in sent]
        if crossed:
            due.append((status, max(crossed)))
    return due


def mark_sent(db: Database, status: BudgetStatus) -> None:
    """Remember that every threshold the status has crossed was alerted for this period."""
    with write_transaction(db):
        for threshold in status.thresholds:
            if status.percent >= threshold * 100:
                params = {
                    "id": status.id,
                    "start": status.period_start_utc,
                    "threshold": threshold,
                    "now": timestamps.now(),
                }
                db.execute(MARK_SENT_SQL, params)


def _status(db: Database, budget: BudgetInfo, zone: ZoneInfo, now: datetime) -> BudgetStatus:
    window = resolve_period(BUDGET_PERIODS[budget.period], None, zone=zone, now=now)
    repo_id = None if budget.scope == "all" else budget.scope
    source = "all" if budget.include_prod else "dev"
    usage, unpriced = queries.totals_in(db, window, repo_id=repo_id, model=budget.model, source=source)
    return BudgetStatus(
        **budget.model_dump(),
        **standing(usage.cost_usd, budget.amount_usd, budget.thresholds, window, now),
        unpriced_models=unpriced,
    )


def standing(spent: float, amount_usd: float, thresholds: list[float], window: Window, now: datetime) -> dict[str, Any]:
    """Where ``spent`` of ``amount_usd`` stands in its period ``window`` at ``now``: the
    BudgetStatus fields of the period, the spend and its projection at the pace so far (this
    machine's budgets, and the team's)."""
    assert window.start is not None
    elapsed = max(now - window.start, MIN_PACE_WINDOW)
    rate = spent / elapsed.total_seconds()  # dollars per second so far
    projected = spent + rate * max((window.end - now).total_seconds(), 0)
    cross = None
    if spent < amount_usd and rate > 0:
        moment = now + timedelta(seconds=(amount_usd - spent) / rate)
        cross = timestamps.text(moment) if moment < window.end else None
    percent = round(spent / amount_usd * 100, 1)
    warn_at = min(thresholds) * 100
    return {
        "period_start_utc": window.start_utc or "",
        "period_end_utc": window.end_utc,
        "spent_usd": round(spent, 2),
        "remaining_usd": round(max(amount_usd - spent, 0), 2),
        "percent": percent,
        "status": "exceeded" if spent >= amount_usd else "warning" if percent >= warn_at else "ok",
        "projected_usd": round(projected, 2),
        "projected_cross_utc": cross,
    }


def alert_message(status: BudgetStatus) -> str:
    """One sentence about a budget past a threshold."""
    where = "all Claude Code use" if status.scope == "all" else status.scope
    model = f" ({status.model})" if status.model else ""
    state = "exceeded" if status.status == "exceeded" else f"at {status.percent:.0f}%"
    every = {"day": "daily", "week": "weekly", "month": "monthly"}[status.period]
    return (
        f"The {every} budget for {where}{model} is {state}: ${status.spent_usd:,.2f} of "
        f"${status.amount_usd:,.2f}; at this pace ${status.projected_usd:,.2f} by the end of the {status.period}."
    )


def _budgets(db: Database) -> list[BudgetInfo]:
    return [_info(row) for row in db.query(SELECT_SQL.format(where=""))]


def _info(row: dict[str, Any]) -> BudgetInfo:
    return BudgetInfo(
        id=row["id"],
        scope=row["scope"],
        model=row["model"] or None,
        period=row["period"],
        amount_usd=row["amount_nanousd"] / 1_000_000_000,
        thresholds=json.loads(row["thresholds"]),
        include_prod=bool(row["include_prod"]),
    )
