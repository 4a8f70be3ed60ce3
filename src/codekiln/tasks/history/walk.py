"""A repository's history as candidate changes: the front end of `codekiln mine`.

    gitdir = open_history("https://github.com/org/proj")    # local checkout, bare repo, bundle or URL
    walk = walk_history(gitdir, WalkOptions(max_commits=200))
    walk.head, walk.commits, walk.skipped                  # {"no_test_change": 120, ...}
    for change in walk.changes:                            # newest first
        change.commit, change.parent, change.pr, change.fix_patch, change.test_patch

A local checkout or bare repository is read in place (never written). A bundle or URL is cloned once,
bare, into `$CODEKILN_HOME/history/<digest>/` and fetched again on later runs.

The walk follows the default branch's first-parent history (`git log --first-parent`), so a merged
pull request is one change: its merge commit against the branch's previous state. A pull request is
recognised from GitHub's merge message ("Merge pull request #N from ...", the PR title on the next
line) or a squash merge's subject ending in "(#N)"; any other commit is a change of its own.

Each change's diff is split by path: test files (`is_test_path`) make the test patch, the rest the fix
patch. Only changes that touch both are candidates; the others are counted in `skipped` by reason:
`no_test_change` (no test file), `no_code_change` (no Python file outside the tests), `merge_commit`
(a merge that is not a pull request: its first-parent diff is a whole branch).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from codekiln.core.config import state_dir
from codekiln.core.errors import RepoError
from codekiln.core.proc import run, tail
from codekiln.core.testnames import is_test_module

GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
_MERGE_PR = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH_PR = re.compile(r"\s*\(#(\d+)\)\s*$")
_URL = re.compile(r"^(git\+)?(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


def git(gitdir: Path, *args: str, timeout: float = 600) -> str:
    """Run git on a repository (its .git or bare directory); stdout, or RepoError with git's stderr."""
    res = run(["git", f"--git-dir={gitdir}", *args], timeout=timeout, env={**os.environ, **GIT_ENV})
    if res.exit_code != 0:
        raise RepoError(
            f"git {' '.join(args[:3])} failed in {gitdir}:\n{tail(res.stderr, 6)}",
            hint="check that the repository is readable and the ref or dates exist",
        )
    return res.stdout


def is_test_path(rel: str) -> bool:
    """Test files: test modules by name (`core.testnames`) and `conftest.py`."""
    return is_test_module(rel) or PurePosixPath(rel).name == "conftest.py"


def _git_dir(path: Path) -> Path | None:
    """The git directory of a checkout (`.git`) or a bare repository, else None."""
    if (path / ".git").exists():
        return path / ".git"
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    return None


def _clone_bare(source: str) -> Path:
    """A bare clone of a URL or bundle in the history cache, fetched again if it exists."""
    dest = state_dir("history") / hashlib.sha256(source.encode()).hexdigest()[:16]
    env = {**os.environ, **GIT_ENV}
    if (dest / "HEAD").is_file():
        argv = ["git", f"--git-dir={dest}", "fetch", "-q", "--prune", "origin", "+refs/heads/*:refs/heads/*"]
    else:
        argv = ["git", "clone", "-q", "--bare", source, str(dest)]
    res = run(argv, timeout=1800, env=env)
    if res.exit_code != 0:
        raise RepoError(
            f"cannot clone {source}:\n{tail(res.stderr, 6)}",
            hint="check the URL or bundle path and that the host is reachable",
        )
    return dest


def open_history(spec: str) -> Path:
    """The git directory holding `spec`'s history: a local checkout or bare repository in place, a git
    bundle or URL cloned (bare) into the history cache."""
    text = spec.strip()
    if _URL.match(text):
        return _clone_bare(text.removeprefix("git+"))
    path = Path(text).expanduser()
    if path.is_dir():
        found = _git_dir(path.resolve())
        if found is None:
            raise RepoError(
                f"{spec} is not a git repository: mining needs its history",
                hint="give a git checkout, a bare repository, a bundle or a git URL",
            )
        return found
    if path.is_file():
        res = run(["git", "bundle", "list-heads", str(path)], timeout=120, env={**os.environ, **GIT_ENV})
        if res.exit_code == 0:
            return _clone_bare(str(path.resolve()))
        raise RepoError(f"{spec} is a file but not a git bundle", hint="make one with: git bundle create")
    raise RepoError(f"{spec!r}: no such repository", hint="give a checkout, bare repo, bundle or git URL")


class Change(BaseModel):
    """One change of the history: a commit (or merged PR) split into fix and test patches."""

    commit: str
    parent: str
    author_date: str
    """ISO 8601, as git records it."""
    pr: int | None = None
    kind: str = "commit"
    """"merge" (a PR merge commit), "squash" (a subject ending in "(#N)") or "commit"."""
    title: str
    message: str
    """The whole commit message (for a merge, the PR title and body GitHub writes after the subject)."""
    fix_patch: str = ""
    test_patch: str = ""
    fix_files: list[str] = []
    test_files: list[str] = []


