"""Pulling production usage into the ledger, page by page.

Each page is parsed first and then saved in ONE transaction together with the cursor it earns,
so a page that fails (bad JSON, a wrong shape, a lost connection) saves nothing of itself and
stops that source with a :class:`PullError`, while the pages before it stay saved and the next
pull starts after them. Records are keyed per source, so pulling again never counts twice: a
record seen before is left alone when unchanged and replaced when it grew, and a bucket the
page states in full (``ParsedPage.replaces``) loses the records it no longer has.

Each source is pulled on its own: one failing does not stop the others.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from sqlite_utils import Database

from .. import timestamps
from ..ingest.repos import repos_named
from ..ledger.db import write_transaction
from ..models import ProdPullResult, ProdSourcePull
from . import anthropic_admin, export, otlp
from .fetch import Fetcher, PullError, redact
from .records import PageError, ParsedPage, ProdRecord, check_bounds
from .sources import ADMIN, EXPORT, OTLP, ProdSource, token_for

__all__ = ["pull_sources"]

log = logging.getLogger(__name__)

FIRST_PULL_DAYS = 30  # how far back a source without `since` starts

CURSOR_SQL = "select cursor from prod_cursors where source_id = :source_id"

STORED_SQL = """
select record_key, bucket_start_utc, bucket_end_utc, model, requests, input_tokens, output_tokens,
       cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, web_search_requests, speed,
       context_window, provider_cost_nanousd, service_tier
from prod_usage
where source_id = :source_id and record_key in (select value from json_each(:keys))
"""

# The records of a bucket: their keys share a prefix, and the unique index answers the range.
KEYS_UNDER_SQL = """
select record_key from prod_usage
where source_id = :source_id and record_key >= :prefix and record_key < :prefix || char(1114111)
"""

DELETE_SQL = "delete from prod_usage where source_id = :source_id and record_key = :record_key"

UPSERT_SQL = """
insert into prod_usage (
    source_id, record_key, bucket_start_utc, bucket_end_utc, repo_id, model, requests, input_tokens,
    output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, web_search_requests,
    speed, context_window, provider_cost_nanousd, service_tier, pulled_utc
) values (
    :source_id, :record_key, :bucket_start_utc, :bucket_end_utc, :repo_id, :model, :requests, :input_tokens,
    :output_tokens, :cache_write_5m_tokens, :cache_write_1h_tokens, :cache_read_tokens, :web_search_requests,
    :speed, :context_window, :provider_cost_nanousd, :service_tier, :pulled_utc
)
on conflict (source_id, record_key) do update set
    bucket_start_utc = excluded.bucket_start_utc, bucket_end_utc = excluded.bucket_end_utc,
    repo_id = excluded.repo_id, model = excluded.model, requests = excluded.requests,
    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
    cache_write_5m_tokens = excluded.cache_write_5m_tokens, cache_write_1h_tokens = excluded.cache_write_1h_tokens,
    cache_read_tokens = excluded.cache_read_tokens, web_search_requests = excluded.web_search_requests,
    speed = excluded.speed, context_window = excluded.context_window,
    provider_cost_nanousd = excluded.provider_cost_nanousd, service_tier = excluded.service_tier,
    pulled_utc = excluded.pulled_utc
