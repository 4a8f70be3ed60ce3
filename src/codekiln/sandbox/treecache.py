"""The task-tree cache's bound (`$CODEKILN_HOME/tasktrees`, built by `sandbox.tasktree`): a size budget
kept by evicting the least recently used trees, never one a workspace is open on.

    usage()     # CacheUsage(trees=..., bytes=..., in_use=..., budget=...): what the cache holds now
    clear()     # delete every tree no workspace is open on; how many went
    evict(root) # what each new tree's build calls: least recently used first, down to the budget

Budget: `$CODEKILN_TASKTREE_BUDGET` bytes, with an optional K/M/G/T suffix (powers of 1024), default
20G; `0` keeps only the trees in use. A tree is measured once, when it is built (its blocks on disk,
its git history included), and the budget is checked after each build: trees in use can hold the cache
above it until they are closed. Each tree is a copy of its snapshot's files, so a rollout over thousands
of tasks would otherwise fill the disk.

In use: a workspace holds a `Lease` on its tree (a shared `flock` on the entry's `used` file, whose
modification time is the tree's last use) from opening until it is closed. Eviction takes that lock
exclusively without waiting, so a tree with any lease stays, and renames the entry out of the cache
before deleting it: an opener that found the entry just before sees, once it holds the lock, that its
entry is gone, and builds the tree again. Works across processes and Ray workers on one host (locks of a
shared network filesystem are only as good as its `flock`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.sandbox.trees import rmtree, walk

BUDGET_ENV = "CODEKILN_TASKTREE_BUDGET"
DEFAULT_BUDGET = 20 * 2**30
USED = "used"
"""The entry's lock file: shared-locked by every open workspace, its mtime the tree's last use."""
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def budget() -> int:
    """The cache's size budget in bytes, from `$CODEKILN_TASKTREE_BUDGET` (default 20G)."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET
    found = re.fullmatch(r"(\d+)\s*([KMGT]?)(?:i?B)?", raw, re.IGNORECASE)
    if found is None:
        raise ConfigError(
            f"{BUDGET_ENV}={raw!r} is not a size",
            hint=f"give bytes, optionally with a K, M, G or T suffix: {BUDGET_ENV}=20G",
        )
    return int(found[1]) * _UNITS[found[2].upper()]


class Lease:
    """A held claim on one cached tree: it is not evicted until `release()` (or until the lease is
    garbage-collected, or its process ends)."""

    def __init__(self, fd: int) -> None:
        self._finalizer = weakref.finalize(self, os.close, fd)

    def release(self) -> None:
        """Give the claim up (idempotent). Closing, never LOCK_UN: a forked child's copy stays valid."""
        self._finalizer()


def lease(entry: Path) -> Lease | None:
    """Claim the finished cache entry `entry` and mark it used now; None when it is gone or was evicted
    while this waited (the caller builds it again)."""
    try:
        fd = os.open(entry / USED, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        return None
    claim = Lease(fd)
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while an evictor renames the entry away
    if not _same_file(fd, entry / USED):
        claim.release()
        return None
    os.utime(fd)
    return claim


def _same_file(fd: int, path: Path) -> bool:
    try:
        st, held = path.stat(), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


def discard(entry: Path) -> bool:
    """Delete cache entry `entry` unless a workspace holds it; whether it went."""
    try:
        fd = os.open(entry / USED, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        return False  # gone already, or not an entry (the caller's listing is stale)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not _same_file(fd, entry / USED):
            return False
        gone = entry.parent / f".evict-{uuid.uuid4().hex[:12]}"
        os.rename(entry, gone)  # no new lease can find it from here on
    finally:
        os.close(fd)
    rmtree(gone, ignore_errors=True)
    return True


def disk_bytes(path: Path) -> int:
    """What a tree takes on disk: its entries' allocated blocks (symlinks not followed)."""
    total = 0
    for dirpath, dirnames, filenames in walk(path):
        for name in [".", *dirnames, *filenames]:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


@dataclass(frozen=True)
class Entry:
    path: Path
    bytes: int
    used: float


_sizes: dict[str, int] = {}
"""Entry name -> bytes, read once per process: a name is a hash of the tree's contents."""


def entries(root: Path) -> list[Entry]:
    """The finished trees under `root`, least recently used first (builds and evictions left out)."""
    found = []
    for path in root.iterdir():
        if path.name.startswith("."):
            continue
        try:
            used = (path / USED).stat().st_mtime
        except FileNotFoundError:
            try:  # a tree built before leases, or not a finished tree at all
                used = (path / "changes.json").stat().st_mtime
            except OSError:
                continue
        except OSError:
            continue
        if path.name not in _sizes:
            try:
                _sizes[path.name] = int(json.loads((path / "meta.json").read_text())["bytes"])
            except (OSError, ValueError, KeyError, TypeError):
                _sizes[path.name] = disk_bytes(path)  # a tree built before sizes were recorded
        found.append(Entry(path, _sizes[path.name], used))
    return sorted(found, key=lambda e: (e.used, e.path.name))


def evict(root: Path, limit: int | None = None) -> list[Path]:
    """Delete least recently used trees, none in use, until the cache fits `limit` (default: `budget()`);
    the entries deleted."""
    limit = budget() if limit is None else limit
    found = entries(root)
    total = sum(e.bytes for e in found)
    gone = []
    for entry in found:
        if total <= limit:
            break
        if discard(entry.path):
            total -= entry.bytes
            gone.append(entry.path)
    return gone


@dataclass(frozen=True)
class CacheUsage:
    """What the task-tree cache holds: finished trees, their bytes on disk, how many are in use now,
    and the budget eviction keeps it to."""

    trees: int
    bytes: int
    in_use: int
    budget: int


def _in_use(entry: Path) -> bool:
    try:
        fd = os.open(entry / USED, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def usage() -> CacheUsage:
    """The task-tree cache under this `$CODEKILN_HOME`, as it stands."""
    found = entries(state_dir("tasktrees"))
    return CacheUsage(
        trees=len(found),
        bytes=sum(e.bytes for e in found),
        in_use=sum(_in_use(e.path) for e in found),
        budget=budget(),
    )


def clear() -> int:
    """Delete every cached tree no workspace is open on (trees in use stay); how many went."""
    return sum(discard(e.path) for e in entries(state_dir("tasktrees")))
