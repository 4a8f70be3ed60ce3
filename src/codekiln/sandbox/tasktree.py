"""Trees a workspace can start from instead of its snapshot, built once per (snapshot, start) and cached.

    tree = task_tree(snapshot, StartTree(files={"pkg/mod.py": b"...", "tests/test_x.py": None}), owner)
    tree.path       # the snapshot with `files` written in (None: absent) and a fresh git history
    tree.changes    # how it differs from the snapshot, as `Workspace.changed` reports it

Why a tree of its own: a task's agent workspace used to be the snapshot with the setup written over it
(the bug, the hidden tests deleted, manifests rewritten), and every write left a trace no one can put
back: a change time (`stat -c %z`), a fresh inode (in overlay mode one of the upper layer's), a hole in
the snapshot's inode sequence where a test was deleted, and an upper-layer folder's size and link
count (tests/audit/test_redteam_traces.py). Here every path of the tree is written in one walk, each
folder's files in name order before its subfolders, with the snapshot's modes and times, owned by the
uid the sandbox runs as: the setup's files are written like every other, the absent ones are never
made, and a workspace's upper layer is empty when it opens. Then the tree gets a git history of its
own (one commit, fixed identity and date), so `git diff` or `git checkout` cannot hand out the
snapshot's files.

Cache: `$CODEKILN_HOME/tasktrees/<key>`, where the key hashes the snapshot's identity (its path, its
root's inode and modification time, its git HEAD and index: a rebuilt snapshot never matches), the
files and the owner. A build runs in a temporary folder renamed into place, so two processes building
the same tree never see each other's half: the second rename loses and its copy is deleted. Trees of
a snapshot that changed or is gone, and builds left by dead processes, are deleted by the first build
of each process; deleting `$CODEKILN_HOME` (`make clean`) deletes them with the other caches. The cache
is bounded: after each build the least recently used trees go, down to `$CODEKILN_TASKTREE_BUDGET`
(default 20G), never one a workspace is open on (`Tree.lease`; `sandbox.treecache`, which also has
`usage()` and `clear()`).
Cost: a copy of the snapshot's files (not its .git) per task, on disk. Hard links become copies;
sockets, FIFOs and device files are left out (snapshots of source trees hold none).
"""

from __future__ import annotations

import array
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import SandboxError
from codekiln.sandbox import treecache
from codekiln.sandbox.treecache import Lease
from codekiln.sandbox.trees import copy_changes, rmtree, walk

VERSION = "1"
"""Part of every key: bump it when the way trees are built changes."""
STALE_BUILD_S = 3600
"""A temporary build folder older than this belonged to a process that died."""
GIT_IDENTITY = {
    **{f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
       for what, value in (("NAME", "codekiln"), ("EMAIL", "codekiln@localhost"),
                           ("DATE", "2000-01-01T00:00:00Z"))},
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": "/tmp",
}  # fmt: skip
FRESH_HISTORY = [
    ["git", "init", "-q"],
    ["git", "-c", "safe.directory=*", "add", "-A"],
    ["git", "-c", "safe.directory=*", "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
     "-m", "initial commit"],
]  # fmt: skip
_swept = False