"""

SAVE_CURSOR_SQL = """
insert into prod_cursors (source_id, cursor) values (:source_id, :cursor)
on conflict (source_id) do update set cursor = excluded.cursor
"""

FINISH_SQL = """
insert into prod_cursors (source_id, last_pull_utc, last_stats) values (:source_id, :now, :stats)
on conflict (source_id) do update set last_pull_utc = excluded.last_pull_utc, last_stats = excluded.last_stats
"""

# A source charged to another repo since the last pull: its history moves with it.
DEV_REPOS_SQL = "select distinct repo_id from repos"
RECHARGE_SQL = "update prod_usage set repo_id = :repo_id where source_id = :source_id and repo_id is not :repo_id"


def pull_sources(
    db: Database,
    sources: list[ProdSource],
    *,
    now: datetime,
    env: Mapping[str, str] | None = None,
    transport: httpx2.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ProdPullResult:
    """Pull every source in ``sources`` into the ledger; what each one brought, or why it stopped."""
    env = os.environ if env is None else env
    results = [_pull_one(db, source, now=now, env=env, transport=transport, sleep=sleep) for source in sources]
    return ProdPullResult(sources=results, ok=all(result.error is None for result in results))


def _pull_one(
    db: Database,
    source: ProdSource,
    *,
    now: datetime,
    env: Mapping[str, str],
    transport: httpx2.BaseTransport | None,
    sleep: Callable[[float], None],
) -> ProdSourcePull:
    started = time.monotonic()
    source = _charged_to_a_known_repo(db, source)
    token = token_for(source, env)
    row = db.execute(CURSOR_SQL, {"source_id": source.id}).fetchone()
    pull = _Pull(db=db, source=source, now=now, cursor=row[0] if row else None)
    error = None
    try:
        if source.kind == ADMIN and not token:
            raise PullError(
                f"no token for source {source.id!r}: set {source.token_env} to an Admin API key (sk-ant-admin...)",
                reason="token",
            )
        with Fetcher(source, token, transport=transport, sleep=sleep) as fetcher:
            pull.fetcher = fetcher
            _DRIVERS[source.kind](pull)
    except PullError as exc:
        error = redact(str(exc), [token])
        log.info("%s", error)  # returned to the caller, who shows it: not a warning twice over
    result = ProdSourcePull(
        id=source.id,
        kind=source.kind,
        repo_id=source.repo,
        pages=pull.pages,
        records_added=pull.added,
        records_replaced=pull.replaced,
        records_unchanged=pull.unchanged,
        records_removed=pull.removed,
        cursor=pull.cursor,
        error=error,
        seconds=round(time.monotonic() - started, 3),
    )
    stats = result.model_dump_json(include={"pages", "records_added", "records_replaced", "records_removed", "error"})
    with write_transaction(db):
        db.execute(RECHARGE_SQL, {"source_id": source.id, "repo_id": source.repo})
        db.execute(FINISH_SQL, {"source_id": source.id, "now": timestamps.text(now), "stats": stats})
    return result


def _charged_to_a_known_repo(db: Database, source: ProdSource) -> ProdSource:
    """The source, charged to the ledger's own id of the repo it names: a config says
    ``repo = "acme/api-server"`` and Claude Code's rows say ``github.com/acme/api-server``, and
    dev and prod spend must meet on one row. A name that matches no repo, or several, stays."""
    known = [row[0] for row in db.execute(DEV_REPOS_SQL)]
    named = repos_named(source.repo, known)
    return dataclasses.replace(source, repo=named[0]) if len(named) == 1 else source


@dataclass
class _Pull:
    """One source's pull in progress: where it stands and what it has saved."""

    db: Database
    source: ProdSource
    now: datetime
    cursor: str | None
    fetcher: Fetcher | None = None
    pages: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0

    def fetch(self, url: str, params: list[tuple[str, str]], expected: str) -> Any:
        assert self.fetcher is not None
        return self.fetcher.get_json(url, params=params, page=self.pages + 1, expected=expected)

    def parse(self, parse: Callable[[], ParsedPage], where: str) -> ParsedPage:
        """``parse()``, its PageError told as which page failed; nothing of that page is saved."""
        try:
            page = parse()
            check_bounds(page.records)
            return page
        except PageError as exc:
            raise PullError(
                f"{where} of source {self.source.id!r} is malformed: {exc}. Nothing of it was saved"
                + (f"; the {self.pages} page(s) before it were" if self.pages else ""),
                reason="malformed",
            ) from None

    def save(self, page: ParsedPage, cursor: str | None) -> None:
        """Save one page and the cursor after it, all or nothing."""
        source_id = self.source.id
        keys = [record.key for record in page.records]
        added = replaced = unchanged = removed = 0
        pulled_utc = timestamps.text(self.now)
        with write_transaction(self.db):
            stored = {
                row[0]: tuple(row[1:])
                for row in self.db.execute(STORED_SQL, {"source_id": source_id, "keys": json.dumps(keys)})
            }
            wanted = set(keys)
            for prefix in page.replaces:
                for (key,) in self.db.execute(KEYS_UNDER_SQL, {"source_id": source_id, "prefix": prefix}).fetchall():
                    if key not in wanted:
                        self.db.execute(DELETE_SQL, {"source_id": source_id, "record_key": key})
                        removed += 1
            rows = []
            for record in page.records:
                before = stored.get(record.key)
                if before == record.values():
                    unchanged += 1
                    continue
                added, replaced = (added + 1, replaced) if before is None else (added, replaced + 1)
                rows.append(
                    {
                        **{name: getattr(record, name) for name in _RECORD_FIELDS},
                        "source_id": source_id, "record_key": record.key, "repo_id": self.source.repo,
                        "pulled_utc": pulled_utc,
                    }
                )  # fmt: skip
            self.db.conn.executemany(UPSERT_SQL, rows)
            if cursor is not None:
                self.db.execute(SAVE_CURSOR_SQL, {"source_id": source_id, "cursor": cursor})
        # Counted only once committed: a page that failed to save added nothing.
        self.pages += 1
        self.added, self.replaced, self.unchanged, self.removed = (
            self.added + added, self.replaced + replaced, self.unchanged + unchanged, self.removed + removed
        )  # fmt: skip
        if cursor is not None:
            self.cursor = cursor
        log.info("source %s: page %d saved, %d records", source_id, self.pages, len(page.records))


