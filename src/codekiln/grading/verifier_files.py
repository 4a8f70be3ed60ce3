"""Files as the Harbor verifier reads them: a tree's state, a file's digest, and removing and reading
without raising (`verifier`'s helpers; shipped beside it, standard library only: `shipped.VERIFIER`)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

GUARD_ROOT = "/tmp/codekiln-grader"
"""Where each guarded run's folder is made (its settings, report, ids, HOME and TMPDIR)."""
TEST_UID = 65534  # nobody: the test process may not write the verdict or the verifier's files


def test_uid() -> int | None:
    """The user the tests run as: `TEST_UID` (`CODEKILN_TEST_UID`, empty: none) when this process is
    root, else None (they run as this process's user)."""
    raw = os.environ.get("CODEKILN_TEST_UID", str(TEST_UID))
    return int(raw) if raw and os.geteuid() == 0 else None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop_pycache(root: Path) -> None:
    """Remove every `__pycache__` folder under `root` (a compiled copy could stand in for a module's
    source); never follows a symlink."""
    for folder, dirs, _files in os.walk(root):
        if "__pycache__" in dirs and not Path(folder, "__pycache__").is_symlink():
            shutil.rmtree(Path(folder, "__pycache__"))


def tree_state(root: Path) -> dict[str, list[Any]]:
    """rel -> [kind, sha256, mode] for every non-directory under `root` (no `.git` at the top, no
    `__pycache__`); kind is file, symlink or other; the sha of a symlink is its target's text."""
    out: dict[str, list[Any]] = {}
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root)
        for name in list(dirs):
            path = Path(folder, name)
            if (rel_dir == Path(".") and name == ".git") or name == "__pycache__":
                dirs.remove(name)
            elif path.is_symlink():
                dirs.remove(name)
                files.append(name)
        for name in files:
            path = Path(folder, name)
            rel = str(PurePosixPath(*rel_dir.parts, name))
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode):
                out[rel] = ["file", sha256(path.read_bytes()), stat.S_IMODE(mode)]
            elif stat.S_ISLNK(mode):
                out[rel] = ["symlink", sha256(os.readlink(path).encode()), 0o777]
            else:
                out[rel] = ["other", "", stat.S_IMODE(mode)]
    return out


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _open_regular(path: Path) -> Any:
    """`path` opened for reading, never through a symlink and only when it is a regular file (a FIFO
    or a link to /dev/zero at a report path never ends a read); None otherwise or when absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def not_regular(path: Path, what: str) -> list[str]:
    """Evidence when something other than a regular file is at one of the guard's report paths."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return []
    if stat.S_ISREG(mode):
        return []
    kind = "a symlink (not followed)" if stat.S_ISLNK(mode) else "not a regular file"
    return [f"the guard's {what} is {kind}: code under test put it there"]


def read(path: Path, limit: int = 64 << 20) -> bytes | None:
    """A report file's bytes (None: absent, not a regular file, or over `limit`)."""
    fh = _open_regular(path)
    if fh is None:
        return None
    with fh:
        data: bytes = fh.read(limit + 1)
    return None if len(data) > limit else data


def digest(path: Path) -> str | None:
    """A file's sha256, read in chunks (None: no such file, or not a regular file)."""
    fh = _open_regular(path)
    if fh is None:
        return None
    with fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def withhold(held: Path, uid: int, give: tuple[Path, ...]) -> None:
    """Before the tests run as `uid`: `give` (the tree, the guard's folder, the report's) becomes
    theirs, and `held`, the folder of the grader's own files (`state.json` holds the hidden tests'
    text), this process's own with mode 0700, so that nothing they run opens a file of it, whatever
    path names it (a parent's command line does). Raises where it stays within their reach."""
    for path in give:  # writable too: the guard empties the held test files at its load, in their folders
        subprocess.run(["chown", "-R", f"{uid}:{uid}", str(path)], check=True)
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)
    os.chown(held, os.geteuid(), os.getegid())
    held.chmod(0o700)
    st = held.stat()
    if st.st_uid == uid or st.st_gid == uid or stat.S_IMODE(st.st_mode) & 0o077:
        raise PermissionError(f"the grader's folder {held} stays within the reach of uid {uid}")
