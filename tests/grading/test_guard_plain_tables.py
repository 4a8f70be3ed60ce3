"""The host's reading of which trusted files bind no literal table (`guard_files.plain_tables`), given to
each guarded run so that the guard parses none of them when no file binds one (`guard_plugin_tables`):
the digests are those of the files when none binds a table (else none are given), the guard holds the
same tables with them as without, they reach the run's settings, and a table that library code changes
is still evidence in a run given them. Real pytest in a bwrap sandbox."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard import GuardSession, Isolation
from codekiln.grading.guard_files import plain_tables
from codekiln.grading.guard_plugin_tables import Tables
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "demo/__init__.py": b"from demo import _attack\n\n\ndef six():\n    return 6\n",  # library code
    "demo/_attack.py": b"import sys\n\n\ndef write():\n"
    b"    for m in list(sys.modules.values()):\n"
    b"        if (getattr(m, '__file__', None) or '').endswith('test_table.py'):\n"
    b"            m.EXPECTED['k'] = 0\n    return 0\n",
    "demo/checks.py": b"def same(a, b):\n    return a == b\n",
    "tests/__init__.py": b"",
    "tests/conftest.py": b"import pytest\n\n\n@pytest.fixture\ndef six():\n    return 6\n",
    "tests/plain/__init__.py": b"",
    "tests/plain/test_plain.py": b"from demo import six\n\n\ndef test_six():\n    assert six() == 6\n\n\n"
    b"def test_own(six):\n    rows = {}\n    rows['a'] = six\n    assert rows == {'a': 6}\n",
    "tests/test_table.py": b"from demo import _attack\nfrom demo.checks import same\n\nEXPECTED = {'k': 6}\n\n\n"
    b"def test_it():\n    assert same(_attack.write(), EXPECTED['k'])\n",
    "tests/test_broken.py": b"def test_(:\n",
}
PLAIN = ["tests/__init__.py", "tests/conftest.py", "tests/plain/__init__.py", "tests/plain/test_plain.py"]
ALL = [*PLAIN, "tests/test_table.py", "tests/test_broken.py"]


def _digest(rel: str) -> str:
    return hashlib.sha256(PROJECT[rel]).hexdigest()


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory):
    snapshot = make_repo(tmp_path_factory.mktemp("plain"), PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


@pytest.mark.root  # a bwrap sandbox
def test_the_digests_are_those_of_the_files_without_a_table(sb: BwrapSandbox) -> None:
    # all of them or none: the guard uses them only when every file it reads is among them
    assert plain_tables(sb, PLAIN) == [_digest(rel) for rel in PLAIN]
    unread = [*PLAIN, "tests/absent.py"]  # left out: the guard cannot read it either
    assert plain_tables(sb, unread) == [_digest(rel) for rel in PLAIN]
    for other in ALL[-2:]:  # a file that binds a table, or that does not parse, first or last
        assert plain_tables(sb, [*PLAIN, other]) == [] and plain_tables(sb, [other, *PLAIN]) == []
    files = {f"{sb.workdir}/{rel}": PROJECT[rel] for rel in ALL}
    given = plain_tables(sb, PLAIN)
    for subset in (files, {k: v for k, v in files.items() if "table" not in k}):
        with_them, without = Tables(subset, {}, given), Tables(subset, {})
        assert {p: [t.label for t in ts] for p, ts in with_them.held.items()} == {
            p: [t.label for t in ts] for p, ts in without.held.items()
        }
    assert [t.label for ts in Tables(files, {}, given).held.values() for t in ts] == [
        f"{sb.workdir}/tests/test_table.py: EXPECTED"
    ]


@pytest.mark.root  # a bwrap sandbox
def test_the_digests_reach_the_runs_settings(sb: BwrapSandbox) -> None:
    for test, trusted, support in (
        ("tests/plain/test_plain.py::test_six", PLAIN[1:], []),  # its folder's files, the conftest above
        (
            "tests/test_table.py::test_it",
            ["tests/__init__.py", "tests/conftest.py", *ALL[-2:]],
            ["demo/checks.py"],  # a support module: the tests' alone
        ),
    ):
        iso = Isolation.for_environment(Path(sb.spec.snapshot), VENV, [test])
        assert iso.bytecode and sorted(iso.trusted) == sorted(trusted) and list(iso.support) == support
        settings = json.loads(sb.read_file(GuardSession.start(sb, iso).settings_path))
        plain = not set(trusted) & set(ALL[-2:])  # else a table, or no parse: none given
        assert sorted(settings["plain_tables"]) == sorted(_digest(r) for r in [*trusted, *support] if plain)


@pytest.mark.root  # a bwrap sandbox
def test_a_changed_table_is_still_evidence_and_plain_files_run_as_before(sb: BwrapSandbox) -> None:
    plain = ["tests/plain/test_plain.py::test_six", "tests/plain/test_plain.py::test_own"]  # none held
    run = run_tests(sb, CMD, plain)
    assert run.statuses == dict.fromkeys(plain, "passed") and run.evidence == [], run.log_tail
    attacked = ["tests/test_table.py::test_it"]
    run = run_tests(sb, CMD, attacked)
    assert run.statuses == dict.fromkeys(attacked, "passed"), run.log_tail  # what the write buys
    assert any("tests/test_table.py: EXPECTED changed in place" in e for e in run.evidence), run.evidence
