"""Compare ccledger's token totals with ccusage's on the same Claude config dir.

    python benchmarks/compare_ccusage.py DIR [--ccusage INSTALL_DIR]

Installs ccusage 20.0.24 with npm into a temporary folder (or reuses an install given with
``--ccusage`` or ``$CCUSAGE_INSTALL_DIR``), runs ``ccusage claude daily --json --offline`` with
``CLAUDE_CONFIG_DIR=DIR``, indexes DIR into a temporary ledger, and prints input, output, cache
write, cache read and total tokens side by side, plus the per-day (UTC) rows that differ. When DIR
was made by generate_corpus.py, the totals the generator wrote are shown as a third column.
Exit status 0 when ccledger and ccusage agree, 1 when they do not. Costs are not compared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CCUSAGE_VERSION = "20.0.24"
INSTALL_ENV = "CCUSAGE_INSTALL_DIR"


# --------------------------------------------------------------------------------------------
# ccusage


@dataclass(frozen=True, slots=True)
class CcusageInstall:
    """An npm install of ccusage: the Node launcher and, if present, the native binary it starts."""

    root: Path

    @property
    def launcher(self) -> Path:
        return self.root / "node_modules" / ".bin" / "ccusage"

    @property
    def native(self) -> Path | None:
        found = sorted((self.root / "node_modules" / "@ccusage").glob("ccusage-*/bin/ccusage"))
        return found[0] if found else None

    @property
    def version(self) -> str:
        package = self.root / "node_modules" / "ccusage" / "package.json"
        return str(json.loads(package.read_text())["version"])


def find_install(path: Path) -> CcusageInstall | None:
    """The ccusage install at ``path`` (the folder holding ``node_modules``), if there is one."""
    install = CcusageInstall(path.resolve())
    return install if install.launcher.exists() else None


def prepare(install: CcusageInstall) -> CcusageInstall:
    """Run the launcher once, as a user would; it makes the native binary executable on first use
    (npm does not), and timing the binary directly needs that."""
    subprocess.run([str(install.launcher), "--version"], check=True, capture_output=True)
    native = install.native
    if native is not None and not os.access(native, os.X_OK):
        native.chmod(0o755)
    return install


def install_ccusage(dest: Path) -> CcusageInstall:
    """``npm install ccusage@20.0.24`` into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = ["npm", "install", "--prefix", str(dest), "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run([*cmd, f"ccusage@{CCUSAGE_VERSION}"], check=True, stdout=subprocess.DEVNULL)
    install = find_install(dest)
    if install is None:
        raise RuntimeError(f"npm install did not produce {dest}/node_modules/.bin/ccusage")
    return prepare(install)


@contextlib.contextmanager
def ccusage(given: str | Path | None = None) -> Iterator[CcusageInstall]:
    """The install to use: ``given``, else ``$CCUSAGE_INSTALL_DIR``, else a fresh one in a temp dir."""
    given = given or os.environ.get(INSTALL_ENV)
    if given:
        install = find_install(Path(given))
        if install is None:
            raise SystemExit(f"no ccusage install in {given} (expected node_modules/.bin/ccusage)")
        if install.version != CCUSAGE_VERSION:
            print(f"warning: {given} has ccusage {install.version}, not {CCUSAGE_VERSION}", file=sys.stderr)
        yield prepare(install)
        return
    with tempfile.TemporaryDirectory(prefix="ccusage-") as tmp:
        print(f"installing ccusage@{CCUSAGE_VERSION} with npm into {tmp} ...", file=sys.stderr)
        yield install_ccusage(Path(tmp))


def ccusage_env(config_dir: Path) -> dict[str, str]:
    """The environment ccusage runs in: only ``config_dir`` as Claude data, no colour."""
    env = dict(os.environ)
    env["CLAUDE_CONFIG_DIR"] = str(config_dir)
    env["NO_COLOR"] = "1"
    return env


def daily_command(executable: Path, *, timezone: str | None = None) -> list[str]:
    """``ccusage claude daily --json --offline`` (optionally bucketing days in ``timezone``)."""
    cmd = [str(executable), "claude", "daily", "--json", "--offline"]
    return [*cmd, "--timezone", timezone] if timezone else cmd


def ccusage_daily(install: CcusageInstall, config_dir: Path, *, timezone: str | None = "UTC") -> dict[str, Any]:
    """ccusage's daily report for ``config_dir``, via the npm launcher."""
    with tempfile.TemporaryDirectory() as cwd:  # no ./.ccusage/ccusage.json is picked up
        done = subprocess.run(
            daily_command(install.launcher, timezone=timezone),
            env=ccusage_env(config_dir),
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"ccusage failed ({done.returncode}): {done.stderr.strip()}")
    report = json.loads(done.stdout)
    if isinstance(report, list):  # an empty report
        report = {"daily": [], "totals": {}}
    return report


# --------------------------------------------------------------------------------------------
# Totals


@dataclass(frozen=True, slots=True)
class Totals:
    """Token totals in ccusage's four buckets (cache creation = 5m + 1h writes)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens

    def rows(self) -> list[tuple[str, int]]:
        """(name, value) for each bucket and the total, in display order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)] + [("total_tokens", self.total_tokens)]


def _from_ccusage(row: dict[str, Any]) -> Totals:
    return Totals(
        input_tokens=int(row.get("inputTokens", 0)),
        output_tokens=int(row.get("outputTokens", 0)),
        cache_creation_tokens=int(row.get("cacheCreationTokens", 0)),
        cache_read_tokens=int(row.get("cacheReadTokens", 0)),
    )


