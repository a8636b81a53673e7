"""Benchmark ccledger's indexer against ccusage on a generated (or given) corpus.

    python benchmarks/bench_index.py                      # 1 GiB / 3,000 files (generated once, reused)
    python benchmarks/bench_index.py --size-mb 100 --files 300   # quick smoke run
    python benchmarks/bench_index.py --corpus DIR         # an existing Claude config dir

Measured in one run, on a warm page cache, with ccledger's bytecode compiled as an install
compiles it (an editable install under PYTHONDONTWRITEBYTECODE would otherwise compile every
module on every run):

a. ccusage ``claude daily --json --offline`` (native binary, and through the npm launcher) and
   a cold ``ccledger index --json`` into a fresh ledger, as subprocesses, each run following one
   of the other tool's: median of ``--runs`` (ccledger's runs follow both ccusage's), throughput,
   and the ratio ccledger / ccusage native;
b. a no-change refresh: ``refresh()`` in-process (median and p95), the same with the MCP server's
   ``ScanCache``, and the ``ccledger index`` CLI;
c. an append-only refresh after a few responses were appended to ``--append-files`` files (only on
   generated corpora; the files are truncated back to their original size afterwards);
d. peak RSS of each subprocess (``wait4`` rusage of that child and its descendants, forked from
   a bare interpreter so that this process's own size does not leak into the figure).

Work files (corpus, ledgers) go under benchmarks/.work/ unless ``--work`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import compare_ccusage
import generate_corpus

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = HERE / ".work"
MIB = 1 << 20

COLD_GOAL_RATIO = 1.0
NO_CHANGE_GOAL_MS = 50.0
RSS_GOAL_MIB = 300.0


@dataclass(slots=True)
class Run:
    """One measured subprocess run."""

    seconds: float
    max_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


# A forked child starts with its parent's RSS high-water mark (Linux keeps it across exec), so
# peak RSS measured from this (large) process would never read below its own size. A bare
# interpreter forks the command instead and reports its wall time and rusage.
_RUNNER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run ``cmd`` to completion; its wall time and the peak RSS of it and the children it waited for."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "rusage"
        runner = [sys.executable, "-I", "-S", "-c", _RUNNER, str(figures), *cmd]
        returncode = subprocess.run(runner, env=env, cwd=cwd, stdout=out, stderr=err, check=False).returncode
        seconds, max_rss_kib = figures.read_text().split()
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=float(seconds),
            max_rss_mib=int(max_rss_kib) / 1024,  # KiB on Linux
            returncode=returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def compile_package() -> None:
    """Write the bytecode of the ccledger package being measured, as ``pip install`` does."""
    import compileall

    import ccledger

    compileall.compile_dir(Path(ccledger.__file__).parent, quiet=1)


def corpus_files(config_dir: Path) -> list[Path]:
    """Every transcript under ``config_dir/projects``, sorted."""
    return sorted((config_dir / "projects").rglob("*.jsonl"))


def warm_page_cache(files: list[Path]) -> tuple[int, float]:
    """Read every file once so both tools start from the same warm cache; (bytes, seconds)."""
    start = time.perf_counter()
    total = 0
    for path in files:
        with open(path, "rb") as handle:
            while chunk := handle.read(8 * MIB):
                total += len(chunk)
    return total, time.perf_counter() - start


def ensure_corpus(args: argparse.Namespace) -> tuple[Path, dict[str, Any] | None]:
    """The corpus to use: ``--corpus``, else a generated one under the work dir (made once)."""
    if args.corpus:
        config_dir = args.corpus.resolve()
        if not (config_dir / "projects").is_dir():
            raise SystemExit(f"{config_dir}/projects is not a folder")
        return config_dir, generate_corpus.load_manifest(config_dir)
    config_dir = args.work / f"corpus-{args.size_mb:g}mb-{args.files}f-s{args.seed}"
    manifest = generate_corpus.load_manifest(config_dir)
    on_disk = sum(p.stat().st_size for p in corpus_files(config_dir)) if manifest else -1
    if manifest and manifest.get("bytes") == on_disk and manifest.get("files") == len(corpus_files(config_dir)):
        print(f"reusing corpus {config_dir}", file=sys.stderr)
        return config_dir, manifest
    if (config_dir / "projects").exists():
        shutil.rmtree(config_dir / "projects")
    print(f"generating {args.size_mb:g} MiB / {args.files:,} files into {config_dir} ...", file=sys.stderr)
    manifest = generate_corpus.generate(config_dir, size_mb=args.size_mb, files=args.files, seed=args.seed)
    print(f"  generated in {manifest['seconds']:.1f}s", file=sys.stderr)
    return config_dir, manifest


def ccledger_command() -> list[str]:
    """The ``ccledger`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("ccledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ccledger"]


def ledger_env(config_dir: Path, db_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CLAUDE_CONFIG_DIR"] = str(config_dir)
    env["CCLEDGER_DB"] = str(db_path)
    return env


def index_cli(config_dir: Path, db_path: Path) -> Run:
    """One measured ``ccledger index --json`` over ``config_dir`` into the ledger at ``db_path``."""
    return check(run_measured([*ccledger_command(), "index", "--json"], ledger_env(config_dir, db_path)), "ccledger")


def remove_ledger(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def check(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise SystemExit(f"{what} failed ({run.returncode}):\n{run.stderr.strip()[-2000:]}")
    return run


@dataclass(slots=True)
class Figures:
    """Everything measured, for the table and ``--json``."""

    corpus: str
    corpus_mib: float
    files: int
    lines: int | None
    responses: int
    cores: int
    python: str
    sqlite: str
    ccusage_version: str
    read_all_s: float
    ccusage_native_s: list[float]
    ccusage_native_rss_mib: float
    ccusage_launcher_s: list[float]
    ccusage_launcher_rss_mib: float | None
    cold_s: list[float]
    cold_rss_mib: float
    totals_equal: bool
    no_change_ms: list[float]
    no_change_cached_ms: list[float]
    no_change_cli_ms: list[float]
    append_files: int
    append_responses_per_round: int
    append_ms: list[float]
    append_cli_ms: float | None


def bench(args: argparse.Namespace) -> Figures:
    """Run every measurement and return the figures."""
    from ccledger.ingest.index import refresh
    from ccledger.ingest.scan import ScanCache
    from ccledger.ledger.db import open_db

    args.work.mkdir(parents=True, exist_ok=True)
    compile_package()
    config_dir, manifest = ensure_corpus(args)
    files = corpus_files(config_dir)
    total_bytes, read_s = warm_page_cache(files)
    warm_page_cache(files)
    print(f"corpus {config_dir}: {total_bytes / MIB:,.1f} MiB in {len(files):,} files", file=sys.stderr)

    ledgers = Path(tempfile.mkdtemp(prefix="ledgers-", dir=args.work))
    try:
        with compare_ccusage.ccusage(args.ccusage) as install:
            ccusage_version = install.version
            # (a) ccusage (native binary, npm launcher) and a cold ccledger index into a fresh
            # ledger, interleaved so that drift on a shared machine hits all of them alike
            env = compare_ccusage.ccusage_env(config_dir)
            native = install.native or install.launcher
            with_launcher = not args.no_launcher and install.native is not None
            db_path = ledgers / "ledger.db"
            native_runs: list[Run] = []
            launcher_runs: list[Run] = []
            cold_runs: list[Run] = []

            def cold_index() -> Run:
                remove_ledger(db_path)
                run = index_cli(config_dir, db_path)
                # The kernel writes the new ledger back to disk after the command has ended; let
                # it finish here, or it would slow the next ccusage run down.
                os.sync()
                return run

            # Every run follows one of the other tool's: on this VM a run that follows one of
            # the same program is up to 0.2 s faster, whichever the program.
            for i in range(args.runs):
                native_runs.append(
                    check(run_measured(compare_ccusage.daily_command(native), env, cwd=ledgers), "ccusage")
                )
                cold_runs.append(cold_index())
                theirs, ours = native_runs[-1].seconds, cold_runs[-1].seconds
                print(f"run {i + 1}: ccusage {theirs:.2f} s, ccledger cold {ours:.2f} s", file=sys.stderr)
                if with_launcher:
                    launcher = compare_ccusage.daily_command(install.launcher)
                    launcher_runs.append(check(run_measured(launcher, env, cwd=ledgers), "ccusage (npm)"))
                    cold_runs.append(cold_index())
            report = json.loads(native_runs[-1].stdout)
            stats = json.loads(cold_runs[-1].stdout)
            ours, responses = compare_ccusage.ledger_totals(db_path)
            totals_equal = ours == compare_ccusage.ccusage_totals(report)

            # (b) no change: in-process refresh(), then the CLI
            db = open_db(db_path)

            def no_change_ms(what: str, cache: ScanCache | None = None) -> list[float]:
                """Times of no-change refreshes after a warm-up (imports, statement cache, scan cache)."""
                refresh(db, [config_dir], cache=cache)
                times = []
                for _ in range(args.refresh_runs):
                    start = time.perf_counter()
                    result = refresh(db, [config_dir], cache=cache)
                    times.append((time.perf_counter() - start) * 1000)
                    if result.files_read:
                        raise SystemExit(f"{what} read {result.files_read} files")
                return times

            no_change = no_change_ms("no-change refresh")
            # ... and as the MCP server does it, with a scan cache kept between calls
            no_change_cached = no_change_ms("no-change refresh (scan cache)", ScanCache())
            no_change_cli = [index_cli(config_dir, db_path) for _ in range(args.cli_runs)]

            # (c) append-only
            append_ms: list[float] = []
            append_cli_ms = None
            if manifest is None and not args.allow_append:
                print("not a generated corpus: skipping the append test (see --allow-append)", file=sys.stderr)
            elif args.append_files:
                append_ms, append_cli_ms = bench_append(args, config_dir, db, db_path, files, refresh)
            db.conn.close()
    finally:
        shutil.rmtree(ledgers, ignore_errors=True)

    return Figures(
        corpus=str(config_dir),
        corpus_mib=total_bytes / MIB,
        files=len(files),
        lines=stats.get("lines_read"),
        responses=responses,
        cores=os.cpu_count() or 0,
        python=platform.python_version(),
        sqlite=sqlite3.sqlite_version,
        ccusage_version=ccusage_version,
        read_all_s=read_s,
        ccusage_native_s=[r.seconds for r in native_runs],
        ccusage_native_rss_mib=max(r.max_rss_mib for r in native_runs),
        ccusage_launcher_s=[r.seconds for r in launcher_runs],
        ccusage_launcher_rss_mib=max((r.max_rss_mib for r in launcher_runs), default=None),
        cold_s=[r.seconds for r in cold_runs],
        cold_rss_mib=max(r.max_rss_mib for r in cold_runs),
        totals_equal=totals_equal,
        no_change_ms=no_change,
        no_change_cached_ms=no_change_cached,
        no_change_cli_ms=[r.seconds * 1000 for r in no_change_cli],
        append_files=args.append_files,
        append_responses_per_round=args.append_files * args.append_responses,
        append_ms=append_ms,
        append_cli_ms=append_cli_ms,
    )


def bench_append(
    args: argparse.Namespace, config_dir: Path, db: Any, db_path: Path, files: list[Path], refresh: Any
) -> tuple[list[float], float | None]:
    """Append responses to a few session files, time the refresh that picks them up, restore."""
    rng = random.Random(args.seed)
    sessions = [p for p in files if p.parent.name != "subagents"]
    # Active sessions: the biggest one (long sessions are the ones still running) and random others.
    chosen = [max(sessions, key=lambda p: p.stat().st_size)]
    chosen += rng.sample([p for p in sessions if p != chosen[0]], min(args.append_files - 1, len(sessions) - 1))
    original = {p: p.stat().st_size for p in chosen}
    times: list[float] = []
    cli_ms = None
    try:
        for round_ in range(args.append_rounds + 1):
            appended = sum(
                generate_corpus.append_responses(
                    p, args.append_responses, seed=args.seed * 100_000 + round_ * 1_000 + i
                ).responses
                for i, p in enumerate(chosen)
            )
            if round_ == args.append_rounds:  # the last round goes through the CLI
                run = index_cli(config_dir, db_path)
                cli_ms = run.seconds * 1000
                new = json.loads(run.stdout)["new_responses"]
            else:
                start = time.perf_counter()
                new = refresh(db, [config_dir]).new_responses
                times.append((time.perf_counter() - start) * 1000)
            if new != appended:
                raise SystemExit(f"append round {round_}: appended {appended} responses, the refresh added {new}")
    finally:
        for path, size in original.items():
            os.truncate(path, size)
    return times, cli_ms


# --------------------------------------------------------------------------------------------


def report(f: Figures) -> str:
    """The figures as a compact table."""
    med = statistics.median
    native = med(f.ccusage_native_s)
    cold = med(f.cold_s)
    ratio = cold / native
    no_change = med(f.no_change_ms)
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, value: str, goal: str = "", verdict: bool | None = None) -> None:
        rows.append((name, value, goal, "" if verdict is None else ("ok" if verdict else "MISSED")))

    n = len(f.ccusage_native_s)
    add(f"ccusage claude daily, native (median of {n})", f"{native:.2f} s  {f.corpus_mib / native:,.0f} MiB/s")
    if f.ccusage_launcher_s:
        launcher = med(f.ccusage_launcher_s)
        add("ccusage claude daily, npm launcher", f"{launcher:.2f} s  {f.corpus_mib / launcher:,.0f} MiB/s")
    add(f"ccledger index, cold (median of {len(f.cold_s)})", f"{cold:.2f} s  {f.corpus_mib / cold:,.0f} MiB/s")
    add("ratio ccledger / ccusage native", f"{ratio:.2f}", f"<= {COLD_GOAL_RATIO:.1f}", ratio <= COLD_GOAL_RATIO)
    add(
        f"no-change refresh() in-process (n={len(f.no_change_ms)})",
        f"median {no_change:.1f} ms, p95 {p95(f.no_change_ms):.1f} ms",
        f"<= {NO_CHANGE_GOAL_MS:.0f} ms",
        no_change <= NO_CHANGE_GOAL_MS,
    )
    add(
        f"no-change refresh() with the MCP server's ScanCache (n={len(f.no_change_cached_ms)})",
        f"median {med(f.no_change_cached_ms):.1f} ms, p95 {p95(f.no_change_cached_ms):.1f} ms",
    )
    add(
        f"no-change `ccledger index` CLI wall (n={len(f.no_change_cli_ms)})",
        f"median {med(f.no_change_cli_ms):.0f} ms",
    )
    if f.append_ms:
        add(
            f"append-only refresh() ({f.append_files} files, {f.append_responses_per_round} responses)",
            f"median {med(f.append_ms):.1f} ms (n={len(f.append_ms)})",
        )
    if f.append_cli_ms is not None:
        add("append-only `ccledger index` CLI wall", f"{f.append_cli_ms:.0f} ms")
    add(
        "peak RSS, ccledger index cold",
        f"{f.cold_rss_mib:.0f} MiB",
        f"< {RSS_GOAL_MIB:.0f} MiB",
        f.cold_rss_mib < RSS_GOAL_MIB,
    )
    add("peak RSS, ccusage native", f"{f.ccusage_native_rss_mib:.0f} MiB")
    if f.ccusage_launcher_rss_mib is not None:
        add("peak RSS, ccusage via npm launcher", f"{f.ccusage_launcher_rss_mib:.0f} MiB")
    add("token totals ccledger == ccusage", "yes" if f.totals_equal else "NO", "equal", f.totals_equal)

    lines = [
        f"corpus   {f.corpus}",
        f"         {f.corpus_mib:,.1f} MiB, {f.files:,} files, {f.lines or 0:,} lines, {f.responses:,} responses",
        f"machine  {f.cores} cores, Python {f.python}, SQLite {f.sqlite}, ccusage {f.ccusage_version}; "
        f"warm page cache (reading every file: {f.read_all_s:.2f} s)",
        "",
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("figure", "value", "goal", "")
    for row in [head, *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    lines.append("")
    lines.append(
        "runs (s): ccusage "
        + ", ".join(f"{s:.2f}" for s in f.ccusage_native_s)
        + "; ccledger cold "
        + ", ".join(f"{s:.2f}" for s in f.cold_s)
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="Use this Claude config dir instead of generating one.")
    parser.add_argument("--size-mb", type=float, default=1024, help="Generated corpus size in MiB (default 1024).")
    parser.add_argument("--files", type=int, default=3000, help="Generated corpus files (default 3000).")
    parser.add_argument("--seed", type=int, default=1, help="Generator seed (default 1).")
    parser.add_argument("--runs", type=int, default=3, help="Cold runs of each tool (default 3).")
    parser.add_argument("--refresh-runs", type=int, default=20, help="In-process no-change refreshes (default 20).")
    parser.add_argument("--cli-runs", type=int, default=5, help="No-change CLI runs (default 5).")
    parser.add_argument("--append-files", type=int, default=20, help="Files appended to (default 20).")
    parser.add_argument("--append-responses", type=int, default=3, help="Responses appended per file (default 3).")
    parser.add_argument("--append-rounds", type=int, default=5, help="Timed append rounds (default 5).")
    parser.add_argument("--allow-append", action="store_true", help="Append to (then truncate) a --corpus too.")
    parser.add_argument("--no-launcher", action="store_true", help="Skip timing ccusage's npm launcher.")
    parser.add_argument(
        "--ccusage", metavar="INSTALL_DIR", help=f"Reuse a ccusage install (or ${compare_ccusage.INSTALL_ENV})."
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="Work folder (default benchmarks/.work).")
    parser.add_argument("--json", type=Path, help="Also write the raw figures to this file.")
    args = parser.parse_args(argv)
    figures = bench(args)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n")
    return 0 if figures.totals_equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
