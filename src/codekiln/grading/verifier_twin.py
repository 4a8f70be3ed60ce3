"""The exported verifiers' twin step (`verifier.grade`, `row_verifier.guarded_run`), as `grading.twin_check`
is `grade_patch`'s: the real run and one on the task's kept twin, in an order drawn per grade, in one
container.

    verdict = graded(v, timeout, held, state.get("twin"))    # v: a `verifier.Verifier` whose check passed

`state.json`'s `twin` (written at export: `tasks.export.harbor_payload.twin_state`, the gold graded on the
twin through the real grader, `twin_check.kept_twin`) holds the twin's test files (rel -> text) and the
FAIL_TO_PASS ids the gold fails on them, beside the hidden tests' copies in the verifier's own folder
(root's, 0700 while the tests run). None: one run, as before. Otherwise the real run and the twin's (the
twin files written over the real ones), in an order drawn for each grade (`CODEKILN_TWIN_ORDER` fixes
it: `twin-first` or `real-first`), the twin's skipped when the real run came first and did not resolve.
The verdict is the real run's unless it resolves; then a twin run whose report fails the cross-checks
makes it `tampered` (the twin's reason), and so does a kept id that passes on the twin (`answers_read`,
the ids in the findings): the answer came from the tests, not from the code.

The grader gives each run a fresh sandbox; here both runs share one container. So that the second looks
to the code under test as the first did, before each run (`Room`): every process the last one left is
killed (this process is their subreaper: a daemon that double-forked is found too, and a port it held is
free), and every process of the tests' user; the tree is put back from a private copy made before the
first (in `held`): both runs start on files made seconds before them; what that user made since the
first in /tmp, /var/tmp, /dev/shm, /dev/mqueue, /run/lock or its home is removed, with its System V IPC
objects, and the guard's folder; each run has its own HOME and TMPDIR (`verifier.Verifier.run`).

What stays is what the kernel keeps for the container as a whole: a TCP port in TIME_WAIT (the
twenty-third red team's mark), the PID counter, file access times, caches and timings. A patch that
passes only by reading the answers and tells the first run from the second by them picks the places it
reads in; a grade resolves only where it reads in the real run's place and not in the twin's, and the
two orders swap those places, so whatever it picks resolves under one order at most: at most half the
draws (the others `unresolved`, or `tampered` where it read in both), where a fixed order let it through
every time. Reading in the first run alone is `resolved` one grade in two and `unresolved` otherwise:
halved, not closed (the grader's fresh sandboxes close it), and never `tampered` (a wrong fix may pass a
twin too: a twin's run counts only beside a real run that resolves; the ids it passed are in the
verdict's `twin`). The grader's check orders its runs otherwise (the real run first, then the twin's and
a real rerun in a drawn order: `twin_check`) for the same bound.

Not put back either: a file of another owner that the tests' user may write (mode o+w), entries of
others it removed from a world-writable folder that is not sticky. Where the tests run as this process's
own user (not root), nothing outside the tree is removed: there is no user of their own.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import secrets
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

try:  # shipped: beside its sibling files
    import verifier_files as files
except ImportError:  # imported from the codekiln package
    from codekiln.grading import verifier_files as files  # type: ignore[no-redef]

ORDER = "CODEKILN_TWIN_ORDER"
"""`twin-first` or `real-first` fixes the order of the two runs (tests); unset, each grade draws it."""
PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock", "/var/lock")
"""Folders every user may write in a container, beside the tests' user's home."""
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0


def graded(v: Any, timeout: float, held: Path, twin: dict[str, Any] | None) -> dict[str, Any]:
    """The verdict of `v`'s tree: its real run's, judged against its twin's (see the module docstring)."""
    if not twin or not twin.get("ids"):
        return dict(v.run(timeout, held))
    order = drawn()
    runs: dict[str, dict[str, Any]] = {}
    found: list[dict[str, Any]] = []
    room = Room(v.root, held, files.test_uid())
    try:
        for which in order:
            room.reset()
            if which == "twin":
                write_twin(v.root, twin["files"])
            mark = len(v.findings)
            runs[which] = (
                renamed(v, timeout, held, twin.get("cases") or {})
                if which == "twin"
                else dict(v.run(timeout, held))
            )
            if which == "twin":  # the twin's evidence counts only where its run decides the verdict
                found = v.findings[mark:]
                del v.findings[mark:]
            elif runs[which]["outcome"] != "resolved":
                break
    finally:
        room.close()
    verdict, evidence = judged(runs["real"], runs.get("twin"), list(twin["ids"]), found)
    v.findings.extend(evidence)
    if "twin" in runs:
        other = runs["twin"]
        passed = [t for t in twin["ids"] if (other.get("statuses") or {}).get(t) == "passed"]
        verdict["twin"] = {"order": f"{order[0]}-first", "outcome": other["outcome"], "passed": passed,
                           "duration_s": other.get("duration_s", 0.0)}  # fmt: skip
        verdict["log"] = (
            f"{verdict.get('log', '')}\n--- the run on the task's twin ---\n{other.get('log', '')}"
        )
    return verdict


