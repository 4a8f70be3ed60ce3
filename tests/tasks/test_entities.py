"""Entities of real code (toolz) and of a small project with the layouts the skip rules exist for."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codekiln.core.errors import ConfigError, TaskError
from codekiln.tasks.frontend.entities import LANGUAGES, Entity, find_entities, iter_source_files


def test_toolz_entities(toolz_repo: Path, toolz_entities: list[Entity]) -> None:
    by_id = {e.id: e for e in toolz_entities}
    assert by_id["toolz/itertoolz.py::groupby"].kind == "function"
    assert by_id["toolz/functoolz.py::curry"].kind == "class"
    assert by_id["toolz/functoolz.py::curry.__init__"].kind == "method"
    assert by_id["toolz/functoolz.py::curry"].signature == "class curry"
    assert by_id["toolz/functoolz.py::InstanceProperty"].signature == "class InstanceProperty(property)"
    assert by_id["toolz/itertoolz.py::last"].signature == "def last(seq)"
    assert len(toolz_entities) > 150
    assert not [e for e in toolz_entities if "/tests/" in e.file or e.file.startswith("tests/")]
    for e in toolz_entities:
        lines = (toolz_repo / e.file).read_text().split("\n")
        assert e.code == "\n".join(lines[e.start_line - 1 : e.end_line]) + "\n"
        assert e.complexity >= 1
    # complexity counts branches: groupby (a loop) ranks above the one-line `last`
    assert by_id["toolz/itertoolz.py::groupby"].complexity > by_id["toolz/itertoolz.py::last"].complexity


def test_sorted_and_deterministic(toolz_repo: Path, toolz_entities: list[Entity]) -> None:
    keys = [(e.file, e.start_line) for e in toolz_entities]
    assert keys == sorted(keys)
    assert [e.id for e in find_entities(toolz_repo)] == [e.id for e in toolz_entities]


PROJECT = {
    "pkg/__init__.py": "",
    "pkg/core.py": (
        "import functools\n\n"
        "@functools.lru_cache\n"
        "def cached(x):\n"
        "    return x * 2\n\n"
        "class Outer(Base):\n"
        "    '''doc'''\n"
        "    class Inner:\n"
        "        def method(self, a, *, b=1) -> int:\n"
        "            def helper():\n"
        "                return a\n"
        "            return helper() + b\n\n"
        "    async def run(self):\n"
        "        if self and self.x or self.y:\n"
        "            return 1\n\n"
        "try:\n"
        "    def optional():\n"
        "        pass\n"
        "except ImportError:\n"
        "    pass\n"
    ),
    "pkg/broken.py": "def f(:\n",
    "pkg/tests/test_core.py": "def test_x():\n    pass\n",
    "pkg/test_inline.py": "def test_y():\n    pass\n",
    "pkg/core_test.py": "def test_z():\n    pass\n",
    "conftest.py": "def fixture():\n    pass\n",
    "setup.py": "def setup():\n    pass\n",
    "docs/conf.py": "def doc():\n    pass\n",
    "examples/demo.py": "def demo():\n    pass\n",
    ".venv/lib/site.py": "def hidden():\n    pass\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for rel, text in PROJECT.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_skip_rules_and_nesting(project: Path) -> None:
    assert [str(p) for p in iter_source_files(project)] == ["pkg/__init__.py", "pkg/broken.py", "pkg/core.py"]
    skipped: list[str] = []
    entities = find_entities(project, skipped=skipped)
    assert skipped == ["pkg/broken.py"]
    assert [(e.qualname, e.kind) for e in entities] == [
        ("cached", "function"),
        ("Outer", "class"),
        ("Outer.Inner", "class"),
        ("Outer.Inner.method", "method"),
        ("Outer.run", "method"),
        ("optional", "function"),
    ]
    cached, outer, _, method, run, _ = entities
    assert (cached.start_line, cached.end_line) == (3, 5)  # the decorator is part of the span
    assert cached.code.startswith("@functools.lru_cache\ndef cached(x):")
    assert method.signature == "def method(self, a, *, b=1) -> int"
    assert run.signature == "async def run(self)"
    assert run.complexity == 4  # 1, plus the if, plus one each for `and` and `or`
    assert outer.signature == "class Outer(Base)"
    ast.parse(outer.code)


def test_unknown_language_and_bad_root(project: Path) -> None:
    assert "python" in LANGUAGES.names()
    with pytest.raises(ConfigError, match="unknown language"):
        find_entities(project, language="cobol")
    with pytest.raises(TaskError, match="not a directory"):
        find_entities(project / "missing")
