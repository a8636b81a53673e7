"""Production telemetry: sources, fetching, parsing, pulling and the dev / prod split in answers.

Every pull goes through a real HTTP server on 127.0.0.1 (stdlib, in a thread) serving the
recorded pages in fixtures/prod/; nothing in the HTTP library is patched.
"""

import json
import logging
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from mcp import Client

from ccledger.answers import budgets, queries
from ccledger.answers import facts as facts_sql
from ccledger.answers.facts import Facts
from ccledger.config import ConfigError, load_config
from ccledger.ledger import rollup
from ccledger.pricing import table as pricing
from ccledger.prod.anthropic_admin import parse_usage_page
from ccledger.prod.export import parse_export_page
from ccledger.prod.otlp import parse_otlp
from ccledger.prod.pull import pull_sources
from ccledger.prod.records import PageError
from ccledger.prod.sources import load_sources, select_sources
from ccledger.surfaces import statusline
from ccledger.surfaces.cli import cli
from ccledger.surfaces.server import build_server

PAGES = FIXTURES / "prod"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
TOKEN = "sk-ant-admin01-TESTTOKEN-never-stored-5f2c9"
USAGE = "/v1/organizations/usage_report/messages"
COST = "/v1/organizations/cost_report"
NEXT = "page_MjAyNi0xMS0yMlQxMDowMDowMFo="
REPO = "/Users/dain/workspace/JSSoundRecorder"  # a repo of the dev corpus, so dev and prod meet


# --- a real local HTTP server serving recorded pages -------------------------------------------


@dataclass
class Reply:
    status: int = 200
    page: str | None = None  # a file in fixtures/prod
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]

    def param(self, name):
        return next((value for key, value in self.query if key == name), None)


