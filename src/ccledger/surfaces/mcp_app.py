"""The MCP App (``io.modelcontextprotocol/ui``): usage_summary's answer drawn inside the chat.

Hosts that render apps (Claude Desktop, claude.ai, VS Code) show ``ui/usage.html`` beside the
tool's answer; the page receives the answer over postMessage and draws its rows as bars. Hosts
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


def usage_app(tool: Callable[..., Any], **tool_options: Any) -> Apps:
    """The Apps extension with ``tool`` (usage_summary) bound to the usage page; ``tool_options``
    are ``add_tool``'s (title, description, annotations)."""
    apps = Apps()
    apps.tool(resource_uri=USAGE_APP_URI, name=tool.__name__, **tool_options)(tool)
    html = resources.files("ccledger.surfaces").joinpath("ui/usage.html").read_text(encoding="utf-8")
    apps.add_html_resource(
        USAGE_APP_URI, html, name="usage", title="Usage chart", description="usage_summary's rows as bars.",
        csp=ResourceCsp(), prefers_border=True,
    )  # fmt: skip
    return apps
