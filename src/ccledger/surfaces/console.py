"""What every ``ccledger`` command shares: modules loaded on first use, the two consoles, the
ledger a command answers from, the options several take, and errors turned into usage errors.

Modules that only some commands need (the query layer, pydantic, rich) are imported when first
used: ``ccledger index`` reads transcripts sooner for it, and that is when a first index starts
its helper process.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from .. import paths
from ..config import ConfigError, load_config
from ..ledger.db import open_db

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console
    from sqlite_utils import Database

    from .. import update as updating
    from ..answers import queries
    from ..ingest.speedups.headstart import HeadStart
    from ..ingest.stats import IndexStats
    from ..pricing import table as pricing

__all__ = [
    "LazyConsole",
    "ask",
    "demo_ledger",
    "empty_hint",
    "err",
    "json_option",
    "lazy",
    "ledger",
    "out",
    "prices_option",
    "show",
    "update",
    "zone",
]

T = TypeVar("T")

prices_option = click.option(
    "--prices",
    "prices_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A prices.toml that adds or replaces model prices for this run.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def lazy(name: str) -> ModuleType:
    """The module ``name``, loaded on first attribute access (importlib's LazyLoader)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if not TYPE_CHECKING:
    pricing, queries, updating = (lazy(f"ccledger.{name}") for name in ("pricing.table", "answers.queries", "update"))


class LazyConsole:
    """A rich Console made on first use."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


err = LazyConsole(stderr=True, soft_wrap=True)
out = LazyConsole(soft_wrap=True)


@contextmanager
def ledger(
    prices_file: Path | None, *, quiet: bool, demo_when_empty: bool = False, head_start: HeadStart | None = None
) -> Iterator[tuple[Database, bool]]:
    """The user's ledger, refreshed and priced (with ``head_start``, the console script's, if it
    made one); or the demo ledger when there is nothing at all."""
    roots = paths.claude_roots()
    if demo_when_empty and _no_transcripts(roots) and _ledger_is_empty():
        if head_start is not None:
            head_start.close()
        err.print(
            "[yellow]No Claude Code transcripts found under "
            f"{', '.join(str(root) for root in roots)}; showing the bundled demo data.[/yellow]"
        )
        with demo_ledger(prices_file) as demo_db:
            yield demo_db, True
        return
    db = open_db()
    try:
        update(db, None, show_progress=not quiet, prices_file=prices_file, head_start=head_start)
        yield db, False
    finally:
        db.close()


def _no_transcripts(roots: list[Path]) -> bool:
    """Whether the indexer would find no transcript at all: Claude Code makes its projects folder
    before the first session, so an empty one is a fresh machine too. Stops at the first found."""
    from ..ingest.scan import scan

    return next(scan(roots, []), None) is None


def _ledger_is_empty() -> bool:
    if not paths.db_path().exists():
        return True
    db = open_db()
    try:
        return db.execute("select 1 from responses limit 1").fetchone() is None
    finally:
        db.close()


@contextmanager
def demo_ledger(prices_file: Path | None = None) -> Iterator[Database]:
    """A temporary ledger of the sample transcripts bundled with ccledger."""
    from importlib import resources

    with tempfile.TemporaryDirectory(prefix="ccledger-demo-") as scratch:
        root = Path(scratch) / "claude"
        source = resources.files("ccledger") / "data" / "demo" / "projects"
        with resources.as_file(source) as projects:
            shutil.copytree(projects, root / "projects")
        db = open_db(Path(scratch) / "demo.db")
        try:
            update(db, [root], show_progress=False, prices_file=prices_file)
            yield db
        finally:
            db.close()


def update(
    db: Database,
    roots: list[Path] | None,
    *,
    show_progress: bool,
    prices_file: Path | None = None,
    head_start: HeadStart | None = None,
) -> IndexStats:
    """``ccledger.update.update``, with a progress bar on a terminal, and a bad prices file
    reported as a usage error."""
    if not (show_progress and err.is_terminal):
        return ask(updating.update, db, roots, prices_file=prices_file, head_start=head_start)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err.get(),
        transient=True,
    ) as bar:
        task = bar.add_task("indexing", total=None)
        return ask(
            updating.update,
            db,
            roots,
            prices_file=prices_file,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            head_start=head_start,
        )


def zone(timezone: str | None) -> ZoneInfo:
    """The zone ``--timezone`` names, else the config's, else this machine's."""
    if timezone:
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise click.BadParameter(f"{timezone!r} is not an IANA timezone (e.g. Europe/Berlin)") from exc
    return ask(load_config).zone()


def ask(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a query; a bad argument becomes a clean usage error instead of a traceback."""
    try:
        return function(*args, **kwargs)
    except (queries.QueryError, pricing.PriceFileError, ConfigError) as exc:
        raise click.UsageError(str(exc)) from exc


def empty_hint(db: Database) -> str:
    """What an empty table adds: where the ledger's data is, so the next try can hit it."""
    span = queries.data_span(db)
    if span is None:
        return "The ledger holds no usage yet: `ccledger index` reads Claude Code's transcripts."
    first, last = span[0][:10], span[1][:10]
    return f"No usage matches; the ledger holds usage from {first} to {last} (UTC). Try --since all."


def show(result: BaseModel, view: Callable[[Any], Any], as_json: bool, hint: str | None = None) -> None:
    """``result`` as JSON, or as ``view`` draws it with an optional hint below."""
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    out.print(view(result), soft_wrap=False)  # a table fits the terminal (soft wrap would let it overflow)
    if hint:
        err.print(hint)
