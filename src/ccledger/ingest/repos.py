"""Which repository a working directory belongs to.

Claude Code's project folder names are a lossy encoding of the cwd (``my.repo`` and ``my-repo``
collide), so repo identity comes from the ``cwd`` each line records: the git root above it,
worktrees folded into their main repository, and the normalised ``origin`` remote as the id so
that two machines agree (``github.com/owner/name``). Without a remote the id is the main
working tree's path; outside git it is the cwd itself.

Git's files are read directly instead of running ``git``: it is faster, needs no git on PATH,
and works on a repository whose tools are broken. A cwd that no longer exists is resolved from
what is known: Claude Code's own agent worktrees (``<repo>/.claude/worktrees/<name>``) fold
into ``<repo>``, a path under a repository root resolved earlier belongs to that repository,
and otherwise the nearest existing ancestor decides.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

__all__ = ["RepoCache", "RepoIdentity", "normalize_remote", "read_small", "repos_named", "resolve_repo"]

KNOWN_REPOS_SQL = "select cwd, repo_id, root, how from repos"
SAVE_REPO_SQL = """
insert or ignore into repos (cwd, repo_id, root, remote, how, resolved_utc) values (?, ?, ?, ?, ?, ?)
"""


@dataclass(frozen=True, slots=True)
class RepoIdentity:
    """Where a cwd belongs: ``how`` is ``remote``, ``git-root``, ``known`` or ``path``."""

    repo_id: str
    root: str | None
    remote: str | None
    how: str


_CLAUDE_WORKTREE = re.compile(r"^(.+?)[/\\]\.claude[/\\]worktrees[/\\][^/\\]+")


def resolve_repo(cwd: str, known_roots: Mapping[str, str] | None = None) -> RepoIdentity:
    """Resolve a working directory to its repository (see the module docstring).

    ``known_roots`` maps repository roots resolved before to their ids; it decides for
    directories that no longer exist.
    """
    if os.path.isdir(cwd):
        return _from_git(cwd, Path(cwd))
    if match := _CLAUDE_WORKTREE.match(cwd):
        return resolve_repo(match.group(1), known_roots)
    for root in sorted(known_roots or (), key=len, reverse=True):
        if cwd == root or cwd.startswith(root.rstrip("/\\") + os.sep):
            assert known_roots is not None
            return RepoIdentity(repo_id=known_roots[root], root=root, remote=None, how="known")
    return _from_git(cwd, _nearest_existing(cwd))


def _from_git(cwd: str, start: Path | None) -> RepoIdentity:
    found = _find_git(start) if start is not None else None
    if found is None:
        return RepoIdentity(repo_id=cwd, root=None, remote=None, how="path")
    root, common_dir = found
    remote = _origin_remote(common_dir)
    if remote:
        return RepoIdentity(repo_id=remote, root=str(root), remote=remote, how="remote")
    return RepoIdentity(repo_id=str(root), root=str(root), remote=None, how="git-root")


def _nearest_existing(cwd: str) -> Path | None:
    if not cwd or not os.path.isabs(cwd):
        return None
    path = Path(cwd)
    for candidate in (path, *path.parents):
        try:
            if candidate.is_dir():
                return candidate
        except OSError:
            continue
    return None


def _find_git(start: Path) -> tuple[Path, Path] | None:
    """The main working tree and the common git dir for the repository holding ``start``."""
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        try:
            if dot_git.is_dir():
                git_dir = dot_git
            elif dot_git.is_file():
                linked = _gitdir_from_file(dot_git)
                if linked is None:
                    continue
                git_dir = linked
            else:
                continue
        except OSError:
            continue
        common_dir = _common_dir(git_dir)
        if common_dir.name == ".git":
            return common_dir.parent, common_dir  # a linked worktree folds into its main repo
        return directory, common_dir  # a submodule or a worktree of a bare repository
    return None


# A .git file, commondir or a config is a few hundred bytes; a larger one is not read at all.
SMALL_FILE_BYTES = 1 << 20
_OPEN_SMALL = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_small(path: str | Path) -> str | None:
    """The text of a small regular file, else None. A repository is untrusted input: its .git
    files may be FIFOs (opened without blocking, then refused), links to /dev/zero or any other
    device (refused), or huge (refused); none of them can hang or exhaust memory."""
    try:
        fd = os.open(path, _OPEN_SMALL)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > SMALL_FILE_BYTES:
            return None
        data = os.read(fd, SMALL_FILE_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace") if len(data) <= SMALL_FILE_BYTES else None


def _gitdir_from_file(dot_git: Path) -> Path | None:
    text = read_small(dot_git)
    if text is None:
        return None
    match = re.match(r"gitdir:\s*(.+)", text.strip())
    if not match:
        return None
    return (dot_git.parent / match.group(1).strip()).resolve()


def _common_dir(git_dir: Path) -> Path:
    text = read_small(git_dir / "commondir")
    if text is None:
        return git_dir
    relative = text.strip()
    return (git_dir / relative).resolve() if relative else git_dir


_SECTION = re.compile(r'^\s*\[\s*remote\s+"origin"\s*\]\s*$', re.IGNORECASE)
_ANY_SECTION = re.compile(r"^\s*\[")
_URL = re.compile(r"^\s*url\s*=\s*(.+?)\s*$", re.IGNORECASE)


def _origin_remote(common_dir: Path) -> str | None:
    text = read_small(common_dir / "config")
    if text is None:
        return None
    lines = text.splitlines()
    in_origin = False
    for line in lines:
        if _ANY_SECTION.match(line):
            in_origin = bool(_SECTION.match(line))
        elif in_origin and (match := _URL.match(line)):
            return normalize_remote(match.group(1).strip('"'))
    return None


_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]{2,}):(?!//)(?P<path>.+)$")


def repos_named(name: str, known: list[str]) -> list[str]:
    """The repo ids of ``known`` that ``name`` names, the way people and ccledger's own tables
    write them: the whole id (``github.com/acme/api-server``), its end on a ``/`` boundary
    (``acme/api-server``, ``api-server``, ``src/api`` for ``/home/u/src/api``), or a remote URL
    (``git@github.com:acme/api-server.git``). Case is ignored. An exact id wins outright."""
    if name in known:
        return [name]
    wanted = (normalize_remote(name) or name).strip().lower().replace("\\", "/").strip("/")
    if wanted.endswith(".git"):
        wanted = wanted[: -len(".git")]
    if not wanted:
        return []
    found = []
    for repo_id in known:
        text = repo_id.lower().replace("\\", "/").rstrip("/")
        if text == wanted or text.endswith("/" + wanted):
            found.append(repo_id)
    return found


def normalize_remote(url: str) -> str | None:
    """``host/owner/name`` for a network remote, lower-cased and without credentials.

    ``git@github.com:Owner/Name.git``, ``https://user:token@github.com/owner/name`` and
    ``ssh://git@github.com:22/owner/name.git`` all give ``github.com/owner/name``. Local
    paths and ``file://`` remotes are not portable identities and give None.
    """
    url = url.strip()
    if not url:
        return None
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file" or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    elif match := _SCP_LIKE.match(url):
        host, path = match.group("host"), match.group("path")
    else:
        return None
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    path = path.strip("/")
    if not path:
        return None
    return f"{host}/{path}".lower()


class _Connection(Protocol):
    """What the cache needs of the ledger: a sqlite3 connection or a sqlite-utils Database."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


