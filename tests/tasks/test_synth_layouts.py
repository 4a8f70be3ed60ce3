"""Synthesis on libraries whose failing tests include doctests (`--doctest-modules`), in a src layout and
a flat one: a doctest's id names the source module the bug changes, which must never be hidden from the
agent (it used to stop the whole run with "patch changes src/PKG/MODULE.py, which was not given")."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.validate import ValidateConfig, hidden_test_files

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

MODULE = '''
def double(x):
    """Twice x.

    >>> double(2)
    4
    """
    return x * 2


def clamp(x, low, high):
    """x limited to [low, high].

    >>> clamp(5, 0, 3)
    3
    >>> clamp(-1, 0, 3)
    0
    """
    if x < low:
        return low
    if x > high:
        return high
    return x
'''
TESTS = "from dtpkg import clamp, double\n\n\ndef test_double():\n    assert double(3) == 6\n\n\n" \
    "def test_clamp_inside():\n    assert clamp(2, 0, 3) == 2\n"  # fmt: skip


def write_library(root: Path, src_layout: bool) -> tuple[Path, str]:
    package = "src/dtpkg" if src_layout else "dtpkg"
    files = {
        f"{package}/__init__.py": MODULE,
        "tests/test_dt.py": TESTS,
        "pyproject.toml": textwrap.dedent(f"""
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "dtpkg"
            version = "0.1"
            [tool.setuptools]
            packages = ["dtpkg"]
            {'package-dir = {"" = "src"}' if src_layout else ""}
            [tool.pytest.ini_options]
            addopts = "--doctest-modules"
            testpaths = ["{package.split("/")[0]}", "tests"]
        """),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root, f"{package}/__init__.py"


def test_hidden_files_are_unchanged_test_modules() -> None:
    bug = "--- a/src/p/m.py\n+++ b/src/p/m.py\n@@ -1 +1 @@\n-a\n+b\n"
    failing = ["src/p/m.py::p.m.f", "src/p/other.py::p.other.g", "tests/test_m.py::test_f", "t/m_test.py::t"]
    assert hidden_test_files(failing, bug) == ["t/m_test.py", "tests/test_m.py"]


@pytest.mark.parametrize("src_layout", [True, False], ids=["src-layout", "flat"])
def test_doctest_failures_make_tasks_and_never_stop_the_run(tmp_path: Path, src_layout: bool) -> None:
    root, module = write_library(tmp_path / "lib", src_layout)
    config = SynthConfig(
        spec=str(root), out=tmp_path / "out", max_tasks=20, workers=1, batch_size=16,
        validation=ValidateConfig(engine="fresh"),
    )  # fmt: skip
    result = synthesize(config)
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert len(tasks) == result.funnel.validated > 0, result.funnel.rejected
    with_doctests = [t for t in tasks if any(x.startswith(f"{module}::") for x in t.FAIL_TO_PASS)]
    assert with_doctests, "no task is caught by a doctest"
    for task in tasks:
        assert module not in task.hidden_tests
        assert all(h == "tests/test_dt.py" for h in task.hidden_tests)


WORDS = '''
def shout(word):
    """Loud.

    >>> shout("hi")
    'HI!'
    """
    loud = word.upper()
    return loud + "!"


def count(text):
    """Words in text.

    >>> count("a b  c")
    3
    """
    return len(text.split())
'''
WORDS_TESTS = "from dtpkg import count, shout\n\n\ndef test_shout():\n    assert shout('hey') == 'HEY!'\n\n\n" \
    "def test_count():\n    assert count('') == 0\n"  # fmt: skip


def _doctest_tasks(tmp_path: Path, source: str, tests: str) -> tuple[str, list[TaskRecord]]:
    """The tasks a short fast-gate synthesis makes of a src-layout library of `source` and `tests`, and
    the module's path."""
    root, module = write_library(tmp_path / "lib", src_layout=True)
    (root / module).write_text(source)
    (root / "tests/test_dt.py").write_text(tests)
    config = SynthConfig(
        spec=str(root), out=tmp_path / "out", max_tasks=8, workers=1, batch_size=16,
        validation=ValidateConfig(gate="fast"),
    )  # fmt: skip
    synthesize(config)
    return module, [d for d in read_decisions(tmp_path / "out") if isinstance(d, TaskRecord)]