def renamed(v: Any, timeout: float, held: Path, cases: dict[str, str]) -> dict[str, Any]:
    """The twin's run of `v`: the cases the twin renamed (`cases`: real id -> the twin's, a parametrized
    case whose id shows a changed value) asked for by the twin's ids, their statuses read back under the
    real ones (as `grading.twin_cases` does for the grader)."""
    if not cases:
        return dict(v.run(timeout, held))
    back = {twin: real for real, twin in cases.items()}
    task = v.task
    v.task = {**task, **{k: [cases.get(t, t) for t in task.get(k) or ()] for k in RENAMED if k in task}}
    saved, v.baseline = v.baseline, {cases.get(t, t): s for t, s in (v.baseline or {}).items()}
    try:
        verdict = dict(v.run(timeout, held))
    finally:
        v.task, v.baseline = task, saved
    for key in ("statuses",):
        if isinstance(verdict.get(key), dict):
            verdict[key] = {back.get(t, t): s for t, s in verdict[key].items()}
    if isinstance(verdict.get("missing"), list):
        verdict["missing"] = [back.get(t, t) for t in verdict["missing"]]
    return verdict


RENAMED = ("tests", "fail_to_pass", "pass_to_pass", "order")
"""The task's id lists a twin's run asks for by the twin's ids."""


