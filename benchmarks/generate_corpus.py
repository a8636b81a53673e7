"""Generate a deterministic, realistic Claude Code ``projects`` tree for benchmarks.

    python benchmarks/generate_corpus.py OUT_DIR --size-mb 1024 --files 3000 [--seed N]

writes ``OUT_DIR/projects/<encoded-cwd>/<session>.jsonl`` (plus subagent transcripts) and
``OUT_DIR/corpus.json``, a manifest with the de-duplicated token totals the generator wrote, so
any reader of the tree can be checked against ground truth. The same arguments always produce
byte-identical files.

What makes it realistic:

* File sizes follow the real-world profile ccusage measured on 3,142 files (p50 105 KB, p75
  234 KB, p90 654 KB, p95 1.5 MB, p99 5.4 MB, max 87 MB), scaled so the total is ``--size-mb``.
* Most bytes are user lines: tool results (repeated in ``toolUseResult``) and pasted prompts;
  assistant lines carry big tool inputs (Write, Edit) and thinking signatures.
* One API response is written as one line per content block sharing ``message.id`` and
  ``requestId``; older versions log a growing ``output_tokens`` (only the last line is final),
  2.1.2xx repeats the final usage on every line. Cache writes carry the 5m/1h split, cache
  reads follow the growing context, compaction and cache expiry.
* Subagents live in ``<session>/subagents/agent-<id>.jsonl`` (sidechain, parent's sessionId);
  in the 2.1.3x era the parent also holds ``progress``/``agent_progress`` lines that echo the
  subagent's assistant lines, each of which also exists in the subagent file.
* Some sessions are resumed: their file starts with a copy of another session's lines.
* A handful of ``<synthetic>`` API-error lines (zero usage) and Task results whose
  ``toolUseResult.usage`` must not be counted.
* Several projects with distinct cwds (worktrees included), three Claude Code eras and their
  models, timestamps spread over ``--days`` days ending at ``--end``.

JSON is compact (no spaces after separators), UTF-8, one object per line, as Claude Code writes it.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import functools
import itertools
import json
import math
import os
import random
import shutil
import string
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MIB = 1 << 20
MANIFEST = "corpus.json"
DEFAULT_END = "2026-11-14"

# ccusage's real-world profile (3,142 files, 1,239 MiB; apps/ccusage/scripts/generate-large-fixture.nu)
# as (quantile, bytes). The lower tail and the knots inside the top percent are not published:
# they are chosen so that at the profile's own file count the total comes out near 1,239 MiB.
SIZE_QUANTILES: tuple[tuple[float, float], ...] = (
    (0.0, 1_200),
    (0.10, 9_000),
    (0.25, 38_000),
    (0.50, 105_000),
    (0.75, 234_000),
    (0.90, 654_000),
    (0.95, 1_500_000),
    (0.99, 5_400_000),
    (0.995, 7_500_000),
    (0.999, 16_000_000),
    (1.0, 87_000_000),
)
MAX_FILE_SHARE = 0.08  # no single file above this share of the corpus (the real max is ~7 %)
MIN_FILE_BYTES = 400

SUBAGENT_SHARE = 0.30
RESUMED_SHARE = 0.04
SYNTHETIC_RATE = 0.003

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
_B62 = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"


# --------------------------------------------------------------------------------------------
# Eras of Claude Code: versions, models and how each one writes a response


@dataclass(frozen=True, slots=True)
class Era:
    """How one range of Claude Code versions writes transcripts."""

    name: str
    versions: tuple[str, ...]
    main_models: tuple[tuple[str, float], ...]
    agent_models: tuple[tuple[str, float], ...]
    progress_echo: bool  # 2.1.1x-4x: agent_progress lines embed subagent responses
    final_usage_everywhere: bool  # 2.1.2xx: every block line carries the finished usage
    envelope_first: bool  # 2.1.3x puts cwd/sessionId/version before the message
    agent_id_hex: int


ERAS: tuple[Era, ...] = (
    Era(
        "2.1.3x",
        ("2.1.34", "2.1.37", "2.1.38", "2.1.39", "2.1.41", "2.1.42"),
        (("claude-opus-4-6", 0.7), ("claude-sonnet-4-5-20250929", 0.3)),
        (("claude-sonnet-4-5-20250929", 0.45), ("claude-haiku-4-5-20251001", 0.35), ("claude-opus-4-6", 0.2)),
        progress_echo=True,
        final_usage_everywhere=False,
        envelope_first=True,
        agent_id_hex=6,
    ),
    Era(
        "2.1.1xx",
        ("2.1.98", "2.1.105", "2.1.110", "2.1.114"),
        (("claude-opus-4-7", 0.75), ("claude-sonnet-4-5-20250929", 0.25)),
        (("claude-haiku-4-5-20251001", 0.4), ("claude-sonnet-4-5-20250929", 0.3), ("claude-opus-4-7", 0.3)),
        progress_echo=False,
        final_usage_everywhere=False,
        envelope_first=False,
        agent_id_hex=16,
    ),
    Era(
        "2.1.2xx",
        ("2.1.240", "2.1.251", "2.1.263"),
        (("claude-opus-5", 0.8), ("claude-sonnet-5", 0.2)),
        (("claude-haiku-4-5-20251001", 0.4), ("claude-sonnet-5", 0.3), ("claude-opus-5", 0.3)),
        progress_echo=False,
        final_usage_everywhere=True,
        envelope_first=False,
        agent_id_hex=16,
    ),
)
ERA_STARTS = (0.0, 0.42, 0.75)  # share of the time window at which each era begins

PROJECT_NAMES = (
    "api-gateway",
    "web-dashboard",
    "ml-pipeline",
    "infra",
    "mobile-app",
    "billing-service",
    "data-etl",
    "cli-tools",
    "docs-site",
    "search-index",
    "design-system",
    "auth-service",
    "notebooks",
    "game-engine",
)
SOURCE_FILES = (
    "src/main.py",
    "src/app.ts",
    "src/server/routes.ts",
    "src/models/user.py",
    "src/models/order.py",
    "src/utils/format.ts",
    "src/config.py",
    "src/db/schema.sql",
    "src/db/migrations.py",
    "src/handlers/webhook.py",
    "src/components/Table.tsx",
    "src/components/Chart.tsx",
    "src/pipeline/stages.py",
    "src/pipeline/io.py",
    "tests/test_api.py",
    "tests/test_models.py",
    "tests/e2e/login.spec.ts",
    "README.md",
    "pyproject.toml",
    "package.json",
    "Makefile",
    "docs/architecture.md",
    ".github/workflows/ci.yml",
    "scripts/deploy.sh",
)
SUBAGENT_TYPES = ("general-purpose", "Explore", "Plan", "code-reviewer", "test-runner")


def encode_cwd(cwd: str) -> str:
    """Claude Code's (lossy) project directory name for a working directory."""
    return "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in cwd)


# --------------------------------------------------------------------------------------------
# Text pools: content is sliced from them so generating a gigabyte stays fast.


