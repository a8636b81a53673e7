"""A new user's first answer, against ccusage's run over the same files.

For each corpus, interleaved rounds of:

a. ccusage ``claude daily --json --offline`` (native binary);
b. ``ccledger index --json`` into a fresh ledger;
c. ``ccledger report --since all`` on a fresh ledger (its first answer indexes everything);
d. a fresh ``ccledger serve`` over stdio: ``initialize``, ``tools/list``, then ``usage_summary``
   (since all) at once: the time to each reply, connect included;
e. the same, with the call ``--pause`` seconds after the tools were listed, as a person asks a
   while after the session started: the call's own time.

Medians of ``--runs``, with each figure's ratio to ccusage's run in the same rounds. Corpora are
generated ones (``--size-mb``, several allowed; made once under ``--work``) or ``--corpus`` dirs.

    python benchmarks/bench_first_answer.py --size-mb 10 50 200 --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bench_index
import compare_ccusage

HERE = Path(__file__).resolve().parent
# Files per MiB as the generator's profile gives them (3,000 files for 1 GiB).
FILES_PER_MIB = 3000 / 1024


def serve_first_answer(config_dir: Path, db_path: Path, pause: float) -> tuple[float, float, float]:
    """Seconds to the ``initialize`` reply, to the ``tools/list`` reply, and to the first
    ``usage_summary`` reply (from the start without ``pause``, from the call with it)."""
    bench_index.remove_ledger(db_path)
    env = bench_index.ledger_env(config_dir, db_path)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*bench_index.ccledger_command(), "serve"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def ask(number: int, method: str, params: dict | None = None) -> float:
        message = {"jsonrpc": "2.0", "id": number, "method": method, **({"params": params} if params else {})}
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        while True:
            reply = json.loads(proc.stdout.readline())
            if reply.get("id") == number:
                if "error" in reply or reply["result"].get("isError"):
                    raise SystemExit(f"ccledger serve answered {method} with an error: {reply}")
                return time.perf_counter()

    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}
    initialized = ask(1, "initialize", hello) - started
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    listed = ask(2, "tools/list") - started
    time.sleep(pause)
    asked = time.perf_counter()
    answered = ask(3, "tools/call", {"name": "usage_summary", "arguments": {"since": "all"}})
    proc.stdin.close()
    proc.wait(timeout=120)
    proc.stdout.close()
    return initialized, listed, answered - (asked if pause else started)


def bench_corpus(config_dir: Path, args: argparse.Namespace, native: Path) -> dict[str, float]:
    """Medians of each figure over ``args.runs`` interleaved rounds."""
    db_path = args.work / "first-answer.db"
    runs: dict[str, list[float]] = {
        k: [] for k in ("ccusage", "index", "report", "initialize", "listed", "serve", "later")
    }
    for _ in range(args.runs):
        env = compare_ccusage.ccusage_env(config_dir)
        daily = compare_ccusage.daily_command(native)
        runs["ccusage"].append(bench_index.check(bench_index.run_measured(daily, env), "ccusage").seconds)
        bench_index.remove_ledger(db_path)
        runs["index"].append(bench_index.index_cli(config_dir, db_path).seconds)
        bench_index.remove_ledger(db_path)
        report = [*bench_index.ccledger_command(), "report", "--since", "all"]
        measured = bench_index.run_measured(report, bench_index.ledger_env(config_dir, db_path))
        runs["report"].append(bench_index.check(measured, "ccledger report").seconds)
        initialized, listed, answered = serve_first_answer(config_dir, db_path, 0)
        runs["initialize"].append(initialized)
        runs["listed"].append(listed)
        runs["serve"].append(answered)
        runs["later"].append(serve_first_answer(config_dir, db_path, args.pause)[2])
    bench_index.remove_ledger(db_path)
    return {k: statistics.median(v) for k, v in runs.items()}


def corpora(args: argparse.Namespace) -> list[Path]:
    found = [corpus.resolve() for corpus in args.corpus or []]
    for size in args.size_mb or []:
        files = max(10, round(size * FILES_PER_MIB))
        generate = argparse.Namespace(corpus=None, work=args.work, size_mb=size, files=files, seed=args.seed)
        found.append(bench_index.ensure_corpus(generate)[0])
    return found


def _cell(medians: dict[str, float], key: str) -> str:
    return f"{medians[key]:.3f} ({medians[key] / medians['ccusage']:.1f})".rjust(14)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, nargs="*", help="Generated corpus sizes in MiB (default 10 50 200).")
    parser.add_argument("--corpus", type=Path, nargs="*", help="Claude config dirs to use as they are.")
    parser.add_argument("--seed", type=int, default=4, help="Generator seed (default 4).")
    parser.add_argument("--runs", type=int, default=5, help="Interleaved rounds (default 5).")
    parser.add_argument("--pause", type=float, default=4.0, help="Seconds before the later first call (default 4).")
    parser.add_argument("--ccusage", help="A folder holding an npm install of ccusage (default: install one).")
    parser.add_argument("--work", type=Path, default=bench_index.DEFAULT_WORK, help="Work folder.")
    args = parser.parse_args()
    if not args.size_mb and not args.corpus:
        args.size_mb = [10, 50, 200]
    args.work.mkdir(parents=True, exist_ok=True)
    bench_index.compile_package()
    with compare_ccusage.ccusage(args.ccusage) as install:
        if install.native is None:
            raise SystemExit("this ccusage install has no native binary for this platform")
        print(f"ccusage {install.version}; medians of {args.runs} interleaved rounds; seconds (x ccusage)")
        print(f"{'corpus':28}{'ccusage':>9}{'index':>14}{'report':>14}{'serve: init':>13}{'first call':>14}"
              f"{'call ' + format(args.pause, 'g') + ' s later':>18}")  # fmt: skip
        for config_dir in corpora(args):
            m = bench_corpus(config_dir, args, install.native)

            print(f"{config_dir.name:28}{m['ccusage']:>9.3f}{_cell(m, 'index')}{_cell(m, 'report')}"
                  f"{m['initialize']:>13.3f}{_cell(m, 'serve')}{m['later']:>18.3f}")  # fmt: skip
            sys.stdout.flush()


if __name__ == "__main__":
    main()
