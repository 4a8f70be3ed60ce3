"""Resume after a real `kill -9`: a `codekiln synth` process killed while it writes tasks, then rerun,
ends with exactly the tasks and rejections of an uninterrupted run: same ids, same content hashes,
same counts, no duplicates, every line whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synth_support import TOOLZ, toolz_env, toolz_parts

from codekiln.tasks.synth import REJECTED, TASKS

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

MAX_TASKS = 10
ARGS = ["--max-tasks", str(MAX_TASKS), "--workers", "1", "--batch-size", "2"]


def synth_argv(out: Path) -> list[str]:
    return [sys.executable, "-m", "codekiln.cli.synth", TOOLZ, "--out", str(out), *ARGS]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def rows(path: Path, *, torn_ok: bool) -> list[dict[str, object]]:
    text = path.read_text() if path.is_file() else ""
    if torn_ok and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # the killed writer may have left half a line
    return [json.loads(line) for line in text.splitlines()]  # every other line must be whole


def summary(out: Path, *, torn_ok: bool = False) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(task id, content hash, tests) per task and (candidate id, reason) per rejection, in file order."""
    tasks, rejected = [], []
    for row in rows(out / TASKS, torn_ok=torn_ok):
        tasks.append(
            (
                str(row["instance_id"]),
                str(row["content_hash"]),
                json.dumps([row["FAIL_TO_PASS"], row["PASS_TO_PASS"]]),
            )
        )
    for row in rows(out / REJECTED, torn_ok=torn_ok):
        rejected.append((str(row["candidate_id"]), str(row["reason"])))
    return tasks, rejected


@pytest.fixture(scope="module")
def prepared() -> None:
    """Build the environment and coverage map first, so the timed runs only validate."""
    toolz_parts(toolz_env())


def test_kill_9_then_rerun_matches_an_uninterrupted_run(prepared: None, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole = subprocess.run(
        synth_argv(tmp_path / "whole"), env=env, capture_output=True, text=True, timeout=900
    )
    assert whole.returncode == 0, whole.stdout[-3000:] + whole.stderr[-3000:]
    expected = summary(tmp_path / "whole")
    assert len(expected[0]) == MAX_TASKS

    out = tmp_path / "killed"
    victim = subprocess.Popen(synth_argv(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(lines(out / TASKS)) < 3 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "synth finished before it could be killed: make the run longer"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    partial = summary(out, torn_ok=True)
    assert 3 <= len(partial[0]) < MAX_TASKS

    rerun = subprocess.run(synth_argv(out), env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    resumed = summary(out)
    assert resumed == expected
    assert resumed[0][: len(partial[0])] == partial[0]  # nothing written before the kill was lost or redone
    assert len({t[0] for t in resumed[0]}) == MAX_TASKS