@functools.cache
def _pools() -> dict[str, Any]:
    rng = random.Random(0x5EED)
    words = [
        *("the", "a", "to", "of", "and", "in", "is", "for", "that", "with", "on", "as", "it", "be", "this"),
        *("value", "result", "config", "request", "response", "handler", "error", "cache", "index", "token"),
        *("session", "user", "file", "path", "line", "offset", "parse", "table", "query", "record", "model"),
        *("price", "usage", "total", "daily", "return", "import", "class", "def", "async", "await", "const"),
        *("let", "function", "interface", "type", "struct", "update", "create", "delete", "select", "insert"),
        *("where", "order", "group", "limit", "json", "yaml", "schema", "test", "by", "are", "from", "not"),
    ]
    rare = ("café", "naïve", "→", "✓", "—", "über", "日本語", "🚀", "≥", "ø")
    idents = [f"{rng.choice(words)}_{rng.choice(words)}" for _ in range(400)] + [
        f"{rng.choice(words).title()}{rng.choice(words).title()}" for _ in range(200)
    ]

    def code_line() -> str:
        indent = " " * (4 * rng.choice((0, 0, 1, 1, 1, 2, 2, 3)))
        kind = rng.random()
        a, b, c = rng.choice(idents), rng.choice(idents), rng.choice(idents)
        if kind < 0.12:
            return f"{indent}def {a}({b}: str, {c}: int = 0) -> dict[str, Any]:"
        if kind < 0.22:
            return f'{indent}{a} = {b}.get("{c}", {rng.randint(0, 999)})'
        if kind < 0.32:
            return f"{indent}if {a} is None or not {b}:"
        if kind < 0.40:
            return f"{indent}return {{'{a}': {b}, '{c}': [{rng.randint(0, 99)}, {rng.randint(0, 99)}]}}"
        if kind < 0.48:
            return f"{indent}# {' '.join(rng.choices(words, k=rng.randint(4, 12)))}"
        if kind < 0.55:
            return ""
        if kind < 0.62:
            return f"{indent}const {a} = await {b}({c}, {{ retries: {rng.randint(1, 5)} }});"
        if kind < 0.70:
            return f'{indent}raise ValueError(f"{" ".join(rng.choices(words, k=5))}: {{{a}!r}}")'
        if kind < 0.78:
            return f"{indent}for {a} in {b}.{c}():"
        return f"{indent}{a}.{b}({c}, {rng.choice(idents)}={rng.randint(0, 9999)})"

    def prose() -> str:
        sentence = " ".join(rng.choices(words, k=rng.randint(6, 22)))
        if rng.random() < 0.03:
            sentence += " " + rng.choice(rare)
        return sentence.capitalize() + rng.choice((". ", ". ", ".\n", ":\n- ", "? "))

    def shell_line() -> str:
        kind = rng.random()
        a = rng.choice(idents)
        if kind < 0.3:
            return (
                f"-rw-r--r--  1 dev dev {rng.randint(100, 99999):>6} Nov {rng.randint(1, 30):>2} "
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} {a}.py"
            )
        if kind < 0.55:
            pad = " " * rng.randint(1, 20)
            return f"tests/test_{a}.py::test_{rng.choice(idents)} PASSED{pad}[{rng.randint(0, 100):>3}%]"
        if kind < 0.7:
            return f"src/{a}.ts:{rng.randint(1, 900)}:{rng.randint(1, 80)}: {' '.join(rng.choices(words, k=6))}"
        if kind < 0.8:
            changed, added, removed = rng.randint(1, 40), rng.randint(1, 900), rng.randint(0, 300)
            return f" {changed} files changed, {added} insertions(+), {removed} deletions(-)"
        return " ".join(rng.choices(words, k=rng.randint(3, 14)))

    code_lines = [code_line() for _ in range(60_000)]
    plain = "\n".join(code_lines)
    # Read results number their lines ("     1→code"); keep a numbered copy line-aligned with plain.
    numbered = "\n".join(f"{(i % 4000) + 1:>6}→{line}" for i, line in enumerate(code_lines))
    # Line start offsets in both; a numbered line is 6 digits, an arrow and the code.
    plain_starts = [0]
    numbered_starts = [0]
    for line in code_lines:
        plain_starts.append(plain_starts[-1] + len(line) + 1)
        numbered_starts.append(numbered_starts[-1] + len(line) + 8)
    return {
        "plain": plain,
        "numbered": numbered,
        "plain_starts": plain_starts,
        "numbered_starts": numbered_starts,
        "prose": "".join(prose() for _ in range(40_000)),
        "shell": "\n".join(shell_line() for _ in range(50_000)),
        "b64": base64.b64encode(rng.randbytes(600_000)).decode(),
        "idents": idents,
        "words": words,
    }


# --------------------------------------------------------------------------------------------
# Sizes and the plan of files


def _quantile(p: float) -> float:
    knots = SIZE_QUANTILES
    for (p0, s0), (p1, s1) in itertools.pairwise(knots):
        if p <= p1:
            f = (p - p0) / (p1 - p0)
            return math.exp(math.log(s0) + f * (math.log(s1) - math.log(s0)))
    return knots[-1][1]


def file_sizes(total_bytes: int, files: int) -> list[int]:
    """Byte budgets for ``files`` files following the real-world profile, summing to ``total_bytes``.

    Files sit at evenly spaced quantiles (so even a small corpus has the profile's shape), the
    largest one at the profile's maximum; all are scaled to the requested total, with no file
    above ``MAX_FILE_SHARE`` of it. Sorted ascending.
    """
    raw = [_quantile((i + 0.5) / files) for i in range(files)]
    raw[-1] = SIZE_QUANTILES[-1][1]
    cap = MAX_FILE_SHARE * total_bytes
    capped: set[int] = set()
    sizes = raw
    for _ in range(20):
        free_total = total_bytes - cap * len(capped)
        free_raw = sum(r for i, r in enumerate(raw) if i not in capped)
        scale = free_total / free_raw
        sizes = [cap if i in capped else r * scale for i, r in enumerate(raw)]
        over = {i for i, s in enumerate(sizes) if s > cap and i not in capped}
        if not over:
            break
        capped |= over
    return [max(MIN_FILE_BYTES, round(s)) for s in sizes]


@dataclass(slots=True)
class Project:
    """A working directory Claude Code ran in; its encoded name is the folder under projects/."""

    cwd: str
    branches: tuple[str, ...]
    files: tuple[str, ...]

    @property
    def dirname(self) -> str:
        return encode_cwd(self.cwd)


@dataclass(slots=True)
class SessionPlan:
    """A main (or resumed) session file to write, and the subagent files it spawns."""

    index: int
    budget: int
    project: Project
    start_ms: int
    session_id: str
    era: Era
    subagents: list[int] = field(default_factory=list)  # budgets
    resume_of: int | None = None  # index of the session whose lines this one copies
    end_ms: int = 0
    path: Path | None = None


@dataclass(slots=True)
class Stats:
    """What the generator wrote; the manifest's content."""

    files: int = 0
    bytes: int = 0
    lines: int = 0
    main_files: int = 0
    subagent_files: int = 0
    resumed_files: int = 0
    responses: int = 0
    assistant_lines: int = 0
    progress_echo_lines: int = 0
    copied_lines: int = 0
    synthetic_lines: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0

    def count_response(self, usage: tuple[int, int, int, int, int]) -> None:
        self.responses += 1
        self.input_tokens += usage[0]
        self.output_tokens += usage[1]
        self.cache_write_5m_tokens += usage[2]
        self.cache_write_1h_tokens += usage[3]
        self.cache_read_tokens += usage[4]


