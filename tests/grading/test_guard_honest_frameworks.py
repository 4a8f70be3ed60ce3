"""Honest tests the guard read as tampering: a framework's settings table, a mock's recorded comparisons.

1. A framework that fills in a settings module the tests name by a dotted string (pytest-django's
   `DJANGO_SETTINGS_MODULE`, read from the pytest configuration, and Django's `DATABASES`, which it
   normalises in place at set-up) made an honest run `tampered`: "settings.py: DATABASES changed in
   place" (`guard_plugin_literals.framework_read`). A table of such a module that the tests read by
   name is still held: library code that writes it is evidence.
2. The always-equal probe (`guard_plugin_equality`) compared a `MagicMock` operand with its probes, and
   the mock recorded them: a test asserting on `mock_calls` after comparing the mock failed. Only a
   comparison that claims equality is probed now, and a value paired with itself is not.

Real pytest in a bwrap sandbox (`run_tests`) for both, then the checker on its own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard_plugin_equality import Equality
from codekiln.grading.guard_plugin_machinery import Machinery
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
# The framework: configured with a settings module the conftest imports by the dotted name the pytest
# configuration gives (a framework in the venv would import it itself), it fills in its tables (as Django's
# `ConnectionHandler` does `DATABASES`), and the library reads them through it. `listen`: the library
# keeps the callbacks it is given. `tamper`: library code that writes a table the tests read.
FRAMEWORK = b"""import sys

_settings = []
_listeners = []


def configure(module):
    for conn in module.DATABASES.values():
        conn.setdefault("NAME", ":memory:")
        conn["OPTIONS"] = dict(conn.get("OPTIONS", {}), timeout=5)
    module.MIDDLEWARE.append("demo.Guard")
    _settings.append(module)


def engine():
    return _settings[-1].DATABASES["default"]["ENGINE"] + ":" + _settings[-1].DATABASES["default"]["NAME"]


def listen(callback):
    callback.send(3)
    _listeners.append(callback)
    return list(_listeners)


def tamper():
    sys.modules["tests.app.expected"].EXPECTED["engine"] = "sqlite::memory:"
    return "sqlite::memory:"