@dataclass(frozen=True)
class StartTree:
    """What a workspace starts from instead of its snapshot: the snapshot (without its .git) with
    `files` written in, by relative path (None: the path is absent), and a fresh git history."""

    files: Mapping[str, bytes | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Tree:
    """A built tree: where it is, how it differs from its snapshot (rel -> "deleted" or a kind), and the
    lease that keeps the cache from evicting it (`lease.release()` once done with `path`)."""

    path: Path
    changes: dict[str, str]
    lease: Lease = field(compare=False, repr=False)


def snapshot_stamp(snapshot: Path) -> str:
    """What identifies one snapshot's contents: a snapshot made again (even at the same path) differs."""
    h = hashlib.sha256(str(snapshot.resolve()).encode())
    st = snapshot.stat()
    h.update(f"{st.st_ino}:{st.st_mtime_ns}".encode())
    for name in ("HEAD", "index"):
        try:
            h.update((snapshot / ".git" / name).read_bytes())
        except OSError:
            h.update(b"-")
    return h.hexdigest()


def tree_key(snapshot: Path, start: StartTree, owner: tuple[int, int]) -> str:
    h = hashlib.sha256(f"{VERSION}\0{snapshot_stamp(snapshot)}\0{owner}".encode())
    for rel in sorted(start.files):
        data = start.files[rel]
        h.update(f"\0{rel}\0".encode() + (b"-" if data is None else hashlib.sha256(data).digest()))
    return h.hexdigest()[:24]


def task_tree(snapshot: Path, start: StartTree, owner: tuple[int, int]) -> Tree:
    """The tree of `start` over `snapshot`, its files owned by `owner` (uid, gid): from the cache,
    or built now (see the module docstring), leased to the caller."""
    root = _cache_root()
    final = root / tree_key(snapshot, start, owner)
    for _ in range(3):  # another process evicting it between the build and the lease: build again
        built = not (final / "changes.json").is_file()
        if built:
            _build_into(root, snapshot, start, owner, final)
        claim = treecache.lease(final)
        if claim is not None:
            if built:
                treecache.evict(root)
            return Tree(final / "tree", json.loads((final / "changes.json").read_text()), claim)
    raise SandboxError(
        f"the task tree {final.name} was evicted from the cache as soon as it was built, three times",
        hint=f"raise {treecache.BUDGET_ENV} (now {treecache.budget()} bytes) or clear other trees",
    )


def _build_into(root: Path, snapshot: Path, start: StartTree, owner: tuple[int, int], final: Path) -> None:
    global _swept
    if not _swept:
        _swept = True
        sweep(root)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        changes = _build(snapshot, dict(start.files), owner, scratch / "tree")
        meta = {
            "snapshot": str(snapshot.resolve()),
            "stamp": snapshot_stamp(snapshot),
            "bytes": treecache.disk_bytes(scratch / "tree"),
        }
        (scratch / "meta.json").write_text(json.dumps(meta))
        (scratch / treecache.USED).touch()
        (scratch / "changes.json").write_text(json.dumps(changes))  # last: the tree is whole
        publish(scratch, final)
    finally:
        rmtree(scratch, ignore_errors=True)


FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def _cache_root() -> Path:
    """`$CODEKILN_HOME/tasktrees`, flagged as a top of directory hierarchies (`chattr +T`) where the
    filesystem knows the flag (ext2/3/4): each build folder then goes to a block group with free
    inodes to spare, and a tree's files get one run of inode numbers instead of the holes freed
    files left (which split a tree into far-apart runs: tests/audit/test_redteam_traces.py)."""
    root = state_dir("tasktrees")
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return root
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        if not flags[0] & FS_TOPDIR_FL:
            flags[0] |= FS_TOPDIR_FL
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
    except OSError:  # not supported here: the trees work the same, their inode numbers are noisier
        pass
    finally:
        os.close(fd)
    return root


def publish(scratch: Path, final: Path) -> bool:
    """Rename a finished build into place; False when another process's finished build got there
    first (the caller deletes its own copy)."""
    try:
        os.rename(scratch, final)
    except OSError:
        if not (final / "changes.json").is_file():
            raise
        return False
    return True


def sweep(root: Path) -> int:
    """Delete trees whose snapshot changed or is gone (unless a workspace is open on one), builds of
    dead processes, and evictions they left half done (the first build of each process calls it). How
    many went."""
    removed, stamps = 0, dict[str, str | None]()
    for entry in root.iterdir():
        try:
            if entry.name.startswith(".evict-"):
                stale = True
            elif entry.name.startswith(".build-"):
                stale = time.time() - entry.stat().st_mtime > STALE_BUILD_S
            else:
                meta = json.loads((entry / "meta.json").read_text())
                if meta["snapshot"] not in stamps:
                    snap = Path(meta["snapshot"])
                    stamps[meta["snapshot"]] = snapshot_stamp(snap) if snap.is_dir() else None
                stale = stamps[meta["snapshot"]] != meta["stamp"]
        except (OSError, ValueError, KeyError):
            stale = not (entry / "changes.json").exists()  # a finished tree missing its meta: keep it
        if not stale:
            continue
        if entry.name.startswith("."):
            rmtree(entry, ignore_errors=True)
            removed += 1
        else:
            removed += treecache.discard(entry)
    return removed


def _own(path: Path, owner: tuple[int, int], st: os.stat_result | None, root: os.stat_result) -> None:
    """Owner, then mode (a chown clears set-id bits), then the snapshot's times (`root`'s for a path
    the snapshot lacks)."""
    os.lchown(path, *owner)
    mode = path.lstat().st_mode
    if not stat.S_ISLNK(mode):
        os.chmod(path, stat.S_IMODE(st.st_mode) if st is not None else 0o755 if stat.S_ISDIR(mode) else 0o644)
    times = st or root
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns), follow_symlinks=False)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except OSError:
        return None


