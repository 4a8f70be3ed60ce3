"""The warm runner's in-session pieces, driven by a real pytest session on a small planted suite."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from codekiln.tasks import in_sandbox

SUITE = """
import pytest

def test_ok():
    pass

def test_bad():
    assert 1 == 2

@pytest.mark.skip(reason="planted")
def test_skipped():
    pass
"""


def test_quiet_terminal_keeps_every_report_and_prints_no_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Children write to /dev/null, so the runner silences the terminal reporter's per-test hooks:
    reports must still reach every other plugin (the runner's recorder here), and the progress line
    that a quiet session prints (`.F s`) must be gone."""
    monkeypatch.syspath_prepend(str(in_sandbox.FOLDER))
    import warm_runner

    (tmp_path / "test_planted.py").write_text(SUITE)
    monkeypatch.chdir(tmp_path)

    class Quiet:
        def pytest_collection_finish(self, session: Any) -> None:
            warm_runner.quiet_terminal(session.config)

    def run(*plugins: object) -> tuple[dict[str, str], str]:
        recorder = warm_runner.Recorder()
        pytest.main(["-q", "-p", "no:cacheprovider", "test_planted.py"], plugins=[recorder, *plugins])
        statuses, _ = recorder.results()
        return {tid.split("::")[-1]: s for tid, s in statuses.items()}, capsys.readouterr().out

    loud_statuses, loud = run()
    quiet_statuses, quiet = run(Quiet())
    expected = {"test_ok": "passed", "test_bad": "failed", "test_skipped": "skipped"}
    assert loud_statuses == quiet_statuses == expected
    assert ".Fs" in loud.replace(" ", "")
    assert ".Fs" not in quiet.replace(" ", "")


def test_rewritten_test_code_is_kept_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-collecting an unchanged test file reuses its rewritten code (pytest's pyc is not read
    again); a file changed to other bytes of the same size is read afresh, and assertions stay
    rewritten (the failure shows the compared values)."""
    monkeypatch.syspath_prepend(str(in_sandbox.FOLDER))
    import warm_runner
    from _pytest.assertion import rewrite

    reads: list[str] = []
    original = rewrite._read_pyc

    def counting(source: Any, pyc: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(str(source))
        return original(source, pyc, *args, **kwargs)

    monkeypatch.setattr(rewrite, "_read_pyc", counting)
    monkeypatch.setattr(rewrite, "_rewrite_test", rewrite._rewrite_test)
    warm_runner.cache_rewritten_tests()
    test_file = tmp_path / "test_kept.py"
    monkeypatch.chdir(tmp_path)

    def run() -> tuple[dict[str, str], str]:
        sys.modules.pop("test_kept", None)
        recorder = warm_runner.Recorder()
        pytest.main(["-q", "-p", "no:cacheprovider", "test_kept.py"], plugins=[recorder])
        statuses, messages = recorder.results()
        capsys.readouterr()
        return {tid.split("::")[-1]: s for tid, s in statuses.items()}, "".join(messages.values())

    test_file.write_text("def test_value():\n    x = 41\n    assert x + 1 == 42\n")
    assert run()[0] == {"test_value": "passed"}
    assert run()[0] == {"test_value": "passed"}
    assert len(reads) == 1  # the second collection took the kept code
    test_file.write_text("def test_value():\n    x = 40\n    assert x + 1 == 42\n")  # same size
    statuses, message = run()
    assert statuses == {"test_value": "failed"}
    assert "(40 + 1) == 42" in message
    assert len(reads) == 2
