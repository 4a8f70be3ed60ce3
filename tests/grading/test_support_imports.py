"""`grading.support` reads a file's imports from its statements alone (`_statements`) unless a call may
load a module by name: the same imports, in the same order, as a walk of the whole tree."""

from __future__ import annotations

import ast
from pathlib import Path

import codekiln
from codekiln.grading import support
from codekiln.grading.support import held_modules

NESTED = """
import a
try:
    import b
except ImportError as err:
    from c import d
else:
    import e
finally:
    import f
match x:
    case 1:
        import g
    case _:
        from . import h
with open(p) as fh, ctx():
    import i
async def run():
    async for x in y:
        import j
    else:
        import k
class K:
    def m(self):
        while True:
            import l
        if z:
            pass
        else:
            import m as n
f = lambda: __import__("not_a_statement")
"""


def _imports(nodes: object) -> list[ast.AST]:
    return [n for n in nodes if isinstance(n, ast.Import | ast.ImportFrom)]  # type: ignore[attr-defined]


def test_the_statements_hold_every_import_in_walk_order() -> None:
    """Every import of codekiln's own sources and of a module nesting them in every kind of block is
    found by the walk of statements, in `ast.walk`'s order."""
    sources = [p.read_text(encoding="utf-8") for p in sorted(Path(codekiln.__file__).parent.rglob("*.py"))]
    found = 0
    for text in [NESTED, *sources]:
        tree = ast.parse(text)
        walked = _imports(ast.walk(tree))
        assert _imports(support._statements(tree)) == walked
        found += len(walked)
    assert len(_imports(ast.walk(ast.parse(NESTED)))) == 12
    assert found > 1000


def _snapshot(tmp_path: Path, test_source: str) -> Path:
    files = {
        "pkg/__init__.py": "from . import core\n",
        "pkg/core.py": "def f():\n    return 1\n",
        "pkg/_checks.py": "def close(a, b):\n    return a == b\n",
        "pkg/_nested.py": "def more():\n    return 2\n",
        "tests/test_a.py": test_source,
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    return tmp_path


def test_support_read_from_statements_and_by_name(tmp_path: Path) -> None:
    """A helper imported inside a nested block is support; one loaded by name is too, also where the
    name is written in characters that Python reads as `import_module` (the text is not ASCII, so the
    whole tree is walked)."""
    nested = "try:\n    import pkg._nested\nexcept ImportError:\n    pass\n\ndef test_x():\n    assert True\n"
    assert held_modules(_snapshot(tmp_path / "a", nested), ["tests/test_a.py"]) == {"pkg/_nested.py"}
    by_name = "import importlib\n_c = importlib.import_module('pkg._checks')\n"
    assert held_modules(_snapshot(tmp_path / "b", by_name), ["tests/test_a.py"]) == {"pkg/_checks.py"}
    wide = "import importlib\n_c = importlib.\uff49mport_module('pkg._checks')\n"  # read as import_module
    assert "import_module" not in wide and "import_module" in ast.dump(ast.parse(wide))
    assert held_modules(_snapshot(tmp_path / "c", wide), ["tests/test_a.py"]) == {"pkg/_checks.py"}
    plain = "import pkg.core\n\ndef test_x():\n    assert pkg.core.f() == 1\n"
    assert held_modules(_snapshot(tmp_path / "d", plain), ["tests/test_a.py"]) == frozenset()


def test_a_reexported_module_is_support_only_when_it_checks_results(tmp_path: Path) -> None:
    """A package's `__init__.py` re-exporting names it never reads: the tests' assertion helper behind it
    is support (held and put back), the package's own code behind it stays the library's (a fix belongs
    there: holding it made an honest fix to it, or a library write to it, look like tampering)."""
    files = {
        "pkg/__init__.py": "from ._compare import assert_same\nfrom .core import f\nfrom .errors import Oops\n",
        "pkg/core.py": "def f():\n    return 1\n",
        "pkg/errors.py": "class Oops(Exception):\n    pass\n",
        "pkg/_compare.py": "def assert_same(a, b):\n    if a != b:\n        raise AssertionError(a, b)\n",
        "tests/test_a.py": "from pkg import Oops, assert_same, f\n\n\ndef test_f():\n    assert_same(f(), 1)\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert held_modules(tmp_path, ["tests/test_a.py"]) == {"pkg/_compare.py"}
