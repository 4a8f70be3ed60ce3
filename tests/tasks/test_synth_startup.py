"""A bug that breaks the package at import when pytest loads it at start-up (a root conftest imports it
here; jaraco.functools 4.6.0 is imported by pytest-enabler, a plugin of its own test run): the test
process ends before any test (exit code 4 or 3) while the clean runs pass. Such candidates were
`infra_error`, as if the machinery had failed; they are the bug's doing, `import_breakage`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from codekiln.tasks.records import RejectedCandidate, RejectReason
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

MODULE = '''
import functools


def compose(*funcs):
    """Compose unary functions into one."""

    def compose_two(f1, f2):
        return lambda *args, **kwargs: f1(f2(*args, **kwargs))

    return functools.reduce(compose_two, funcs)


def apply(transform):
    """Decorate a function to apply `transform` to its result."""

    def wrap(func):
        return functools.wraps(func)(compose(transform, func))

    return wrap


@apply(int)
def get_number():
    return "3"
'''
TESTS = """
from imppkg import apply, compose, get_number


def test_compose():
    assert compose(str, abs)(-3) == "3"


def test_apply():
    assert get_number() == 3
"""
FILES = {
    "imppkg/__init__.py": MODULE,
    "tests/test_imp.py": TESTS,
    "conftest.py": "import pytest\n\nimport imppkg\n\n\n@pytest.fixture\ndef number():\n    return imppkg.get_number()\n",
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "imppkg"
        version = "0.1"
        [tool.setuptools]
        packages = ["imppkg"]
    """,
}


def test_a_bug_that_ends_the_run_at_start_up_is_import_breakage(tmp_path: Path) -> None:
    root = tmp_path / "imppkg"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip())
    result = synthesize(SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=30, workers=1))
    rejected = [d for d in read_decisions(result.out) if isinstance(d, RejectedCandidate)]
    assert not [d.detail for d in rejected if d.reason == RejectReason.infra_error]
    at_start = [
        d for d in rejected if d.reason == RejectReason.import_breakage and "before any test" in d.detail
    ]
    if not at_start:
        pytest.skip(f"no candidate broke the import: {[(d.reason, d.mutators) for d in rejected]}")
    assert all("exit code" in d.detail for d in at_start), [d.detail for d in at_start]
