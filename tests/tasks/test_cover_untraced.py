"""The coverage run switches its tracer off while pytest rewrites a test module's assertions
(`cover_runner.untraced_rewrites`): the rewrite runs no code of the repository, so the map is the
same, and the tracer is the same one afterwards. In-process for the switch itself; the real runner
with coverage.py in a real bwrap sandbox for the map."""

from __future__ import annotations

import importlib
import json
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.tasks import in_sandbox
from codekiln.tasks.validation.coverage_map import DATA, read_coverage_db
from codekiln.tasks.validation.testexec import COVER_RUNNER, install_runners
from codekiln.testing import make_repo


def test_the_tracer_is_off_while_pytest_rewrites_and_the_same_one_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from _pytest.assertion import rewrite

    monkeypatch.syspath_prepend(str(in_sandbox.FOLDER))
    monkeypatch.setattr(rewrite, "_rewrite_test", rewrite._rewrite_test)  # put back after the test
    runner = importlib.import_module("cover_runner")
    # the sandbox's repository root; here the checkout, which may hold the venv and so pytest itself
    monkeypatch.setattr(runner, "ROOT", str(tmp_path))
    runner.untraced_rewrites()
    module = tmp_path / "test_x.py"
    module.write_text("def test_x():\n    assert [1] == [1]\n")
    seen: Counter[str] = Counter()

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        seen[Path(frame.f_code.co_filename).name] += 1

    before = sys.gettrace()
    sys.settrace(tracer)
    try:
        code = rewrite._rewrite_test(module, None)[-1]
        after = sys.gettrace()
        Path("unused").exists()  # a call after the rewrite: the tracer sees it again
    finally:
        sys.settrace(before)
    assert code.co_filename == str(module)
    assert seen["rewrite.py"] == 0 and seen["ast.py"] == 0  # pytest's rewriting and the parse, untraced
    assert after is tracer and seen["pathlib.py"] > 0


PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "demo/__init__.py": b"def first():\n    return 1\n\n\ndef second():\n    return 2\n",
    "tests/__init__.py": b"",
    "tests/conftest.py": b"import pytest\n\npytest.register_assert_rewrite('tests.checks')\n",
    "tests/checks.py": b"def same(a, b):\n    assert a == b\n    return True\n",
    # the helper is rewritten in the middle of the module's body: the lines after it, and the
    # package's code they run, must still be recorded
    "tests/test_demo.py": b"import demo\n\nFIRST = demo.first()\nfrom tests import checks\n"
    b"SECOND = demo.second()\n\n\ndef test_demo():\n    assert checks.same(demo.second(), SECOND)\n",
}


@pytest.mark.root  # a bwrap sandbox
def test_a_module_rewritten_mid_import_leaves_the_map_whole(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "repo", dict(PROJECT))
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        install_runners(sb)
        argv = ["python", COVER_RUNNER, DATA, "--", "-q", "-p", "no:cacheprovider", "tests"]
        res = sb.exec(argv, timeout=300, cwd=sb.workdir)
        assert res.exit_code == 0, res.output
        data = json.loads(sb.read_file(DATA))
        db = tmp_path / "coverage.sqlite"
        db.write_bytes(sb.read_file(DATA + ".sqlite"))
        workdir = sb.workdir
    assert data["engine"] == "coverage" and data["statuses"] == {"tests/test_demo.py::test_demo": "passed"}
    lines = read_coverage_db(db, workdir)
    test = "tests/test_demo.py::test_demo"
    assert lines["tests/test_demo.py"][5] == {""}  # after the rewrite, at import
    assert lines["demo/__init__.py"][2] == {""}  # first(), before it
    assert lines["demo/__init__.py"][6] == {"", test}  # second(), after it and in the test
    assert lines["tests/checks.py"][2] == {test}