# --------------------------------------------------------------------------------------------
# Writing one transcript


class Transcript:
    """One JSONL file being written: its envelope, clock, prompt-cache state and lines."""

    def __init__(
        self,
        gen: Generator,
        *,
        budget: int,
        project: Project,
        era: Era,
        session_id: str,
        start_ms: int,
        model: str,
        agent_id: str | None = None,
        cwd: str | None = None,
        branch: str | None = None,
        slug: str | None = None,
    ) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.budget = gen.take_budget(budget)
        self.project = project
        self.era = era
        self.version = self.rng.choice(era.versions)
        self.session_id = session_id
        self.agent_id = agent_id
        self.sidechain = agent_id is not None
        self.cwd = cwd or project.cwd
        self.branch = branch if branch is not None else self.rng.choice(project.branches)
        self.slug = slug or "-".join(self.rng.choices(gen.pools["words"], k=3))
        self.model = model
        self.clock = start_ms
        self.parent: str | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.lines = 0
        # prompt cache: tokens already cached, tokens added since the last call, when it was
        self.system_tokens = self.rng.randint(8_000, 14_000) if self.sidechain else self.rng.randint(14_000, 24_000)
        self.context = 0
        self.pending = self.system_tokens
        self.last_call_ms: int | None = None
        self.compact_at = self.rng.randint(140_000, 175_000)
        mode = self.rng.random()
        self.cache_mode = "5m" if mode < 0.55 else "1h" if mode < 0.9 else "mixed"
        # (clock, line) of each assistant line, for the parent's agent_progress echoes
        self.echo: list[tuple[int, dict[str, Any]]] | None = [] if self.sidechain and era.progress_echo else None
        self.last_usage: dict[str, Any] | None = None
        self.prompt_id = self._uuid()

    # -- primitives ---------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _b62(self, n: int) -> str:
        return "".join(self.rng.choices(_B62, k=n))

    def remaining(self) -> int:
        return self.budget - self.size

    def advance(self, low_s: float, high_s: float) -> None:
        step = int(self.rng.uniform(low_s, high_s) * 1000)
        if self.clock + step > self.gen.end_ms:
            step = min(step, 1000)
        self.clock += step

    def timestamp(self) -> str:
        return self.gen.iso(self.clock)

    def write_raw(self, obj: dict[str, Any]) -> None:
        data = _JSON.encode(obj).encode()
        self.chunks.append(data)
        self.size += len(data) + 1
        self.lines += 1

    def emit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Wrap ``body`` in this era's envelope, write it and chain it as the new parent."""
        line_uuid = self._uuid()
        if self.era.envelope_first:
            obj: dict[str, Any] = {
                "parentUuid": self.parent,
                "isSidechain": self.sidechain,
                "userType": "external",
                "cwd": self.cwd,
                "sessionId": self.session_id,
                "version": self.version,
                "gitBranch": self.branch,
            }
            if self.agent_id:
                obj["agentId"] = self.agent_id
            obj["slug"] = self.slug
            obj.update(body)
            obj["uuid"] = line_uuid
            obj["timestamp"] = self.timestamp()
        else:
            obj = {"parentUuid": self.parent, "isSidechain": self.sidechain}
            if self.agent_id:
                obj["agentId"] = self.agent_id
            obj.update(body)
            obj["uuid"] = line_uuid
            obj["timestamp"] = self.timestamp()
            obj["userType"] = "external"
            obj["entrypoint"] = "cli"
            obj["cwd"] = self.cwd
            obj["sessionId"] = self.session_id
            obj["version"] = self.version
            obj["gitBranch"] = self.branch
            if self.era.final_usage_everywhere:
                obj["slug"] = self.slug
        self.write_raw(obj)
        self.parent = line_uuid
        return obj

    # -- content -------------------------------------------------------------------------------

    def _size(self, median: float, sigma: float, cap: int) -> int:
        n = int(self.rng.lognormvariate(math.log(median), sigma))
        return max(16, min(n, cap, max(200, self.remaining())))

    def _slice(self, pool: str, n: int) -> str:
        text = self.gen.pools[pool]
        if n >= len(text):
            return text
        start = self.rng.randrange(len(text) - n)
        return text[start : start + n]

    def _code(self, n: int) -> tuple[str, str, int]:
        """About ``n`` chars of source: (plain, numbered as Read shows it, first line number)."""
        pools = self.gen.pools
        plain_starts = pools["plain_starts"]
        last = len(plain_starts) - 1
        first = self.rng.randrange(last - 1)
        end = min(last, bisect.bisect_left(plain_starts, plain_starts[first] + n, lo=first + 1))
        numbered_starts = pools["numbered_starts"]
        plain = pools["plain"][plain_starts[first] : plain_starts[end] - 1]
        numbered = pools["numbered"][numbered_starts[first] : numbered_starts[end] - 1]
        return plain, numbered, (first % 4000) + 1

    def _path(self) -> str:
        return f"{self.project.cwd}/{self.rng.choice(self.project.files)}"

    # -- lines ---------------------------------------------------------------------------------

    def user_prompt(self, text: str | None = None) -> None:
        rng = self.rng
        gap = rng.random()
        if gap < 0.85:
            self.advance(20, 300)
        elif gap < 0.97:
            self.advance(300, 3_600)
        else:  # the next morning
            self.advance(8 * 3_600, 16 * 3_600)
        if not self.sidechain and rng.random() < 0.7:
            self._file_history_snapshot()
        if text is None:
            r = rng.random()
            if r < 0.5:
                text = self._slice("prose", self._size(180, 0.8, 2_000))
            elif r < 0.75:
                text = self._slice("prose", self._size(1_500, 0.7, 8_000))
            else:  # a pasted log, an expanded skill or command, a long spec
                text = self._slice("shell" if rng.random() < 0.4 else "prose", self._size(14_000, 0.8, 80_000))
        body: dict[str, Any] = {"type": "user", "message": {"role": "user", "content": text}}
        if self.era.final_usage_everywhere:
            self.prompt_id = self._uuid()
            body["promptId"] = self.prompt_id
            body["permissionMode"] = "acceptEdits"
            body["origin"] = {"kind": "human"}
            body["promptSource"] = "typed"
        self.emit(body)
        self.pending += len(text) // 4
        if not self.sidechain and rng.random() < 0.3:
            self._meta_prompt()

    def _meta_prompt(self) -> None:
        """Text Claude Code injects after a prompt: an expanded skill or command, a reminder."""
        rng = self.rng
        head = rng.choice(("Base directory for this skill: ", "<system-reminder>", "<command-message>"))
        text = head + self._slice("prose", self._size(9_000, 0.9, 60_000))
        content = [{"type": "text", "text": text}]
        body: dict[str, Any] = {"type": "user", "message": {"role": "user", "content": content}, "isMeta": True}
        self.emit(body)
        self.pending += len(text) // 4

    def _file_history_snapshot(self) -> None:
        message_id = self._uuid()
        backups = {
            self.rng.choice(self.project.files): {
                "backupFileName": f"{self._b62(16).lower()}@v{self.rng.randint(1, 9)}",
                "version": self.rng.randint(1, 9),
                "backupTime": self.timestamp(),
            }
            for _ in range(self.rng.randint(0, 4))
        }
        self.write_raw(
            {
                "type": "file-history-snapshot",
                "messageId": message_id,
                "snapshot": {"messageId": message_id, "trackedFileBackups": backups, "timestamp": self.timestamp()},
                "isSnapshotUpdate": False,
            }
        )

    def metadata_line(self) -> None:
        """A small non-usage line (hooks, queue, mode) of the kind this era writes."""
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            self.write_raw(
                {
                    "type": "queue-operation",
                    "operation": rng.choice(("enqueue", "dequeue")),
                    "timestamp": self.timestamp(),
                    "sessionId": self.session_id,
                    "content": self._slice("prose", rng.randint(20, 300)),
                }
            )
        elif r < 0.5:
            self.write_raw({"type": "permission-mode", "permissionMode": "acceptEdits", "sessionId": self.session_id})
        elif self.era.progress_echo:
            self.emit(
                {
                    "type": "progress",
                    "data": {
                        "type": "hook_progress",
                        "hookEvent": "PostToolUse",
                        "hookName": "PostToolUse:Edit",
                        "command": "ruff format --quiet",
                    },
                    "parentToolUseID": "toolu_01" + self._b62(22),
                    "toolUseID": "toolu_01" + self._b62(22),
                }
            )
        else:
            self.emit(
                {
                    "type": "attachment",
                    "attachment": {
                        "type": "hook_success",
                        "hookName": "SessionStart:startup",
                        "toolUseID": self._uuid(),
                        "hookEvent": "SessionStart",
                        "content": "",
                        "stdout": "{}\n",
                        "stderr": "",
                        "exitCode": 0,
                        "command": "~/.claude/hooks/session-start.sh",
                        "durationMs": rng.randint(20, 3000),
                    },
                }
            )

    def _system(self, subtype: str, **fields: Any) -> None:
        body: dict[str, Any] = {"type": "system", "subtype": subtype}
        body.update(fields)
        body["isMeta"] = False
        self.emit(body)

    def _tool_call(self, name: str | None = None) -> tuple[dict[str, Any], tuple[Any, ...]]:
        """A tool_use block and what its result will need."""
        rng = self.rng
        if name is None:
            name = rng.choices(
                ("Read", "Bash", "Edit", "Write", "Grep", "Glob", "TodoWrite", "WebFetch"),
                (30, 25, 16, 5, 9, 6, 5, 4),
            )[0]
        tool_id = "toolu_01" + self._b62(22)
        path = self._path()
        extra: tuple[Any, ...] = ()
        if name == "Read":
            tool_input: dict[str, Any] = {"file_path": path}
        elif name == "Bash":
            tool_input = {
                "command": rng.choice(("pytest -q", "git status", "npm test", "ls -la", "git diff --stat", "make lint"))
                + (" " + rng.choice(self.project.files) if rng.random() < 0.4 else ""),
                "description": self._slice("prose", rng.randint(20, 80)),
            }
        elif name == "Edit":
            old, _, _ = self._code(self._size(500, 1.0, 6_000))
            new, _, _ = self._code(self._size(700, 1.0, 8_000))
            tool_input = {"file_path": path, "old_string": old, "new_string": new, "replace_all": False}
            extra = (old, new)
        elif name == "Write":
            content, _, _ = self._code(self._size(5_000, 1.0, 60_000))
            tool_input = {"file_path": path, "content": content}
            extra = (content,)
        elif name == "Grep":
            tool_input = {"pattern": rng.choice(self.gen.pools["idents"]), "path": self.project.cwd}
            tool_input["output_mode"] = rng.choice(("content", "files_with_matches"))
        elif name == "Glob":
            tool_input = {"pattern": rng.choice(("**/*.py", "src/**/*.ts", "**/*.md", "tests/**"))}
        elif name == "TodoWrite":
            todos = [
                {
                    "content": self._slice("prose", rng.randint(20, 90)),
                    "status": rng.choice(("pending", "in_progress", "completed")),
                    "activeForm": self._slice("prose", rng.randint(20, 90)),
                }
                for _ in range(rng.randint(2, 8))
            ]
            tool_input = {"todos": todos}
            extra = (todos,)
        else:
            tool_input = {
                "url": f"https://docs.example.com/{rng.choice(self.gen.pools['idents'])}",
                "prompt": self._slice("prose", rng.randint(40, 300)),
            }
        block: dict[str, Any] = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
        block["caller"] = {"type": "direct"}
        return block, (name, tool_id, path, extra)

    def tool_result(self, call: tuple[Any, ...], assistant_uuid: str) -> None:
        """The user line answering one tool call; the result is usually repeated in toolUseResult."""
        rng = self.rng
        name, tool_id, path, extra = call
        self.advance(0.05, 15)
        result: Any
        if name == "Read":
            plain, numbered, first = self._code(self._size(3_000, 1.1, 150_000))
            content = numbered
            lines = plain.count("\n") + 1
            result = {
                "type": "text",
                "file": {
                    "filePath": path,
                    "content": plain,
                    "numLines": lines,
                    "startLine": first,
                    "totalLines": first + lines + rng.randint(0, 400),
                },
            }
        elif name == "Bash":
            content = self._slice("shell", self._size(700, 1.5, 80_000))
            result = {"stdout": content, "stderr": "", "interrupted": False, "isImage": False}
            result["noOutputExpected"] = False
        elif name == "Edit":
            old, new = extra
            original, _, _ = self._code(self._size(6_000, 1.0, 80_000))
            content = f"The file {path} has been updated. Here's the result of running `cat -n` on a snippet:\n"
            content += self._code(self._size(900, 0.6, 4_000))[1]
            result = {
                "filePath": path,
                "oldString": old,
                "newString": new,
                "originalFile": original,
                "structuredPatch": [
                    {
                        "oldStart": rng.randint(1, 500),
                        "oldLines": old.count("\n") + 1,
                        "newStart": rng.randint(1, 500),
                        "newLines": new.count("\n") + 1,
                        "lines": ["-" + line for line in old.split("\n")] + ["+" + line for line in new.split("\n")],
                    }
                ],
                "userModified": False,
                "replaceAll": False,
            }
        elif name == "Write":
            (written,) = extra
            content = f"File created successfully at: {path}"
            result = {"type": "create", "filePath": path, "content": written, "structuredPatch": []}
        elif name == "Grep":
            content = self._slice("shell", self._size(1_200, 1.2, 30_000))
            files = [rng.choice(self.project.files) for _ in range(rng.randint(1, 12))]
            result = {"mode": "content", "numFiles": len(files), "filenames": files, "content": content}
        elif name == "Glob":
            files = [f"{self.project.cwd}/{rng.choice(self.project.files)}" for _ in range(rng.randint(1, 60))]
            content = "\n".join(files)
            result = {"filenames": files, "durationMs": rng.randint(2, 90), "numFiles": len(files), "truncated": False}
        elif name == "TodoWrite":
            (todos,) = extra
            content = "Todos have been modified successfully. Ensure that you continue to use the todo list."
            result = {"oldTodos": todos[: len(todos) // 2], "newTodos": todos}
        else:
            content = self._slice("prose", self._size(3_000, 0.9, 40_000))
            result = {
                "bytes": len(content) * 3,
                "code": 200,
                "codeText": "OK",
                "result": content,
                "durationMs": rng.randint(300, 9000),
                "url": "https://docs.example.com/",
            }
        body: dict[str, Any] = {
            "type": "user",
            "message": {
                "role": "user",
                "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": content, "is_error": False}],
            },
            "toolUseResult": result,
            "sourceToolAssistantUUID": assistant_uuid,
        }
        if self.era.final_usage_everywhere:
            body["promptId"] = self.prompt_id
        self.emit(body)
        self.pending += len(content) // 4

    # -- API responses -------------------------------------------------------------------------

    def _usage(self) -> tuple[int, int, int, int]:
        """(input, cache write, cache read, 1h share of the write) for the next call."""
        rng = self.rng
        expired = self.last_call_ms is not None and self.clock - self.last_call_ms > (
            3_600_000 if self.cache_mode == "1h" else 300_000
        )
        if expired:  # the prefix fell out of the cache: write it again
            cache_read = 0 if rng.random() < 0.3 else min(self.context, self.system_tokens)
            cache_write = self.context + self.pending - cache_read
        elif self.last_call_ms is None and not self.sidechain and rng.random() < 0.5:
            cache_read = min(self.pending, 12_000)  # the shared system prompt is already cached
            cache_write = self.pending - cache_read
        else:
            cache_read = self.context
            cache_write = self.pending
        input_tokens = rng.randint(1, 8) if rng.random() < 0.92 else rng.randint(20, 3_000)
        first = self.last_call_ms is None
        one_hour = self.cache_mode == "1h" or (self.cache_mode == "mixed" and first)
        self.context = cache_read + cache_write
        self.pending = 0
        self.last_call_ms = self.clock
        return input_tokens, cache_write, cache_read, one_hour

    def response(self, calls: int = 0, *, force_text: bool = False, task: dict[str, Any] | None = None) -> list[Any]:
        """Write one API response as one line per content block; returns its tool calls."""
        rng = self.rng
        era = self.era
        self.advance(2, 40)
        if self.context + self.pending > self.compact_at and not self.sidechain:
            self.compact()
        blocks: list[dict[str, Any]] = []
        thinking_chars = 0
        if rng.random() < 0.35:
            thinking = "" if era.final_usage_everywhere else self._slice("prose", self._size(900, 0.8, 6_000))
            thinking_chars = len(thinking) + rng.randint(0, 4_000)
            blocks.append(
                {"type": "thinking", "thinking": thinking, "signature": self._slice("b64", rng.randint(300, 3_000))}
            )
        if force_text or not calls or rng.random() < 0.45:
            blocks.append({"type": "text", "text": self._slice("prose", self._size(350, 1.0, 6_000))})
        tool_calls: list[tuple[Any, ...]] = []
        for _ in range(calls):
            block, call = self._tool_call()
            blocks.append(block)
            tool_calls.append(call)
        if task is not None:
            tool_id = "toolu_01" + self._b62(22)
            blocks.append({"type": "tool_use", "id": tool_id, "name": "Task", "input": task})
            blocks[-1]["caller"] = {"type": "direct"}
            tool_calls.append(("Task", tool_id, "", ()))
        input_tokens, cache_write, cache_read, one_hour = self._usage()
        chars = thinking_chars + sum(len(_JSON.encode(b)) for b in blocks if b["type"] != "thinking")
        final_output = max(1, chars // 4 + rng.randint(0, 120))
        if era.progress_echo and rng.random() < 0.15:
            final_output = rng.randint(1, 3)  # 2.1.3x often never logged the final count
        speed = "fast" if era.final_usage_everywhere and rng.random() < 0.03 else "standard"
        write_5m, write_1h = (0, cache_write) if one_hour else (cache_write, 0)
        usage_tuple = (input_tokens, final_output, write_5m, write_1h, cache_read)
        self.gen.stats.count_response(usage_tuple)
        message_id = "msg_01" + self._b62(22)
        request_id = "req_011C" + self._b62(20)
        stop = "tool_use" if tool_calls else "end_turn"
        n = len(blocks)
        # streaming snapshots: small, non-decreasing counts, then the final one
        outputs = [*sorted(rng.randint(1, max(1, min(final_output, 30))) for _ in range(n - 1)), final_output]
        pending_results: list[tuple[tuple[Any, ...], str]] = []
        call_index = 0
        for i, block in enumerate(blocks):
            last = i == n - 1
            output = final_output if era.final_usage_everywhere else outputs[i]
            usage: dict[str, Any] = {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
                "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
                "output_tokens": output,
                "service_tier": "standard",
            }
            if last or era.final_usage_everywhere:
                usage["server_tool_use"] = {"web_search_requests": 0, "web_fetch_requests": 0}
                usage["inference_geo"] = "" if not era.final_usage_everywhere else "not_available"
                usage["iterations"] = []
                if not era.progress_echo:
                    usage["speed"] = speed
            else:
                usage["inference_geo"] = "not_available"
            message: dict[str, Any] = {
                "model": self.model,
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": stop if (last and not era.progress_echo) or era.final_usage_everywhere else None,
                "stop_sequence": None,
            }
            if not era.progress_echo:
                message["stop_details"] = None
            message["usage"] = usage
            body: dict[str, Any] = {"message": message}
            if era.final_usage_everywhere:
                body["apiBlockIndex"] = i
            body["requestId"] = request_id
            body["type"] = "assistant"
            if era.final_usage_everywhere:
                body["effort"] = "high"
            obj = self.emit(body)
            self.gen.stats.assistant_lines += 1
            if self.echo is not None:
                self.echo.append((self.clock, obj))
            if i:
                self.advance(0.2, 8)
            if block["type"] == "tool_use":
                call = tool_calls[call_index]
                call_index += 1
                if call[0] != "Task" and rng.random() < 0.3 and not last:
                    self.tool_result(call, obj["uuid"])  # parallel calls: results interleave
                else:
                    pending_results.append((call, obj["uuid"]))
        self.last_usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "output_tokens": final_output,
        }
        self.pending += final_output
        if rng.random() < SYNTHETIC_RATE:
            self.synthetic_error()
        return pending_results

    def synthetic_error(self) -> None:
        """A locally generated API-error message: model <synthetic>, zero usage, no requestId."""
        self.advance(1, 20)
        zero = {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        }
        self.emit(
            {
                "type": "assistant",
                "message": {
                    "id": self._uuid(),
                    "model": "<synthetic>",
                    "role": "assistant",
                    "stop_reason": "stop_sequence",
                    "stop_sequence": "",
                    "type": "message",
                    "usage": zero,
                    "content": [{"type": "text", "text": "API Error: 529 Overloaded. Retrying…"}],
                },
                "isApiErrorMessage": True,
            }
        )
        self.gen.stats.synthetic_lines += 1

    def compact(self) -> None:
        """Auto-compaction: a boundary, the summary as a user line, a much smaller context."""
        pre = self.context + self.pending
        self._system(
            "compact_boundary",
            content="Conversation compacted",
            level="info",
            compactMetadata={"trigger": "auto", "preTokens": pre},
        )
        summary = (
            "This session is being continued from a previous conversation that ran out of context. "
            + self._slice("prose", self._size(8_000, 0.5, 30_000))
        )
        self.emit(
            {
                "type": "user",
                "message": {"role": "user", "content": summary},
                "isVisibleInTranscriptOnly": True,
                "isCompactSummary": True,
            }
        )
        self.context = self.system_tokens
        self.pending = len(summary) // 4
        self.compact_at = self.rng.randint(140_000, 175_000)

    def turn_end(self) -> None:
        if self.sidechain:
            return
        r = self.rng.random()
        if self.era.progress_echo and r < 0.5:
            self._system("turn_duration", durationMs=self.rng.randint(3_000, 900_000))
        elif not self.era.progress_echo and r < 0.4:
            self._system(
                "stop_hook_summary",
                hookCount=1,
                hookInfos=[{"command": "~/.claude/hooks/stop.sh", "durationMs": self.rng.randint(5, 400)}],
                hookErrors=[],
                preventedContinuation=False,
                stopReason="",
                hasOutput=False,
                level="suggestion",
                toolUseID=self._uuid(),
            )

    def exchange(self) -> None:
        """A user prompt and the agentic loop that answers it (tool calls until end_turn)."""
        rng = self.rng
        self.user_prompt()
        steps = 1 + int(rng.expovariate(1 / 6))
        for step in range(steps):
            if self.remaining() <= 0 and step:
                break
            if rng.random() < 0.05:
                self.metadata_line()
            final = step == steps - 1
            calls = 0 if final else rng.choices((1, 2, 3), (75, 18, 7))[0]
            for call, assistant_uuid in self.response(calls):
                self.tool_result(call, assistant_uuid)
        self.turn_end()

    def finish(self, path: Path) -> None:
        """Write the file; later eras close a session with title/prompt metadata lines."""
        if not self.sidechain and not self.era.progress_echo and self.rng.random() < 0.6:
            self.write_raw(
                {"type": "last-prompt", "lastPrompt": self._slice("prose", 120), "sessionId": self.session_id}
            )
            if self.era.final_usage_everywhere:
                self.write_raw(
                    {"type": "ai-title", "aiTitle": self._slice("prose", 40).strip(), "sessionId": self.session_id}
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(b"\n".join(self.chunks))
            if self.chunks:
                handle.write(b"\n")
        # A transcript on disk was last modified when its last line was written.
        os.utime(path, ns=(self.clock * 1_000_000, self.clock * 1_000_000))
        self.gen.stats.files += 1
        self.gen.stats.bytes += self.size
        self.gen.stats.lines += self.lines
        self.gen.carry += self.size - self.budget


# --------------------------------------------------------------------------------------------
# The corpus


class Generator:
    """Plans and writes a whole corpus from one seed."""

    def __init__(self, out_dir: Path, *, total_bytes: int, files: int, seed: int, days: int, end: str) -> None:
        self.out_dir = out_dir
        self.projects_dir = out_dir / "projects"
        self.total_bytes = total_bytes
        self.files = files
        self.seed = seed
        self.rng = random.Random(seed)
        self.pools = _pools()
        self.stats = Stats()
        end_dt = datetime.fromisoformat(end).replace(tzinfo=UTC) + timedelta(days=1)
        self.end_ms = int(end_dt.timestamp() * 1000) - 1
        self.start_ms = self.end_ms - days * 86_400_000
        self.days = days
        self.end = end
        self._iso_cache: dict[int, str] = {}
        self.carry = 0  # bytes written beyond the budgets so far (negative: below)

    def take_budget(self, budget: int) -> int:
        """A file's budget corrected by what earlier files wrote beyond theirs, so the total holds."""
        adjust = max(-budget // 2, min(self.carry, budget // 2))
        self.carry -= adjust
        return max(MIN_FILE_BYTES, budget - adjust)

    def iso(self, ms: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.mmmZ``, as Claude Code writes timestamps."""
        second = ms // 1000
        prefix = self._iso_cache.get(second)
        if prefix is None:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            if len(self._iso_cache) > 100_000:
                self._iso_cache.clear()
            self._iso_cache[second] = prefix
        return f"{prefix}.{ms % 1000:03d}Z"

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _projects(self) -> list[Project]:
        rng = self.rng
        count = max(4, min(len(PROJECT_NAMES), self.files // 250))
        projects = []
        for name in PROJECT_NAMES[:count]:
            files = tuple(rng.sample(SOURCE_FILES, 14))
            branches = ("main", f"feat/{rng.choice(self.pools['idents'])}", f"fix/{rng.choice(self.pools['idents'])}")
            projects.append(Project(cwd=f"/home/dev/src/{name}", branches=branches, files=files))
        # Worktrees are their own project folders (Claude Code keys folders by the session cwd).
        for base in projects[:2]:
            tree = f"{base.cwd}/.claude/worktrees/agent-{''.join(rng.choices(_HEX, k=8))}"
            projects.append(Project(cwd=tree, branches=(f"worktree-{tree[-14:]}",), files=base.files))
        return projects

    def _era(self, ms: int) -> Era:
        share = (ms - self.start_ms) / (self.end_ms - self.start_ms)
        return ERAS[bisect.bisect_right(ERA_STARTS, share) - 1]

    def _model(self, choices: tuple[tuple[str, float], ...]) -> str:
        return self.rng.choices([m for m, _ in choices], [w for _, w in choices])[0]

    def _start(self, budget: int) -> int:
        """A session start in working hours, leaving room for its expected length."""
        rng = self.rng
        expected_ms = budget // 12_000 * 45_000
        latest = max(self.start_ms, self.end_ms - expected_ms - 3_600_000)
        day = rng.randrange(self.start_ms // 86_400_000, latest // 86_400_000 + 1)
        ms = day * 86_400_000 + int(rng.triangular(6, 23, 14) * 3_600_000) + rng.randrange(3_600_000)
        return max(self.start_ms, min(ms, latest))

    def plan(self) -> list[SessionPlan]:
        """Decide every file's size, kind, project, session and start time."""
        rng = self.rng
        sizes = file_sizes(self.total_bytes, self.files)
        n = len(sizes)
        n_sub = round(n * SUBAGENT_SHARE)
        n_resumed = round(n * RESUMED_SHARE)
        # Subagent files are rarely the biggest ones; resumed sessions are mid-sized or bigger.
        sub_idx = set(rng.sample(range(int(n * 0.9)), min(n_sub, int(n * 0.9))))
        resumable = [i for i in range(int(n * 0.25), int(n * 0.97)) if i not in sub_idx]
        res_idx = set(rng.sample(resumable, min(n_resumed, len(resumable))))
        self.project_list = self._projects()
        weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.project_list))]
        sessions: list[SessionPlan] = []
        for i, budget in enumerate(sizes):
            if i in sub_idx:
                continue
            project = rng.choices(self.project_list, weights)[0]
            start = self._start(budget)
            sessions.append(
                SessionPlan(
                    index=len(sessions),
                    budget=budget,
                    project=project,
                    start_ms=start,
                    session_id=self._uuid(),
                    era=self._era(start),
                    resume_of=-1 if i in res_idx else None,
                )
            )
        parents = [s for s in sessions if s.resume_of is None and s.budget >= 20_000]
        parent_weights = [s.budget for s in parents]
        for i in sorted(sub_idx):
            rng.choices(parents, parent_weights)[0].subagents.append(sizes[i])
        for s in parents:
            rng.shuffle(s.subagents)
        return sessions

    def generate(self) -> dict[str, Any]:
        """Write the corpus and its manifest; returns the manifest."""
        started = time.perf_counter()
        sessions = self.plan()
        originals = [s for s in sessions if s.resume_of is None]
        resumed = [s for s in sessions if s.resume_of is not None]
        for plan in originals:
            self._write_session(plan)
            self.stats.main_files += 1
        by_project: dict[str, list[SessionPlan]] = {}
        for plan in originals:
            by_project.setdefault(plan.project.cwd, []).append(plan)
        for plan in resumed:
            candidates = by_project.get(plan.project.cwd) or originals
            # long conversations are the ones people come back to
            source = self.rng.choices(candidates, [c.budget for c in candidates])[0]
            plan.resume_of = source.index
            self._write_resumed(plan, source)
            self.stats.resumed_files += 1
        manifest = {
            "generator": "benchmarks/generate_corpus.py",
            "seed": self.seed,
            "size_mb": self.total_bytes / MIB,
            "files_requested": self.files,
            "days": self.days,
            "end": self.end,
            "projects": len(self.project_list),
            "seconds": round(time.perf_counter() - started, 2),
            **asdict(self.stats),
        }
        (self.out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        return manifest

    def _write_session(self, plan: SessionPlan) -> None:
        rng = self.rng
        era = plan.era
        t = Transcript(
            self,
            budget=plan.budget,
            project=plan.project,
            era=era,
            session_id=plan.session_id,
            start_ms=plan.start_ms,
            model=self._model(era.main_models),
        )
        path = self.projects_dir / plan.project.dirname / f"{plan.session_id}.jsonl"
        if plan.budget < 2_500 and not plan.subagents:
            self._tiny(t)
        else:
            spawns = [(rng.uniform(0.05, 0.9), budget) for budget in plan.subagents]
            spawns.sort()
            if rng.random() < 0.5:
                t.metadata_line()
            while t.remaining() > 0 or spawns:
                if spawns and (t.size >= spawns[0][0] * t.budget or t.remaining() <= 0):
                    self._spawn(t, plan, spawns.pop(0)[1])
                    continue
                t.exchange()
                if rng.random() < 0.02:
                    self._switch_model(t)
        t.finish(path)
        plan.end_ms = t.clock
        plan.path = path

    def _tiny(self, t: Transcript) -> None:
        """Very small files: a short exchange, or only metadata (many real files hold no usage)."""
        if t.budget < 1_500 or self.rng.random() < 0.3:
            while t.remaining() > 0:
                t.metadata_line()
            return
        t.user_prompt(self.rng.choice(("hi", "/clear", "continue", "run the tests")))
        t.response(0)

    def _switch_model(self, t: Transcript) -> None:
        t.model = self._model(t.era.main_models)
        t._system(
            "local_command",
            content=f"<command-name>/model</command-name>\n<command-message>model</command-message>\n"
            f"<command-args>{t.model}</command-args>",
            level="info",
        )

    def _spawn(self, parent: Transcript, plan: SessionPlan, budget: int) -> None:
        """A Task call in the parent, the subagent's own transcript, its echoes and its result."""
        rng = self.rng
        era = parent.era
        agent_type = rng.choice(SUBAGENT_TYPES)
        prompt = parent._slice("prose", parent._size(1_500, 0.7, 12_000))
        task = {"description": parent._slice("prose", rng.randint(20, 60)).strip(), "prompt": prompt}
        task["subagent_type"] = agent_type
        if parent.lines == 0:
            parent.user_prompt()
        calls = parent.response(0, force_text=True, task=task)
        (task_call, task_line_uuid) = calls[-1]
        for call, assistant_uuid in calls[:-1]:
            parent.tool_result(call, assistant_uuid)
        agent_id = "a" + "".join(rng.choices(_HEX, k=era.agent_id_hex))
        child = Transcript(
            self,
            budget=budget,
            project=plan.project,
            era=era,
            session_id=plan.session_id,
            start_ms=parent.clock + 500,
            model=self._model(era.agent_models),
            agent_id=agent_id,
            cwd=parent.cwd,
            branch=parent.branch,
            slug=parent.slug,
        )
        child.version = parent.version
        child.user_prompt(prompt)
        child_start = child.clock
        while child.remaining() > 0:
            for call, assistant_uuid in child.response(rng.choices((1, 2), (85, 15))[0]):
                child.tool_result(call, assistant_uuid)
        child.response(0, force_text=True)
        folder = self.projects_dir / plan.project.dirname / plan.session_id / "subagents"
        child.finish(folder / f"agent-{agent_id}.jsonl")
        (folder / f"agent-{agent_id}.meta.json").write_text(
            _JSON.encode({"agentType": agent_type, "description": task["description"]})
        )
        self.stats.subagent_files += 1
        if child.echo:
            self._echo(parent, child, task_call[1], prompt)
        parent.clock = max(parent.clock, child.clock) + rng.randint(200, 3_000)
        last = child.last_usage or {}
        summary = child._slice("prose", child._size(2_000, 0.7, 12_000))
        body: dict[str, Any] = {
            "type": "user",
            "message": {
                "role": "user",
                "content": [
                    {"tool_use_id": task_call[1], "type": "tool_result", "content": [{"type": "text", "text": summary}]}
                ],
            },
            # Task results repeat the subagent's LAST call's usage: a snapshot, never to be billed.
            "toolUseResult": {
                "status": "completed",
                "prompt": prompt,
                "agentId": agent_id,
                "agentType": agent_type,
                "content": [{"type": "text", "text": summary}],
                "totalDurationMs": child.clock - child_start,
                "totalTokens": sum(last.values()),
                "totalToolUseCount": child.lines // 3,
                "usage": {**last, "service_tier": "standard"},
            },
            "sourceToolAssistantUUID": task_line_uuid,
        }
        parent.emit(body)
        parent.pending += len(summary) // 4

    def _echo(self, parent: Transcript, child: Transcript, task_tool_id: str, prompt: str) -> None:
        """agent_progress lines in the parent, each embedding a subagent assistant line."""
        assert child.echo is not None
        room = max(0, parent.budget - parent.size) * 0.6
        spent = 0
        tool_use_id = "agent_msg_01" + parent._b62(22)
        current = None
        for clock, obj in child.echo:
            # Stop only between responses: Claude Code echoes every line of a response, the final
            # one included. (ccusage prefers an echo over the subagent file's copy whatever its
            # tokens, so a half-echoed response would make it count a streaming snapshot.)
            if spent > room and obj["requestId"] != current:
                break
            current = obj["requestId"]
            line = {
                "type": "progress",
                "data": {
                    "message": {
                        "type": "assistant",
                        "timestamp": obj["timestamp"],
                        "message": obj["message"],
                        "requestId": obj["requestId"],
                        "uuid": obj["uuid"],
                    },
                    "normalizedMessages": [],
                    "type": "agent_progress",
                    "prompt": prompt,
                    "agentId": child.agent_id,
                },
                "toolUseID": tool_use_id,
                "parentToolUseID": task_tool_id,
            }
            before = parent.size
            parent.clock = max(parent.clock, clock + self.rng.randint(5, 80))
            parent.emit(line)
            self.stats.progress_echo_lines += 1
            spent += parent.size - before
        child.echo.clear()

    @staticmethod
    def _ms(timestamp: str) -> int:
        return int(datetime.fromisoformat(timestamp).timestamp() * 1000)

    def _write_resumed(self, plan: SessionPlan, source: SessionPlan) -> None:
        """A resumed session: a copy of the start of ``source`` (new sessionId), then new work."""
        assert source.path is not None
        rng = self.rng
        data = source.path.read_bytes()
        want = int(min(len(data), plan.budget * rng.uniform(0.3, 0.7)))
        cut = data.rfind(b"\n", 0, want)
        copied = data[: cut + 1] if cut > 0 else b""
        old_id, new_id = source.session_id.encode(), plan.session_id.encode()
        copied = copied.replace(old_id, new_id)
        lines = copied.split(b"\n")[:-1] if copied else []
        last: dict[str, Any] = {}
        for raw in reversed(lines):
            obj = json.loads(raw)
            if "uuid" in obj and "timestamp" in obj:
                last = obj
                break
        start = max(source.end_ms, plan.start_ms) + rng.randint(600_000, 2 * 86_400_000)
        start = min(start, self.end_ms - 3_600_000)
        if last:
            start = max(start, self._ms(last["timestamp"]) + 1_000)
        era = self._era(start)
        t = Transcript(
            self,
            budget=plan.budget,
            project=plan.project,
            era=era,
            session_id=plan.session_id,
            start_ms=start,
            model=self._model(era.main_models),
            branch=last.get("gitBranch"),
        )
        t.chunks = list(lines)
        t.size = len(copied)
        t.lines = len(lines)
        t.parent = last.get("uuid")
        self.stats.copied_lines += len(lines)
        # The resumed conversation is sent again in full: a cold cache over a large context.
        t.context = min(150_000, len(copied) // 10)
        t.last_call_ms = start - 7_200_000
        while t.remaining() > 0:
            t.exchange()
        path = self.projects_dir / plan.project.dirname / f"{plan.session_id}.jsonl"
        t.finish(path)
        plan.end_ms = t.clock
        plan.path = path


def generate(
    out_dir: Path, *, size_mb: float, files: int, seed: int = 1, days: int = 60, end: str = DEFAULT_END
) -> dict[str, Any]:
    """Write a corpus under ``out_dir/projects`` and return its manifest (also saved as corpus.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = Generator(out_dir, total_bytes=int(size_mb * MIB), files=files, seed=seed, days=days, end=end)
    return gen.generate()


def load_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The manifest of a generated corpus, or None if ``out_dir`` was not made by this script."""
    try:
        return json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Appending to an existing transcript (for incremental-refresh benchmarks)


@dataclass(slots=True)
class Appended:
    """What :func:`append_responses` added to one file."""

    responses: int
    lines: int
    bytes: int
    usage: dict[str, int]


def _tail_lines(path: Path, limit: int = 1 << 20) -> Iterator[dict[str, Any]]:
    """The file's last complete lines, newest first, decoded (undecodable ones skipped)."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - limit))
        data = handle.read()
    for raw in reversed(data.split(b"\n")[1:] if size > limit else data.split(b"\n")):
        if raw.strip():
            try:
                yield json.loads(raw)
            except ValueError:
                continue


def append_responses(path: Path, responses: int, *, seed: int) -> Appended:
    """Append ``responses`` new API responses (with their tool results) to a transcript.

    The new lines continue the file's session (sessionId, cwd, version, model, clock) the way
    Claude Code appends while a session runs. Deterministic for a given file and seed.
    """
    context: dict[str, Any] = {}
    model = None
    for obj in _tail_lines(path):
        if not context and obj.get("sessionId") and obj.get("timestamp") and obj.get("cwd"):
            context = obj
        message = obj.get("message")
        if (
            model is None
            and obj.get("type") == "assistant"
            and isinstance(message, dict)
            and message.get("model") not in (None, "<synthetic>")
        ):
            model = message["model"]
        if context and model:
            break
    if not context:
        raise ValueError(f"{path}: no line with a session to continue")
    gen = Generator(path.parent, total_bytes=0, files=1, seed=seed, days=1, end=DEFAULT_END)
    gen.end_ms = 1 << 62
    version = str(context.get("version", "2.1.263"))
    era = next((e for e in ERAS if version in e.versions), ERAS[-1])
    cwd = str(context["cwd"])
    project = Project(cwd=cwd, branches=(str(context.get("gitBranch", "main")),), files=SOURCE_FILES)
    t = Transcript(
        gen,
        budget=1 << 40,
        project=project,
        era=era,
        session_id=str(context["sessionId"]),
        start_ms=Generator._ms(str(context["timestamp"])) + 30_000,
        model=model or gen._model(era.main_models),
        agent_id=context.get("agentId"),
        cwd=cwd,
        branch=project.branches[0],
        slug=context.get("slug"),
    )
    t.version = version
    t.echo = None
    t.parent = context.get("uuid")
    t.user_prompt()
    for i in range(responses):
        calls = 0 if i == responses - 1 else 1
        for call, assistant_uuid in t.response(calls):
            t.tool_result(call, assistant_uuid)
    with open(path, "ab") as handle:
        handle.write(b"\n".join(t.chunks) + b"\n")
    s = gen.stats
    usage = {
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "cache_write_5m_tokens": s.cache_write_5m_tokens,
        "cache_write_1h_tokens": s.cache_write_1h_tokens,
        "cache_read_tokens": s.cache_read_tokens,
    }
    return Appended(responses=s.responses, lines=t.lines, bytes=t.size, usage=usage)


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="Folder to create; transcripts go to OUT_DIR/projects.")
    parser.add_argument("--size-mb", type=float, default=1024, help="Total size in MiB (default 1024).")
    parser.add_argument("--files", type=int, default=3000, help="Number of .jsonl files (default 3000).")
    parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
    parser.add_argument("--days", type=int, default=60, help="Days of activity (default 60).")
    parser.add_argument("--end", default=DEFAULT_END, help=f"Last day of activity, UTC (default {DEFAULT_END}).")
    parser.add_argument("--force", action="store_true", help="Replace an existing OUT_DIR/projects.")
    args = parser.parse_args(argv)
    projects = args.out_dir / "projects"
    if projects.exists() and any(projects.iterdir()):
        if not args.force:
            parser.error(f"{projects} exists and is not empty (use --force to replace it)")
        shutil.rmtree(projects)
    manifest = generate(
        args.out_dir, size_mb=args.size_mb, files=args.files, seed=args.seed, days=args.days, end=args.end
    )
    print(
        f"{manifest['files']:,} files ({manifest['main_files']:,} sessions, {manifest['subagent_files']:,} subagents, "
        f"{manifest['resumed_files']:,} resumed), {manifest['bytes'] / MIB:,.1f} MiB, {manifest['lines']:,} lines, "
        f"{manifest['responses']:,} responses in {manifest['seconds']:.1f}s -> {projects}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
