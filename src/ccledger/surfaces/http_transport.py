"""MCP over streamable HTTP, safe by default.

On a loopback address the SDK's DNS-rebinding protection checks Host and Origin. Binding any
other address exposes the ledger to the network, so it requires a bearer token (``--token`` or
``CCLEDGER_HTTP_TOKEN``): requests without it get 401. Browser requests (those that carry an
``Origin`` header) are refused unless the origin is explicitly allowed.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK_HOSTS", "HttpConfigError", "http_app", "serve_http"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

log = logging.getLogger(__name__)


class HttpConfigError(ValueError):
    """An HTTP set-up that would be unsafe or cannot work."""


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await _reject(send, 401, "missing or wrong bearer token", {b"www-authenticate": b"Bearer"})
                return
        await self.app(scope, receive, send)


class OriginCheck:
    """ASGI middleware: refuse browser requests from origins that were not allowed."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self._allowed = {origin.rstrip("/") for origin in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            origin = dict(scope.get("headers") or []).get(b"origin")
            if origin is not None and origin.decode("latin-1").rstrip("/") not in self._allowed:
                await _reject(send, 403, "origin not allowed", {})
                return
        await self.app(scope, receive, send)


async def _reject(send: Send, status: int, message: str, headers: dict[bytes, bytes]) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                        *headers.items()],
        }
    )  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def http_app(
    server: MCPServer,
    *,
    host: str,
    token: str | None,
    allowed_origins: Sequence[str] = (),
) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp`` with the checks above."""
    loopback = host in LOOPBACK_HOSTS
    if not loopback and not token:
        raise HttpConfigError(
            f"binding {host} exposes the ledger to the network: set a bearer token with --token "
            "or CCLEDGER_HTTP_TOKEN (clients then send 'Authorization: Bearer <token>')"
        )
    if loopback:
        security = TransportSecuritySettings(
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *allowed_origins],
        )
    else:
        # The Host header of a non-loopback bind is whatever name clients use; the token and the
        # Origin check below are what protect it.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app: ASGIApp = server.streamable_http_app(transport_security=security, host=host)
    if not loopback:
        app = OriginCheck(app, allowed_origins)
    if token:
        app = BearerAuth(app, token)
    return app


def serve_http(
    server: MCPServer,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    allowed_origins: Sequence[str] = (),
) -> None:
    """Serve until interrupted. Logs go to stderr; the token is never logged."""
    import uvicorn

    app = http_app(server, host=host, token=token, allowed_origins=allowed_origins)
    log.info("ccledger MCP server on http://%s:%d/mcp (auth: %s)", host, port, "bearer" if token else "none")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
