"""The exported verifiers' twin step (`grading.verifier_twin`) in parts: the verdict of a real run and its
twin's, the drawn order, the twin's files written, and what `Room` puts back between two runs (the tree as
copied, no process left, nothing the tests' user made). The whole step, run as an exported task's
container runs it, is in `tests/audit/test_verifier_twin_marks.py` and `test_redteam22a_*.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codekiln.grading import verifier_files, verifier_twin

KEPT = ["tests/test_t.py::test_total"]
RESOLVED: dict[str, Any] = {
    "outcome": "resolved",
    "reason": "",
    "detail": "",
    "statuses": {KEPT[0]: "passed"},
}


def test_a_real_run_that_does_not_resolve_is_the_verdict() -> None:
    real = {**RESOLVED, "outcome": "unresolved", "statuses": {KEPT[0]: "failed"}}
    twin = {**RESOLVED}  # a wrong fix may pass the twin: it counts only beside a resolved real run
    assert verifier_twin.judged(real, twin, KEPT, [{"kind": "tampered"}]) == (real, [])
    assert verifier_twin.judged(RESOLVED, None, KEPT, []) == (RESOLVED, [])


def test_a_kept_id_passed_on_the_twin_is_answers_read() -> None:
    verdict, found = verifier_twin.judged(RESOLVED, {**RESOLVED}, KEPT, [])
    assert (verdict["outcome"], verdict["reason"], verdict["statuses"]) == ("tampered", "answers_read", {})
    assert KEPT[0] in verdict["detail"]
    assert found == [{"kind": "answers_read", "test": KEPT[0], "detail": "passed on the twin"}]


def test_a_twin_failed_as_the_gold_fails_it_leaves_the_verdict() -> None:
    twin = {
        **RESOLVED,
        "outcome": "unresolved",
        "statuses": {KEPT[0]: "failed", "tests/test_t.py::x": "passed"},
    }
    assert verifier_twin.judged(RESOLVED, twin, KEPT, []) == (RESOLVED, [])
    timed_out = {"outcome": "timeout", "reason": "timeout", "detail": "passed 60 s"}  # no statuses
    assert verifier_twin.judged(RESOLVED, timed_out, KEPT, []) == (RESOLVED, [])


def test_a_twin_run_that_fails_the_cross_checks_is_tampered_with_its_evidence() -> None:
    twin = {"outcome": "tampered", "reason": "report_forged", "detail": "the canary passed"}
    evidence = [{"kind": "tampered", "detail": "the canary passed"}]
    verdict, found = verifier_twin.judged(RESOLVED, twin, KEPT, evidence)
    assert (verdict["outcome"], verdict["reason"]) == ("tampered", "report_forged")
    assert verdict["detail"] == "on the task's twin: the canary passed"
    assert found == evidence


def test_the_order_is_drawn_unless_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(verifier_twin.ORDER, raising=False)
    assert {verifier_twin.drawn() for _ in range(64)} == {
        ("twin", "real"),
        ("real", "twin"),
    }  # 2**-63 to fail
    monkeypatch.setenv(verifier_twin.ORDER, "twin-first")
    assert verifier_twin.drawn() == ("twin", "real")
    monkeypatch.setenv(verifier_twin.ORDER, "real-first")
    assert verifier_twin.drawn() == ("real", "twin")


def test_the_twin_is_written_over_the_real_file_never_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_t.py").write_text("assert 1 == 1\n")
    (tmp_path / "tests" / "test_t.py").chmod(0o600)
    (tmp_path / "lib.py").write_text("x = 1\n")
    (tmp_path / "tests" / "test_u.py").symlink_to(tmp_path / "lib.py")
    verifier_twin.write_twin(tmp_path, {"tests/test_t.py": "assert 1 == 2\n", "tests/test_u.py": "y = 2\n"})
    assert (tmp_path / "tests" / "test_t.py").read_text() == "assert 1 == 2\n"
    assert (tmp_path / "tests" / "test_t.py").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "tests" / "test_u.py").is_symlink()
    assert (tmp_path / "lib.py").read_text() == "x = 1\n"


def test_the_sweep_removes_what_the_user_made_since_and_keeps_the_rest(tmp_path: Path) -> None:
    place = tmp_path / "tmp"
    (place / "kept").mkdir(parents=True)
    (place / "kept" / "old.txt").write_text("there before")
    before = verifier_twin.entries(place)
    (place / "mark").write_text("a run came before")
    (place / "kept" / "new").mkdir()
    (place / "kept" / "new" / "deep.txt").write_text("made during the run")
    (place / "link").symlink_to("/nonexistent")
    verifier_twin.sweep(place, os.getuid(), before)
    assert sorted(p.relative_to(place).as_posix() for p in place.rglob("*")) == ["kept", "kept/old.txt"]
    verifier_twin.sweep(place, os.getuid() + 1, set())  # another user's: nothing of it is removed
    assert (place / "kept" / "old.txt").is_file()


# `Room` makes its process the subreaper of what it starts and kills every descendant: run in a child
# of its own, never in the test session's process.
ROOM = """
import json, os, subprocess, sys, time
from pathlib import Path
from codekiln.grading import verifier_files, verifier_twin

root, held = Path(sys.argv[1]), Path(sys.argv[2])
before = verifier_files.tree_state(root)
room = verifier_twin.Room(root, held, None)
room.reset()
(root / "pkg" / "mod.py").write_text("changed")
(root / "pkg" / "new.py").write_text("new")
(root / "gone.txt").unlink()
(root / "empty").mkdir()
(root / "data.txt").chmod(0o600)
root.chmod(0o700)
subprocess.run(["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $! > " + sys.argv[3]], check=True)
orphan = int(Path(sys.argv[3]).read_text())
os.kill(orphan, 0)  # alive, its parent gone: this process's child now
room.reset()
try:
    os.kill(orphan, 0)
    alive = True
except ProcessLookupError:
    alive = False
after = verifier_files.tree_state(root)
print(json.dumps({"same": after == before, "empty": (root / "empty").exists(), "alive": alive,
                  "mode": oct(root.stat().st_mode & 0o777), "copies": os.listdir(held)}))
room.close()
print(json.dumps({"copies": os.listdir(held)}))
"""


def test_the_room_puts_back_the_tree_and_kills_what_the_run_left(tmp_path: Path) -> None:
    root, held = tmp_path / "testbed", tmp_path / "held"
    (root / "pkg").mkdir(parents=True)
    held.mkdir()
    (root / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (root / "gone.txt").write_text("here")
    (root / "data.txt").write_text("data")
    root.chmod(0o755)
    ran = subprocess.run(
        [sys.executable, "-c", ROOM, str(root), str(held), str(tmp_path / "pid")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    during, closed = (json.loads(line) for line in ran.stdout.splitlines())
    assert during == {
        "same": True,
        "empty": False,
        "alive": False,
        "mode": "0o755",
        "copies": during["copies"],
    }
    assert len(during["copies"]) == 1 and closed == {"copies": []}
    assert verifier_files.tree_state(root)["pkg/mod.py"][0] == "file"
