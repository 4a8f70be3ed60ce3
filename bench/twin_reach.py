"""How many tasks the twin check reaches (`grading.twins`), and which test shapes leave the others
without a twin: each a task where a patch reading the answers from the tests resolves unopposed.

    CODEKILN_HOME=<test home> .venv/bin/python bench/twin_reach.py TASKS.jsonl ...
    CODEKILN_HOME=<test home> .venv/bin/python bench/twin_reach.py --home-tasks   # the home's test-cache

For each task: whether its FAIL_TO_PASS tests give the twin a literal to change (a twin), and whether the
gold fails that twin (a kept twin: read from the home's twin cache, `--grade` works the uncached ones out
through the real grader, the gold's twin run, once per task). For a task with no twin, the shapes its
FAIL_TO_PASS tests hold (a task may show several): `fixture`, `tolerance` (`isclose`, `approx`...),
`raises-match`, `blank-string`, `wrapped-literal` (`== D({"a": 2})`), `library-call` (`== Point(1, 2)`),
`helper-assert` (`assert_close(x, 2.5)`), `named-table` (`CASES["total"]`, built at run time),
`bare-assert` (`assert f(x)`, `assert not f(x)`); `computed` where none (answers the test computes).
Prints the shares and the reasons' counts.
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import Counter
from pathlib import Path

from codekiln.core.config import home, state_dir
from codekiln.envs import load_env
from codekiln.grading.twin_check import _cached, _key, kept_twin
from codekiln.grading.twin_wrapped import is_literal, safe_callees
from codekiln.grading.twins import twin_files
from codekiln.tasks.records import TaskRecord

TOLERANT = {"isclose", "allclose", "assert_allclose", "assert_almost_equal", "assertalmostequal", "approx"}


def functions(source: str, tests: list[str], rel: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    names = {t.split("::")[-1].split("[", 1)[0] for t in tests if t.split("::", 1)[0] == rel}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in names
    ]


def name_of(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else None
    return (
        func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    ).lower()


def shapes(f: ast.FunctionDef | ast.AsyncFunctionDef, safe: frozenset[str]) -> set[str]:
    """The shapes of `f` that hold an answer the twin leaves alone."""
    out: set[str] = set()
    params = set()
    for dec in f.decorator_list:
        if isinstance(dec, ast.Call) and name_of(dec) == "parametrize" and dec.args:
            first = dec.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                params |= {p.strip() for p in first.value.split(",")}
    args = {a.arg for a in f.args.args} - {"self", "cls"} - params
    for node in ast.walk(f):
        if isinstance(node, ast.Name) and node.id in args:
            out.add("fixture")
        name = name_of(node)
        if isinstance(node, ast.Call) and name in TOLERANT and any(is_literal(a) for a in node.args):
            out.add("tolerance")
        if isinstance(node, ast.Call) and (
            name == "assertraisesregex" or (name == "raises" and any(k.arg == "match" for k in node.keywords))
        ):
            out.add("raises-match")
        helper = name.startswith("assert") and "equal" not in name and "raise" not in name
        if helper and isinstance(node, ast.Call) and len(node.args) >= 2 and any(map(is_literal, node.args)):
            out.add("helper-assert")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id.isupper():
            out.add("named-table")
        if isinstance(node, ast.Assert) and not isinstance(node.test, ast.Compare):
            out.add("bare-assert")
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq) for op in node.ops):
            for side in (node.left, *node.comparators):
                out |= side_shapes(side, safe)
    return out


def side_shapes(side: ast.expr, safe: frozenset[str]) -> set[str]:
    """The shapes of one side of an equality."""
    if isinstance(side, ast.Constant) and isinstance(side.value, str):
        return set() if any(c.isalnum() for c in side.value) else {"blank-string"}
    wrapped = isinstance(side, ast.Call) and name_of(side) not in TOLERANT and side.args
    if wrapped and all(map(is_literal, side.args)) and not is_literal(side):  # type: ignore[union-attr]
        return {"wrapped-literal" if name_of(side) in {n.lower() for n in safe} else "library-call"}
    return set()


def reasons(task: TaskRecord, snapshot: Path) -> set[str]:
    out: set[str] = set()
    for rel in sorted({t.split("::", 1)[0] for t in task.FAIL_TO_PASS}):
        path = snapshot / rel
        if not rel.endswith(".py") or not path.is_file():
            out.add("not-a-python-test")
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            safe = safe_callees(ast.parse(source))
        except SyntaxError:
            safe = frozenset()
        for f in functions(source, task.FAIL_TO_PASS, rel):
            out |= shapes(f, safe)
    return out or {"computed"}


def kept(task: TaskRecord, snapshot: Path, files: dict[str, str], grade: bool) -> bool | None:
    """Whether the gold fails the twin: None where that is not known yet (not cached, no `--grade`)."""
    if grade:
        from codekiln.grading import grade_patch

        env = load_env(task.environment_id or "")
        return kept_twin(task, snapshot, lambda p, **kw: grade_patch(task, env, p, **kw)) is not None
    cached = _cached(state_dir("twins") / f"{_key(task, snapshot, files)}.json")
    return None if cached is None else bool(cached[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("tasks", nargs="*", type=Path, help="tasks.jsonl files")
    parser.add_argument("--home-tasks", action="store_true", help="also every test-cache/*/tasks.jsonl")
    parser.add_argument("--grade", action="store_true", help="work uncached kept twins out (bwrap runs)")
    parser.add_argument("--list", action="store_true", help="print each twinless task and its reasons")
    args = parser.parse_args()
    paths = list(args.tasks) + (sorted(home().glob("test-cache/*/tasks.jsonl")) if args.home_tasks else [])
    total, twinned, known, kept_n = 0, 0, 0, 0
    why: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            task = TaskRecord.model_validate(json.loads(line))
            snapshot = Path(load_env(task.environment_id or "").snapshot_path)
            total += 1
            files = twin_files(snapshot, list(task.FAIL_TO_PASS), seed=task.instance_id)
            if files:
                twinned += 1
                state = kept(task, snapshot, files, args.grade)
                known += state is not None
                kept_n += bool(state)
                continue
            found = reasons(task, snapshot)
            why.update(found)
            if args.list:
                print(f"  {task.instance_id}: {', '.join(sorted(found))}")
    print(
        f"tasks {total}: with a twin {twinned} ({twinned / max(total, 1):.0%}); kept {kept_n} of the {known} known"
    )
    print("without a twin, by shape (a task may show several):")
    for reason, n in why.most_common():
        print(f"  {reason}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
