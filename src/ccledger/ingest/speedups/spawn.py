"""When a refresh is worth a helper process, and how one is started.

Both the early start (``headstart``) and the refresh's share (``helper_client``) ask here, so
neither imports the other. Standard library only: the console script asks before anything slow
is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["HELPER_COMMAND", "PARALLEL_BYTES", "spawn_helper", "usable_cpus", "worth_sharing"]

# -P: the working directory (a repository someone else wrote, where Claude Code runs) is not put
# first on sys.path, so a ccledger.py or ccledger/ there can never be imported instead of ours.
HELPER_COMMAND = [sys.executable, "-P", "-m", "ccledger.ingest.speedups.helper"]

# A refresh with this much to read is shared with a helper process (a first index, mostly). The
# helper's start (an interpreter and its imports, on the other core meanwhile) pays from about
# 10 MiB on: a cold index of 50 MiB took 0.55 s alone and 0.35 s shared, 200 MiB 1.43 s and 0.72 s.
PARALLEL_BYTES = 8 << 20


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity where the platform tells it (a container
    or ``taskset`` may allow fewer than the machine has), never more than ``os.cpu_count()``."""
    machine = os.cpu_count() or 1
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return machine
    return max(1, min(machine, allowed))


def worth_sharing(total_bytes: int) -> bool:
    """Whether reading this many bytes is worth a helper process here: enough to read, and a
    second CPU for the helper to read on (on one, two processes only take turns)."""
    return total_bytes >= PARALLEL_BYTES and usable_cpus() > 1


def spawn_helper() -> subprocess.Popen[bytes]:
    """Start a helper process (``python -m ccledger.ingest.speedups.helper``); it waits on stdin
    for its plans."""
    return subprocess.Popen(HELPER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
