"""Content-addressed, history-free repository snapshots and the catalog that lists them.

    rec = add_repo("pypi:toolz==1.2.0")       # SnapshotRecord; rec.path is the snapshot directory
    rec = get_snapshot(rec.id)                 # or by spec, or by a unique id prefix
    list_snapshots()

A snapshot is `$CODEKILN_HOME/snapshots/<id>/`: the project's files plus a fresh `.git` holding exactly
one commit (fixed author and date, so the same files always give the same commit), and no remotes, tags,
other branches, reflog or hooks: an agent working on it cannot read the project's future from history.
`id` is the first 16 hex digits of a SHA-256 over the sorted (path, kind, content) of every file, so
adding the same content twice gives the same snapshot. Files are world-readable (dirs 0755, files 0644
or 0755) so sandboxes running as an unprivileged uid can read them. The snapshot is never modified.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from filelock import FileLock

from codekiln.core.config import state_dir
from codekiln.core.errors import RepoError
from codekiln.core.proc import run, tail
from codekiln.core.records import Record, append_jsonl, read_records
from codekiln.core.testnames import is_test_module
from codekiln.repos.fetch import GIT_ENV, Source, fetch
from codekiln.repos.spec import RepoSpec, parse_spec

COMMIT_DATE = "2000-01-01T00:00:00+0000"


class SnapshotRecord(Record):
    """One snapshot in the catalog."""

    id: str
    name: str
    version: str | None = None
    source: str
    kind: Literal["pypi", "git", "local"]
    path: str
    commit: str
    files: int
    size_bytes: int
    has_tests: bool
    origin: dict[str, str] = {}
    created: str


def has_tests(files: list[str]) -> bool:
    """True when the tree holds a tests/test/testing directory, test_*.py / *_test.py files, or a module
    named tests.py / test.py (defusedxml's suite is one top-level tests.py)."""
    return any(is_test_module(rel) for rel in files)


def _safe_link(root: Path, rel: str) -> str | None:
    """The target of the symlink root/rel if it stays inside root, else None (such links are dropped)."""
    target = os.readlink(root / rel)
    if os.path.isabs(target):
        return None
    resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    return None if resolved == ".." or resolved.startswith("../") else target


def tree_id(root: Path, files: list[str]) -> tuple[str, list[str], int]:
    """(snapshot id, files kept, total bytes): a SHA-256 over sorted (path, kind, content digest)."""
    digest = hashlib.sha256()
    kept, size = [], 0
    for rel in sorted(files):
        path = root / rel
        if path.is_symlink():
            target = _safe_link(root, rel)
            if target is None:
                continue
            kind, content = "link", hashlib.sha256(target.encode()).hexdigest()
        else:
            data = path.read_bytes()
            size += len(data)
            kind = "exec" if os.stat(path).st_mode & 0o100 else "file"
            content = hashlib.sha256(data).hexdigest()
        digest.update(f"{kind}\0{rel}\0{content}\n".encode())
        kept.append(rel)
    return digest.hexdigest()[:16], kept, size


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_NAME": "codekiln", "GIT_AUTHOR_EMAIL": "snapshot@codekiln"}
    env |= {"GIT_COMMITTER_NAME": "codekiln", "GIT_COMMITTER_EMAIL": "snapshot@codekiln"}
    env |= {"GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE}
    argv = ["git", "-c", "core.logAllRefUpdates=false", "-c", "commit.gpgsign=false", "-C", str(repo), *args]
    res = run(argv, timeout=600, env=env)
    if res.exit_code != 0:
        raise RepoError(
            f"git {args[0]} failed while writing a snapshot:\n{tail(res.stderr, 8)}",
            hint="check that git works: git --version",
        )
    return res.stdout.strip()


def _make_readable(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if os.stat(path).st_mode & 0o100 else 0o644)


def _materialize(src: Source, files: list[str], dest: Path, snap_id: str) -> str:
    """Copy files into dest and commit them as the only commit of a fresh repository. Returns the commit."""
    for rel in files:
        source, target = src.root / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copyfile(source, target)
            os.chmod(target, 0o755 if os.stat(source).st_mode & 0o100 else 0o644)
    _git(dest, "init", "-q", "--template=", "--initial-branch=main")
    _git(dest, "add", "--all", "--force", ".")
    _git(dest, "commit", "-q", "--no-verify", "-m", f"snapshot {snap_id}")
    shutil.rmtree(dest / ".git" / "logs", ignore_errors=True)
    (dest / ".git" / "COMMIT_EDITMSG").unlink(missing_ok=True)
    _make_readable(dest)
    return _git(dest, "rev-parse", "HEAD")


def _catalog() -> Path:
    return state_dir("snapshots") / "catalog.jsonl"


def list_snapshots() -> list[SnapshotRecord]:
    """Every snapshot whose directory still exists, one per id (the latest catalog row), oldest first."""
    latest: dict[str, SnapshotRecord] = {}
    for rec in read_records(_catalog(), SnapshotRecord):
        if Path(rec.path).is_dir():
            latest.pop(rec.id, None)
            latest[rec.id] = rec
    return list(latest.values())


def _by_id(key: str) -> SnapshotRecord | None:
    """The snapshot whose id starts with `key` (6+ hex digits, and not the name of a directory here)."""
    if len(key) < 6 or any(c not in "0123456789abcdef" for c in key) or Path(key).is_dir():
        return None
    hits = [r for r in list_snapshots() if r.id.startswith(key)]
    if len(hits) > 1:
        raise RepoError(
            f"snapshot id prefix {key!r} is ambiguous", hint="give more digits of the id (codekiln repo list)"
        )
    return hits[0] if hits else None


def _by_spec(key: str) -> SnapshotRecord | None:
    """The newest catalogued snapshot added from this spec (in any spelling of it)."""
    try:
        canonical = parse_spec(key).canonical()
    except RepoError:
        return None
    for rec in reversed(read_records(_catalog(), SnapshotRecord)):
        if rec.source == canonical and Path(rec.path).is_dir():
            return rec
    return None


def _lookup(spec_or_id: str) -> SnapshotRecord | None:
    key = spec_or_id.strip()
    return _by_id(key) or _by_spec(key)


def _newest_release(key: str) -> SnapshotRecord | None:
    """For an unpinned `pypi:NAME`: the newest catalogued snapshot of a release of NAME, the one that
    `synth pypi:NAME` or `env build pypi:NAME` resolved it to (the catalog records the pinned spec)."""
    try:
        spec = parse_spec(key)
    except RepoError:
        return None
    if spec.kind != "pypi" or spec.version:
        return None
    pinned = spec.canonical() + "=="
    for rec in reversed(read_records(_catalog(), SnapshotRecord)):
        if rec.source.startswith(pinned) and Path(rec.path).is_dir():
            return rec
    return None


def get_snapshot(spec_or_id: str) -> SnapshotRecord:
    """The catalogued snapshot with this id (or unique id prefix) or spec (an unpinned PyPI spec: its
    newest catalogued release, `_newest_release`). Raises RepoError if none."""
    rec = _lookup(spec_or_id) or _newest_release(spec_or_id.strip())
    if rec is None:
        raise RepoError(
            f"no snapshot for {spec_or_id!r}", hint=f"add it first: codekiln repo add {spec_or_id}"
        )
    return rec


def ensure_snapshot(spec_or_id: str) -> SnapshotRecord:
    """The snapshot for an id or spec, adding the repository first if it is not catalogued.

    Local directories are always re-read (their files may have changed since they were added).
    """
    key = spec_or_id.strip()
    rec = _by_id(key)
    if rec is not None:
        return rec
    rec = _by_spec(key)
    if rec is not None and rec.kind != "local":
        return rec
    return add_repo(key)


def add_repo(spec: str | RepoSpec) -> SnapshotRecord:
    """Snapshot the repository that `spec` names and catalog it. Idempotent: same content, same id."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if parsed.pinned:
        known = _lookup(parsed.canonical())
        if known is not None:
            return known
    root = state_dir("snapshots")
    with fetch(parsed) as src:
        snap_id, files, size = tree_id(src.root, src.files)
        tests = has_tests(files)
        if parsed.kind == "pypi" and not tests:
            raise RepoError(
                f"the sdist of {parsed.canonical()} ships no tests",
                hint="use the project's git repository instead: codekiln repo add git+https://...@TAG",
            )
        final = root / snap_id
        with FileLock(str(root / f".{snap_id}.lock")):
            if final.is_dir():
                commit = _git(final, "rev-parse", "HEAD")
            else:
                tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{snap_id}-", dir=root))
                try:
                    commit = _materialize(src, files, tmp, snap_id)
                    os.replace(tmp, final)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
    version = src.version or (parsed.version if parsed.kind == "pypi" else None)
    source = (
        parsed.canonical() if parsed.version or parsed.kind != "pypi" else f"{parsed.canonical()}=={version}"
    )
    rec = SnapshotRecord(
        id=snap_id,
        name=src.name,
        version=version,
        source=source,
        kind=parsed.kind,
        path=str(final),
        commit=commit,
        files=len(files),
        size_bytes=size,
        has_tests=tests,
        origin=src.origin,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    append_jsonl(_catalog(), [rec])
    return rec