"""
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n\n[tool.pytest.ini_options]\n"
    b'demo_settings = "tests.app.settings tests.app.test_settings"\n',
    "demo/__init__.py": FRAMEWORK,
    "tests/__init__.py": b"",
    "tests/conftest.py": b"import importlib\n\nimport pytest\n\nimport demo\n\n\ndef pytest_addoption(parser):\n"
    b"    parser.addini('demo_settings', 'the settings module')\n\n\n"
    b"@pytest.fixture(scope='session', autouse=True)\ndef _configured(pytestconfig):\n"
    b"    for name in pytestconfig.getini('demo_settings').split():\n"
    b"        demo.configure(importlib.import_module(name))\n",
    "tests/app/__init__.py": b"",
    "tests/app/settings.py": b"DATABASES = {'default': {'ENGINE': 'sqlite'}}\nMIDDLEWARE = ['demo.Session']\n",
    # a settings module named as a test module is (Django projects' `test_settings.py`), with no test
    "tests/app/test_settings.py": b"DATABASES = {'default': {'ENGINE': 'sqlite'}}\nMIDDLEWARE = []\n",
    "tests/app/expected.py": b"EXPECTED = {'engine': 'postgres'}\n",
    "tests/app/test_app.py": b"import importlib\nfrom unittest import mock\n\nimport demo\n\n\n"
    b"def test_engine():\n    assert demo.engine() == 'sqlite::memory:'\n\n\n"
    b"def test_mock_calls():\n    m = mock.MagicMock()\n    assert demo.listen(m) == [m]\n"
    b"    assert m in demo.listen(m)\n    assert m.send.call_args == mock.call(3) and m != 3\n"
    b"    assert m.mock_calls == [mock.call.send(3), mock.call.send(3), mock.call.__ne__(3)]\n\n\n"
    b"def test_tampered():\n    expected = importlib.import_module('tests.app.expected')\n"
    b"    assert demo.tamper() == expected.EXPECTED['engine']\n",
}
CMD = TestCommand(args=["tests"])


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory):
    snapshot = make_repo(tmp_path_factory.mktemp("frameworks"), PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


@pytest.mark.root  # a bwrap sandbox
def test_a_settings_table_the_framework_fills_in_is_not_evidence(sb: BwrapSandbox) -> None:
    test = "tests/app/test_app.py::test_engine"
    run = run_tests(sb, CMD, [test])
    assert run.statuses == {test: "passed"}, run.log_tail
    assert (
        run.evidence == []
    )  # was "tests/app/settings.py: DATABASES changed in place" (test_settings.py's too)


@pytest.mark.root  # a bwrap sandbox
def test_a_table_of_such_a_module_the_tests_read_by_name_is_still_held(sb: BwrapSandbox) -> None:
    test = "tests/app/test_app.py::test_tampered"
    run = run_tests(sb, CMD, [test])
    assert run.statuses == {test: "passed"}, run.log_tail  # what the write buys
    assert any("tests/app/expected.py: EXPECTED changed in place" in e for e in run.evidence), run.evidence


@pytest.mark.root  # a bwrap sandbox
def test_a_mock_compared_by_the_test_records_only_the_tests_comparisons(sb: BwrapSandbox) -> None:
    test = "tests/app/test_app.py::test_mock_calls"
    run = run_tests(sb, CMD, [test])
    assert run.statuses == {test: "passed"}, run.log_tail  # failed: the probes in `mock_calls`
    assert run.evidence == []


def _checker() -> Equality:
    check = Equality()
    check.bind(Machinery("/nonexistent-tree"), None, [])
    return check


def test_only_a_claim_of_equality_is_probed() -> None:
    check, m = _checker(), mock.MagicMock()
    assert check("w", "==", [m], [m]) is True and check("w", "in", m, {m: 1}) is True
    assert check("w", "!=", m, 3) is True and check("w", "==", m, 3) is False
    assert check("w", "not in", m, (m,)) is False
    calls = [c for c in m.mock_calls if c[0] != "__hash__"]  # the dict's own hashing
    assert calls == [mock.call.__ne__(3), mock.call.__eq__(3)]  # the test's own comparisons only
    assert check.forged == []


class _FirstYes(float):
    """Says yes to its first comparison only, then tells the truth."""

    seen = 0

    def __eq__(self, other: object) -> bool:
        _FirstYes.seen += 1
        return _FirstYes.seen == 1 or float(self) == other

    __hash__ = float.__hash__


def test_an_operand_that_says_yes_once_gets_a_second_comparison() -> None:
    """The comparison now runs before the probes: one that says yes to it only is compared again."""
    check, liar = _checker(), _FirstYes(2.0)
    assert check("w", "==", liar, 3.0) is False  # what the test gets: its lie bought nothing


@pytest.mark.xfail(strict=True, reason="unittest's compared arguments are probed before any comparison")
def test_a_mock_passed_to_assert_equal_records_no_probe() -> None:
    check, m = _checker(), mock.MagicMock()
    seen: Any = check("w", "", [m])
    check("w", "", [m])
    assert seen == [m] and m.mock_calls == []


def test_which_tables_only_a_framework_reads() -> None:
    import ast

    from codekiln.grading.guard_plugin_literals import framework_read

    settings, table = "/r/tests/app/settings.py", "D = {'default': {'ENGINE': 'x'}}\nL = [1]\n"

    def found(test: str, other: str = "") -> set[tuple[str, str]]:
        files = {settings: table, "/r/tests/app/test_x.py": test, "/r/tests/app/helpers.py": other}
        return framework_read({path: ast.parse(code) for path, code in files.items()})

    handed = {(settings, "D"), (settings, "L")}
    test_e = ("/r/tests/app/test_x.py", "E")  # a test module's: held while a test of it runs (`Tables`)
    assert found("from django.conf import settings\nE = {'k': 1}\n") == handed | {test_e}
    assert found("E = {'k': 1}\n", "\n\ndef pytest_configure():\n    pass\n") == handed | {test_e}
    assert found("import os\nos.environ['M'] = 'tests.app.settings'\n") == handed  # named by a string
    for imports in ("from tests.app import settings", "import tests.app.settings", "from . import settings"):
        assert found(imports + "\n") == set(), imports
    assert found("", "from .settings import *\n") == set()
    assert found("def test():\n    assert lib() == m.D['default']\n") == {(settings, "L")}  # D named
    assert found("x = 'D'\n") == {(settings, "L")}


class _OneShot:
    """A library's lazy stream whose `__eq__` consumes it (compared once, honestly)."""

    def __init__(self, items: list[int]) -> None:
        self._it = iter(items)

    def __eq__(self, other: object) -> bool:
        return list(self._it) == other

    __hash__ = None  # type: ignore[assignment]


@pytest.mark.xfail(strict=True, reason="a claim is probed and compared again: a one-shot `__eq__` is spent")
def test_an_operand_whose_comparison_consumes_it_compares_once() -> None:
    assert _checker()("w", "==", _OneShot([1, 2]), [1, 2]) is True  # main: the probes spent it first


class _Money:
    """A library's number that equals the plain numbers of its value (honest)."""

    def __init__(self, v: float) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return self.v == (other.v if isinstance(other, _Money) else other)

    __hash__ = None  # type: ignore[assignment]


def test_dicts_in_another_order_pair_their_values_by_key() -> None:
    """Paired by place, `_Money(3)` met the mirror of `1.0` (`1.0 + 1 + 1.0`), which it honestly equals."""
    check = _checker()
    assert check("w", "==", {"b": 1.0, "a": _Money(3)}, {"a": _Money(3), "b": 1.0}) is True
    assert check("w", "==", [{"b": 1.0, "a": _Money(3)}], ({"a": _Money(3), "b": 1.0},)) is False
    assert check.forged == []
    liar = _checker()
    liar("w", "==", {"b": 1.0, "a": _NumbersOnly(3.0)}, {"a": 3, "b": 1.0})
    assert liar.forged != []  # a liar still met its probes


class _NumbersOnly(float):
    def __eq__(self, other: object) -> bool:
        return type(other) in (int, float)

    __hash__ = float.__hash__
