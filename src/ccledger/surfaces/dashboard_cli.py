"""``ccledger dashboard``: the command that serves the dashboard (``dashboard``), which it imports
only when run."""

from __future__ import annotations

import click

from .. import paths
from .console import zone

__all__ = ["COMMANDS", "dashboard_command"]

DEFAULT_PORT = 8766


@click.command("dashboard")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="Port on 127.0.0.1."
)
@click.option("--no-open", is_flag=True, help="Do not open a browser tab.")
@click.option("--timezone", help="IANA zone for day/week/month boundaries (default: config, else this machine's).")
def dashboard_command(port: int, no_open: bool, timezone: str | None) -> None:
    """A local web page of the ledger: spend by model, repo and hour, 5-hour blocks, budgets,
    activity and sessions, and the team's usage when a team database is configured.

    Served on 127.0.0.1 only, from the same queries as the tools, refreshed as Claude works;
    nothing is loaded from the network. Stop it with Ctrl-C.
    """
    import threading
    import webbrowser

    import uvicorn

    from ..config import ConfigError
    from ..team.connect import TeamError, team_url
    from .dashboard import dashboard_app

    chosen = zone(timezone)
    url = f"http://127.0.0.1:{port}/"
    try:
        team = team_url()
    except (TeamError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    app = dashboard_app(paths.db_path(), port=port, zone=lambda: chosen, team_url=team)
    click.echo(f"ccledger dashboard at {url} (Ctrl-C to stop)", err=True)
    if not no_open:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


COMMANDS = (dashboard_command,)
"""The commands this module adds to ``cli``."""