_RECORD_FIELDS = (
    "bucket_start_utc", "bucket_end_utc", "model", "requests", "input_tokens", "output_tokens",
    "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens", "web_search_requests", "speed",
    "context_window", "provider_cost_nanousd", "service_tier",
)  # fmt: skip


def _paged(
    pull: _Pull,
    url: str,
    params: Callable[[str | None], list[tuple[str, str]]],
    expected: str,
    parse: Callable[[Any], ParsedPage],
    cursor_after: Callable[[ParsedPage], str | None],
) -> None:
    """Fetch, parse and save pages until the source has no more."""
    next_page: str | None = None
    seen: set[str] = set()
    while True:
        data = pull.fetch(url, params(next_page), expected)
        page = pull.parse(functools.partial(parse, data), f"page {pull.pages + 1}")
        pull.save(page, cursor_after(page))
        if not page.has_more or not page.next_page:
            return
        if page.next_page in seen:
            raise PullError(
                f"source {pull.source.id!r} sent the same next page twice ({page.next_page!r}); stopped so the "
                "pull cannot loop. The pages before it were saved",
                reason="malformed",
            )
        next_page = page.next_page
        seen.add(next_page)


def _pull_admin(pull: _Pull) -> None:
    source, options = pull.source, pull.source.options
    base = (source.url or "").rstrip("/")
    state: dict[str, str] = json.loads(pull.cursor) if pull.cursor else {}
    settled = timestamps.text(pull.now - timedelta(minutes=options["settle_minutes"]))
    first = options["since"] or timestamps.text(pull.now - timedelta(days=FIRST_PULL_DAYS))

    def advance(name: str) -> Callable[[ParsedPage], str]:
        def cursor_after(page: ParsedPage) -> str:
            if page.cursor is not None:
                state[name] = page.cursor
            return json.dumps(state, sort_keys=True)

        return cursor_after

    usage_start = state.get("usage") or first[:14] + "00:00.000Z"  # buckets start on the hour
    _paged(
        pull,
        base + anthropic_admin.USAGE_PATH,
        lambda page: anthropic_admin.usage_params(
            starting_at=usage_start,
            page_size=options["page_size"],
            api_key_ids=options["api_key_ids"],
            workspace_ids=options["workspace_ids"],
            page=page,
        ),
        anthropic_admin.USAGE_EXPECTED,
        lambda data: anthropic_admin.parse_usage_page(data, settled_before=settled),
        advance("usage"),
    )
    if options["cost_report"]:
        cost_start = state.get("cost") or first[:10] + "T00:00:00.000Z"
        _paged(
            pull,
            base + anthropic_admin.COST_PATH,
            lambda page: anthropic_admin.cost_params(
                starting_at=cost_start, workspace_ids=options["workspace_ids"], page=page
            ),
            anthropic_admin.COST_EXPECTED,
            lambda data: anthropic_admin.parse_cost_page(data, settled_before=settled),
            advance("cost"),
        )