@dataclass
class WalkOptions:
    ref: str = ""
    """The branch to walk; the repository's default branch (HEAD) if empty."""
    since: str = ""
    until: str = ""
    max_commits: int | None = None


@dataclass
class Walk:
    head: str
    commits: int = 0
    changes: list[Change] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def resolve_head(gitdir: Path, ref: str = "") -> str:
    """The commit that `ref` (default: HEAD, the default branch) names."""
    return git(gitdir, "rev-parse", "--verify", f"{ref or 'HEAD'}^{{commit}}").strip()


def _describe(subject: str, body: str) -> tuple[int | None, str, str]:
    """(PR number, kind, title) of a commit message."""
    merge = _MERGE_PR.match(subject)
    if merge:
        first = next((line.strip() for line in body.splitlines() if line.strip()), subject)
        return int(merge[1]), "merge", first
    squash = _SQUASH_PR.search(subject)
    if squash:
        return int(squash[1]), "squash", subject[: squash.start()].strip()
    return None, "commit", subject.strip()


def _diff(gitdir: Path, parent: str, commit: str, files: list[str]) -> str:
    if not files:
        return ""
    specs = [f":(literal){f}" for f in files]
    # Names quoted as C strings, every non-ASCII byte as octal (parse_diff reads them back exactly),
    # whatever the user's git config says: the text stays ASCII for `run`'s decoding.
    argv = ["-c", "core.quotePath=true", "diff", "--no-color", "--no-renames", "--no-ext-diff"]
    return git(gitdir, *argv, parent, commit, "--", *specs)


def split_change(gitdir: Path, parent: str, commit: str) -> tuple[list[str], list[str]]:
    """(fix files, test files) changed between parent and commit."""
    names = git(gitdir, "diff", "--name-only", "--no-renames", "-z", parent, commit).split("\0")
    names = [n for n in names if n]
    tests = [n for n in names if is_test_path(n)]
    return [n for n in names if n not in set(tests)], tests


def walk_history(gitdir: Path, options: WalkOptions, head: str = "") -> Walk:
    """The candidate changes of the first-parent history ending at `head` (default: the ref's commit)."""
    head = head or resolve_head(gitdir, options.ref)
    argv = ["log", "--first-parent", "--format=%H%x00%P%x00%aI%x00%s%x00%b%x1e"]
    argv += [f"--since={options.since}"] if options.since else []
    argv += [f"--until={options.until}"] if options.until else []
    argv += [f"--max-count={options.max_commits}"] if options.max_commits else []
    walk = Walk(head=head)
    for entry in git(gitdir, *argv, head, "--").split("\x1e"):
        fields = entry.strip("\n").split("\0")
        if len(fields) < 5:
            continue
        commit, parents, date, subject, body = fields[:5]
        walk.commits += 1
        if not parents.split():
            walk.skipped["root_commit"] = walk.skipped.get("root_commit", 0) + 1
            continue
        parent = parents.split()[0]
        pr, kind, title = _describe(subject, body)
        if len(parents.split()) > 1 and kind != "merge":
            walk.skipped["merge_commit"] = walk.skipped.get("merge_commit", 0) + 1
            continue
        fix, tests = split_change(gitdir, parent, commit)
        reason = (
            "no_test_change"
            if not tests
            else "no_code_change"
            if not any(f.endswith(".py") for f in fix)
            else ""
        )
        if reason:
            walk.skipped[reason] = walk.skipped.get(reason, 0) + 1
            continue
        message = f"{subject}\n\n{body}".strip()
        walk.changes.append(
            Change(
                commit=commit, parent=parent, author_date=date, pr=pr, kind=kind, title=title,
                message=message, fix_patch=_diff(gitdir, parent, commit, fix),
                test_patch=_diff(gitdir, parent, commit, tests), fix_files=fix, test_files=tests,
            )
        )  # fmt: skip
    return walk


def export_tree(gitdir: Path, commit: str, dest: Path) -> Path:
    """Write the files of `commit` into `dest` (a new directory), without history; the repository is
    only read (a private index file is used and removed)."""
    dest.mkdir(parents=True)
    index = dest.parent / f".{dest.name}.index"
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(index)}
    try:
        for args in (["read-tree", commit], ["checkout-index", "--all", "--force"]):
            res = run(["git", f"--git-dir={gitdir}", f"--work-tree={dest}", *args], timeout=600, env=env)
            if res.exit_code != 0:
                raise RepoError(
                    f"cannot export {commit[:12]} from {gitdir}:\n{tail(res.stderr, 6)}",
                    hint="check that the commit exists in the repository",
                )
    finally:
        index.unlink(missing_ok=True)
    return dest