def test_doctest_failures_are_described_by_what_the_example_did(tmp_path: Path) -> None:
    """The warm engine's failure text of a doctest is its report (humanize 4.17.0's statements
    quoted `DocTestFailure: <DocTest humanize.lists.natural_list ...>` and pytest's frames): an
    example that printed something else shows what it should print and what it printed, one that
    raised shows its own exception."""
    module, tasks = _doctest_tasks(tmp_path, WORDS, WORDS_TESTS)
    by_doctest = [t for t in tasks if f"{module}::dtpkg.shout" in t.FAIL_TO_PASS]
    statements = [t.problem_statement for t in by_doctest]
    assert statements, [t.FAIL_TO_PASS for t in tasks]
    assert not [s for s in statements if "DocTest" in s or "_pytest" in s], statements
    assert any("Expected:\n    'HI!'\nGot:" in s for s in statements), statements
    assert any("UnboundLocalError" in s or "NameError" in s for s in statements), statements


RAISING = '''
def check(n):
    """n, which must not be negative."""
    if n < 0:
        raise ValueError("negative")
    return n
'''
RAISING_TESTS = "import pytest\n\nfrom dtpkg import check\n\n\ndef test_check():\n    assert check(3) == 3\n\n\n" \
    "def test_negative():\n    with pytest.raises(ValueError):\n        check(-1)\n"  # fmt: skip


def test_a_missing_raise_is_described_without_pytests_frames(tmp_path: Path) -> None:
    """semver 3.2.0: a bug that drops a `raise` makes `pytest.raises` fail, and the warm engine's
    failure text is pytest's own frame (`_pytest/outcomes.py ... raise Failed(...)`) above `Failed: DID
    NOT RAISE ...`; the statement quoted the frame. It now says what the traceback says after it."""
    _, tasks = _doctest_tasks(tmp_path, RAISING, RAISING_TESTS)
    statements = [t.problem_statement for t in tasks if t.FAIL_TO_PASS == ["tests/test_dt.py::test_negative"]]
    if not any("DID NOT RAISE" in s for s in statements):
        pytest.skip(f"no task made by a missing raise alone: {[t.FAIL_TO_PASS for t in tasks]}")
    assert not [s for s in statements if "_pytest" in s or 'File "' in s], statements


WARNING = '''
import warnings


class LimitWarning(UserWarning):
    pass


def limit(n):
    """n, at most 10 (with a warning when it was more)."""
    if n > 10:
        warnings.warn(
            f"{n} is over the limit",
            LimitWarning
        )
        return 10
    return n
'''
WARNING_TESTS = "import pytest\n\nfrom dtpkg import LimitWarning, limit\n\n\ndef test_limit():\n    assert limit(3) == 3\n\n\n" \
    "def test_warned():\n    with pytest.warns(LimitWarning):\n        limit(11)\n"  # fmt: skip


def test_a_missing_warning_is_described(tmp_path: Path) -> None:
    """frozendict 2.5.1: a bug that drops `warnings.warn(..., MonkeypatchWarning)` made a statement that
    said nothing: pytest's `DID NOT WARN` names the class, the fix's last line is the bare name, and the
    message was dropped as a leak of the fix."""
    _, tasks = _doctest_tasks(tmp_path, WARNING, WARNING_TESTS)
    dropped = [t for t in tasks if "+        warnings.warn(" in t.patch]
    if not dropped:
        pytest.skip(f"no task drops the warning: {[t.instance_id for t in tasks]}")
    assert all("DID NOT WARN" in t.problem_statement for t in dropped), [t.problem_statement for t in dropped]
