"""How fast the dashboard answers on bench_tools.py's ledger of 1,000,000 responses.

    python benchmarks/bench_dashboard.py            # build the ledger first: python benchmarks/bench_tools.py
    python benchmarks/bench_dashboard.py --calls 10

Starts a real ``ccledger dashboard`` process on a copy-free path to the ledger (its transcripts
root is the 3,000-file corpus, so every request pays the freshness check, as a user's would) and
times over HTTP: the page (first paint: the whole HTML with its charts) of every tab for last
month and all time, a session's drill-down, the polled view, and the JSON endpoint. Prints
p50/p95 beside the goals.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEDGER = HERE / ".work" / "tools-1000000-s1.db"
CORPUS = HERE / ".work" / "corpus-1024mb-3000f-s1"
GOAL_PAGE_MS, GOAL_JSON_MS = 500.0, 100.0

TABS = ("spend", "blocks", "budgets", "activity", "sessions")
REQUESTS = {
    **{
        f"{tab} page, {label}": (f"/?tab={tab}&since={since}", GOAL_PAGE_MS)
        for tab in TABS
        for label, since in (("last month", "last+month"), ("all time", "all"))
    },
    "polled view, last month": ("/view?since=last+month", GOAL_PAGE_MS),
    "JSON usage, last month by day": ("/api/usage?since=last+month", GOAL_JSON_MS),
    "JSON usage, all time by month": ("/api/usage?since=all&group_by=month", GOAL_JSON_MS),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ledger", type=Path, default=LEDGER)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    if not args.ledger.exists():
        raise SystemExit(f"no ledger at {args.ledger}: run benchmarks/bench_tools.py first")
    port = _free_port()
    env = {**os.environ, "CCLEDGER_DB": str(args.ledger), "CLAUDE_CONFIG_DIR": str(args.corpus), "TZ": "UTC"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ccledger", "dashboard", "--no-open", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/api/usage", timeout=60).read()  # also the first, cold, request
                break
            except OSError:
                time.sleep(0.1)
        listed = urllib.request.urlopen(base + "/?tab=sessions&since=all", timeout=60).read().decode()
        session = re.search(r"session=([^&\"]+)", listed)
        requests = dict(REQUESTS)
        if session:
            requests["a session's drill-down"] = (f"/?tab=sessions&since=all&session={session.group(1)}", GOAL_PAGE_MS)
        print(f"ledger {args.ledger.name}, {args.calls} calls each (freshness check over {args.corpus.name} included)")
        for label, (path, goal) in requests.items():
            samples = []
            for _ in range(args.calls):
                started = time.perf_counter()
                with urllib.request.urlopen(base + path, timeout=60) as answer:
                    size = len(answer.read())
                samples.append((time.perf_counter() - started) * 1000)
            ordered = sorted(samples)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            verdict = "ok" if p95 < goal else "MISSED"
            print(f"  {label:34s} p50 {statistics.median(samples):7.1f} ms  p95 {p95:7.1f} ms  "
                  f"(goal < {goal:.0f}: {verdict}), {size:,} bytes")  # fmt: skip
    finally:
        process.terminate()
        process.communicate(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
