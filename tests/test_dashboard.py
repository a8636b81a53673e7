"""The dashboard as a person sees it: a real `ccledger dashboard` process on the real corpus,
read over HTTP and rendered by headless Chromium (Debian's, when installed; CI installs it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import assistant_line
from dashboard_process import dashboard_process, figures, get

from ccledger.answers import activity, budgets, pace, queries
from ccledger.ledger.db import open_db
from ccledger.update import update

SCREENSHOTS = Path(__file__).parent.parent / "docs" / "screenshots"
TABS = ("spend", "blocks", "budgets", "activity", "sessions")
NOW = datetime.now(UTC)


def _live_session(claude: Path) -> None:
    """A session of the last two hours beside the real corpus: an active 5-hour block, and spend
    this month for the budgets to stand at."""
    lines = [
        assistant_line(
            message_id=f"live{n}", request_id=f"rlive{n}", session_id="live-session", model="claude-opus-4-5-20251101",
            timestamp=(NOW - timedelta(minutes=100 - 10 * n)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            input_tokens=3000, output_tokens=9000, cache_read=200_000, cwd="/home/u/live-repo",
        )
        for n in range(10)
    ]  # fmt: skip
    folder = claude / "projects" / "-home-u-live-repo"
    folder.mkdir(parents=True)
    (folder / "live-session.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def dashboard(real_projects, tmp_path):
    """A `ccledger dashboard` process on the real corpus plus a live session, with two budgets
    and the official limits one statusline tick recorded; its base URL."""
    _live_session(real_projects)
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(real_projects), "CCLEDGER_DB": str(tmp_path / "dash.db")}
    for amount in (["all", "month", "40"], ["all", "day", "5", "--threshold", "0.5"]):
        subprocess.run([sys.executable, "-m", "ccledger", "budget", "set", *amount], env=env, check=True, timeout=60)
    reset = int((NOW + timedelta(hours=3)).timestamp())
    windows = {"five_hour": 37, "seven_day": 12}
    tick = {"session_id": "live-session", "rate_limits": {
        window: {"used_percentage": used, "resets_at": reset} for window, used in windows.items()
    }}  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "ccledger", "statusline"], input=json.dumps(tick), text=True, env=env,
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    with dashboard_process(env) as base:
        yield base


def totals_shown(html: str) -> tuple[float, int]:
    found = re.search(r'class="totals" data-cost="([0-9.]+)" data-responses="(\d+)"', html)
    assert found, html[:500]
    return float(found.group(1)), int(found.group(2))


def test_the_pages_figures_are_usage_summarys_and_the_period_selector_changes_them(dashboard, real_projects, tmp_path):
    db = open_db(tmp_path / "mine.db")  # the tools' answer, from a ledger of its own
    update(db, [real_projects])
    now = datetime.now(UTC)
    shown = {}
    for since in ("all", "2026-01", "2025-12"):
        status, html = get(f"{dashboard}/?since={since}")
        assert status == 200
        expected = queries.usage_summary(db, since=since, group_by="day", zone=ZoneInfo("UTC"), now=now).totals
        shown[since] = totals_shown(html)
        assert shown[since] == (pytest.approx(expected.cost_usd, abs=1e-6), expected.responses)
        assert html.count("<svg") == 3 and html.count("<rect") > 10
    assert len(set(shown.values())) == 3  # each period its own figures
    for by in ("day", "week", "month"):  # the chart's columns, as the tool groups them
        html = get(f"{dashboard}/?since=all&by={by}")[1]
        grouped = queries.usage_summary(db, since="all", group_by=by, limit=1000, zone=ZoneInfo("UTC"), now=now)
        chart = html[html.index('<svg class="stacked-bars"') :]
        columns = {
            title.split(" ")[0]
            for title in re.findall(r"<rect [^>]*><title>([^<]+)</title>", chart[: chart.index("</svg>")])
        }
        assert columns == {row.key for row in grouped.rows if row.cost_usd > 0}, by
    assert get(f"{dashboard}/?since=all&by=fortnight")[0] == 400
    status, fragment = get(f"{dashboard}/view?since=all")
    assert status == 200 and totals_shown(fragment) == shown["all"]
    api = json.loads(get(f"{dashboard}/api/usage?since=all&group_by=model")[1])
    assert api["totals"]["responses"] == shown["all"][1]


def test_every_tab_shows_its_tools_figures(dashboard, real_projects, tmp_path):
    db = open_db(tmp_path / "mine.db")
    update(db, [real_projects])
    utc, now = ZoneInfo("UTC"), datetime.now(UTC)

    html = get(f"{dashboard}/?tab=blocks&since=all")[1]
    listed = [b for b in pace.usage_blocks(db, since="all", limit=40, zone=utc, now=now).blocks if not b.is_gap]
    shown = figures(html, "blocks")
    assert (int(shown["blocks"]), float(shown["cost"])) == (len(listed), pytest.approx(sum(b.cost_usd for b in listed)))
    report = pace.burn_rate(db, now=now)
    assert report.active_block is not None and "Active block" in html and f"{report.projected_cost_usd:,.2f}" in html
    assert "five-hour (official)" in html and "37%" in html and "seven-day (official)" in html

    html = get(f"{dashboard}/?tab=budgets")[1]
    theirs = budgets.budget_status(open_db(tmp_path / "dash.db"), zone=utc, now=now).budgets
    assert [float(p) for p in figures(html, "budgets")["percents"].split(",")] == [
        pytest.approx(b.percent, abs=1e-4) for b in theirs
    ]
    assert len(theirs) == 2 and all(b.percent > 0 for b in theirs) and html.count('class="meters"') == 1

    html = get(f"{dashboard}/?tab=activity&since=all")[1]
    totals = activity.activity_summary(db, since="all", zone=utc, now=now).totals
    shown = figures(html, "activity")
    assert [int(shown[k]) for k in ("prompts", "tool-uses", "commits", "lines-added")] == [
        totals.prompts,
        totals.tool_uses,
        totals.commits,
        totals.lines_added,
    ]
    assert totals.tool_uses > 100 and html.count("<svg") == 4  # tools, commands, agents, heatmap

    html = get(f"{dashboard}/?tab=sessions&since=all")[1]
    found = queries.sessions(db, since="all", limit=25, zone=utc, now=now)
    assert int(figures(html, "sessions")["sessions"]) == found.total_sessions > 25
    links = re.findall(r'href="(\?tab=sessions[^"]*session=[^"]+)"', html)
    assert len(links) == 25 and "offset=25" in html  # a page, and the way to the next
    html = get(f"{dashboard}/{links[0].replace('&amp;', '&')}")[1]
    first = found.sessions[0]
    detail = queries.session_detail(db, first.session_id)
    assert figures(html, "session") == {"session": first.session_id, "cost": f"{detail.totals.cost_usd:.6f}"}
    assert get(f"{dashboard}/?tab=sessions&session=no-such-session")[0] == 400
    assert get(f"{dashboard}/?tab=team")[0] == 400  # no team database: no team tab

    # Claude goes on working: the next view (what the page polls for) has the new response.
    before = totals_shown(get(f"{dashboard}/view?since=all")[1])
    late = assistant_line(message_id="late", request_id="rlate", session_id="live-session",
                          timestamp=NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z"), cwd="/home/u/live-repo")  # fmt: skip
    with (real_projects / "projects" / "-home-u-live-repo" / "live-session.jsonl").open("a") as transcript:
        transcript.write(late + "\n")
    after = totals_shown(get(f"{dashboard}/view?since=all")[1])
    assert after[1] == before[1] + 1 and after[0] > before[0]


def test_it_answers_this_machine_only_and_says_what_is_wrong(dashboard):
    port = dashboard.rsplit(":", 1)[1]
    assert get(f"{dashboard}/", Host=f"evil.example:{port}")[0] == 403  # DNS rebinding
    assert get(f"{dashboard}/", Origin="https://evil.example")[0] == 403  # another site's page
    assert get(f"{dashboard}/?since=all", Origin=f"http://127.0.0.1:{port}")[0] == 200
    status, body = get(f"{dashboard}/?since=the+day+after+never")
    assert status == 400 and "is not a period" in body
    status, page = get(f"{dashboard}/?since=all")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing from elsewhere
    assert "https://" not in page


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CCLEDGER_REQUIRE_CHROMIUM"):
        pytest.fail("no chromium (apt-get install chromium)")
    return found


def test_chromium_renders_every_chart_and_requests_nothing_off_the_machine(dashboard, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium (apt-get install chromium)")
    net_log = tmp_path / "net.json"
    screenshot = tmp_path / "dashboard.png"
    common = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=960,1300",
    ]  # fmt: skip
    dom = subprocess.run(
        # Virtual time past the page's poll: it fetches its view again, without a reload.
        [*common, "--virtual-time-budget=20000", f"--log-net-log={net_log}", "--dump-dom", f"{dashboard}/?since=all"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert len(re.findall(r"<svg class=\"(stacked-bars|leaderboard|heat-grid)\"", dom)) == 3
    assert dom.count("<rect") > 10 and 'id="view"' in dom
    subprocess.run(
        [*common, f"--screenshot={screenshot}", f"{dashboard}/?since=all"], capture_output=True, timeout=120, check=True
    )
    assert screenshot.stat().st_size > 10_000
    shots = {"spend": screenshot}
    for tab in TABS[1:]:  # every other tab, as its link opens it: charts drawn, and a picture of it
        url = f"{dashboard}/?tab={tab}&since=all"
        dom = subprocess.run(
            [*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        assert f'<section class="{tab}"' in dom and re.search(r"<svg class=\"[a-z-]+\"", dom), tab
        assert dom.count("<rect") > 5, tab
        shots[tab] = tmp_path / f"dashboard-{tab}.png"
        subprocess.run([*common, f"--screenshot={shots[tab]}", url], capture_output=True, timeout=120, check=True)
        assert shots[tab].stat().st_size > 10_000, tab
    # Every request the page made (its origin the initiator; the browser's own update and time
    # checks have none) went to the dashboard: the page, and the fragment it polls for.
    events = json.loads(net_log.read_text(errors="replace"))["events"]
    started = [event["params"] for event in events if "url" in event.get("params", {})]
    by_page = {params["url"] for params in started if params.get("initiator") == dashboard}
    assert any(url.startswith(f"{dashboard}/?since=all") for url in {params["url"] for params in started})
    assert f"{dashboard}/view?since=all" in by_page  # the poll
    assert all(url.startswith(dashboard + "/") for url in by_page), by_page
    if os.environ.get("CCLEDGER_SCREENSHOTS"):  # refresh the README's picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for tab, shot in shots.items():
            shutil.copy(shot, SCREENSHOTS / ("dashboard.png" if tab == "spend" else shot.name))
