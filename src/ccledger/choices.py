"""The values that a few arguments take, shared by the CLI, the MCP tools and the queries.

A module of its own so that the CLI can build its options without importing the query layer
(pydantic and all): ``ccledger index`` starts sooner for it.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["BUDGET_PERIODS", "GROUP_BY_CHOICES", "PLANS", "SOURCE_CHOICES", "GroupBy", "Source"]

GroupBy = Literal["day", "week", "month", "repo", "branch", "model", "session", "machine"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)

# Where usage was spent: Claude Code (its transcripts), shipped apps (pulled telemetry), or both.
Source = Literal["dev", "prod", "all"]
SOURCE_CHOICES: tuple[str, ...] = get_args(Source)

# A budget's period and the period expression that resolves it.
BUDGET_PERIODS = {"day": "today", "week": "this week", "month": "this month"}

# Claude subscription plans, monthly prices in US dollars.
PLANS = {"pro": 20.0, "max5": 100.0, "max20": 200.0, "api": 0.0}
