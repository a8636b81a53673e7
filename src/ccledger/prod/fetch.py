"""Fetching a source's pages over HTTP: timeouts, bounded retries, errors a model can act on.

The client is ``httpx2``, the HTTP stack the ``mcp`` SDK already brings, so the process carries
one. Retries cover what is worth retrying, a GET being safe to repeat: 429 and 5xx answers
(waiting what ``Retry-After`` asks, in seconds or as an HTTP date, else an exponential backoff)
and connections that fail or drop, all within ``max_retries`` and ``max_wait_seconds`` of
waiting in total. A timeout is not retried: a source that slow would hold the caller for
minutes. Every failure is a :class:`PullError` that says what to do, with tokens redacted.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx2

from .. import __version__
from .sources import ADMIN, ProdSource, token_names

__all__ = ["Fetcher", "PullError", "redact"]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDACTED = "[redacted]"
_SNIPPET = 200  # characters of an error body worth showing
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


class PullError(Exception):
    """A pull that could not go on. ``reason`` is one of: token, not_found, moved, timeout,
    rate_limited, server, refused, unreachable, malformed, file."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret and any user:password@ in URLs replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _USERINFO.sub(f"{REDACTED}@", text)


class Fetcher:
    """GETs JSON pages of one source with its auth headers; one HTTP client, closed on exit."""

    def __init__(
        self,
        source: ProdSource,
        token: str | None,
        *,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self._token = token
        self._sleep = sleep
        self._client = httpx2.Client(
            headers=_auth_headers(source, token),
            timeout=httpx2.Timeout(source.timeout_seconds),
            transport=transport,
            # A redirect elsewhere would carry the x-api-key header along: say where instead.
            follow_redirects=False,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client.close()

    def get_json(self, url: str, *, params: Sequence[tuple[str, str]] = (), page: int, expected: str) -> Any:
        """The decoded JSON body of one page; ``expected`` describes it for error messages."""
        response = self._get(url, params, page)
        try:
            return json.loads(response.content)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            start = self._snippet(response, 60)
            raise self._error(
                f"page {page} of source {self.source.id!r} is not JSON ({exc}; it starts {start!r}): "
                f"expected {expected}. Check that url points at the {self.source.kind} endpoint itself",
                "malformed",
            ) from None

    def _get(self, url: str, params: Sequence[tuple[str, str]], page: int) -> httpx2.Response:
        options = self.source.options
        waited = 0.0
        attempt = 0
        while True:
            try:
                response = self._client.get(url, params=list(params))
            except httpx2.TimeoutException:
                raise self._error(
                    f"source {self.source.id!r} did not answer page {page} within {self.source.timeout_seconds:g} s "
                    f"(timeout_seconds) at {_safe(url)}: it is slow or unreachable. Pull again later, or raise "
                    f"timeout_seconds for it in {self.source.config_path}",
                    "timeout",
                ) from None
            except httpx2.TransportError as exc:
                failure = f"could not reach source {self.source.id!r} at {_safe(url)} ({exc})"
                wait = options["backoff_seconds"] * 2**attempt
                if attempt >= options["max_retries"] or waited + wait > options["max_wait_seconds"]:
                    raise self._error(f"{failure}; check its url and that it is up", "unreachable") from None
                log.info("%s; retrying in %.1f s", self._redact(failure), wait)
            else:
                if response.status_code < 300:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise self._status_error(response, url, page)
                asked = _retry_after(response)
                wait = options["backoff_seconds"] * 2**attempt if asked is None else asked
                if attempt >= options["max_retries"] or waited + wait > options["max_wait_seconds"]:
                    raise self._retry_error(response, page, attempt + 1, wait)
                log.info("source %s answered %s to page %d; retrying in %.1f s", self.source.id,
                         response.status_code, page, wait)  # fmt: skip
            self._sleep(wait)
            waited += wait
            attempt += 1

    def _status_error(self, response: httpx2.Response, url: str, page: int) -> PullError:
        status = response.status_code
        source = self.source
        if status < 400:
            return self._error(
                f"source {source.id!r}: {_safe(url)} redirects (HTTP {status}) to "
                f"{_safe(response.headers.get('location', 'elsewhere'))}; set url for it to that address in "
                f"{source.config_path}",
                "moved",
            )
        if status in (401, 403):
            first, second = token_names(source.id)
            state = "was rejected" if self._token else "is missing"
            what = "an Admin API key (sk-ant-admin...)" if source.kind == ADMIN else "the token the source expects"
            return self._error(
                f"token {state} for source {source.id!r} (HTTP {status}): set {first} (or {second}) to {what} "
                f"with access to {_safe(url)}, then pull again",
                "token",
            )
        if status == 404:
            return self._error(
                f"source {source.id!r}: {_safe(url)} was not found (HTTP 404): the url is wrong; fix url for "
                f"it in {source.config_path}",
                "not_found",
            )
        snippet = self._snippet(response)
        return self._error(f"source {source.id!r} refused page {page} (HTTP {status}): {snippet}", "refused")

    def _retry_error(self, response: httpx2.Response, page: int, attempts: int, wait: float) -> PullError:
        status = response.status_code
        if status == 429:
            return self._error(
                f"source {self.source.id!r} is rate limiting (HTTP 429) page {page} after {attempts} attempt(s) "
                f"and asks to wait {wait:g} s more (max_wait_seconds is {self.source.options['max_wait_seconds']:g}): "
                "pull again later; pages already saved are kept",
                "rate_limited",
            )
        return self._error(
            f"source {self.source.id!r} failed page {page} with HTTP {status} {attempts} time(s) in a row "
            f"({self._snippet(response)}): its server has a problem; pull again later, pages already saved are kept",
            "server",
        )

    def _error(self, message: str, reason: str) -> PullError:
        return PullError(self._redact(message), reason=reason)

    def _redact(self, text: str) -> str:
        return redact(text, [self._token])

    def _snippet(self, response: httpx2.Response, size: int = _SNIPPET) -> str:
        """The start of a body worth showing in an error, redacted before it is cut: cut first,
        a token at the cut would be left whole on one side of it and in part on the other."""
        text = " ".join(self._redact(response.content.decode("utf-8", "replace")).split())[:size]
        return text or response.reason_phrase or "no body"


def _auth_headers(source: ProdSource, token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": f"ccledger/{__version__}"}
    if source.kind == ADMIN:
        headers["anthropic-version"] = "2023-06-01"
        if token:
            headers["x-api-key"] = token
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _retry_after(response: httpx2.Response) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _safe(url: str) -> str:
    return _USERINFO.sub(f"{REDACTED}@", url)
