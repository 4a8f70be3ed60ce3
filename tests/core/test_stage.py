"""The resumable-stage directory through real files and real processes: a writer killed mid-line leaves a
torn tail that the next run drops (with a warning) and redoes; a second run on a locked directory stops
with the holder's pid; a lock left by a `kill -9`ed process is taken over; a manifest with another
identity stops the run with the fields that differ and the fix; `--redo` starts over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codekiln.core.errors import ConfigError
from codekiln.core.stage import (
    LOCK,
    MANIFEST,
    Layout,
    StageManifest,
    TornTailWarning,
    drop_torn_tail,
    open_stage,
)

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = Layout("items", logs=("items.jsonl",), derived=("summary.json", "scratch"))


class RunManifest(StageManifest):
    informational = frozenset({"source"})
    seed: int
    model: str
    source: str = ""


def key(row: dict[str, object]) -> str:
    return str(row["id"])


def child(code: str) -> subprocess.Popen[str]:
    """A real Python process running `code` against codekiln's stage module."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE, text=True
    )


def test_a_line_torn_by_a_killed_writer_is_dropped_and_its_item_redone(tmp_path: Path) -> None:
    # The child appends two items, then dies by SIGKILL half-way through writing the third line:
    # exactly what `append` leaves when its process is killed inside the write.
    proc = child(f"""
        import os, signal
        from pathlib import Path
        from codekiln.core.stage import Layout, open_stage
        layout = Layout("items", logs=("items.jsonl",))
        with open_stage(Path({str(tmp_path)!r}), layout) as stage:
            stage.append("items.jsonl", [{{"id": "a", "v": 1}}, {{"id": "b", "v": 2}}])
            fd = os.open(stage.path("items.jsonl"), os.O_WRONLY | os.O_APPEND)
            os.write(fd, b'{{"id": "c", "v": ')
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    log = tmp_path / "items.jsonl"
    assert not log.read_bytes().endswith(b"\n")

    torn = r"items.jsonl: dropped a partial last line \(17 bytes\) left by an interrupted run"
    with pytest.warns(TornTailWarning, match=torn), open_stage(tmp_path, LAYOUT) as stage:
        done = stage.finished("items.jsonl", key)
        assert sorted(done) == ["a", "b"]  # the torn item is not finished: it is done again
        todo = [i for i in ("a", "b", "c") if i not in done]
        stage.append("items.jsonl", [{"id": i, "v": 3} for i in todo])
    rows = [json.loads(line) for line in log.read_text().splitlines()]  # every line whole
    assert [r["id"] for r in rows] == ["a", "b", "c"]


def test_a_whole_file_is_left_alone_and_a_long_torn_line_is_cut_at_its_start(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    assert drop_torn_tail(path) == 0  # no file
    path.write_bytes(b'{"id": 1}\n')
    assert drop_torn_tail(path) == 0 and path.read_bytes() == b'{"id": 1}\n'
    torn = b'{"id": 2, "pad": "' + b"x" * 200_000  # spans several read blocks
    path.write_bytes(b'{"id": 1}\n' + torn)
    assert drop_torn_tail(path) == len(torn)
    assert path.read_bytes() == b'{"id": 1}\n'
    path.write_bytes(b"no newline at all")
    assert drop_torn_tail(path) == 17 and path.read_bytes() == b""


def test_a_second_run_is_refused_and_a_killed_holders_lock_taken_over(tmp_path: Path) -> None:
    holder = child(f"""
        import sys, time
        from pathlib import Path
        from codekiln.core.stage import Layout, open_stage
        with open_stage(Path({str(tmp_path)!r}), Layout("items", logs=("items.jsonl",))):
            print("locked", flush=True)
            time.sleep(120)
    """)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError) as refused, open_stage(tmp_path, LAYOUT):
            pass
        assert f"another run (pid {holder.pid}) is writing items to {tmp_path}" in refused.value.message
        assert "another --out" in str(refused.value.hint)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    assert (tmp_path / LOCK).read_text().strip() == str(holder.pid)  # the dead run's lock file stays
    with open_stage(tmp_path, LAYOUT) as stage:  # ... and is taken over
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
        stage.append("items.jsonl", [{"id": "a"}])
    with open_stage(tmp_path, LAYOUT):  # released when the block ends
        pass


def test_a_lock_left_with_a_killed_runs_child_is_waited_for_then_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run forks a child (no exec: it keeps the inherited lock) and is killed; the child lives on
    holder = child(f"""
        import os, time
        from pathlib import Path
        from codekiln.core.stage import Layout, open_stage
        with open_stage(Path({str(tmp_path)!r}), Layout("items", logs=("items.jsonl",))):
            if os.fork() == 0:
                time.sleep(1.5)
                os._exit(0)
            print("locked", flush=True)
            time.sleep(120)
    """)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    with open_stage(tmp_path, LAYOUT):  # waited for the orphan (1.5 s) instead of refusing at once
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
    monkeypatch.setattr("codekiln.core.stage.ORPHAN_WAIT_S", 0.2)
    holder = child(f"""
        import os, time
        from pathlib import Path
        from codekiln.core.stage import Layout, open_stage
        with open_stage(Path({str(tmp_path)!r}), Layout("items", logs=("items.jsonl",))):
            orphan = os.fork()
            if orphan == 0:
                time.sleep(30)
                os._exit(0)
            print("locked", orphan, flush=True)
            time.sleep(120)
    """)
    assert holder.stdout is not None
    orphan = holder.stdout.readline().split()[1]
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    try:
        with pytest.raises(ConfigError) as refused, open_stage(tmp_path, LAYOUT):
            pass
        assert (
            f"pid {holder.pid}, now gone: a process it started still holds the lock" in refused.value.message
        )
        assert "fuser" in str(refused.value.hint)
    finally:
        os.kill(int(orphan), signal.SIGKILL)


def test_another_identity_is_refused_with_the_fields_that_differ(tmp_path: Path) -> None:
    with open_stage(tmp_path, LAYOUT) as stage:
        stage.match(RunManifest(seed=0, model="oracle", source="a/tasks.jsonl"))
        stage.append("items.jsonl", [{"id": "a"}])
    with open_stage(tmp_path, LAYOUT) as stage:  # same identity, another source: resumes
        kept = stage.match(RunManifest(seed=0, model="oracle", source="b/tasks.jsonl"))
        assert kept.source == "a/tasks.jsonl" and list(stage.finished("items.jsonl", key)) == ["a"]
        with pytest.raises(ConfigError) as refused:
            stage.match(RunManifest(seed=7, model="noop"))
    message, hint = refused.value.message, str(refused.value.hint)
    assert f"{tmp_path} holds items made with another configuration" in message
    assert "model was 'oracle', now 'noop'; seed was 0, now 7" in message and "source" not in message
    assert "--redo" in hint and "another --out" in hint
    assert json.loads((tmp_path / MANIFEST).read_text())["seed"] == 0  # left as it was


def test_a_directory_without_finished_work_takes_the_new_identity(tmp_path: Path) -> None:
    # A run that failed before its first item (a typo in an option) used to bind the directory to it.
    with open_stage(tmp_path, LAYOUT) as stage:
        stage.match(RunManifest(seed=0, model="oracel"))
    with open_stage(tmp_path, LAYOUT) as stage:
        assert stage.match(RunManifest(seed=0, model="oracle")).model == "oracle"
        stage.append("items.jsonl", [{"id": "a"}])
        with pytest.raises(ConfigError, match="another configuration"):  # now it holds work
            stage.match(RunManifest(seed=0, model="noop"))
    assert json.loads((tmp_path / MANIFEST).read_text())["model"] == "oracle"


def test_an_unreadable_manifest_is_refused_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text("{not json")
    with open_stage(tmp_path, LAYOUT) as stage, pytest.raises(ConfigError, match="cannot be read"):
        stage.match(RunManifest(seed=0, model="oracle"))
    assert (tmp_path / MANIFEST).read_text() == "{not json"


def test_redo_clears_the_logs_manifest_and_derived_files(tmp_path: Path) -> None:
    with open_stage(tmp_path, LAYOUT) as stage:
        stage.match(RunManifest(seed=0, model="oracle"))
        stage.append("items.jsonl", [{"id": "a"}, {"bad": "row"}])
        assert list(stage.finished("items.jsonl", key)) == ["a"]  # rows without a key are not finished
        stage.write("summary.json", {"n": 1})
        (tmp_path / "scratch").mkdir()
        (tmp_path / "scratch" / "partial.jsonl").write_text("{}\n")
        (tmp_path / "unrelated.txt").write_text("kept")
    with open_stage(tmp_path, LAYOUT, redo=True) as stage:
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "unrelated.txt"]
        stage.match(RunManifest(seed=7, model="noop"))  # a new identity is now accepted
        assert stage.finished("items.jsonl", key) == {}