def ccusage_totals(report: dict[str, Any]) -> Totals:
    """The ``totals`` of a ``claude daily --json`` report."""
    return _from_ccusage(report.get("totals") or {})


def ccusage_days(report: dict[str, Any]) -> dict[str, Totals]:
    """Per-day rows of a ``claude daily --json`` report."""
    return {row["date"]: _from_ccusage(row) for row in report.get("daily", [])}


LEDGER_SUMS_SQL = """
select coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
       coalesce(sum(cache_write_5m_tokens + cache_write_1h_tokens), 0), coalesce(sum(cache_read_tokens), 0)
from responses
"""

LEDGER_DAYS_SQL = """
select substr(timestamp_utc, 1, 10) as day, sum(input_tokens), sum(output_tokens),
       sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(cache_read_tokens)
from responses group by day
"""


def ledger_totals(db_path: Path) -> tuple[Totals, int]:
    """Token totals and the number of distinct responses in a ledger file."""
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        sums = conn.execute(LEDGER_SUMS_SQL).fetchone()
        count = conn.execute("select count(*) from responses").fetchone()[0]
    return Totals(*(int(v) for v in sums)), int(count)


def ledger_days(db_path: Path) -> dict[str, Totals]:
    """Per-day (UTC) token totals in a ledger file."""
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return {day: Totals(*(int(v) for v in rest)) for day, *rest in conn.execute(LEDGER_DAYS_SQL)}


def manifest_totals(config_dir: Path) -> tuple[Totals, int] | None:
    """What generate_corpus.py wrote into ``config_dir``, if it made it."""
    try:
        m = json.loads((config_dir / "corpus.json").read_text())
    except (OSError, ValueError):
        return None
    totals = Totals(
        input_tokens=m["input_tokens"],
        output_tokens=m["output_tokens"],
        cache_creation_tokens=m["cache_write_5m_tokens"] + m["cache_write_1h_tokens"],
        cache_read_tokens=m["cache_read_tokens"],
    )
    return totals, int(m["responses"])


def index_into(config_dir: Path, db_path: Path) -> Any:
    """Index ``config_dir`` into the ledger at ``db_path`` with ccledger's own refresh()."""
    from ccledger.ingest.index import refresh
    from ccledger.ledger.db import open_db

    db = open_db(db_path)
    try:
        return refresh(db, [config_dir])
    finally:
        db.conn.close()


# --------------------------------------------------------------------------------------------


def compare(config_dir: Path, install: CcusageInstall) -> bool:
    """Print the comparison for ``config_dir``; True when ccledger and ccusage agree."""
    report = ccusage_daily(install, config_dir, timezone="UTC")
    theirs = ccusage_totals(report)
    with tempfile.TemporaryDirectory(prefix="ccledger-compare-") as tmp:
        db_path = Path(tmp) / "ledger.db"
        stats = index_into(config_dir, db_path)
        ours, responses = ledger_totals(db_path)
        our_days = ledger_days(db_path)
    generated = manifest_totals(config_dir)

    print(f"{config_dir}: {stats.files_seen:,} files, {stats.bytes_read / (1 << 20):,.1f} MiB")
    header = f"{'':24}{'ccusage ' + install.version:>20}{'ccledger':>20}"
    if generated:
        header += f"{'generator':>20}"
    print(header)
    expected = dict(generated[0].rows()) if generated else {}
    for (name, value), (_, mine) in zip(theirs.rows(), ours.rows(), strict=True):
        line = f"{name:24}{value:>20,}{mine:>20,}"
        if generated:
            line += f"{expected[name]:>20,}"
        print(line + ("" if value == mine else "   <- differs"))
    print(f"{'responses (distinct)':24}{'':>20}{responses:>20,}" + (f"{generated[1]:>20,}" if generated else ""))

    their_days = ccusage_days(report)
    differing = sorted(d for d in their_days.keys() | our_days.keys() if their_days.get(d) != our_days.get(d))
    print(f"days (UTC): {len(their_days)} in ccusage, {len(our_days)} in ccledger, {len(differing)} differ")
    for day in differing[:10]:
        print(f"  {day}: ccusage {their_days.get(day)}\n  {'':10}  ccledger {our_days.get(day)}")
    equal = theirs == ours and not differing
    if generated and generated[0] != ours:
        print("note: ccledger differs from what the generator wrote")
    print("RESULT:", "equal" if equal else "DIFFERENT")
    return equal


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config_dir", type=Path, help="A Claude config dir (holding projects/).")
    parser.add_argument(
        "--ccusage",
        metavar="INSTALL_DIR",
        help=f"Reuse this ccusage install (the folder holding node_modules); default: ${INSTALL_ENV}, "
        "else install into a temporary folder.",
    )
    args = parser.parse_args(argv)
    config_dir = args.config_dir.resolve()
    if not (config_dir / "projects").is_dir():
        parser.error(f"{config_dir}/projects is not a folder")
    if shutil.which("npm") is None and not (args.ccusage or os.environ.get(INSTALL_ENV)):
        parser.error("npm is needed to install ccusage")
    with ccusage(args.ccusage) as install:
        return 0 if compare(config_dir, install) else 1


if __name__ == "__main__":
    raise SystemExit(main())
