"""The trees of a workspace (`sandbox.workspace`), read and deleted without recursion.

    overlay_changes(upper, lower)    # overlay mode: what its upper layer records
    over_start(start, top, snapshot) # ... when the lower layer is a tree made from the snapshot
    copy_changes(tree, snapshot)     # copy mode: the two trees compared
    walk(top)                        # os.walk, iterative
    beneath_paths(folder); same_entry(a, b, rel)  # a workspace's `beneath` layer
    rmtree(path); clear(path)        # shutil.rmtree, or rm -rf for a tree too deep for it

Both modes answer `Workspace.changed` alike: rel -> "deleted" or the entry's kind ("file", "symlink",
"dir", "other"). A patch or a test can make a tree ~1,000 levels deep: nothing here recurses once per
level (tests/sandbox/test_sandbox_workspace.py).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Collection, Iterator
from pathlib import Path

from codekiln.core.errors import SandboxError


def _kind(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    return "file" if stat.S_ISREG(st.st_mode) else "other"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except OSError:
        return None


def walk(top: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top)` (top-down, symlinks not followed, unreadable folders skipped) without recursion:
    Python 3.11's recurses once per level, so a tree a patch made ~1,000 levels deep raised
    RecursionError out of the grader and lost the episode (tests/sandbox/test_sandbox_workspace.py)."""
    stack = [str(top)]
    while stack:
        path = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        yield path, dirs, [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
        stack.extend(os.path.join(path, d) for d in reversed(dirs))


def overlay_changes(upper: Path, lower: Path, whole: Collection[str] = ()) -> dict[str, str]:
    """What an overlay's upper layer records over its lower layer (`Workspace.changed`, overlay mode):
    whiteouts are deletions, an opaque or replaced folder hides everything of the lower one below it,
    and folders copied up only to hold a change below them are not listed."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in walk(upper):
        rel_dir = os.path.relpath(dirpath, upper)
        for name in [*dirnames, *filenames]:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            st = os.lstat(os.path.join(dirpath, name))
            below = _lstat(lower / rel)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # a whiteout: deleted
                out[rel] = "deleted"
                if below is not None and stat.S_ISDIR(below.st_mode) and rel not in whole:
                    out.update(_opaque(lower / rel, upper / rel, rel))
                continue
            kind = _kind(st)
            if kind != "dir" and below is not None and stat.S_ISDIR(below.st_mode):
                out.update(_opaque(lower / rel, upper / rel, rel))  # a folder replaced by a file
            if kind == "dir" and below is not None and stat.S_ISDIR(below.st_mode):
                if _has_xattr(os.path.join(dirpath, name)):
                    out.update(_opaque(lower / rel, upper / rel, rel))
                continue  # a directory the overlay copied up to hold a change below it
            out[rel] = kind
    return out


def over_start(start: dict[str, str], top: dict[str, str], snapshot: Path) -> dict[str, str]:
    """What differs from `snapshot` in a workspace whose lower layer is a tree made from it: `start`
    (how that tree differs from the snapshot) under `top` (what the upper layer records over the tree).
    A deletion of what the snapshot lacks is no difference; what `top` deleted or replaced whole takes
    what `start` had below it along."""
    gone = {rel for rel, kind in top.items() if kind != "dir"}
    out = {rel: kind for rel, kind in start.items() if not gone.intersection(_parents(rel))}
    for rel, kind in top.items():
        if kind == "deleted" and _lstat(snapshot / rel) is None:
            out.pop(rel, None)
        else:
            out[rel] = kind
    return out


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _has_xattr(path: str) -> bool:
    try:
        return "trusted.overlay.opaque" in os.listxattr(path, follow_symlinks=False)
    except OSError:
        return False


def _opaque(lower: Path, upper: Path, rel: str) -> dict[str, str]:
    """A directory replaced whole (removed, then made again): what was below it is gone."""
    out = {}
    for dirpath, _, filenames in walk(lower):
        for name in filenames:
            sub = os.path.relpath(os.path.join(dirpath, name), lower)
            if not upper.is_dir() or upper.is_symlink() or _lstat(upper / sub) is None:
                out[f"{rel}/{sub}"] = "deleted"
    return out


def copy_changes(tree: Path, snapshot: Path) -> dict[str, str]:
    """What differs between a copied tree and its snapshot (`Workspace.changed`, copy mode): entries
    new, deleted, of another kind, another executable bit, link target or content."""
    out: dict[str, str] = {}
    for top, other, mark in ((tree, snapshot, None), (snapshot, tree, "deleted")):
        for dirpath, dirnames, filenames in walk(top):
            for name in [*dirnames, *filenames]:
                full = Path(dirpath) / name
                rel = str(full.relative_to(top))
                if rel in out:
                    continue
                st, twin = full.lstat(), _lstat(other / rel)
                if twin is None:
                    out[rel] = mark or _kind(st)
                elif mark is None and (_kind(st) != _kind(twin) or _differs(full, other / rel, st, twin)):
                    out[rel] = _kind(st)
    return out


def _differs(a: Path, b: Path, sa: os.stat_result, sb: os.stat_result) -> bool:
    if stat.S_ISDIR(sa.st_mode):
        return False
    if (sa.st_mode & 0o111) != (sb.st_mode & 0o111):
        return True
    if stat.S_ISLNK(sa.st_mode):
        return os.readlink(a) != os.readlink(b)
    return sa.st_size != sb.st_size or a.read_bytes() != b.read_bytes()


def rmtree(path: Path, *, ignore_errors: bool = False) -> None:
    """`shutil.rmtree`, or `rm -rf` for a tree too deep for it: shutil recurses once per level, so a tree
    that a patch or a test made ~1,000 levels deep raised RecursionError out of `reset` and `close` (and
    so out of the grader, losing the episode; tests/sandbox/test_sandbox_workspace.py)."""
    try:
        shutil.rmtree(path, ignore_errors=ignore_errors)
    except RecursionError:
        done = subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True)
        if done.returncode != 0 and not ignore_errors:
            raise SandboxError(f"cannot delete {path}: {done.stderr.decode(errors='replace')}") from None


def clear(path: Path) -> None:
    """Delete everything inside `path`, keeping `path` itself."""
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            rmtree(child)
        else:
            child.unlink()


def beneath_paths(folder: Path | None) -> tuple[Path | None, list[str]]:
    """`folder` resolved and the relative paths below it (folders too), or (None, []) where it holds
    no file."""
    if folder is None or not folder.is_dir():
        return None, []
    root = folder.resolve()
    paths = [str(Path(d, n).relative_to(root)) for d, dirs, files in walk(root) for n in [*dirs, *files]]
    return (root, sorted(paths)) if any((root / p).is_file() for p in paths) else (None, [])


def same_entry(a_root: Path, b_root: Path, rel: str) -> bool:
    """Whether `rel` is the same entry under both roots: a folder under both, or files of equal bytes."""
    a, b = a_root / rel, b_root / rel
    try:
        if a.is_dir() or b.is_dir():
            return a.is_dir() and b.is_dir() and not b.is_symlink()
        return (
            not b.is_symlink() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
        )
    except OSError:
        return False
