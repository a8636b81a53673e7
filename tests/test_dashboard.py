"""The dashboard as a person sees it: a real `ccledger dashboard` process on the real corpus,
read over HTTP and rendered by headless Chromium (Debian's, when installed; CI installs it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ccledger.answers import queries
from ccledger.ledger.db import open_db
from ccledger.update import update

SCREENSHOTS = Path(__file__).parent.parent / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dashboard(real_projects, tmp_path):
    port = _free_port()
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(real_projects), "CCLEDGER_DB": str(tmp_path / "dash.db")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ccledger", "dashboard", "--no-open", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/api/usage?since=all", timeout=30).read()
            break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(process.communicate()[1]) from None
            time.sleep(0.1)
    yield base
    process.terminate()
    process.communicate(timeout=30)


def get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


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
    status, fragment = get(f"{dashboard}/view?since=all")
    assert status == 200 and totals_shown(fragment) == shown["all"]
    api = json.loads(get(f"{dashboard}/api/usage?since=all&group_by=model")[1])
    assert api["totals"]["responses"] == shown["all"][1]


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
        shutil.copy(screenshot, SCREENSHOTS / "dashboard.png")
