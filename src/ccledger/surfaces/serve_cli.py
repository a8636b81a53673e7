"""``ccledger serve``: the MCP server's command, which imports the server (and the MCP SDK) only
when run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .console import prices_option

__all__ = ["COMMANDS", "serve"]


@click.command("serve")
@click.option("--http", "use_http", is_flag=True, help="Speak streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (with --http).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port (with --http).")
@click.option(
    "--token",
    envvar="CCLEDGER_HTTP_TOKEN",
    help="Bearer token clients must send (with --http; required off loopback). Prefer the environment "
    "variable CCLEDGER_HTTP_TOKEN: a --token on the command line is visible to every user in `ps`.",
)
@click.option("--allow-origin", "origins", multiple=True, help="A browser Origin allowed to call (repeatable).")
@prices_option
def serve(
    use_http: bool, host: str, port: int, token: str | None, origins: tuple[str, ...], prices_file: Path | None
) -> None:
    """Run the MCP server (stdio by default: `claude mcp add ccledger -- ccledger serve`)."""
    import logging

    from .http_transport import HttpConfigError, serve_http
    from .server import build_server

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="ccledger: %(message)s")
    server = build_server(prices_file=prices_file, warm=True)
    if not use_http:
        _end_at_once_on_interrupt()
        server.run()  # stdio: stdout carries the protocol and nothing else
        return
    source = click.get_current_context().get_parameter_source("token")
    if token and source == click.core.ParameterSource.COMMANDLINE:
        logging.warning("--token is visible to every user of this machine (ps); set CCLEDGER_HTTP_TOKEN instead")
    try:
        serve_http(server, host=host, port=port, token=token, allowed_origins=origins)
    except HttpConfigError as exc:
        raise click.UsageError(str(exc)) from exc


def _end_at_once_on_interrupt() -> None:
    """End a stdio server at once and quietly on SIGINT or SIGTERM, as its host ends it. Its
    stdin reader is a thread blocked on a read: an exception in the main thread (click's
    "Aborted!") would leave it waiting, and the host to kill it. Whatever was committed is in the
    ledger; SQLite rolls back a write cut short the next time the ledger is opened."""
    import signal

    def end(signum: int, frame: object) -> None:
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, end)
    signal.signal(signal.SIGTERM, end)


COMMANDS = [serve]