def _pull_export(pull: _Pull) -> None:
    start = pull.cursor
    _paged(
        pull,
        pull.source.url or "",
        lambda page: export.export_params(page_size=pull.source.options["page_size"], cursor=page or start),
        export.EXPECTED,
        export.parse_export_page,
        lambda page: page.cursor,
    )


def _pull_otlp(pull: _Pull) -> None:
    if pull.source.url:
        data = pull.fetch(pull.source.url, [], otlp.EXPECTED)
        page = pull.parse(lambda: otlp.parse_otlp(data), "page 1")
        latest = max((record.bucket_start_utc for record in page.records), default=None)
        pull.save(page, max(filter(None, (latest, pull.cursor)), default=None))
        return
    _pull_otlp_file(pull, Path(pull.source.options["path"]))


def _pull_otlp_file(pull: _Pull, path: Path) -> None:
    """A file of OTLP/JSON: one document, or one per line (the Collector's file exporter), read on from
    where the last pull stopped; a file that shrank was replaced and is read from the start."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PullError(
            f"source {pull.source.id!r}: cannot read {path} ({exc.strerror}); fix path for it in "
            f"{pull.source.config_path}",
            reason="file",
        ) from None
    state = json.loads(pull.cursor) if pull.cursor else {}
    offset = state.get("offset", 0)
    if offset > len(content) or (state.get("document") and offset != len(content)):
        offset = 0  # replaced, or a single document rewritten: read it all again (records are keyed)
    if offset == 0 and content.strip().startswith(b"{"):
        try:
            document = json.loads(content)
        except ValueError:
            document = None  # several documents, one per line
        if document is not None:
            page = pull.parse(lambda: otlp.parse_otlp(document), f"the document in {path}")
            pull.save(page, json.dumps({"offset": len(content), "document": True}))
            return
    end = content.rfind(b"\n") + 1  # a last line still being written is read next time
    lines_per_page = pull.source.options["lines_per_page"]
    for chunk_start, lines, chunk_end in _chunks(content, offset, end, lines_per_page):
        documents = []
        for line_offset, line in lines:
            try:
                documents.append(json.loads(line))
            except ValueError:
                raise PullError(
                    f"the line at byte {line_offset} of {path} (source {pull.source.id!r}) is not JSON: expected "
                    f"{otlp.EXPECTED} on each line. Nothing from byte {chunk_start} on was saved",
                    reason="malformed",
                ) from None
        records: dict[str, ProdRecord] = {}
        for number, document in enumerate(documents):
            where = f"the line at byte {lines[number][0]} of {path}"
            page = pull.parse(functools.partial(otlp.parse_otlp, document), where)
            records.update((record.key, record) for record in page.records)
        pull.save(ParsedPage(records=list(records.values())), json.dumps({"offset": chunk_end}))


def _chunks(content: bytes, start: int, end: int, size: int) -> Iterator[tuple[int, list[tuple[int, bytes]], int]]:
    """Non-blank lines between ``start`` and ``end`` with their byte offsets, ``size`` at a time,
    each batch with where it starts and the offset just past it."""
    lines: list[tuple[int, bytes]] = []
    chunk_start = position = start
    while position < end:
        stop = content.index(b"\n", position)
        if content[position:stop].strip():
            lines.append((position, content[position:stop]))
        position = stop + 1
        if len(lines) == size:
            yield chunk_start, lines, position
            lines, chunk_start = [], position
    if lines:
        yield chunk_start, lines, position


_DRIVERS: dict[str, Callable[[_Pull], None]] = {ADMIN: _pull_admin, EXPORT: _pull_export, OTLP: _pull_otlp}
