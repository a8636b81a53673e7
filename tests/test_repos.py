import shutil
import subprocess

import pytest

from ccledger.ingest.repos import normalize_remote, resolve_repo

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("git@github.com:Owner/Name.git", "github.com/owner/name"),
        ("https://github.com/owner/name", "github.com/owner/name"),
        ("https://github.com/owner/name.git/", "github.com/owner/name"),
        ("https://user:ghp_secret@github.com/owner/name.git", "github.com/owner/name"),
        ("ssh://git@github.com:22/owner/name.git", "github.com/owner/name"),
        ("git://gitlab.example.com/group/sub/name.git", "gitlab.example.com/group/sub/name"),
        ("GIT@GitHub.COM:Owner/Name", "github.com/owner/name"),
        ("/srv/git/name.git", None),
        ("file:///srv/git/name.git", None),
        ("C:/src/name", None),
        ("", None),
    ],
)
def test_normalize_remote(url, normal):
    assert normalize_remote(url) == normal


def test_credentials_never_survive():
    assert "secret" not in (normalize_remote("https://x-access-token:secret@github.com/o/n") or "")


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "api-server"
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "init", cwd=path)
    (path / "src" / "deep").mkdir(parents=True)
    return path


@needs_git
def test_git_root_without_remote_is_the_root_path(repo):
    identity = resolve_repo(str(repo / "src" / "deep"))
    assert identity.how == "git-root"
    assert identity.repo_id == str(repo) == identity.root


@needs_git
def test_origin_remote_is_the_id(repo):
    git("remote", "add", "origin", "https://tok:secret@github.com/Acme/API-Server.git", cwd=repo)
    identity = resolve_repo(str(repo / "src"))
    assert (identity.repo_id, identity.how) == ("github.com/acme/api-server", "remote")
    assert "secret" not in repr(identity)


@needs_git
def test_worktrees_fold_into_their_main_repo(repo, tmp_path):
    git("remote", "add", "origin", "git@github.com:acme/api-server.git", cwd=repo)
    worktree = tmp_path / "elsewhere" / "feature-x"
    git("worktree", "add", "-q", "-b", "feature-x", str(worktree), cwd=repo)
    identity = resolve_repo(str(worktree))
    assert identity.repo_id == "github.com/acme/api-server"
    assert identity.root == str(repo)


@needs_git
def test_worktree_without_remote_gets_the_main_root(repo, tmp_path):
    worktree = repo / ".claude" / "worktrees" / "agent-a4ca7529"
    git("worktree", "add", "-q", "-b", "agent", str(worktree), cwd=repo)
    assert resolve_repo(str(worktree)).repo_id == str(repo)


@needs_git
def test_a_deleted_directory_resolves_through_its_ancestor(repo):
    assert resolve_repo(str(repo / "gone" / "sub")).repo_id == str(repo)


def test_a_deleted_claude_worktree_folds_into_its_repo_path():
    identity = resolve_repo("/nowhere/proj/.claude/worktrees/agent-1234abcd")
    assert (identity.repo_id, identity.how) == ("/nowhere/proj", "path")


def test_known_roots_decide_for_vanished_paths():
    known = {"/nowhere/proj": "github.com/acme/proj", "/nowhere/proj-other": "x"}
    identity = resolve_repo("/nowhere/proj/packages/web", known)
    assert (identity.repo_id, identity.how) == ("github.com/acme/proj", "known")
    assert resolve_repo("/nowhere/project-two", known).how == "path"  # a prefix is not a parent


def test_outside_git_the_cwd_is_the_id(tmp_path):
    plain = tmp_path / "notes"
    plain.mkdir()
    assert resolve_repo(str(plain)).repo_id == str(plain)
    assert resolve_repo("C:\\Users\\USER\\Downloads").repo_id == "C:\\Users\\USER\\Downloads"
    assert resolve_repo("").how == "path"
