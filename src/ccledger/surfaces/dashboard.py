"""``ccledger dashboard``: the ledger's answers as pictures, in a browser tab on this machine.

A Starlette app (it comes with the MCP SDK) on 127.0.0.1 only. Every page is built from the same
queries the tools answer (``answers.queries``, ``answers.activity``), after the same refresh, so
its figures are the tools' figures. The charts are SVG drawn here (``svg``); the one script, a
few lines inline, polls for the view again so the page follows Claude's work without a reload.
Nothing is loaded from anywhere else: the Content-Security-Policy allows this origin alone.

Like ``serve --http`` on loopback, it checks ``Host`` (a DNS-rebinding page cannot read it) and
``Origin`` (another site cannot drive it).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..answers import queries
from ..answers.periods import PeriodError
from ..ingest.scan import ScanCache
from ..ledger.db import open_db
from ..update import update
from . import dashboard_views
from .dashboard_views import View

__all__ = ["PERIODS", "dashboard_app", "view_html"]

PERIODS = ("today", "this week", "this month", "last month", "all")
"""The period selector's choices (any period the tools take works in ?since=)."""
POLL_SECONDS = 15


def view_html(
    db: Database, view: View, *, tabs: Mapping[str, Callable[[Database, View], str]] = dashboard_views.TABS
) -> str:
    """The dashboard's view ``view.tab`` of a period (see ``dashboard_views``). Raises PeriodError
    or QueryError for a bad argument, QueryError for a tab there is not."""
    if view.tab not in tabs:
        raise queries.QueryError(f"tab={view.tab!r} is not one of: {', '.join(tabs)}")
    return tabs[view.tab](db, view)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ccledger</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 900px; color: #222; }}
nav a {{ margin-right: .8rem; }} nav a.on {{ font-weight: bold; }} svg {{ width: 100%; height: auto; }}
.unpriced {{ color: #b00; }} .note {{ color: #555; font-size: .85rem; }}
table {{ border-collapse: collapse; width: 100%; font-size: .85rem; }} td, th {{ padding: 2px 6px; text-align: left; }}
tr:nth-child(even) {{ background: #f4f4f4; }} td.cost {{ text-align: right; }} nav.tabs a {{ font-size: 1.1rem; }}
footer {{ color: #777; font-size: .85rem; margin-top: 2rem; }}
</style></head>
<body><h1>ccledger</h1>
<nav class="tabs">{tabs}</nav>
<nav>{nav}</nav>
<form method="get"><input type="hidden" name="tab" value="{tab}"><input type="hidden" name="since" value="{since}">
<label>Repo <input name="repo" value="{repo}" placeholder="all repos"></label> <button>Filter</button></form>
<div id="view">{view}</div>
<footer>API list-price equivalents from this machine's ledger; updated every {poll} s.</footer>
<script nonce="{nonce}">
setInterval(async () => {{
  const answer = await fetch("view" + location.search, {{headers: {{"X-Requested-With": "ccledger"}}}});
  if (answer.ok) document.getElementById("view").innerHTML = await answer.text();
}}, {poll}000);
</script></body></html>"""


def _links(links: list[tuple[str, bool, str]]) -> str:
    """Navigation links: (name, whether it is the current one, its escaped query string)."""
    return "".join(f'<a class="{"on" if on else ""}" href="{href}">{escape(name)}</a>' for name, on, href in links)


class _LocalOnly:
    """ASGI middleware: a request must name this server in ``Host`` and, from a browser, come
    from its own origin; anything else gets 403 (DNS rebinding, another site's requests)."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.hosts = {f"127.0.0.1:{port}".encode(), f"localhost:{port}".encode()}
        self.origins = {b"http://" + host for host in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin")
            if headers.get(b"host") not in self.hosts or (origin is not None and origin not in self.origins):
                await Response("refused: not this machine's dashboard", 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def dashboard_app(
    ledger: Path, *, port: int, roots: list[Path] | None = None, zone: Callable[[], ZoneInfo],
    now: Callable[[], datetime] = lambda: datetime.now(UTC), team_url: str | None = None,
) -> ASGIApp:  # fmt: skip
    """The dashboard over the ledger at ``ledger`` (refreshed from ``roots`` before each view),
    with a team tab over the team database at ``team_url`` when one is given."""
    db = open_db(ledger)
    lock = threading.Lock()  # one refresh-and-query on the connection at a time, as the MCP server
    cache = ScanCache()  # as the MCP server's: a check for changes that reads little when nothing changed
    tabs = dict(dashboard_views.TABS)
    if team_url is not None:
        tabs["team"] = dashboard_views.team_tab(team_url)

    def answered(call: Callable[[Database, dict[str, str]], Response]) -> Callable[[Request], Response]:
        """An endpoint: the ledger refreshed and held, ``call`` made with it and the query's
        parameters, a bad argument answered 400 with what is wrong (as HTML, or JSON for /api)."""

        def endpoint(request: Request) -> Response:
            params = dict(request.query_params)
            try:
                with lock:
                    update(db, roots, cache=cache)
                    return call(db, params)
            except (PeriodError, queries.QueryError) as exc:
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": str(exc)}, 400)
                return HTMLResponse(f"<p>{escape(str(exc))}</p>", 400)

        return endpoint

    def view_of(params: dict[str, str]) -> View:
        offset = params.get("offset") or "0"
        if not offset.isdigit():
            raise queries.QueryError(f"offset={offset!r} is not a whole number")
        return View(
            since=params.get("since") or "this month", until=params.get("until") or None,
            repo=params.get("repo") or None, zone=zone(), now=now(), tab=params.get("tab") or "spend",
            session=params.get("session") or None, offset=int(offset), by=params.get("by") or None,
        )  # fmt: skip

    def page(db: Database, params: dict[str, str]) -> Response:
        view = view_of(params)
        shown = view_html(db, view, tabs=tabs)
        # A tab keeps the period; a period starts afresh (no end, no page, no session).
        tab_links = [(name, name == view.tab, view.link(tab=name, session="", offset="")) for name in tabs]
        period_links = [(name, name == view.since, view.link(since=name, until="", session="", offset=""))
                        for name in PERIODS]  # fmt: skip
        nonce = secrets.token_urlsafe(16)
        html = _PAGE.format(
            tabs=_links(tab_links), nav=_links(period_links), tab=escape(view.tab), since=escape(view.since),
            repo=escape(view.repo or ""), view=shown, poll=POLL_SECONDS, nonce=nonce,
        )  # fmt: skip
        policy = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; connect-src 'self'"
        return HTMLResponse(html, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"})

    def fragment(db: Database, params: dict[str, str]) -> Response:
        return HTMLResponse(view_html(db, view_of(params), tabs=tabs), headers={"Cache-Control": "no-store"})

    def usage_json(db: Database, params: dict[str, str]) -> Response:
        view = view_of(params)
        summary = queries.usage_summary(db, group_by=params.get("group_by") or "day", repo=view.repo, **view.period)
        return JSONResponse(summary.model_dump(mode="json"))

    routes = [Route("/", answered(page)), Route("/view", answered(fragment)), Route("/api/usage", answered(usage_json))]
    return _LocalOnly(Starlette(routes=routes), port)
