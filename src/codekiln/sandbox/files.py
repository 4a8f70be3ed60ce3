"""Host-side access to a sandbox's tree: symlink-proof reads and writes, and its git diff.

    data = read_at(tree, "pkg/mod.py")            # None when a symlink or special file is in the way
    data = read_at(tree, "out.json", limit=1 << 20)  # OSError (EFBIG) past the limit, nothing read
    sha = digest_at(tree, "junit.xml")             # sha256 hex, read in chunks
    ok = write_at(tree, "pkg/new.py", b"...", uid)  # creates parents, owned by uid
    ok = remove_at(tree, ".git")                     # a file, a link or a whole folder
    patch = git_diff(snapshot, tree, scratch)       # against the snapshot's commit, untracked included

The host reads and writes as root, so nothing in the tree may redirect it: paths are walked component
by component with O_NOFOLLOW; a symlink on the way makes the call decline, so that the caller can do
it inside the sandbox with the sandboxed user's rights instead. Non-regular files (a FIFO would block)
are refused with PermissionError.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Collection
from pathlib import Path

from codekiln.core.errors import SandboxError

# Never part of a diff: caches that running code or tests leave behind (tracked files still count).
DIFF_EXCLUDES = "__pycache__/\n*.py[cod]\n.pytest_cache/\n.mypy_cache/\n.ruff_cache/\n.hypothesis/\n"
_GLOB = re.compile(r"[][*?!\\#]")
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open(
    root: Path, rel: str, flags: int, *, make_parents: bool = False, uid: int | None = None
) -> int | None:
    """Open `rel` below `root` without following symlinks; None when a symlink is in the way.

    `make_parents` creates missing directories (owned by `uid` when given).
    Anything but a regular file at the end (a FIFO would block us) raises PermissionError.
    """
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not make_parents:
                    raise
                os.mkdir(part, 0o755, dir_fd=fd)
                if uid is not None:
                    os.chown(part, uid, uid, dir_fd=fd, follow_symlinks=False)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except NotADirectoryError:
                if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    return None
                raise
            os.close(fd)
            fd = nxt
        try:
            leaf = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644, dir_fd=fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                return None
            if err.errno == errno.ENXIO:  # a FIFO nobody reads
                raise PermissionError(errno.EPERM, "not a regular file", rel) from err
            raise
        mode = os.fstat(leaf).st_mode
        if not stat.S_ISREG(mode):
            os.close(leaf)
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", rel)
            raise PermissionError(errno.EPERM, "not a regular file", rel)
        return leaf
    finally:
        os.close(fd)


def read_at(root: Path, rel: str, limit: int | None = None) -> bytes | None:
    """The bytes of `rel` under `root`, or None when a symlink is in the way (see module doc). A file
    of more than `limit` bytes raises OSError (EFBIG) before any of it is read."""
    fd = _open(root, rel, os.O_RDONLY)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        if limit is None:
            return f.read()
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise over_limit(rel, limit)
        data = f.read(size)  # read(limit) would allocate the whole limit up front
        if f.read(1):  # it grew since: still never more than the limit read
            raise over_limit(rel, limit)
        return data


def over_limit(rel: str, limit: int) -> OSError:
    return OSError(errno.EFBIG, f"more than {limit:,} bytes: not read", rel)


def digest_at(root: Path, rel: str) -> str | None:
    """The sha256 (hex) of `rel` under `root`, read in chunks (never whole into memory), or None when
    a symlink is in the way (see module doc)."""
    fd = _open(root, rel, os.O_RDONLY)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_at(root: Path, rel: str, data: bytes, uid: int | None) -> bool:
    """Write `rel` under `root`, creating parent directories, owned by `uid`. False: a symlink is in the way."""
    fd = _open(root, rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, make_parents=True, uid=uid)
    if fd is None:
        return False
    if uid is not None:
        os.fchown(fd, uid, uid)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return True


def remove_at(root: Path, rel: str) -> bool:
    """Remove `rel` under `root`: a file, a link (not what it points to) or a whole folder (walked by
    file descriptor, never through a link). True when it is gone or was never there; False when a
    symlink is in the way (see module doc)."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return False
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                return True
            except NotADirectoryError:  # a link, or a file where a folder would be (nothing below it)
                return not stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode)
            os.close(fd)
            fd = nxt
        try:
            mode = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return True
        if stat.S_ISDIR(mode):
            shutil.rmtree(parts[-1], dir_fd=fd)
        else:
            os.unlink(parts[-1], dir_fd=fd)
        return True
    finally:
        os.close(fd)


