"""Budgets with a fixed clock, responses of known cost, and a real local webhook."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import assistant_line, write_lines
from mcp import Client

from ccledger.answers import budgets, queries
from ccledger.ingest import index
from ccledger.ledger.db import open_db
from ccledger.ledger.rollup import ensure_rollup
from ccledger.pricing import table as pricing
from ccledger.surfaces.cli import cli
from ccledger.surfaces.server import build_server

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 10, 17, 0, tzinfo=UTC)  # 12:00 in New York


def three_dollars(message_id: str, timestamp: str, cwd: str = "/home/dev/api") -> str:
    """A Sonnet 4.5 response of 1,000,000 input tokens: exactly $3.00."""
    return assistant_line(
        message_id=message_id, timestamp=timestamp, cwd=cwd, input_tokens=1_000_000, output_tokens=0,
        cache_write_5m=0, cache_write_1h=0, cache_read=0,
    )  # fmt: skip


@pytest.fixture
def ledger(db, claude_dir):
    write_lines(
        claude_dir / "projects" / "p" / "s.jsonl",
        # Daylight time ends on 1 November 2026 at 06:00 UTC: until then New York is UTC-4, so its
        # November starts at 04:00 UTC.
        three_dollars("oct", "2026-11-01T03:30:00.000Z"),  # 23:30 on 31 October in New York
        three_dollars("nov1", "2026-11-01T04:30:00.000Z"),  # 00:30 on 1 November
        three_dollars("nov5", "2026-11-05T15:00:00.000Z"),
        three_dollars("nov10", "2026-11-10T14:00:00.000Z"),  # today, 09:00 in New York
        three_dollars("web", "2026-11-10T15:00:00.000Z", cwd="/home/dev/web"),
    )
    index.refresh(db, [claude_dir])
    pricing.ensure_prices(db)
    ensure_rollup(db)
    return db


def status_of(db, scope="all", period="month"):
    found = budgets.budget_status(db, zone=NEW_YORK, now=NOW).budgets
    return next(s for s in found if s.scope.endswith(scope) and s.period == period)


def test_a_month_in_new_york_starts_at_its_midnight(ledger):
    budgets.set_budget(ledger, scope="all", period="month", amount_usd=100)
    status = status_of(ledger)
    assert status.period_start_utc == "2026-11-01T04:00:00.000Z"
    assert status.period_end_utc == "2026-12-01T05:00:00.000Z"  # EST by then
    assert status.spent_usd == 12.0  # not the 31 October response
    assert (status.remaining_usd, status.percent, status.status) == (88.0, 12.0, "ok")


def test_day_and_week_periods(ledger):
    budgets.set_budget(ledger, scope="all", period="day", amount_usd=5)
    budgets.set_budget(ledger, scope="all", period="week", amount_usd=10)
    day, week = status_of(ledger, period="day"), status_of(ledger, period="week")
    assert (day.spent_usd, day.status) == (6.0, "exceeded")  # two responses this morning
    assert day.period_start_utc == "2026-11-10T05:00:00.000Z"
    assert week.period_start_utc == "2026-11-09T05:00:00.000Z"  # Monday
    assert (week.spent_usd, week.status) == (6.0, "ok")


def test_a_repo_budget_and_its_projection(ledger):
    budgets.set_budget(ledger, scope="api", period="month", amount_usd=10, thresholds=[0.8])
    status = status_of(ledger, scope="api")
    assert status.scope == "/home/dev/api" and status.thresholds == [0.8, 1.0]
    assert (status.spent_usd, status.percent, status.status) == (9.0, 90.0, "warning")
    elapsed = (NOW - datetime(2026, 11, 1, 4, tzinfo=UTC)).total_seconds()
    left = (datetime(2026, 12, 1, 5, tzinfo=UTC) - NOW).total_seconds()
    assert status.projected_usd == round(9 + 9 / elapsed * left, 2)
    crossing = NOW + timedelta(seconds=1 / (9 / elapsed))
    assert (
        status.projected_cross_utc == crossing.strftime("%Y-%m-%dT%H:%M:%S.") + f"{crossing.microsecond // 1000:03d}Z"
    )


def test_setting_a_budget_again_updates_it(ledger):
    first = budgets.set_budget(ledger, scope="all", period="month", amount_usd=100)
    second = budgets.set_budget(ledger, scope="all", period="month", amount_usd=250, include_prod=True)
    assert second.id == first.id and second.amount_usd == 250 and second.include_prod
    assert len(budgets.budget_status(ledger, zone=NEW_YORK, now=NOW).budgets) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scope": "all", "period": "month", "amount_usd": -5}, "positive number"),
        ({"scope": "all", "period": "month", "amount_usd": 0}, "positive number"),
        ({"scope": "all", "period": "month", "amount_usd": float("nan")}, "positive number"),
        ({"scope": "all", "period": "fortnight", "amount_usd": 5}, "day, week, month"),
        ({"scope": "apii", "period": "month", "amount_usd": 5}, "Known repos include: /home/dev/api"),
        ({"scope": "all", "period": "month", "amount_usd": 5, "thresholds": [0]}, "between 0 and 10"),
    ],
)
def test_bad_budgets_say_what_works(ledger, arguments, message):
    with pytest.raises(queries.QueryError, match=message):
        budgets.set_budget(ledger, **arguments)


def test_delete_by_scope_or_id(ledger):
    kept = budgets.set_budget(ledger, scope="all", period="day", amount_usd=5)
    gone = budgets.set_budget(ledger, scope="api", period="month", amount_usd=10)
    assert budgets.delete_budget(ledger, scope="api", period="month").id == gone.id
    with pytest.raises(queries.QueryError, match=f"{kept.id}: all day"):
        budgets.delete_budget(ledger, budget_id=999)
    assert budgets.delete_budget(ledger, budget_id=kept.id).id == kept.id


# --- through the server and the CLI --------------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_other_answers_carry_budget_alerts(ledger, claude_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    ledger.close()
    server = build_server(tmp_path / "ledger.db", roots=[claude_dir], now=lambda: NOW)
    async with Client(server) as client:
        quiet = await client.call_tool("usage_summary", {"since": "this month"})
        assert quiet.structured_content["budget_alerts"] == []
        await client.call_tool("set_budget", {"scope": "all", "period": "day", "amount_usd": 5})
        summary = (await client.call_tool("usage_summary", {"since": "this month"})).structured_content
        burn = (await client.call_tool("burn_rate", {})).structured_content
        status = (await client.call_tool("budget_status", {})).structured_content
    alert = summary["budget_alerts"][0]
    assert alert["status"] == "exceeded" and alert["percent"] == 120.0
    assert "daily budget for all Claude Code use is exceeded: $6.00 of $5.00" in alert["message"]
    assert burn["budget_alerts"] == summary["budget_alerts"]
    assert status["budgets"][0]["status"] == "exceeded"


@pytest.fixture
def recent(db, claude_dir, monkeypatch):
    """For the CLI, which runs on the real clock: $15 spent seconds ago, 'today' in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    moment = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    lines = [three_dollars(f"r{n}", moment) for n in range(4)] + [three_dollars("w", moment, cwd="/home/dev/web")]
    write_lines(claude_dir / "projects" / "p" / "s.jsonl", *lines)
    index.refresh(db, [claude_dir])
    db.close()


class Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Webhook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_check_exit_codes_and_one_webhook_per_threshold(recent, webhook, monkeypatch):
    monkeypatch.setenv("CCLEDGER_WEBHOOK_URL", webhook)
    runner = CliRunner(env={"COLUMNS": "200"})
    assert runner.invoke(cli, ["budget", "check"]).exit_code == 0  # no budgets: ok
    assert runner.invoke(cli, ["budget", "set", "all", "day", "$1000"]).exit_code == 0
    assert runner.invoke(cli, ["budget", "check"]).exit_code == 0 and Webhook.received == []
    runner.invoke(cli, ["budget", "set", "all", "day", "1000", "--threshold", "0.001"])
    assert runner.invoke(cli, ["budget", "check"]).exit_code == 1  # a warning
    runner.invoke(cli, ["budget", "set", "api", "day", "1"])
    result = runner.invoke(cli, ["budget", "check"])
    assert result.exit_code == 2, result.output  # exceeded
    assert runner.invoke(cli, ["budget", "check"]).exit_code == 2
    bodies = Webhook.received
    assert len(bodies) == 2  # one per budget: checking again sends nothing new
    assert all(body["text"].startswith(":warning: ccledger:") for body in bodies)
    assert {body["budget"]["status"] for body in bodies} == {"warning", "exceeded"}
    listing = runner.invoke(cli, ["budget", "list", "--json"])
    assert next(b["status"] for b in json.loads(listing.stdout)["budgets"]) == "exceeded"
    assert runner.invoke(cli, ["budget", "rm", "api", "day"]).exit_code == 0
    assert runner.invoke(cli, ["budget", "rm", "nope", "day"]).exit_code == 2


def test_a_failing_webhook_is_reported_and_retried(recent, monkeypatch):
    monkeypatch.setenv("CCLEDGER_WEBHOOK_URL", "http://127.0.0.1:9/unreachable")
    runner = CliRunner(env={"COLUMNS": "200"})
    runner.invoke(cli, ["budget", "set", "all", "day", "1"])
    result = runner.invoke(cli, ["budget", "check"])
    assert result.exit_code == 2 and "not sent" in result.stderr
    assert "127.0.0.1:9" not in result.stderr  # the URL (a secret for Slack) is not printed
    db = open_db()
    assert db.execute("select count(*) from budget_alerts_sent").fetchone() == (0,)  # tried again next time
    db.close()


def test_a_budget_made_after_one_was_deleted_alerts_even_with_its_id(recent, webhook, monkeypatch):
    # SQLite gives the new budget the deleted one's id; the old one's "already sent" rows must
    # have gone with it (ON DELETE CASCADE, with foreign keys on), or the new one never alerts.
    monkeypatch.setenv("CCLEDGER_WEBHOOK_URL", webhook)
    runner = CliRunner(env={"COLUMNS": "200"})
    assert runner.invoke(cli, ["budget", "set", "all", "day", "1"]).exit_code == 0
    assert runner.invoke(cli, ["budget", "check"]).exit_code == 2 and len(Webhook.received) == 1
    first = json.loads(runner.invoke(cli, ["budget", "list", "--json"]).output)["budgets"][0]["id"]
    assert runner.invoke(cli, ["budget", "rm", "--id", str(first)]).exit_code == 0
    assert runner.invoke(cli, ["budget", "set", "all", "day", "2"]).exit_code == 0
    again = json.loads(runner.invoke(cli, ["budget", "list", "--json"]).output)["budgets"][0]["id"]
    assert again == first
    assert runner.invoke(cli, ["budget", "check"]).exit_code == 2
    assert len(Webhook.received) == 2


def test_a_budget_model_is_one_known_model(ledger):
    info = budgets.set_budget(ledger, scope="all", period="month", amount_usd=50, model="sonnet-4-5")
    assert info.model == "claude-sonnet-4-5"
    with pytest.raises(queries.QueryError, match="matches no model"):
        budgets.set_budget(ledger, scope="all", period="month", amount_usd=50, model="gpt-9")
    with pytest.raises(queries.QueryError, match="names several models"):
        budgets.set_budget(ledger, scope="all", period="month", amount_usd=50, model="sonnet")
