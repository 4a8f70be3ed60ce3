"""The in-sandbox scripts (`codekiln.tasks.in_sandbox`): copied into sandboxes by file path, so they
import only the standard library, pytest (and coverage) and each other; every pytest internal they
replace is listed in `warm_runner.PYTEST_PATCHES` and exists in the installed pytest."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from codekiln.tasks import in_sandbox

ALLOWED_THIRD_PARTY = {"pytest", "_pytest", "coverage"}
OPTIONAL = {"sitecustomize"}  # cover_child.py imports the one it stands in front of, when there is one


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("script", in_sandbox.SCRIPTS, ids=lambda p: p.name)
def test_scripts_import_only_the_standard_library_pytest_and_siblings(script: Path) -> None:
    siblings = {p.stem for p in (*in_sandbox.SCRIPTS, *in_sandbox.BESIDE)}
    foreign = (
        _imports(script)
        - sys.stdlib_module_names
        - ALLOWED_THIRD_PARTY
        - siblings
        - OPTIONAL
        - {"__future__"}
    )
    assert foreign == set(), f"{script.name} imports {sorted(foreign)}: it runs in a sandbox without them"


def test_every_script_in_the_folder_is_copied() -> None:
    """A new script beside the others must be in SCRIPTS, or sandboxes would lack it."""
    on_disk = {p.name for p in in_sandbox.FOLDER.glob("*.py") if p.name != "__init__.py"}
    assert on_disk == {p.name for p in in_sandbox.SCRIPTS}


def _warm_runner(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(in_sandbox.FOLDER))
    return importlib.import_module("warm_runner")


def test_every_listed_patch_target_exists_in_this_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    import _pytest.hookspec

    table = _warm_runner(monkeypatch).PYTEST_PATCHES  # type: ignore[attr-defined]
    for target in table:
        owner, _, attr = target.rpartition(".")
        if owner == "terminalreporter":
            assert hasattr(_pytest.hookspec, attr), target
        else:
            assert hasattr(importlib.import_module(owner), attr), target


def test_pytest_internals_are_replaced_only_through_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """No script assigns to an attribute of a `_pytest` module directly, and `patch_internal` refuses a
    target missing from the table."""
    for script in in_sandbox.SCRIPTS:
        tree = ast.parse(script.read_text())
        internal = {
            (alias.asname or alias.name)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("_pytest")
            for alias in node.names
        }
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and isinstance(part.value, ast.Name):
                        assert part.value.id not in internal, (
                            f"{script.name}:{node.lineno}: use patch_internal"
                        )
    runner = _warm_runner(monkeypatch)
    from _pytest import reports

    with pytest.raises(KeyError, match="PYTEST_PATCHES"):
        runner.patch_internal(reports, "TestReport", object())  # type: ignore[attr-defined]
    assert reports.TestReport.__name__ == "TestReport"


def test_a_child_process_is_measured_under_the_running_test_and_keeps_its_own_start_up(
    tmp_path: Path,
) -> None:
    """`cover_child.py` as a child's sitecustomize: the child's lines of the repository are recorded
    under the test's id, its stderr stays empty, the sitecustomize it shadows still runs, and its
    sys.path is what it would be without it."""
    import sqlite3
    import subprocess

    repo, site, theirs, data = (tmp_path / d for d in ("repo", "site", "theirs", "data"))
    for folder in (repo, site, theirs, data):
        folder.mkdir()
    (site / "sitecustomize.py").write_bytes((in_sandbox.FOLDER / "cover_child.py").read_bytes())
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIRS_RAN'] = '1'\n")
    (repo / "work.py").write_text("def f(x):\n    return x + 1\n\n\nprint(f(1))\n")
    script = "import os, sys, work\nprint(os.environ.get('THEIRS_RAN'), sys.argv[1] in sys.path)\n"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{site}:{theirs}",
        "CODEKILN_COVER_TEST": "tests/test_x.py::test_f",
        "CODEKILN_COVER_CHILDREN": str(data),
        "CODEKILN_COVER_ROOT": str(repo),
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(site)], cwd=repo, env=env, capture_output=True, text=True
    )
    assert (done.stdout, done.stderr) == ("2\n1 False\n", "")
    [db] = data.iterdir()
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT file.path, context.context FROM line_bits JOIN file ON file.id = line_bits.file_id "
        "JOIN context ON context.id = line_bits.context_id"
    ).fetchall()
    con.close()
    assert rows == [(str(repo / "work.py"), "tests/test_x.py::test_f")]

    # started outside a test: nothing measured, the child runs as usual
    del env["CODEKILN_COVER_TEST"]
    db.unlink()
    done = subprocess.run(
        [sys.executable, "-c", script, str(site)], cwd=repo, env=env, capture_output=True, text=True
    )
    assert (done.stdout, done.stderr, list(data.iterdir())) == ("2\n1 False\n", "", [])
