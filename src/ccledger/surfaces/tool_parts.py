"""The parts every MCP tool is made of: its arguments' types, its hints to the host, its reply."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from ..choices import PacePeriod, Plan, Source

__all__ = [
    "DELETES",
    "PULLS",
    "READ_ONLY",
    "WRITES",
    "Offset",
    "PaceArg",
    "PlanArg",
    "Since",
    "SourceArg",
    "Timezone",
    "Until",
    "brief",
    "reply",
]

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
# A pull adds and replaces records but deletes nothing of the user's: by the spec, a tool that
# does not say destructive_hint=False counts as destructive.
PULLS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

Since = Annotated[
    str | None,
    Field(
        description="Start of the window, or a whole named period: 'today', 'yesterday', 'this week', "
        "'last week', 'this month', 'last month', 'last 7 days', 'all', a date '2026-11-01' (runs to "
        "now), a month '2026-11', or a datetime."
    ),
]
Until = Annotated[str | None, Field(description="Inclusive end (a date, period or datetime); default: now.")]
Timezone = Annotated[
    str | None,
    Field(description="IANA timezone for day/week/month boundaries, e.g. 'Europe/Berlin'; default: the user's."),
]
PlanArg = Annotated[
    Plan,
    Field(description="The subscription: pro ($20/month), max5 ($100), max20 ($200), or api (pay as you go)."),
]
PaceArg = Annotated[PacePeriod, Field(description="This week (from Monday) or this month.")]
# A page of an answer stays well under what a host hands a model whole (Claude Code warns at
# 10,000 tokens and cuts at 25,000): the defaults keep each answer near 3,500 tokens, the caps
# under 10,000, whatever the history (benchmarks/answer_sizes.py).
Offset = Annotated[int, Field(ge=0, description="Rows to skip: the next_offset of the previous page.")]
SourceArg = Annotated[
    Source,
    Field(
        description="dev: Claude Code only; prod: shipped apps' telemetry only (pulled with "
        "pull_prod_telemetry); all: both, with the split in totals.dev_cost_usd and totals.prod_cost_usd."
    ),
]


def reply(result: BaseModel) -> CallToolResult:
    """A tool's answer: the model as structured content (what Claude Code hands the model, as
    compact JSON), and for a client that reads only text a brief of it rather than the JSON a
    second time."""
    answer = result.model_dump(mode="json")  # dumped once: the brief is read off the same dict
    return CallToolResult(content=[TextContent(type="text", text=brief(answer))], structured_content=answer)


def brief(answer: dict[str, Any]) -> str:
    """An answer (a result model's JSON dump) in a few lines: its scalars and small objects, and
    of each list its length and first item; the structured content has the rest."""
    lines = []
    for key, value in answer.items():
        if isinstance(value, list):
            if value:
                first = _fields(value[0]) if isinstance(value[0], dict) else str(value[0])
                lines.append(f"{key}: {len(value)} listed; the first: {first}")
        elif isinstance(value, dict):
            if fields := _fields(value):
                lines.append(f"{key}: {fields}")
        elif value not in (None, ""):
            lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n(everything is in the structured content)"


def _fields(item: dict[str, Any]) -> str:
    text = ", ".join(f"{key} {value}" for key, value in item.items() if value not in (None, "", 0, [], {}))
    return text if len(text) <= 300 else text[:297] + "..."