class RepoCache:
    """Repo identity per cwd: the ledger's ``repos`` table first, the filesystem once.

    Without a ledger (``db`` None) it resolves from the filesystem alone and cannot :meth:`save`.
    """

    def __init__(self, db: _Connection | None) -> None:
        self._db = db
        self._ids: dict[str, str] = {}
        self._roots: dict[str, str] = {}
        self._pending: dict[str, RepoIdentity] = {}  # resolved, not yet committed
        for cwd, repo_id, root, how in db.execute(KNOWN_REPOS_SQL) if db is not None else ():
            self._remember(cwd, repo_id, root, how)

    def _remember(self, cwd: str, repo_id: str, root: str | None, how: str) -> None:
        self._ids.setdefault(cwd, repo_id)
        if root and how in ("remote", "git-root"):
            self._roots.setdefault(root, repo_id)

    def resolve_all(self, cwds: set[str]) -> dict[str, RepoIdentity]:
        """Identities for the cwds not yet in the ledger; existing directories go first, so their
        roots are known when a vanished sibling is resolved. A cwd resolved earlier in the same
        batch is not resolved again."""
        resolved: dict[str, RepoIdentity] = {}
        new = cwds - self._ids.keys()
        if not new:  # nearly every file after its repo's first: called once per file read
            return resolved
        roots = dict(self._roots)
        for cwd in sorted(new, key=lambda c: not os.path.isdir(c)):
            identity = self._pending.get(cwd) or resolve_repo(cwd, roots)
            resolved[cwd] = self._pending[cwd] = identity
            if identity.root and identity.how in ("remote", "git-root"):
                roots.setdefault(identity.root, identity.repo_id)
        return resolved

    def save(self, identities: dict[str, RepoIdentity], now: str) -> None:
        """Write newly resolved identities (inside the caller's transaction)."""
        assert self._db is not None, "a RepoCache without a ledger saves nothing"
        for cwd, identity in identities.items():
            self._db.execute(SAVE_REPO_SQL, [cwd, identity.repo_id, identity.root, identity.remote, identity.how, now])

    def remember(self, identities: dict[str, RepoIdentity]) -> None:
        """Keep identities in memory once the transaction that saved them has committed."""
        for cwd, identity in identities.items():
            self._remember(cwd, identity.repo_id, identity.root, identity.how)
            self._pending.pop(cwd, None)

    def lookup(self, pending: dict[str, RepoIdentity]) -> Callable[[str | None], str | None]:
        """A cwd -> repo id function over the cache plus identities not yet remembered."""

        def repo_id(cwd: str | None) -> str | None:
            if not cwd:
                return None
            return pending[cwd].repo_id if cwd in pending else self._ids.get(cwd)

        return repo_id