def judged(
    real: dict[str, Any], twin: dict[str, Any] | None, ids: list[str], found: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The verdict of a real run and its twin's (None: not run), with the findings it adds, as
    `twin_check.answers_read` judges a grade: the real run's unless it resolved and the twin's run was
    tampered (its evidence, `found`, added) or passed a kept id."""
    if real["outcome"] != "resolved" or twin is None:
        return dict(real), []
    if twin["outcome"] == "tampered":
        detail = f"on the task's twin: {twin.get('detail', '')}"
        return {
            **real,
            "outcome": "tampered",
            "reason": twin["reason"],
            "detail": detail,
            "statuses": {},
        }, found
    statuses = twin.get("statuses") or {}
    passed = [t for t in ids if statuses.get(t) == "passed"]
    if not passed:
        return dict(real), []
    detail = (
        "the patch passes tests whose expected values the task's twin changed, which the gold fails: "
        f"it answers from the tests, not from the code ({', '.join(passed[:3])})"
    )
    read = [{"kind": "answers_read", "test": t, "detail": "passed on the twin"} for t in passed]
    return {**real, "outcome": "tampered", "reason": "answers_read", "detail": detail, "statuses": {}}, read


def drawn() -> tuple[str, str]:
    """The order of the two runs: `ORDER`'s when set, else drawn (each order one time in two)."""
    fixed = os.environ.get(ORDER, "")
    if fixed in ("twin-first", "real-first"):
        return ("twin", "real") if fixed == "twin-first" else ("real", "twin")
    return ("twin", "real") if secrets.randbelow(2) else ("real", "twin")


def write_twin(root: Path, twin: dict[str, str]) -> None:
    """The twin's test files written over the real ones (their modes kept), never through a link."""
    for rel, text in sorted(twin.items()):
        path = root / rel
        mode = path.lstat().st_mode & 0o7777 if path.is_file() and not path.is_symlink() else 0o644
        files.remove(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        path.chmod(mode)


class Room:
    """What the tests could leave in the container between two runs, put back before each (see the
    module docstring). `uid`: the tests' own user (None: they run as this process's)."""

    def __init__(self, root: Path, held: Path, uid: int | None) -> None:
        self.root, self.uid = root, uid
        self.copy = Path(tempfile.mkdtemp(prefix="tree-", dir=held)) / "tree"  # root's, in a 0700 folder
        try:
            shutil.copytree(root, self.copy, symlinks=True)
        except BaseException:
            files.remove(self.copy.parent)
            raise
        st = root.stat()
        self.owner = (st.st_uid, st.st_gid)
        self.places = places(uid) if uid is not None else []
        self.skip = {str(held), str(root)}  # this process's own folder (the copy), and the tree
        self.before = {entry for place in self.places for entry in entries(place, self.skip)}
        subreaper()

    def reset(self) -> None:
        """Before a run: no process of the last one, the tree as copied, nothing the tests' user made."""
        kill_leftovers(self.uid)
        files.remove(Path(files.GUARD_ROOT))
        for child in list(self.root.iterdir()):
            files.remove(child)
        shutil.copytree(self.copy, self.root, symlinks=True, dirs_exist_ok=True)
        shutil.copystat(self.copy, self.root)
        if os.geteuid() == 0:
            os.chown(self.root, *self.owner)
        if self.uid is not None:
            for place in self.places:
                sweep(place, self.uid, self.before, self.skip)
            remove_ipc(self.uid)

    def close(self) -> None:
        kill_leftovers(self.uid)
        files.remove(self.copy.parent)


def places(uid: int) -> list[Path]:
    """`PLACES` and the home of `uid` that exist here, each once."""
    try:
        home = [pwd.getpwuid(uid).pw_dir]
    except KeyError:
        home = []
    found = {os.path.realpath(p) for p in (*PLACES, *home)}
    return sorted(Path(p) for p in found if os.path.isdir(p) and p != "/")


def walk(top: Path, skip: Container[str] = frozenset()) -> Iterator[tuple[os.DirEntry[str], os.stat_result]]:
    """Each entry under `top` with its `lstat`, links not followed, `skip`'s folders and what they hold
    left out; a folder is entered after its caller has seen it (one it removed meanwhile is passed over)."""
    stack = [top]
    while stack:
        try:
            listed = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in listed:
            if entry.path in skip:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield entry, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(Path(entry.path))


def entries(top: Path, skip: Container[str] = frozenset()) -> set[tuple[str, int]]:
    """(path, inode) of everything under `top` but `skip`'s folders, links not followed."""
    return {(entry.path, st.st_ino) for entry, st in walk(top, skip)}


def sweep(top: Path, uid: int, before: set[tuple[str, int]], skip: Container[str] = frozenset()) -> None:
    """Remove what `uid` owns under `top` (but `skip`'s folders) that `before` does not hold: what the
    tests made."""
    for entry, st in walk(top, skip):
        if st.st_uid == uid and (entry.path, st.st_ino) not in before:
            files.remove(Path(entry.path))


def subreaper() -> None:
    """Make this process the subreaper of what it starts: an orphan of the tests (a daemon that
    double-forked) becomes its child, not init's, so `kill_leftovers` finds it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, real uid, state letter) of every process in /proc."""
    out: dict[int, tuple[int, int, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:  # gone meanwhile: skipped
            fields = dict(
                line.split(":", 1) for line in Path(f"/proc/{name}/status").read_text().splitlines()
            )
            out[int(name)] = (int(fields["PPid"]), int(fields["Uid"].split()[0]), fields["State"].split()[0])
        except (OSError, ValueError, KeyError, IndexError):
            continue
    return out


def kill_leftovers(uid: int | None, limit_s: float = 10.0) -> None:
    """SIGKILL every process descending from this one, and every process of `uid`, until none is left
    (or `limit_s` passed); the zombies that came to this process reaped."""
    me, end = os.getpid(), time.monotonic() + limit_s
    while True:
        table = processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _) in table.items():
            children.setdefault(parent, []).append(pid)
        targets, stack = set(), list(children.get(me, []))
        while stack:
            pid = stack.pop()
            targets.add(pid)
            stack += children.get(pid, [])
        if uid is not None:
            targets |= {pid for pid, (_, owner, _) in table.items() if owner == uid and pid != me}
        alive = [pid for pid in targets if table.get(pid, (0, 0, "Z"))[2] != "Z"]
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        reap()
        if not alive or time.monotonic() > end:
            return
        time.sleep(0.01)


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def remove_ipc(uid: int) -> None:
    """Remove the System V shared memory segments, semaphore sets and message queues of `uid` (they
    outlive every process: `ipcmk` makes one)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, key in (("shm", "shmid"), ("sem", "semid"), ("msg", "msqid")):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        head = lines[0].split() if lines else []
        for line in lines[1:]:
            row = dict(zip(head, line.split(), strict=False))
            if str(uid) in (row.get("uid"), row.get("cuid")):
                if kind == "sem":
                    libc.semctl(int(row[key]), 0, IPC_RMID)
                else:
                    getattr(libc, f"{kind}ctl")(int(row[key]), IPC_RMID, None)
