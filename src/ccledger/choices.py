"""The values that a few arguments take, shared by the CLI, the MCP tools and the queries.

A module of its own so that the CLI can build its options without importing the query layer
(pydantic and all): ``ccledger index`` starts sooner for it.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ACTIVITY_GROUP_BY_CHOICES",
    "BUDGET_PERIODS",
    "GROUP_BY_CHOICES",
    "HEATMAP_METRICS",
    "PLANS",
    "SOURCE_CHOICES",
    "TEAM_GROUP_BY_CHOICES",
    "ActivityGroupBy",
    "BudgetPeriod",
    "GroupBy",
    "HeatmapMetric",
    "PacePeriod",
    "Plan",
    "Source",
    "TeamGroupBy",
]

GroupBy = Literal["day", "week", "month", "repo", "branch", "model", "session", "machine"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)

# How activity is grouped ('none': totals and the top tools, commands and agents only).
ActivityGroupBy = Literal["none", "day", "week", "month", "repo", "session", "model"]
ACTIVITY_GROUP_BY_CHOICES: tuple[str, ...] = get_args(ActivityGroupBy)

# What an activity heatmap counts in each weekday-hour cell.
HeatmapMetric = Literal["responses", "cost", "prompts", "active_time"]
HEATMAP_METRICS: tuple[str, ...] = get_args(HeatmapMetric)

# Where usage was spent: Claude Code (its transcripts), shipped apps (pulled telemetry), or both.
Source = Literal["dev", "prod", "all"]
SOURCE_CHOICES: tuple[str, ...] = get_args(Source)

# How the team's usage is grouped (``team.usage``).
TeamGroupBy = Literal["developer", "machine", "repo", "model", "day", "week", "month"]
TEAM_GROUP_BY_CHOICES: tuple[str, ...] = get_args(TeamGroupBy)

# A budget's period and the period expression that resolves it.
BudgetPeriod = Literal["day", "week", "month"]
BUDGET_PERIODS: dict[str, str] = dict(zip(get_args(BudgetPeriod), ("today", "this week", "this month"), strict=True))

# The periods usage pace is asked over: this week (from Monday) or this month.
PacePeriod = Literal["week", "month"]

# Claude subscription plans, monthly prices in US dollars.
Plan = Literal["pro", "max5", "max20", "api"]
PLANS: dict[str, float] = dict(zip(get_args(Plan), (20.0, 100.0, 200.0, 0.0), strict=True))
