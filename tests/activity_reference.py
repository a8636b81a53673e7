"""A plain reference for the README's activity rules: every line decoded with json, no shortcuts.

ccledger finds activity by byte markers and decodes only the lines that matter; this reads every
line whole, the slow and obvious way, so that the two can be compared on real transcripts.
"""

import json
import re
from pathlib import Path

EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")
COMMAND = re.compile(r"<command-name>\s*/?([^<\s]{1,100})\s*</command-name>")
NOT_TYPED = re.compile(r"\s*(?:<[a-z][\w-]*[\s>]|\[Request interrupted|Caveat: The messages below)")
COMMIT = re.compile(
    r"(?:^|[;&|(\n]|\bthen|\bdo)\s*(?:\w+=\S*\s+)*git\s+(?:-[cC]\s+\S+\s+|--?[\w-]+(?:=\S+)?\s+)*commit\b"
)


def reference(projects: Path):
    uses = {}  # tool_use id -> (session, name, command)
    results = {}  # tool_use id -> (is_error, rejected, text, added, removed)
    prompts, commands = {}, {}
    parents = {}  # a fork's session -> the session its copied responses name
    for path in sorted(projects.rglob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                o = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(o, dict):
                continue
            m = o.get("message") if isinstance(o.get("message"), dict) else {}
            content = m.get("content")
            if o.get("requestSessionId") and o.get("requestSessionId") != o.get("sessionId"):
                parents[o.get("sessionId")] = o["requestSessionId"]
            if o.get("type") == "assistant" and isinstance(content, list) and m.get("model") != "<synthetic>":
                for b in content:
                    if isinstance(b, dict) and b.get("type") == "tool_use" and b.get("id") and b.get("name"):
                        cmd = (b.get("input") or {}).get("command", "") if b["name"] == "Bash" else ""
                        uses.setdefault(b["id"], (o.get("requestSessionId") or o.get("sessionId"), b["name"], cmd))
            if o.get("type") != "user":
                continue
            if isinstance(content, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in content
            ):
                r = o.get("toolUseResult")
                for b in content:
                    if not (isinstance(b, dict) and b.get("type") == "tool_result"):
                        continue
                    c = b.get("content")
                    text = (
                        c
                        if isinstance(c, str)
                        else "\n".join(x.get("text", "") for x in c if isinstance(x, dict))
                        if isinstance(c, list)
                        else ""
                    )
                    added = removed = 0
                    if isinstance(r, dict):
                        patch = r.get("structuredPatch") or []
                        for hunk in patch:
                            for line in hunk.get("lines", []):
                                added += line.startswith("+")
                                removed += line.startswith("-")
                        if not patch and r.get("type") == "create" and isinstance(r.get("content"), str):
                            added = len(r["content"].splitlines())
                    rejected = bool(b.get("is_error")) and (
                        text.startswith("The user doesn't want to proceed with this tool use") or "toolDenialKind" in o
                    )
                    results[b["tool_use_id"]] = (bool(b.get("is_error")), rejected, text, added, removed)
                continue
            if (
                o.get("isMeta")
                or o.get("isSidechain")
                or o.get("isCompactSummary")
                or o.get("isVisibleInTranscriptOnly")
            ):
                continue
            if isinstance(o.get("origin"), dict) and o["origin"].get("kind") not in (None, "human"):
                continue
            text = (
                content
                if isinstance(content, str)
                else next(
                    (
                        b.get("text")
                        for b in content
                        if isinstance(b, dict) and b.get("type") == "text" and b.get("text")
                    ),
                    None,
                )
                if isinstance(content, list)
                else None
            )
            if not text or not text.strip():
                continue
            found = COMMAND.search(text[:4096])
            if found:
                commands.setdefault(o.get("uuid"), []).append((o.get("sessionId"), found.group(1)))
            elif not NOT_TYPED.match(text):
                prompts.setdefault(o.get("uuid"), []).append(o.get("sessionId"))

    def lineage(session):
        chain = []
        while session in parents and parents[session] not in chain:
            session = parents[session]
            chain.append(session)
        return chain

    def original(sessions):
        """Of the sessions holding copies of one line, the one the others were forked from."""
        return next((s for s in sessions if all(t == s or s in lineage(t) for t in sessions)), sessions[0])

    prompts = {uuid: original(sessions) for uuid, sessions in prompts.items()}
    commands = {uuid: (original([s for s, _ in found]), found[0][1]) for uuid, found in commands.items()}
    return uses, results, prompts, commands


def per_session(projects: Path):
    uses, results, prompts, commands = reference(projects)
    out = {}

    def s(session):
        return out.setdefault(
            session,
            dict(
                tool_uses=0,
                tool_errors=0,
                lines_added=0,
                lines_removed=0,
                commits=0,
                edits_rejected=0,
                prompts=0,
                slash_commands=0,
            ),
        )

    for tid, (session, name, cmd) in uses.items():
        row = s(session)
        row["tool_uses"] += 1
        err, rej, text, added, removed = results.get(tid, (False, False, "", 0, 0))
        row["tool_errors"] += err and not rej
        row["lines_added"] += added
        row["lines_removed"] += removed
        row["edits_rejected"] += rej and name in EDIT_TOOLS
        if (
            name == "Bash"
            and COMMIT.search(cmd)
            and not err
            and re.search(r"\[[^\]\s]+(?: \(root-commit\))? [0-9a-f]{7,40}\]", text)
        ):
            row["commits"] += 1
    for _uuid, session in prompts.items():
        s(session)["prompts"] += 1
    for session, _name in commands.values():
        s(session)["slash_commands"] += 1
    return out
