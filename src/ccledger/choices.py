"""The values that a few arguments take, shared by the CLI, the MCP tools and the queries.

A module of its own so that the CLI can build its options without importing the query layer
(pydantic and all): ``ccledger index`` starts sooner for it.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "BUDGET_PERIODS",
    "GROUP_BY_CHOICES",
    "PLANS",
    "SOURCE_CHOICES",
    "BudgetPeriod",
    "GroupBy",
    "PacePeriod",
    "Plan",
    "Source",
]

GroupBy = Literal["day", "week", "month", "repo", "branch", "model", "session", "machine"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)

# Where usage was spent: Claude Code (its transcripts), shipped apps (pulled telemetry), or both.
Source = Literal["dev", "prod", "all"]
SOURCE_CHOICES: tuple[str, ...] = get_args(Source)

# A budget's period and the period expression that resolves it.
BudgetPeriod = Literal["day", "week", "month"]
BUDGET_PERIODS: dict[str, str] = dict(zip(get_args(BudgetPeriod), ("today", "this week", "this month"), strict=True))

# The periods usage pace is asked over: this week (from Monday) or this month.
PacePeriod = Literal["week", "month"]

# Claude subscription plans, monthly prices in US dollars.
Plan = Literal["pro", "max5", "max20", "api"]
PLANS: dict[str, float] = dict(zip(get_args(Plan), (20.0, 100.0, 200.0, 0.0), strict=True))
