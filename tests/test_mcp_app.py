"""The MCP App: fetched by a real MCP client, then rendered by headless Chromium the way a host
renders it (the page in a window that answers its postMessage handshake and sends the result)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mcp import Client

from ccledger.surfaces.mcp_app import USAGE_APP_URI
from ccledger.surfaces.server import build_server

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
APP_MIME = "text/html;profile=mcp-app"

# What a host does, in the page's own window (its parent, at the top level): answer ui/initialize,
# and once the app says it is initialized, send it the tool's result.
HOST_SHIM = """<script>
window.addEventListener("message", (event) => {
  const message = event.data;
  if (message && message.method === "ui/initialize") {
    window.postMessage({jsonrpc: "2.0", id: message.id, result: {protocolVersion: "2026-01-26",
      hostInfo: {name: "test host", version: "1"}, hostCapabilities: {}, hostContext: {}}}, "*");
  } else if (message && message.method === "ui/notifications/initialized") {
    window.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: RESULT}, "*");
  } else if (message && message.method === "ui/notifications/size-changed") {
    document.title = "sized " + message.params.height;
  }
});
</script>"""


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def fetched(real_projects, tmp_path):
    server = build_server(tmp_path / "ledger.db", roots=[real_projects], now=lambda: NOW)
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        resources = {str(resource.uri): resource for resource in (await client.list_resources()).resources}
        page = (await client.read_resource(USAGE_APP_URI)).contents[0]
        result = await client.call_tool("usage_summary", {"since": "all", "group_by": "month"})
        others = {
            "cost_by_repo": await client.call_tool("cost_by_repo", {"since": "all"}),
            "usage_blocks": await client.call_tool("usage_blocks", {"since": "all", "limit": 12}),
        }
    return tools, resources, page, result, others


async def test_usage_summary_is_bound_to_a_locked_down_app_and_still_answers_in_full(real_projects, tmp_path):
    tools, resources, page, result, _ = await fetched(real_projects, tmp_path)
    bound = {name: tool.meta["ui"]["resourceUri"] for name, tool in tools.items() if tool.meta and "ui" in tool.meta}
    assert bound == dict.fromkeys(("usage_summary", "cost_by_repo", "usage_blocks"), USAGE_APP_URI)
    assert resources[USAGE_APP_URI].mime_type == APP_MIME
    assert page.mime_type == APP_MIME and page.meta["ui"]["csp"] == {}  # no outside domain of any kind
    elsewhere = page.text.replace("http-equiv", "").replace(
        '"http://www.w3.org/2000/svg"', ""
    )  # a namespace, not a URL
    assert "default-src 'none'" in page.text and "http" not in elsewhere
    # A host without apps (Claude Code's terminal) still gets the whole answer.
    assert result.structured_content["totals"]["responses"] == 878 and "totals" in result.content[0].text


async def test_chromium_draws_the_answer_and_shows_untrusted_names_as_text(real_projects, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CCLEDGER_REQUIRE_CHROMIUM"):
            pytest.fail("no chromium (apt-get install chromium)")
        pytest.skip("no chromium (apt-get install chromium)")
    _, _, page, result, others = await fetched(real_projects, tmp_path)
    answer = {"content": [block.model_dump(mode="json") for block in result.content],
              "structuredContent": result.structured_content}  # fmt: skip
    rows = answer["structuredContent"]["rows"]
    rows.append({**rows[0], "key": '<img src=x onerror="document.title=1">', "cost_usd": 0.01})  # a hostile name
    html = page.text.replace("<head>", "<head>" + HOST_SHIM.replace("RESULT", json.dumps(answer)), 1)
    path = tmp_path / "app.html"
    path.write_text(html, encoding="utf-8")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
         "--virtual-time-budget=3000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    drawn = dom[dom.index('<div id="app">') : dom.index("</div>", dom.index('<div id="app">'))]
    assert '<svg viewBox="0 0 640' in drawn and drawn.count("<rect") == len(rows)
    total = answer["structuredContent"]["totals"]["cost_usd"]
    assert f"all: ${total:,.2f} (878 responses)" in drawn
    assert "&lt;img src=x" in drawn and "<img" not in drawn  # drawn as text, never as markup
    assert "<title>sized " in dom  # it told the host its size
    repos = others["cost_by_repo"].structured_content
    drawn = _drawn(chromium, page.text, others["cost_by_repo"], tmp_path)
    assert drawn.count("<rect") == len(repos["repos"]) > 1 and f"${repos['totals']['cost_usd']:,.2f}" in drawn
    blocks = [block for block in others["usage_blocks"].structured_content["blocks"] if not block["is_gap"]]
    drawn = _drawn(chromium, page.text, others["usage_blocks"], tmp_path)
    assert drawn.count("<rect") == len(blocks) > 1 and f"{len(blocks)} 5-hour blocks" in drawn
    if os.environ.get("CCLEDGER_SCREENSHOTS"):  # refresh the README's picture (without the hostile row)
        rows.pop()
        path.write_text(page.text.replace("<head>", "<head>" + HOST_SHIM.replace("RESULT", json.dumps(answer)), 1))
        shot = Path(__file__).parent.parent / "docs" / "screenshots" / "mcp-app.png"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
             "--window-size=680,360", "--virtual-time-budget=3000", f"--screenshot={shot}", path.as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip


def _drawn(chromium: str, page: str, result, tmp_path: Path) -> str:
    """What the app draws for ``result`` in Chromium: the markup of its #app."""
    answer = {"content": [block.model_dump(mode="json") for block in result.content],
              "structuredContent": result.structured_content}  # fmt: skip
    path = tmp_path / "other.html"
    path.write_text(page.replace("<head>", "<head>" + HOST_SHIM.replace("RESULT", json.dumps(answer)), 1))
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
         "--virtual-time-budget=3000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    return dom[dom.index('<div id="app">') : dom.index("</div>", dom.index('<div id="app">'))]