def _build(
    snapshot: Path, files: dict[str, bytes | None], owner: tuple[int, int], dest: Path
) -> dict[str, str]:
    root = snapshot.lstat()
    extra: dict[str, set[str]] = {}  # folder -> names the start adds below it (folders made for them too)
    for rel, data in files.items():
        if data is not None:
            parts = rel.split("/")
            for i in range(len(parts)):
                extra.setdefault("/".join(parts[:i]), set()).add(parts[i])
    changes: dict[str, str] = {}
    folders: list[tuple[Path, os.stat_result | None]] = []
    made: list[tuple[Path, os.stat_result | None]] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        src, out = snapshot / rel, dest / rel
        st = root if not rel else _lstat(src)
        out.mkdir()
        folders.append((out, st))
        if st is None:
            changes[rel] = "dir"
        names = set(os.listdir(src)) if st is not None and stat.S_ISDIR(st.st_mode) else set()
        if not rel:
            names.discard(".git")  # the tree gets a history of its own
        subfolders = []
        for name in sorted(names | extra.get(rel, set())):
            child = f"{rel}/{name}" if rel else name
            cst = _lstat(snapshot / child)
            if child in files:
                data = files[child]
                if data is None:
                    if cst is not None:
                        changes[child] = "deleted"
                    continue
                (dest / child).write_bytes(data)
                regular = cst is not None and stat.S_ISREG(cst.st_mode)
                if not regular or (snapshot / child).read_bytes() != data:
                    changes[child] = "file"
                made.append((dest / child, cst if regular else None))
            elif cst is None or stat.S_ISDIR(cst.st_mode):
                subfolders.append(child)
            elif stat.S_ISREG(cst.st_mode):
                shutil.copyfile(snapshot / child, dest / child, follow_symlinks=False)
                made.append((dest / child, cst))
            elif stat.S_ISLNK(cst.st_mode):
                os.symlink(os.readlink(snapshot / child), dest / child)
                made.append((dest / child, cst))
        stack.extend(reversed(subfolders))
    # Owners, modes and times in a pass of their own: metadata calls only, so every file's change time
    # falls within a few milliseconds, whatever the copy's pace (and the git index records these).
    for path, st in made:
        _own(path, owner, st, root)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **GIT_IDENTITY}
    for argv in FRESH_HISTORY:
        done = subprocess.run(argv, cwd=dest, env=env, capture_output=True, timeout=600)
        if done.returncode != 0:
            raise SandboxError(
                f"making the git history of a task tree failed ({' '.join(argv[:4])}): "
                f"{done.stderr.decode(errors='replace')[-2000:]}",
                hint="check that git works on this host (apt-get install git)",
            )
    for dirpath, _, filenames in walk(dest / ".git"):
        os.lchown(dirpath, *owner)
        for name in filenames:
            os.lchown(os.path.join(dirpath, name), *owner)
    for out, st in reversed(folders):  # deepest first: setting a folder's times touches no parent
        _own(out, owner, st, root)
    changes.update({f".git/{k}": v for k, v in copy_changes(dest / ".git", snapshot / ".git").items()})
    return changes