class PageServer(ThreadingHTTPServer):
    """Routes (path, query subset) to replies; a route's last reply repeats."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: list[tuple[str, dict[str, str], list[Reply]]] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def route(self, path: str, *replies: Reply, **query: str) -> None:
        self.routes.insert(0, (path, query, list(replies)))  # newest first: a later route overrides

    def reply_for(self, path: str, query: dict[str, str]) -> Reply:
        with self.lock:
            for route_path, wanted, replies in self.routes:
                if route_path == path and all(query.get(k) == v for k, v in wanted.items()):
                    return replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply(404, body=b'{"error": {"type": "not_found_error"}}')


class _Handler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query)
        self.server.seen.append(Seen(parts.path, query, dict(self.headers)))
        reply = self.server.reply_for(parts.path, dict(query))
        if reply.delay:
            time.sleep(reply.delay)
        body = (PAGES / reply.page).read_bytes() if reply.page else reply.body
        try:
            self.send_response(reply.status)
            for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def pages():
    server = PageServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def admin_pages(server: PageServer) -> None:
    server.route(USAGE, Reply(page="admin_usage_page1.json"))
    server.route(USAGE, Reply(page="admin_usage_page2.json"), page=NEXT)


def configure(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def admin_entry(url: str, **extra: object) -> str:
    options = {
        "id": "api-prod", "kind": "anthropic-admin", "repo": REPO, "url": url, "since": "2026-11-22T08:00:00Z",
        "page_size": 2, "timeout_seconds": 2, "backoff_seconds": 0.01, "max_retries": 2, "max_wait_seconds": 5,
        **extra,
    }  # fmt: skip
    return "[[prod.sources]]\n" + "\n".join(f"{key} = {json.dumps(value)}" for key, value in options.items()) + "\n"


def export_entry(url: str, **extra: object) -> str:
    options = {"id": "shop", "kind": "export", "repo": "github.com/acme/shop", "url": url, "timeout_seconds": 2,
               "backoff_seconds": 0.01, **extra}  # fmt: skip
    return "[[prod.sources]]\n" + "\n".join(f"{key} = {json.dumps(value)}" for key, value in options.items()) + "\n"


def sources(tmp_path, *entries):
    return load_sources(load_config(configure(tmp_path, *entries)))


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("CCLEDGER_TOKEN_API_PROD", TOKEN)
    return TOKEN


def pull(db, found, **kwargs):
    return pull_sources(db, found, now=kwargs.pop("now", NOW), **kwargs)


def stored(db, source_id="api-prod"):
    sql = "select * from prod_usage where source_id = ? order by record_key"
    return [dict(row) for row in db.query(sql, [source_id])]


def sums(db):
    row = db.execute(
        "select count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens) from prod_usage"
    ).fetchone()
    return tuple(row)


# --- Admin API ---------------------------------------------------------------------------------


def test_admin_pages_are_followed_and_saved_one_per_transaction(db, pages, tmp_path, token):
    admin_pages(pages)
    result = pull(db, sources(tmp_path, admin_entry(pages.url)))
    assert result.ok, result
    pulled = result.sources[0]
    assert (pulled.pages, pulled.records_added, pulled.records_replaced, pulled.error) == (2, 4, 0, None)
    first, second = pages.seen
    assert first.param("page") is None and second.param("page") == NEXT
    assert first.param("starting_at") == "2026-11-22T08:00:00Z" and first.param("bucket_width") == "1h"
    assert first.param("limit") == "2"
    assert [v for k, v in first.query if k == "group_by[]"] == [
        "model",
        "api_key_id",
        "workspace_id",
        "context_window",
        "service_tier",
    ]
    assert first.headers["x-api-key"] == TOKEN and first.headers["anthropic-version"] == "2023-06-01"
    # The 11:00 bucket may still grow (settle_minutes 60 at 12:00): the cursor stops before it.
    assert json.loads(pulled.cursor) == {"usage": "2026-11-22T11:00:00.000Z"}
    rows = stored(db)
    assert {row["repo_id"] for row in rows} == {REPO}
    assert rows[0]["record_key"].startswith("usage/2026-11-22T08:00:00.000Z/claude-haiku-4-5-20251001/")
    assert sums(db) == (4, 1500 + 20000 + 3000 + 100, 500 + 4000 + 900 + 50, 200 + 120000)
    assert rows[0]["requests"] is None and rows[0]["context_window"] == "0-200k"


def test_a_grown_bucket_replaces_the_old_one(db, pages, tmp_path, token):
    admin_pages(pages)
    found = sources(tmp_path, admin_entry(pages.url))
    pull(db, found)
    pages.route(USAGE, Reply(page="admin_usage_grown.json"), starting_at="2026-11-22T11:00:00Z")
    again = pull(db, found, now=NOW + timedelta(minutes=30)).sources[0]
    assert pages.seen[-1].param("starting_at") == "2026-11-22T11:00:00Z"  # from the cursor, not from `since`
    assert (again.records_added, again.records_replaced, again.records_unchanged) == (1, 1, 0)
    eleven = [row for row in stored(db) if row["bucket_start_utc"] == "2026-11-22T11:00:00.000Z"]
    assert sorted((row["model"], row["input_tokens"], row["output_tokens"]) for row in eleven) == [
        ("claude-haiku-4-5-20251001", 10, 5),
        ("claude-sonnet-4-5-20250929", 400, 250),
    ]
    assert sums(db)[0] == 5  # four records, one grown, one new: nothing counted twice


def test_pulling_the_same_pages_again_never_double_counts(db, pages, tmp_path, token):
    admin_pages(pages)
    found = sources(tmp_path, admin_entry(pages.url))
    pull(db, found)
    before = sums(db)
    db.execute("delete from prod_cursors")  # as if the cursor were lost: the same pages come again
    db.conn.commit()
    again = pull(db, found).sources[0]
    assert (again.records_added, again.records_replaced, again.records_unchanged) == (0, 0, 4)
    assert sums(db) == before


def test_cost_report_figures_sit_beside_ours(db, pages, tmp_path, token):
    admin_pages(pages)
    pages.route(COST, Reply(page="admin_cost_page1.json"))
    result = pull(db, sources(tmp_path, admin_entry(pages.url, cost_report=True))).sources[0]
    cost_request = next(seen for seen in pages.seen if seen.path == COST)
    assert cost_request.param("starting_at") == "2026-11-22T00:00:00Z" and cost_request.param("bucket_width") == "1d"
    assert result.records_added == 6 and json.loads(result.cursor) == {"usage": "2026-11-22T11:00:00.000Z"}
    pricing.ensure_prices(db)
    summary = queries.usage_summary(db, since="today", source="prod", zone=UTC_ZONE, now=NOW)
    # amount is in cents: "250.5" + "12" is $2.625
    assert summary.totals.prod_provider_cost_usd == pytest.approx(2.625)
    assert summary.totals.responses == 4  # cost lines add money, never responses


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["2", "http-date"])
def test_429_then_success_waits_what_retry_after_asks(db, pages, tmp_path, token, retry_after):
    if retry_after == "http-date":
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    pages.route(USAGE, Reply(429, body=b'{"error": "rate_limit_error"}', headers={"Retry-After": retry_after}),
                Reply(page="admin_usage_page2.json"))  # fmt: skip
    waits = []
    result = pull(db, sources(tmp_path, admin_entry(pages.url)), sleep=waits.append)
    assert result.ok and result.sources[0].records_added == 1
    assert len(waits) == 1 and 1 <= waits[0] <= 3


def test_429_asking_past_max_wait_stops_with_a_clear_error(db, pages, tmp_path, token):
    pages.route(USAGE, Reply(429, headers={"Retry-After": "3600"}))
    waits = []
    result = pull(db, sources(tmp_path, admin_entry(pages.url)), sleep=waits.append).sources[0]
    assert waits == [] and "rate limiting (HTTP 429)" in result.error and "3600 s" in result.error
    assert not result.pages


def test_500_is_retried_with_backoff_then_reported(db, pages, tmp_path, token):
    pages.route(USAGE, Reply(500, body=b"upstream exploded"))
    waits = []
    result = pull(db, sources(tmp_path, admin_entry(pages.url)), sleep=waits.append).sources[0]
    assert waits == [0.01, 0.02]  # backoff_seconds doubling, max_retries = 2
    assert "HTTP 500 3 time(s)" in result.error and "upstream exploded" in result.error
    pages.route(USAGE, Reply(503), Reply(page="admin_usage_page2.json"))
    assert pull(db, sources(tmp_path, admin_entry(pages.url)), sleep=waits.append).ok


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_token_names_the_variable_to_set(db, pages, tmp_path, token, status):
    pages.route(USAGE, Reply(status, body=b'{"type": "error", "error": {"type": "authentication_error"}}'))
    result = pull(db, sources(tmp_path, admin_entry(pages.url)))
    error = result.sources[0].error
    assert not result.ok
    assert f"token was rejected for source 'api-prod' (HTTP {status})" in error
    assert "set CCLEDGER_TOKEN_API_PROD" in error and "sk-ant-admin" in error


def test_no_token_for_the_admin_api_says_which_variable(db, pages, tmp_path):
    result = pull(db, sources(tmp_path, admin_entry(pages.url)), env={})
    assert "no token for source 'api-prod': set CCLEDGER_TOKEN_API_PROD" in result.sources[0].error
    assert pages.seen == []


def test_404_says_the_url_is_wrong(db, pages, tmp_path):
    result = pull(db, sources(tmp_path, export_entry(pages.url + "/nope")))
    assert "was not found (HTTP 404): the url is wrong" in result.sources[0].error
    assert str(tmp_path / "config.toml") in result.sources[0].error


def test_a_redirect_is_reported_not_followed(db, pages, tmp_path, token):
    pages.route(USAGE, Reply(302, headers={"Location": "https://elsewhere.example/usage"}))
    result = pull(db, sources(tmp_path, admin_entry(pages.url))).sources[0]
    assert "redirects (HTTP 302) to https://elsewhere.example/usage; set url" in result.error
    assert len(pages.seen) == 1


def test_garbage_page_saves_nothing_of_itself_and_the_next_pull_resumes(db, pages, tmp_path, token):
    pages.route(USAGE, Reply(page="admin_usage_page1.json"))
    pages.route(USAGE, Reply(page="garbage.html"), page=NEXT)
    found = sources(tmp_path, admin_entry(pages.url))
    result = pull(db, found).sources[0]
    assert result.pages == 1 and result.records_added == 3
    assert "page 2 of source 'api-prod' is not JSON" in result.error and "usage_report page" in result.error
    assert json.loads(result.cursor) == {"usage": "2026-11-22T10:00:00.000Z"}
    assert {row["bucket_start_utc"][11:16] for row in stored(db)} == {"08:00", "09:00"}
    pages.route(USAGE, Reply(page="admin_usage_page2.json"), starting_at="2026-11-22T10:00:00Z")
    resumed = pull(db, found).sources[0]
    assert resumed.error is None and pages.seen[-1].param("starting_at") == "2026-11-22T10:00:00Z"
    assert sums(db)[0] == 4


def test_a_page_of_the_wrong_shape_says_what_was_expected(db, pages, tmp_path, token):
    pages.route(USAGE, Reply(page="admin_usage_wrong_shape.json"))
    error = pull(db, sources(tmp_path, admin_entry(pages.url))).sources[0].error
    assert "page 1 of source 'api-prod' is malformed: data.0.results: Field required" in error
    assert "expected a usage_report page" in error and "Nothing of it was saved" in error
    assert stored(db) == []


def test_a_slow_source_times_out(db, pages, tmp_path, token):
    pages.route(USAGE, Reply(page="admin_usage_page2.json", delay=0.6))
    started = time.monotonic()
    result = pull(db, sources(tmp_path, admin_entry(pages.url, timeout_seconds=0.2)))
    assert time.monotonic() - started < 0.55  # not retried: a slow source would hold the caller
    assert "did not answer page 1 within 0.2 s (timeout_seconds)" in result.sources[0].error


def test_one_failing_source_does_not_stop_the_others(db, pages, tmp_path, token):
    admin_pages(pages)
    found = sources(tmp_path, admin_entry(pages.url), export_entry(pages.url + "/missing"))
    result = pull(db, found)
    assert not result.ok
    assert [source.error is None for source in result.sources] == [True, False]


def test_tokens_are_never_stored_logged_or_returned(db, pages, tmp_path, token, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    admin_pages(pages)
    monkeypatch.setenv("TELEMETRY_EXPORT_TOKEN_SHOP", TOKEN + "-shop")
    # A server that echoes the credential it was sent in its error body.
    pages.route("/export", Reply(400, body=f"bad request from bearer {TOKEN}-shop".encode()))
    found = sources(tmp_path, admin_entry(pages.url), export_entry(pages.url + "/export"))
    result = pull(db, found)
    assert pages.seen[-1].headers["Authorization"] == f"Bearer {TOKEN}-shop"  # the fallback variable
    assert "[redacted]" in result.sources[1].error
    db.conn.commit()
    db.execute("pragma wal_checkpoint(passive)")
    files = [path for path in tmp_path.iterdir() if path.name.startswith("ledger.db")]
    assert {path.name for path in files} >= {"ledger.db", "ledger.db-wal", "ledger.db-shm"}
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in caplog.text and "page 1 saved" in caplog.text
    assert TOKEN not in result.model_dump_json()


def test_a_token_in_an_error_body_is_redacted_wherever_the_body_is_cut(db, pages, tmp_path):
    # The error shows the start of the body: cut first and redact after, a token across the cut
    # would leak the part of it before the cut. Every offset around both cuts (60 and 200).
    secret = TOKEN + "-shop"
    found = sources(tmp_path, export_entry(pages.url + "/export", max_retries=0))
    leaks = []
    for status, last in ((400, 230), (200, 90)):  # refused (200-character snippet); not JSON (60)
        for offset in range(last):
            body = ("x" * offset + secret + " and more").encode()
            pages.route("/export", Reply(status, body=body, headers={"Content-Type": "text/plain"}))
            error = pull(db, found, env={"TELEMETRY_EXPORT_TOKEN_SHOP": secret}).sources[0].error or ""
            assert "source 'shop'" in error, error
            leaks += [(status, offset) for n in range(len(secret) - 6) if secret[n : n + 6] in error]
    assert leaks == []


def test_a_record_no_usage_reaches_fails_its_page_and_no_other_source(db, pages, tmp_path, token):
    admin_pages(pages)
    page = json.loads((PAGES / "export_page1.json").read_text())
    page["records"][1]["usage"]["input_tokens"] = 2**70
    pages.route("/export", Reply(body=json.dumps(page).encode()))
    result = pull(db, sources(tmp_path, admin_entry(pages.url), export_entry(pages.url + "/export")))
    admin, shop = result.sources
    assert admin.error is None and admin.records_added == 4
    assert shop.error is not None and "input_tokens" in shop.error and "Nothing of it was saved" in shop.error
    assert stored(db, "shop") == []
    assert queries.usage_summary(db, since="all", zone=UTC_ZONE, now=NOW).totals.responses > 0


# --- export and OTLP ---------------------------------------------------------------------------


def test_export_follows_its_cursor(db, pages, tmp_path):
    pages.route("/export", Reply(page="export_page1.json"))
    pages.route("/export", Reply(page="export_page2.json"), cursor="c-2")
    pages.route("/export", Reply(page="export_empty.json"), cursor="c-3")
    found = sources(tmp_path, export_entry(pages.url + "/export", page_size=2))
    first = pull(db, found, env={}).sources[0]
    assert (first.pages, first.records_added, first.cursor) == (2, 3, "c-3")
    assert [seen.param("cursor") for seen in pages.seen] == [None, "c-2"]
    assert "Authorization" not in pages.seen[0].headers  # no token set: none sent
    again = pull(db, found, env={}).sources[0]
    assert pages.seen[-1].param("cursor") == "c-3" and again.records_added == 0 and again.cursor == "c-3"
    request = next(row for row in stored(db, "shop") if row["record_key"] == "req_011CVz4bW8nQf6T2rM9yKp1a")
    assert (request["cache_write_5m_tokens"], request["cache_write_1h_tokens"], request["requests"]) == (2000, 1000, 1)
    assert request["provider_cost_nanousd"] == 30_100_000 and request["bucket_start_utc"] == "2026-11-22T09:15:02.120Z"


def test_otlp_logs_and_spans_from_a_url(db, pages, tmp_path):
    pages.route("/v1/logs", Reply(page="otlp_logs.json"))
    pages.route("/v1/traces", Reply(page="otlp_traces.json"))
    entries = [
        f'[[prod.sources]]\nid = "{name}"\nkind = "otlp-json"\nrepo = "acme/bot"\nurl = "{pages.url}/v1/{name}"\n'
        for name in ("logs", "traces")
    ]
    result = pull(db, sources(tmp_path, *entries), env={})
    assert result.ok and [source.records_added for source in result.sources] == [2, 2]
    logs = {row["record_key"]: row for row in stored(db, "logs")}
    opus = logs["req_011CWa1b2c3d4e5f6g7h8i9j"]
    assert (opus["model"], opus["input_tokens"], opus["cache_read_tokens"], opus["cache_write_5m_tokens"]) == (
        "claude-opus-4-6", 12000, 30000, 2000,
    )  # fmt: skip
    assert opus["provider_cost_nanousd"] == 420_000_000 and opus["bucket_start_utc"] == "2026-11-22T09:30:00.137Z"
    spans = {row["record_key"]: row for row in stored(db, "traces")}
    chat = spans["msg_01XFDUDYJgAACzvnptvVoYEL"]  # gen_ai.usage.input_tokens includes the cache
    assert (chat["input_tokens"], chat["cache_read_tokens"], chat["cache_write_5m_tokens"]) == (100, 5000, 200)
    claude_code = spans["msg_01Q7dmR4uVc3bJ8kN2xLwP5T"]  # Claude Code's llm_request span: raw counts
    assert (claude_code["input_tokens"], claude_code["cache_read_tokens"]) == (30, 400)


def test_an_otlp_file_is_read_on_from_where_the_last_pull_stopped(db, tmp_path):
    path = tmp_path / "logs.jsonl"
    path.write_bytes((PAGES / "otlp_logs.jsonl").read_bytes() + b'{"resourceLogs": [')  # a line being written
    entry = f'[[prod.sources]]\nid = "cc"\nkind = "otlp-json"\nrepo = "r"\npath = "{path}"\nlines_per_page = 1\n'
    found = sources(tmp_path, entry)
    first = pull(db, found, env={}).sources[0]
    assert (first.pages, first.records_added) == (2, 2)
    offset = json.loads(first.cursor)["offset"]
    assert offset == len((PAGES / "otlp_logs.jsonl").read_bytes())
    content = path.read_bytes()[:offset] + (PAGES / "otlp_logs_more.jsonl").read_bytes()
    path.write_bytes(content)
    second = pull(db, found, env={}).sources[0]
    assert (second.pages, second.records_added, json.loads(second.cursor)["offset"]) == (1, 1, len(content))
    path.write_bytes(content + b"not json\n")
    broken = pull(db, found, env={}).sources[0]
    assert f"the line at byte {len(content)} of {path}" in broken.error and "is not JSON" in broken.error
    assert sums(db)[0] == 3


# --- pure parsers ------------------------------------------------------------------------------


def test_parsers_are_pure_and_say_what_they_expected():
    page = json.loads((PAGES / "admin_usage_page2.json").read_text())
    parsed = parse_usage_page(page, settled_before="2026-11-22T12:00:00.000Z")
    assert parsed.cursor == "2026-11-22T12:00:00.000Z" and parsed.replaces == [
        "usage/2026-11-22T10:00:00.000Z/",
        "usage/2026-11-22T11:00:00.000Z/",
    ]
    with pytest.raises(PageError, match=r"records\.0\.usage\.output_tokens: Field required"):
        parse_export_page({"records": [{"id": "r", "timestamp": "2026-11-22T10:00:00Z", "model": "m",
                                         "usage": {"input_tokens": 1}}]})  # fmt: skip
    with pytest.raises(PageError, match="resourceMetrics"):
        parse_otlp({"resourceMetrics": []})
    assert parse_otlp({"resourceLogs": []}).records == []


def test_aggregated_buckets_are_priced_by_their_context_window(db, pages, tmp_path, token):
    # Long-context rates applied to Sonnet 4.5 requests over 200k tokens until 2026-04-30: an hourly
    # bucket's summed tokens pass 200k without any request doing so, its context_window tells.
    bucket = {"starting_at": "2026-03-02T10:00:00Z", "ending_at": "2026-03-02T11:00:00Z", "results": [
        {"model": "claude-sonnet-4-5-20250929", "api_key_id": "k", "context_window": window,
         "uncached_input_tokens": 300_000, "output_tokens": 1000} for window in ("0-200k", "200k-1M")
    ]}  # fmt: skip
    pages.route(USAGE, Reply(body=json.dumps({"data": [bucket], "has_more": False}).encode()))
    assert pull(db, sources(tmp_path, admin_entry(pages.url, since="2026-03-02"))).ok
    prices = pricing.ensure_prices(db)
    costs = dict(db.execute("select context_window, cost_nanousd from prod_costs").fetchall())
    standard = pricing.cost(prices, "claude-sonnet-4-5", at="2026-03-02", input_tokens=3000, output_tokens=10)
    long = pricing.cost(prices, "claude-sonnet-4-5", at="2026-03-02", input_tokens=300_000, output_tokens=1000)
    assert costs["0-200k"] == int(standard * 100 * 1_000_000_000)
    assert costs["200k-1M"] == int(long * 1_000_000_000)


BATCH_USAGE = {"uncached_input_tokens": 1_000_000, "output_tokens": 100_000, "cache_read_input_tokens": 200_000,
               "server_tool_use": {"web_search_requests": 2}}  # fmt: skip


def test_batch_requests_cost_half_their_tokens(db, pages, tmp_path, token):
    # Sonnet 4.5: $3 in, $15 out, $0.30 cache read per MTok, $10 per 1,000 searches. Standard:
    # 3 + 1.5 + 0.06 + 0.02 = $4.58. Batch: half of every token, searches in full: 2.28 + 0.02.
    bucket = {"starting_at": "2026-11-20T10:00:00Z", "ending_at": "2026-11-20T11:00:00Z", "results": [
        {"model": "claude-sonnet-4-5-20250929", "api_key_id": "k", "context_window": "0-200k", "service_tier": tier,
         **BATCH_USAGE} for tier in ("standard", "batch")
    ]}  # fmt: skip
    pages.route(USAGE, Reply(body=json.dumps({"data": [bucket], "has_more": False}).encode()))
    assert pull(db, sources(tmp_path, admin_entry(pages.url, since="2026-11-20"))).ok
    prices = pricing.ensure_prices(db)
    costs = dict(db.execute("select service_tier, cost_nanousd from prod_costs").fetchall())
    assert costs == {"standard": 4_580_000_000, "batch": 2_300_000_000}
    reference = pricing.cost(
        prices, "claude-sonnet-4-5", at="2026-11-20T10:00:00Z", input_tokens=1_000_000, output_tokens=100_000,
        cache_read_tokens=200_000, web_search_requests=2, service_tier="batch",
    )  # fmt: skip
    assert reference == Decimal("2.30")
    summary = queries.usage_summary(db, since="2026-11-20", until="2026-11-21", source="prod", zone=UTC_ZONE, now=NOW)
    assert summary.totals.cost_usd == 6.88


def test_an_export_record_says_its_service_tier(db, pages, tmp_path):
    record = {"id": "msgbatch-1", "timestamp": "2026-11-20T10:00:00Z", "model": "claude-sonnet-4-5",
              "usage": {"input_tokens": 1_000_000, "output_tokens": 100_000, "service_tier": "batch"}}  # fmt: skip
    pages.route("/export", Reply(body=json.dumps({"records": [record], "has_more": False}).encode()))
    assert pull(db, sources(tmp_path, export_entry(pages.url + "/export")), env={}).ok
    pricing.ensure_prices(db)
    assert db.execute("select service_tier, cost_nanousd from prod_costs").fetchall() == [("batch", 2_250_000_000)]


def test_prod_costs_match_the_reference_cost(db, pages, tmp_path, token):
    admin_pages(pages)
    pull(db, sources(tmp_path, admin_entry(pages.url)))
    prices = pricing.ensure_prices(db)
    for row in db.query("select * from prod_costs"):
        expected = pricing.cost(
            prices, row["model"], at=row["bucket_start_utc"], input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"], cache_write_5m_tokens=row["cache_write_5m_tokens"],
            cache_write_1h_tokens=row["cache_write_1h_tokens"], cache_read_tokens=row["cache_read_tokens"],
            web_search_requests=row["web_search_requests"], service_tier=row["service_tier"],
        )  # fmt: skip
        assert row["cost_nanousd"] == int(expected * 1_000_000_000)


def test_a_budget_counts_prod_spend_only_when_it_includes_it(db, pages, tmp_path, token):
    admin_pages(pages)
    assert pull(db, sources(tmp_path, admin_entry(pages.url))).ok
    pricing.ensure_prices(db)
    prod_cost = queries.usage_summary(db, since="all", source="prod", zone=UTC_ZONE, now=NOW).totals.cost_usd
    assert prod_cost > 0
    budgets.set_budget(db, scope=REPO, period="day", amount_usd=prod_cost * 2)
    budgets.set_budget(db, scope="all", period="day", amount_usd=prod_cost * 4, include_prod=True)
    found = {status.scope: status for status in budgets.budget_status(db, zone=UTC_ZONE, now=NOW).budgets}
    assert found[REPO].spent_usd == 0 and found[REPO].status == "ok"  # Claude Code alone: nothing today
    assert found["all"].spent_usd == round(prod_cost, 2) and found["all"].percent == 25.0
    with closing(sqlite3.connect(tmp_path / "ledger.db")) as conn:  # the statusline's own query
        assert statusline._budget(conn, NOW, UTC, True) == "budget all 25%/day"
        assert statusline._budget(conn, NOW, UTC, False) == "budget JSSoundRecorder 0%/day"


def test_a_source_named_as_people_name_repos_meets_its_dev_spend_on_one_row(db, pages, tmp_path, claude_dir):
    # The README writes repo = "acme/shop"; Claude Code's rows know the repo as github.com/acme/shop.
    from conftest import assistant_line, write_lines

    from ccledger.ingest import index

    checkout = tmp_path / "shop"
    (checkout / ".git").mkdir(parents=True)
    (checkout / ".git" / "config").write_text('[remote "origin"]\n    url = git@github.com:acme/shop.git\n')
    write_lines(claude_dir / "projects" / "-shop" / "s.jsonl", assistant_line(cwd=str(checkout)))
    index.refresh(db, [claude_dir])
    pages.route("/export", Reply(page="export_page1.json"))
    pages.route("/export", Reply(page="export_empty.json"), cursor="c-2")
    assert pull(db, sources(tmp_path, export_entry(pages.url + "/export", repo="acme/shop")), env={}).ok
    pricing.ensure_prices(db)
    rollup.ensure_rollup(db)
    shop = [
        repo for repo in queries.cost_by_repo(db, since="all", zone=UTC_ZONE, now=NOW).repos if "shop" in repo.repo_id
    ]
    assert [repo.repo_id for repo in shop] == ["github.com/acme/shop"]
    assert shop[0].dev_cost_usd > 0 and shop[0].prod_cost_usd > 0


# --- config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('id = "a"\nkind = "datadog"\nrepo = "r"', "(id 'a'): kind 'datadog' is not one of: anthropic-admin"),
        ('id = "a"\nkind = "export"', "(id 'a'): repo is required"),
        ('id = "a"\nkind = "export"\nrepo = "r"\nurl = "http://x"\ntimeout = 3', "unknown key 'timeout'"),
        ('id = "a"\nkind = "export"\nrepo = "r"\nurl = "http://x"\npage_size = "10"', "page_size must be a number"),
        ('id = "a"\nkind = "export"\nrepo = "r"\nurl = "http://x"\nmax_retries = 99', "max_retries = 99 is out"),
        ('id = "a"\nkind = "export"\nrepo = "r"', "url is required"),
        ('id = "a"\nkind = "otlp-json"\nrepo = "r"', "exactly one of url"),
        ('id = "a b"\nkind = "export"\nrepo = "r"\nurl = "http://x"', "id must be 1-64 letters"),
    ],
)
def test_config_errors_name_the_file_the_source_and_the_key(tmp_path, entry, message):
    with pytest.raises(ConfigError) as caught:
        sources(tmp_path, "[[prod.sources]]\n" + entry)
    assert str(tmp_path / "config.toml") in str(caught.value) and message in str(caught.value)


def test_no_sources_and_unknown_ids_say_what_to_do(tmp_path):
    config = load_config(configure(tmp_path, ""))
    with pytest.raises(ConfigError, match=r"No production sources are configured(.|\n)*\[\[prod.sources\]\]"):
        select_sources(load_sources(config), None, config.path)
    found = sources(tmp_path, admin_entry("http://x"), export_entry("http://y"))
    with pytest.raises(ConfigError, match=r"the sources in .* are: api-prod, shop"):
        select_sources(found, "nope", config.path)


# --- answers: the dev / prod split -------------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_dev_and_prod_side_by_side_through_mcp(real_projects, pages, tmp_path, token):
    admin_pages(pages)
    configure(tmp_path, admin_entry(pages.url))
    server = build_server(tmp_path / "ledger.db", roots=[real_projects], now=lambda: NOW)
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        annotations = tools["pull_prod_telemetry"].annotations
        assert (annotations.read_only_hint, annotations.idempotent_hint, annotations.open_world_hint) == (
            False, True, True,
        )  # fmt: skip
        assert "source" in tools["usage_summary"].input_schema["properties"]
        before = (await client.call_tool("usage_summary", {"since": "all"})).structured_content
        result = await client.call_tool("pull_prod_telemetry", {})
        assert not result.is_error and result.structured_content["sources"][0]["records_added"] == 4
        calls = {
            source: (await client.call_tool("usage_summary", {"since": "all", "source": source})).structured_content
            for source in ("dev", "prod", "all")
        }
        repos = (await client.call_tool("cost_by_repo", {"since": "all"})).structured_content
        by_session = (
            await client.call_tool("usage_summary", {"since": "all", "group_by": "session", "source": "prod"})
        ).structured_content
        unknown = await client.call_tool("pull_prod_telemetry", {"source_id": "nope"})
    dev, prod, both = calls["dev"]["totals"], calls["prod"]["totals"], calls["all"]["totals"]
    assert dev == {**before["totals"]}  # a user with no prod sees what they saw before
    assert before["totals"]["prod_cost_usd"] == 0 and before["totals"]["dev_cost_usd"] == before["totals"]["cost_usd"]
    assert prod["responses"] == 4 and prod["dev_cost_usd"] == 0 and prod["prod_cost_usd"] == prod["cost_usd"] > 0
    assert both["responses"] == dev["responses"] + prod["responses"]
    assert both["cost_usd"] == pytest.approx(dev["cost_usd"] + prod["cost_usd"], abs=1e-6)
    assert both["dev_cost_usd"] == dev["cost_usd"] and both["prod_cost_usd"] == prod["cost_usd"]
    repo = next(row for row in repos["repos"] if row["repo_id"] == REPO)
    assert repo["prod_cost_usd"] == prod["cost_usd"] and repo["dev_cost_usd"] > 0
    assert repo["cost_usd"] == pytest.approx(repo["dev_cost_usd"] + repo["prod_cost_usd"], abs=1e-6)
    assert [row["key"] for row in by_session["rows"]] == ["(prod)"]
    assert unknown.is_error and "the sources in" in unknown.content[0].text and "api-prod" in unknown.content[0].text


@pytest.mark.anyio
async def test_the_tool_fails_when_every_source_failed(real_projects, pages, tmp_path, token):
    pages.route(USAGE, Reply(401))
    configure(tmp_path, admin_entry(pages.url))
    async with Client(build_server(tmp_path / "ledger.db", roots=[real_projects], now=lambda: NOW)) as client:
        result = await client.call_tool("pull_prod_telemetry", {"source_id": "api-prod"})
        assert result.is_error and "set CCLEDGER_TOKEN_API_PROD" in result.content[0].text
        configure(tmp_path, "")
        empty = await client.call_tool("pull_prod_telemetry", {})
        assert empty.is_error and "No production sources are configured" in empty.content[0].text


def run(*args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)


def test_cli_pull_report_and_repos(real_projects, pages, tmp_path, token):
    admin_pages(pages)
    configure(tmp_path, admin_entry(pages.url, since="2026-11-22T08:00:00Z"))
    pulled = run("pull", "--json")
    assert pulled.exit_code == 0, pulled.output
    assert json.loads(pulled.stdout)["sources"][0]["records_added"] == 4
    table = run("pull")
    assert table.exit_code == 0 and "api-prod" in table.stdout and "ok" in table.stdout
    prod = json.loads(run("report", "--since", "all", "--source", "prod", "--json").stdout)
    dev = json.loads(run("report", "--since", "all", "--source", "dev", "--json").stdout)
    assert prod["source"] == "prod" and prod["totals"]["responses"] == 4 and dev["totals"]["responses"] == 878
    repos = run("repos", "--since", "all")
    assert "Prod" in repos.stdout and "production (prod)" in repos.stdout
    assert "Claude Code and production usage" in run("report", "--since", "all").stdout


def test_cli_pull_exits_1_when_a_source_failed(pages, tmp_path, token):
    pages.route(USAGE, Reply(404))
    configure(tmp_path, admin_entry(pages.url))
    result = run("pull", "api-prod")
    assert result.exit_code == 1 and "url is wrong" in result.stdout
    unknown = run("pull", "nope")
    assert unknown.exit_code == 2 and "api-prod" in unknown.output


# --- speed -------------------------------------------------------------------------------------


def test_date_ranges_still_use_indexes(db):
    pricing.ensure_prices(db)
    rollup.ensure_rollup(db)
    window = queries.window_of("2026-11-01T09:07", "2026-11-20T10:00", UTC_ZONE, NOW)
    facts = Facts(window, {"repo_id": REPO, "model": json.dumps(["claude-sonnet-4-5"])}, source="all")
    plans = {}
    for sql, params, source in facts.parts:
        scan = facts_sql.SCAN_SQL.format(
            key=queries.DIMENSION_KEYS["session"], group_columns="", usage=facts_sql.USAGE_SUMS_SQL, columns="",
            facts=sql, where="",
        )  # fmt: skip
        plans.setdefault(source, []).append(
            " | ".join(row[3] for row in db.execute("explain query plan " + scan, params))
        )
    assert plans["prod"] == [
        "SEARCH u USING INDEX prod_usage_time (bucket_start_utc>? AND bucket_start_utc<?)"
        " | SEARCH m USING INDEX sqlite_autoindex_model_prices_1 (model=?) LEFT-JOIN"
        " | LIST SUBQUERY 2 | SCAN json_each VIRTUAL TABLE INDEX 1: | LIST SUBQUERY 3"
        " | SCAN json_each VIRTUAL TABLE INDEX 1:"  # the model filter's list, read once
        " | SEARCH p USING INDEX sqlite_autoindex_price_periods_1 (model=? AND valid_from_utc<?) LEFT-JOIN"
        " | USE TEMP B-TREE FOR GROUP BY"
    ]
    rollup_part, *edges = plans["dev"]
    assert rollup_part.startswith("SEARCH usage_rollup USING PRIMARY KEY (bucket_utc>? AND bucket_utc<?)")
    assert edges and all(plan.startswith("SEARCH r USING INDEX responses_time (timestamp_utc>?") for plan in edges)
