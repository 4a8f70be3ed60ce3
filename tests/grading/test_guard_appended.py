"""The guard plugin's rewritten code for a kept test module with the grader's canaries appended
(`guard_plugin_speedups.appended_code`): the same code as pytest's rewrite of the whole source, on
real test modules, and used by a real guarded run in a bwrap sandbox."""

from __future__ import annotations

import ast
import hashlib
import marshal
import sys
import types
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard_check import make_canaries
from codekiln.grading.guard_plugin_bodies import wrap_tests
from codekiln.grading.guard_plugin_speedups import appended_code
from codekiln.grading.guard_rewrites import REWRITES, rewrite_key
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

HERE = Path(__file__).resolve().parent
SHAPES = '''"""A module docstring."""
from __future__ import annotations

import functools

assert 1 < 2, "a module-level assert"
if True:
    def test_in_a_block():
        assert [1] == [1]


@functools.lru_cache(maxsize=None)
@functools.wraps(print)
def decorated(x):
    assert x, f"{x!r} is falsy"
    return [y for y in range(x) if y]


class Base:
    def method(self):
        assert self is not None
        return lambda: __class__


class TestKid(Base):
    def test_super(self):
        assert super().method() is not None and (x := 3) == 3

    async def test_async(self):
        assert await self.other() == {"a": [1, 2]}


square = lambda n: n * n  # noqa: E731
'''


def rewritten(path: str, source: bytes) -> types.CodeType:
    """What pytest's `_rewrite_test` makes of `source` (no pass hook)."""
    tree = ast.parse(source, filename=path)
    rewrite.rewrite_asserts(tree, source, path, None)
    return compile(tree, path, "exec", dont_inherit=True)


def same_code(a: types.CodeType, b: types.CodeType) -> bool:
    fields = ("co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_qualname", "co_flags")
    more = ("co_firstlineno", "co_linetable", "co_exceptiontable", "co_filename", "co_argcount")
    if any(getattr(a, f) != getattr(b, f) for f in (*fields, *more)) or len(a.co_consts) != len(b.co_consts):
        return False
    return all(
        same_code(x, y) if isinstance(x, types.CodeType) else type(x) is type(y) and x == y
        for x, y in zip(a.co_consts, b.co_consts, strict=True)
    )


def spliced(path: str, existing: str) -> tuple[types.CodeType | None, bytes]:
    """The kept module's code, the canaries appended as the grader does, and the plugin's code for it."""
    canaries = make_canaries(path, existing)
    kept_bytes = existing.encode()
    kept = (hashlib.sha256(kept_bytes).hexdigest(), False, rewritten(path, kept_bytes))
    source = canaries.source.encode()
    return appended_code(path, source, canaries.kept, kept, None, rewrite), source


@pytest.mark.parametrize(
    "name", ["test_guard.py", "test_scan.py", "test_guard_startup.py", "test_shipped.py", "shapes"]
)
def test_the_code_is_pytests_rewrite_of_the_whole_source(name: str) -> None:
    existing = SHAPES if name == "shapes" else (HERE / name).read_text(encoding="utf-8")
    path = f"/testbed/tests/{name}.py"
    for text in (existing, existing.rstrip("\n") + "\n\n\n", existing.rstrip("\n")):  # any ending
        code, source = spliced(path, text)
        assert code is not None
        assert same_code(code, rewritten(path, source))


def test_anything_that_does_not_match_is_rewritten_as_usual() -> None:
    path = "/testbed/tests/shapes.py"
    canaries = make_canaries(path, SHAPES)
    source, split = canaries.source.encode(), canaries.kept
    code = rewritten(path, SHAPES.encode())
    digest = hashlib.sha256(SHAPES.encode()).hexdigest()
    assert appended_code(path, source, split, (digest, False, code), None, rewrite) is not None
    assert appended_code(path, source, split, ("0" * 64, False, code), None, rewrite) is None  # other bytes
    assert appended_code(path, source, [split[0] - 1, split[1]], (digest, False, code), None, rewrite) is None
    other = rewritten(path, SHAPES.replace("class TestKid", "class TestKin").encode())
    assert appended_code(path, source, split, (digest, False, other), None, rewrite) is None  # a def missing
    # appended text that continues the kept module's last statement: its split no longer holds
    block = "if True:\n    x = 1\n"
    tail = (block + "    y = 2\n").encode()
    digest = hashlib.sha256(block.encode()).hexdigest()
    kept = (digest, False, rewritten(path, block.encode()))
    assert appended_code(path, tail, [len(block) - 1, 1], kept, None, rewrite) is None
    assert appended_code(path, b"def (:\n", [3, 0], kept, None, rewrite) is None  # no parse: pytest says


VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
TEST = "tests/test_e.py::test_sum"
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "tests/test_e.py": b"def test_sum():\n    assert 1 + 1 == 2\n",
}


def wrapped_compile(source: str, path: str) -> object:
    """Test code as the guard keeps it: each test function's body wrapped (`guard_plugin_bodies`)."""
    tree = ast.parse(source)
    wrap_tests(tree, ["test"])
    return compile(tree, path, "exec", dont_inherit=True)


@pytest.mark.root  # a bwrap sandbox
def test_a_guarded_run_with_canaries_runs_the_kept_code_of_their_module(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path, dict(PROJECT))
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        key = rewrite_key(str(VENV), sb.workdir)
        before = REWRITES.get(key)
        try:
            run = run_tests(sb, CMD, [TEST], export_rewrites=True)
            assert run.statuses == {TEST: "passed"} and not run.evidence, run.log_tail
            path = f"{sb.workdir}/tests/test_e.py"
            sha, hook = marshal.loads(REWRITES.get(key) or b"")[path][:2]
            failing = wrapped_compile("def test_sum():\n    assert 1 + 1 == 3\n", path)
            canaries = make_canaries("tests/test_e.py", PROJECT["tests/test_e.py"].decode())
            # the kept code (failing, under the real source's hash) runs, the canaries as designed
            REWRITES.keep(key, marshal.dumps({path: (sha, hook, failing)}))
            run = run_tests(sb, CMD, [TEST], canaries=canaries)
            assert run.statuses == {TEST: "failed"} and not run.evidence, run.log_tail
            # kept code made for other bytes is never run: the whole module is rewritten as usual
            REWRITES.keep(key, marshal.dumps({path: ("0" * 64, hook, failing)}))
            run = run_tests(sb, CMD, [TEST], canaries=canaries)
            assert run.statuses == {TEST: "passed"} and not run.evidence, run.log_tail
        finally:  # other tests of this process share the cache
            REWRITES.keep(key, before or marshal.dumps({}))
