"""The MCP App (``io.modelcontextprotocol/ui``): usage answers drawn inside the chat.

Hosts that render apps (Claude Desktop, claude.ai, VS Code) show ``ui/usage.html`` beside the
answer of a tool bound to it (usage_summary, cost_by_repo, usage_blocks); the page receives the
answer over postMessage and draws it as bars: the summary's rows, the repos, the blocks. Hosts
that do not (Claude Code's terminal) get the same complete text and structured content as
before. The resource asks for no outside domain at all (an empty CSP list), and its own
Content-Security-Policy allows nothing but its inline script and style.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

from mcp.server.apps import Apps, ResourceCsp

__all__ = ["USAGE_APP_URI", "usage_app"]

USAGE_APP_URI = "ui://ccledger/usage.html"


def usage_app(tools: dict[Callable[..., Any], dict[str, Any]]) -> Apps:
    """The Apps extension with each of ``tools`` bound to the usage page, with its ``add_tool``
    options (title, description, annotations)."""
    apps = Apps()
    for tool, options in tools.items():
        apps.tool(resource_uri=USAGE_APP_URI, name=tool.__name__, **options)(tool)
    html = resources.files("ccledger.surfaces").joinpath("ui/usage.html").read_text(encoding="utf-8")
    apps.add_html_resource(
        USAGE_APP_URI, html, name="usage", title="Usage chart",
        description="usage_summary's rows, cost_by_repo's repos or usage_blocks' blocks as bars.",
        csp=ResourceCsp(), prefers_border=True,
    )  # fmt: skip
    return apps
