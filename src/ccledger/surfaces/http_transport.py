"""MCP over streamable HTTP, safe by default.

On a loopback address (any of 127.0.0.0/8, ::1, localhost) the SDK's DNS-rebinding protection
checks Host and Origin. Binding any other address exposes the ledger to the network, so it
requires a bearer token (``CCLEDGER_HTTP_TOKEN``, or ``--token``): requests without it get 401
with a ``WWW-Authenticate: Bearer`` header and a body saying what to send. There is no OAuth:
the discovery URLs answer 404, so a client does not start a login it cannot finish. Browser
requests (those that carry an ``Origin`` header) are refused unless the origin is explicitly
allowed; an allowed origin also gets its CORS preflight answered.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
from collections.abc import Sequence

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HttpConfigError", "http_app", "is_loopback", "mcp_url", "serve_http"]

# What a browser preflight may ask for: the methods and headers of streamable HTTP.
_CORS_HEADERS = [
    (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id",
    ),
    (b"access-control-max-age", b"600"),
]

log = logging.getLogger(__name__)


class HttpConfigError(ValueError):
    """An HTTP set-up that would be unsafe or cannot work."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only: localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mcp_url(host: str, port: int) -> str:
    """The URL clients use, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}/mcp" if ":" in host else f"http://{host}:{port}/mcp"


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>`` (the
    scheme in any case, as RFC 9110 has it)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scheme, _, given = dict(scope.get("headers") or []).get(b"authorization", b"").strip().partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self._expected):
                message = (
                    "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token set by "
                    "CCLEDGER_HTTP_TOKEN (or --token) where `ccledger serve --http` runs"
                )
                await _reject(send, 401, message, {b"www-authenticate": b'Bearer realm="ccledger"'})
                return
        await self.app(scope, receive, send)


class NoOAuth:
    """ASGI middleware: the OAuth discovery URLs answer 404, before any token is asked for, so
    an MCP client that gets a 401 knows to send a token rather than start a login."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(("/.well-known/oauth", "/.well-known/openid")):
            await _reject(send, 404, "no OAuth here: send the bearer token (CCLEDGER_HTTP_TOKEN) instead", {})
            return
        await self.app(scope, receive, send)


class Cors:
    """ASGI middleware: a preflight (OPTIONS) from an allowed origin is answered, and responses
    to it say the origin may read them. Other origins get nothing: OriginCheck or the SDK's own
    protection refuses them."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self._allowed = {origin.rstrip("/").encode("latin-1") for origin in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = dict(scope.get("headers") or []).get(b"origin") if scope["type"] == "http" else None
        if origin is None or origin.rstrip(b"/") not in self._allowed:
            await self.app(scope, receive, send)
            return
        allow = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        if scope.get("method") == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": [*allow, *_CORS_HEADERS]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_allowed(message: Message) -> None:
            if message["type"] == "http.response.start":
                exposed = (b"access-control-expose-headers", b"mcp-session-id")
                message = {**message, "headers": [*message.get("headers", []), *allow, exposed]}
            await send(message)

        await self.app(scope, receive, send_allowed)


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
    loopback = is_loopback(host)
    if not loopback and not token:
        raise HttpConfigError(
            f"binding {host} exposes the ledger to the network: set a bearer token in CCLEDGER_HTTP_TOKEN "
            "(clients then send 'Authorization: Bearer <token>')"
        )
    if loopback:
        named = f"[{host}]" if ":" in host else host
        security = TransportSecuritySettings(
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", f"{named}:*"],
            allowed_origins=[
                "http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", f"http://{named}:*", *allowed_origins,
            ],
        )  # fmt: skip
    else:
        # The Host header of a non-loopback bind is whatever name clients use; the token and the
        # Origin check below are what protect it.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app: ASGIApp = server.streamable_http_app(transport_security=security, host=host)
    if not loopback:
        app = OriginCheck(app, allowed_origins)
    if token:
        app = BearerAuth(app, token)
    return NoOAuth(Cors(app, allowed_origins)) if allowed_origins else NoOAuth(app)


def serve_http(
    server: MCPServer,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    allowed_origins: Sequence[str] = (),
) -> None:
    """Serve until interrupted. Logs go to stderr; the token is never logged. The address is
    bound first, so "serving on" is said only once it is true, and a port in use is an error."""
    import uvicorn

    app = http_app(server, host=host, token=token, allowed_origins=allowed_origins)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise HttpConfigError(f"cannot listen on {mcp_url(host, port)} ({exc.strerror or exc})") from None
    log.info("ccledger MCP server on %s (auth: %s)", mcp_url(host, port), "bearer" if token else "none")
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])
