"""The ``ccledger`` command line: the same queries the MCP tools answer, for people."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from . import __version__, index
from .db import open_db
from .models import IndexStats

__all__ = ["cli", "main"]

err = Console(stderr=True)
out = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ccledger")
def cli() -> None:
    """ccledger: what Claude Code costs, from a durable local ledger.

    Reads Claude Code transcripts (CLAUDE_CONFIG_DIR, else ~/.config/claude and ~/.claude)
    into a SQLite ledger (CCLEDGER_DB) that keeps them after Claude Code deletes the files.
    """


@cli.command("index")
@click.option("--json", "as_json", is_flag=True, help="Print the run's statistics as JSON.")
@click.option(
    "--root",
    "roots",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A Claude config dir to read instead of the defaults (repeatable).",
)
def index_command(as_json: bool, roots: tuple[Path, ...]) -> None:
    """Bring the ledger up to date with the transcripts (incremental)."""
    db = open_db()
    selected = list(roots) or None
    if err.is_terminal and not as_json:
        stats = _refresh_with_progress(db, selected)
    else:
        stats = index.refresh(db, selected)
    if as_json:
        click.echo(stats.model_dump_json(indent=2))
    else:
        _print_stats(stats)


def _refresh_with_progress(db: object, roots: list[Path] | None) -> IndexStats:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("indexing", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return index.refresh(db, roots, progress=on_progress)  # type: ignore[arg-type]


def _print_stats(stats: IndexStats) -> None:
    out.print(
        f"{stats.files_seen:,} files seen, {stats.files_read:,} read, "
        f"{stats.new_responses:,} new responses, {stats.updated_responses:,} updated, "
        f"{stats.bad_lines:,} bad lines in {stats.seconds:.2f}s"
    )
    for kind, count in sorted(stats.problems.items()):
        out.print(f"  {kind}: {count:,}")
    for error in stats.errors:
        out.print(f"  [yellow]unreadable[/yellow] {error.path}: {error.error}")


def main() -> None:
    """Entry point of the ``ccledger`` console script."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
