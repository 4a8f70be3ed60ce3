"""The slow tier's red-team cases name their cover rightly: each `tiering.paths(module, test)` sits on
`test` of `module`, and every `module::test` a `covered_by` reason names is a test of that module that
is not itself slow (a renamed or moved test leaves no skip reason pointing at nothing)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

AUDIT = Path(__file__).resolve().parent
NAMED = re.compile(r"(test_\w+\.py)::(test_\w+)")


def _slow(fn: ast.FunctionDef) -> bool:
    return any("slow" in ast.unparse(d) and "parametrize" not in ast.unparse(d) for d in fn.decorator_list)


def _tests() -> dict[str, dict[str, ast.FunctionDef]]:
    out: dict[str, dict[str, ast.FunctionDef]] = {}
    for path in sorted(AUDIT.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        out[path.name] = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    return out


def test_each_paths_call_names_the_test_it_decorates() -> None:
    seen = 0
    for module, functions in _tests().items():
        for name, fn in functions.items():
            for deco in fn.decorator_list:
                for call in ast.walk(deco):
                    if isinstance(call, ast.Call) and ast.unparse(call.func) == "paths":
                        assert [ast.literal_eval(a) for a in call.args] == [module, name], ast.unparse(call)
                        seen += 1
    assert seen >= 20  # the red-team modules' agent cases (see tiering.py)


def test_every_cover_a_slow_case_names_is_a_default_test_of_its_module() -> None:
    tests = _tests()
    reasons = [
        ast.literal_eval(node.value)
        for path in sorted(AUDIT.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.keyword) and node.arg == "covered_by" and isinstance(node.value, ast.Constant)
    ]
    reasons += [
        ast.literal_eval(node.value)
        for node in ast.walk(ast.parse((AUDIT / "tiering.py").read_text()))
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "AGENT_COVER"
    ]
    named = [m.groups() for reason in reasons for m in NAMED.finditer(reason)]
    assert len(named) >= 4, reasons
    for module, test in named:
        assert test in tests.get(module, {}), f"{module}::{test} is no test"
        assert not _slow(tests[module][test]), f"{module}::{test} is slow itself"
