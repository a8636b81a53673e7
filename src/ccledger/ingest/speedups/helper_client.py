"""Sharing a large refresh's reading with a helper process (``python -m ccledger.ingest.speedups.helper``).

A first index of months of history is CPU-bound, and one Python process uses one core. The
refresh reads with a second process when there is this much to read and a second core.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from ..file_result import Outcome
from ..scan import Plan, planned_bytes
from . import spawn
from .helper import DECODER, DoneMessage, ReadMessage, RollupMessage, read_frames

__all__ = ["Helper"]

_PIPE_BYTES = 1 << 20  # the most an unprivileged process may ask for, by default
# What this process claims of the helper's plans at a time: about a millisecond of reading, so
# that neither side waits long for the other at the end.
_CLAIM_BYTES = 1 << 20
# This process's part of a rollup rebuild shared with the helper: the larger, because the helper
# checkpoints the ledger's log in the time left; the smaller when this process builds a first
# load's indexes meanwhile (see Helper.aggregate): building them takes about a quarter of the
# time the whole aggregate does, so both sides finish together at 0.37.
_ROLLUP_PART = 0.6
_ROLLUP_PART_BESIDE_INDEXES = 0.37


class Helper:
    """A second process (``python -m ccledger.ingest.speedups.helper``) reading files of a large refresh.

    It writes nothing: its results come back over a pipe (msgpack frames, see ``helper``)
    and this process writes them, so the two never wait on each other for the write lock. The
    helper reads the shared plans from the front; whenever this process has nothing of the
    helper's to write, it claims the last unclaimed plans and reads them itself (:meth:`claim`).
    The split so follows what each process gets done on this machine. A plan read twice (a claim
    crossing the helper's start on it) is written once: the second write of a file finds its plan
    already taken (see ``index._write_file``).
    Whatever a failed helper did not send is in ``unread`` afterwards.

    Once it has read its share, the helper copies the committed log into the ledger file (a
    passive checkpoint: the writer goes on meanwhile) and then computes rollup rows on request
    (:meth:`aggregate`, a :class:`rollup.RollupShare`) until :meth:`close`; this process can
    have work of its own done meanwhile (:meth:`meanwhile`).
    """

    def __init__(self, ledger: str, plans: list[Plan], process: subprocess.Popen[bytes] | None = None) -> None:
        """Share ``plans`` with the helper ``process`` started for them (default: start one now)."""
        self.plans = plans
        self.failure = ""
        self.closed = False
        self._meanwhile: Callable[[], None] | None = None
        self._received: set[int] = set()
        self._highest = -1  # the highest plan number received
        self._claimed = len(plans)  # plans from here on are this process's
        # Bytes of the plans neither received nor claimed: the helper's reading still to come.
        self.open_bytes = sum(planned_bytes(plan) for plan in plans)
        # Frames as they arrive (None: the helper's output ended); this thread decodes them.
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._read_all = False  # its reading is done (or it failed): no more ReadMessages
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._process = process if process is not None else spawn.spawn_helper()
        request = {
            "ledger": ledger,
            "plans": [
                [item.path, start, [previous.head_sha1, previous.head_len, previous.tail_sha1] if previous else None]
                for item, previous, start in plans
            ],
        }
        self._tell(request)
        # Both pipes are served by threads: the request fills the pipe long before the new
        # interpreter has imported enough to read it, and this process has work to get on with.
        self._writer = threading.Thread(target=self._send, daemon=True)
        self._reader = threading.Thread(target=self._receive, daemon=True)
        self._writer.start()
        self._reader.start()
        # Results need not wait for this process's reader thread (which waits its turn for the
        # interpreter) if the pipe holds more of them: 0.05 s blocked instead of 0.18 (Linux).
        if sys.platform == "linux":
            import fcntl

            assert self._process.stdout is not None
            with contextlib.suppress(OSError):  # a lower limit set by the administrator
                fcntl.fcntl(self._process.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)

    def _tell(self, message: dict[str, Any]) -> None:
        self._outbox.put(json.dumps(message).encode() + b"\n")

    def _send(self) -> None:
        assert self._process.stdin is not None
        try:
            with self._process.stdin:
                while (message := self._outbox.get()) is not None:
                    self._process.stdin.write(message)
                    self._process.stdin.flush()
        except OSError:
            pass  # the helper has ended; `unread` has what it left, and close() says how

    def _receive(self) -> None:
        # Frames only: decoding here would hold the interpreter lock that the writing thread
        # takes back after every SQLite call, and it would wait for each decode to finish.
        assert self._process.stdout is not None
        try:
            for frame in read_frames(self._process.stdout):
                self._frames.put(frame)
        except (OSError, ValueError) as exc:
            self.failure = f"unreadable message: {exc}"
        finally:  # the end, or a failure: nothing more will come
            self._frames.put(None)

    def _next(self, wait: bool) -> ReadMessage | DoneMessage | RollupMessage | None:
        """The next message; None when none has arrived (without ``wait``) or none will."""
        try:
            frame = self._frames.get(block=wait)
        except queue.Empty:
            return None
        if frame is None:
            self._frames.put(None)  # for whoever asks next
            self._read_all = True
            return None
        try:
            return DECODER.decode(frame)
        except msgspec.DecodeError as exc:
            self.failure = f"unreadable message: {exc}"
            self._frames.put(None)
            self._read_all = True
            return None

    def claim(self) -> list[Plan]:
        """The last plans neither side has started, now this process's to read: at least one,
        and as many more as make _CLAIM_BYTES; none when none is left.

        The plans end with the smallest files, so claiming them one by one cost a message to
        the helper (and a wake-up of the thread that sends it) per small file: 30 ms of a
        first index, for 2,500 files."""
        claimed: list[Plan] = []
        size = 0
        number = self._claimed
        while number - 1 > self._highest and (not claimed or size < _CLAIM_BYTES):
            number -= 1
            claimed.append(self.plans[number])
            size += planned_bytes(self.plans[number])
        if claimed:
            self._tell({"claim": number})  # the helper stops before this plan
            self._claimed = number
            self.open_bytes -= size
        return claimed

    def ready(self) -> Iterator[Outcome]:
        """The results that have arrived, without waiting."""
        yield from self._results(wait=False)

    def rest(self) -> Iterator[Outcome]:
        """The remaining results as they arrive, until the helper has read its share. Claims no more."""
        yield from self._results(wait=True)

    def _results(self, wait: bool) -> Iterator[Outcome]:
        while not self._read_all:
            message = self._next(wait)
            if message is None:
                return
            if isinstance(message, DoneMessage):
                self._read_all = True
                return
            if isinstance(message, ReadMessage):
                yield self._outcome(message)

    @property
    def unread(self) -> list[Plan]:
        """Plans the helper was to read but sent no result for (none, unless it failed)."""
        return [plan for number, plan in enumerate(self.plans[: self._claimed]) if number not in self._received]

    @property
    def caller_part(self) -> float:
        """This process's part of a shared rollup rebuild (see rollup.RollupShare)."""
        return _ROLLUP_PART if self._meanwhile is None else _ROLLUP_PART_BESIDE_INDEXES

    def meanwhile(self, work: Callable[[], None]) -> None:
        """Have ``work`` done in this process while the helper computes its part of the next
        rollup rebuild (in that rebuild's transaction); the helper's part grows to match."""
        self._meanwhile = work

    def aggregate(self, dirty: bool, since: str) -> Callable[[], list[tuple[Any, ...]] | None]:
        """Have the helper compute rollup rows from ``since`` on (see rollup.RollupShare)."""
        self._tell({"rollup": [dirty, since]})
        work, self._meanwhile = self._meanwhile, None
        if work is not None:
            work()

        def rows() -> list[tuple[Any, ...]] | None:
            while (message := self._next(wait=True)) is not None:
                if isinstance(message, RollupMessage):
                    return message.rows
            return None

        return rows

    def _outcome(self, message: ReadMessage) -> Outcome:
        number = message.number
        if number < self._claimed and number not in self._received:
            self.open_bytes -= planned_bytes(self.plans[number])
        self._received.add(number)
        self._highest = max(self._highest, number)
        item, previous, start = self.plans[number]
        return Outcome(item, previous, start, message.result)

    def close(self) -> None:
        """End the helper and wait for it; ``failure`` says how it failed, if it did."""
        assert self._process.stderr is not None
        if self.closed:
            return
        self.closed = True
        self._outbox.put(None)  # its stdin ends: it exits
        stderr = self._process.stderr.read().decode(errors="replace")
        code = self._process.wait()
        self._writer.join()
        self._reader.join()
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()
        if code != 0 and not self.failure:
            self.failure = f"exit code {code}: {stderr.strip().splitlines()[-1:] or ''}"