# What the diff's git takes from the tree's own .gitattributes, overridden (`info/attributes` of the
# scratch repository outranks them): a `working-tree-encoding` that cannot decode a file made `git add`
# die, which masked the episode as the sandbox's failure (tests/audit/test_redteam7_agent.py).
DIFF_ATTRIBUTES = "* !working-tree-encoding\n"


def _scratch_repo(scratch: Path, base: str) -> Path:
    """A git directory in `scratch` at commit `base` (objects from the snapshot's, as alternates), whose
    `info/attributes` is DIFF_ATTRIBUTES: the snapshot's own .git is never written to."""
    repo = scratch / "repo"
    if not (repo / "HEAD").exists():
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "info").mkdir(exist_ok=True)
        (repo / "info" / "attributes").write_text(DIFF_ATTRIBUTES)
        (repo / "HEAD").write_text(base + "\n")
    return repo


def _git(
    snapshot: Path,
    tree: Path,
    scratch: Path,
    *args: str,
    ok: tuple[int, ...] = (0,),
    git_dir: Path | None = None,
) -> bytes:
    if not (scratch / "objects").exists():
        (scratch / "objects").mkdir(parents=True)
        (scratch / "exclude").write_text(DIFF_EXCLUDES)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_DIR": str(git_dir or snapshot / ".git"),
        "GIT_WORK_TREE": str(tree),
        # Everything git writes goes to `scratch`, never into the snapshot.
        "GIT_INDEX_FILE": str(scratch / "index"),
        "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(snapshot / ".git" / "objects"),
    }
    argv = [
        "git",
        "-c",
        "safe.directory=*",
        "-c",
        f"core.excludesFile={scratch / 'exclude'}",
        "-c",
        "gc.auto=0",
    ]
    argv += ["-c", "core.fsmonitor=false", "-c", "core.quotePath=false", *args]
    # Not proc.run: the diff must come back byte-exact and whole, however long it is.
    done = subprocess.run(argv, env=env, cwd=tree, capture_output=True, timeout=600, check=False)
    if done.returncode not in ok:
        raise SandboxError(
            f"git {args[0]} on the workspace failed: {done.stderr.decode(errors='replace')[-2000:]}",
            hint="the snapshot must be a git repository with one commit (made by `codekiln repo add`)",
        )
    return done.stdout


def git_diff(snapshot: Path, tree: Path, scratch: Path, leave_out: Collection[str] = ()) -> str:
    """`git diff --binary` of `tree` against the commit checked out in `snapshot`, untracked files
    included, `DIFF_EXCLUDES`, ignored files and what git cannot index (a nested repository without a
    commit) left out, the tree's `working-tree-encoding` attributes ignored (`DIFF_ATTRIBUTES`).
    `leave_out`: paths never part of it either (the files a workspace shows from `beneath`).
    `scratch` keeps git's index and new objects
    between calls (so later diffs only rehash what changed). Decoded with surrogateescape:
    `.encode(errors="surrogateescape")` gives back the exact bytes."""
    base = _git(snapshot, tree, scratch, "rev-parse", "HEAD").decode().strip()
    repo = _scratch_repo(scratch, base)
    (scratch / "exclude").write_text(
        DIFF_EXCLUDES + "".join("/" + _GLOB.sub(r"\\\g<0>", p) + "\n" for p in leave_out)
    )
    # A folder holding a `.git` of its own is another repository to git: one with a commit is added as a
    # submodule (mode 160000, which the grader rejects), one without made `add` fail. That is the tree's
    # doing, never the sandbox's: with --ignore-errors git skips what it cannot index and exits 1, while
    # a failure of git itself (no room for objects, a broken snapshot) still exits 128.
    _git(snapshot, tree, scratch, "add", "-A", "--ignore-errors", ok=(0, 1), git_dir=repo)
    diff = ("diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-renames", base)
    out = _git(snapshot, tree, scratch, *diff, git_dir=repo)
    return out.decode("utf-8", errors="surrogateescape")
