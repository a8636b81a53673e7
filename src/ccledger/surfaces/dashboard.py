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
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..answers import activity, queries
from ..answers.periods import PeriodError
from ..ledger.db import open_db
from ..update import update
from . import svg

__all__ = ["PERIODS", "dashboard_app", "view_html"]

PERIODS = ("today", "this week", "this month", "last month", "all")
"""The period selector's choices (any period the tools take works in ?since=)."""
TOP_MODELS = 5  # series in the stacked chart; the rest sum into 'other'
POLL_SECONDS = 15


def view_html(db: Database, *, since: str, until: str | None, repo: str | None, zone: ZoneInfo, now: datetime) -> str:
    """The dashboard's view of a period: totals, spend over time by model, spend by repo, the
    weekday-by-hour heatmap. Raises PeriodError or QueryError for a bad argument."""
    args: dict[str, Any] = {"since": since, "until": until, "zone": zone, "now": now}
    grouping = "day" if since in ("today", "this week", "this month", "last month") else "month"
    over_time = queries.usage_summary(db, group_by=grouping, repo=repo, **args)  # its totals cover every row
    models = queries.usage_summary(db, group_by="model", repo=repo, **args).rows
    labels = sorted(row.key for row in over_time.rows)
    series = []
    for row in models[:TOP_MODELS]:
        by_label = {
            r.key: r.cost_usd
            for r in queries.usage_summary(db, group_by=grouping, model=row.key, repo=repo, **args).rows
        }
        series.append((row.key, [by_label.get(label, 0.0) for label in labels]))
    if len(models) > TOP_MODELS:
        shown = [sum(values[i] for _, values in series) for i in range(len(labels))]
        costs = {r.key: r.cost_usd for r in over_time.rows}
        series.append(("other", [max(costs.get(label, 0.0) - shown[i], 0.0) for i, label in enumerate(labels)]))
    repos = queries.cost_by_repo(db, since=since, until=until, zone=zone, now=now).repos
    heat = activity.activity_heatmap(db, since=since, until=until, repo=repo, metric="cost", zone=zone, now=now)
    totals = over_time.totals
    return "".join([
        f'<section class="totals" data-cost="{totals.cost_usd:.6f}" data-responses="{totals.responses}">',
        f"<h2>{escape(over_time.period.label)}: <b>${totals.cost_usd:,.2f}</b></h2>",
        f"<p>{totals.responses:,} responses, {totals.total_tokens:,} tokens; Claude Code ${totals.dev_cost_usd:,.2f}",
        f", production ${totals.prod_cost_usd:,.2f}</p>" if totals.prod_cost_usd else "</p>",
        *(f'<p class="unpriced">{escape(m.model)}: {m.responses} responses with no price (not counted)</p>'
          for m in over_time.unpriced_models),
        "</section>",
        f"<h3>Spend by {grouping}, by model</h3>", svg.stacked_bars(labels, series),
        "<h3>Spend by repo</h3>",
        svg.leaderboard([(r.repo_id, r.dev_cost_usd, r.prod_cost_usd) for r in repos[:15]]),
        f"<h3>When the spend happens ({escape(zone.key)})</h3>", svg.heat_grid(heat.grid, unit="$"),
    ])  # fmt: skip


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ccledger</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 900px; color: #222; }}
nav a {{ margin-right: .8rem; }} nav a.on {{ font-weight: bold; }} svg {{ width: 100%; height: auto; }}
.unpriced {{ color: #b00; }} footer {{ color: #777; font-size: .85rem; margin-top: 2rem; }}
</style></head>
<body><h1>ccledger</h1>
<nav>{nav}</nav>
<form method="get"><input type="hidden" name="since" value="{since}">
<label>Repo <input name="repo" value="{repo}" placeholder="all repos"></label> <button>Filter</button></form>
<div id="view">{view}</div>
<footer>API list-price equivalents from this machine's ledger; updated every {poll} s.</footer>
<script nonce="{nonce}">
setInterval(async () => {{
  const answer = await fetch("view" + location.search, {{headers: {{"X-Requested-With": "ccledger"}}}});
  if (answer.ok) document.getElementById("view").innerHTML = await answer.text();
}}, {poll}000);
</script></body></html>"""


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
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ASGIApp:  # fmt: skip
    """The dashboard over the ledger at ``ledger`` (refreshed from ``roots`` before each view)."""
    db = open_db(ledger)
    lock = threading.Lock()  # one refresh-and-query on the connection at a time, as the MCP server

    def answered(call: Callable[[Database, dict[str, str]], Response]) -> Callable[[Request], Response]:
        """An endpoint: the ledger refreshed and held, ``call`` made with it and the query's
        parameters, a bad argument answered 400 with what is wrong (as HTML, or JSON for /api)."""

        def endpoint(request: Request) -> Response:
            params = dict(request.query_params)
            try:
                with lock:
                    update(db, roots)
                    return call(db, params)
            except (PeriodError, queries.QueryError) as exc:
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": str(exc)}, 400)
                return HTMLResponse(f"<p>{escape(str(exc))}</p>", 400)

        return endpoint

    def view(db: Database, params: dict[str, str]) -> str:
        return view_html(
            db, since=params.get("since") or "this month", until=params.get("until") or None,
            repo=params.get("repo") or None, zone=zone(), now=now(),
        )  # fmt: skip

    def page(db: Database, params: dict[str, str]) -> Response:
        shown = view(db, params)
        since, repo = params.get("since") or "this month", params.get("repo") or ""
        nav = "".join(
            f'<a class="{"on" if name == since else ""}" href="?{escape(urlencode({"since": name, "repo": repo}))}">'
            f"{escape(name)}</a>"
            for name in PERIODS
        )
        nonce = secrets.token_urlsafe(16)
        html = _PAGE.format(nav=nav, since=escape(since), repo=escape(repo), view=shown, poll=POLL_SECONDS, nonce=nonce)
        policy = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; connect-src 'self'"
        return HTMLResponse(html, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"})

    def fragment(db: Database, params: dict[str, str]) -> Response:
        return HTMLResponse(view(db, params), headers={"Cache-Control": "no-store"})

    def usage_json(db: Database, params: dict[str, str]) -> Response:
        summary = queries.usage_summary(
            db, since=params.get("since") or "this month", until=params.get("until") or None,
            group_by=params.get("group_by") or "day", repo=params.get("repo") or None, zone=zone(), now=now(),
        )  # fmt: skip
        return JSONResponse(summary.model_dump(mode="json"))

    routes = [Route("/", answered(page)), Route("/view", answered(fragment)), Route("/api/usage", answered(usage_json))]
    return _LocalOnly(Starlette(routes=routes), port)
