"""What checking the operands of the tests' comparisons (`grading.guard_plugin_equality`) costs per test.

    .venv/bin/python bench/guard_equality.py                  # 20000 tests, 5 rounds
    .venv/bin/python bench/guard_equality.py --tests 5000 --rounds 3

One generated test module of `--tests` functions, each comparing as suites do: two numbers, a list of
ten floats with its copy, and a dict holding a dataclass (the slow road: a dataclass's generated
`__eq__` is probed). It is compiled twice from the same source: (a) as the guard compiles it
(`guard_plugin_bodies.wrap_tests`, each comparison a call of the check, bound to a real `Equality`
that judges code with the real `Machinery`), and (b) plainly; each round calls every test function of
both, interleaved. Prints the median CPU time per test of each and the difference, in microseconds.
pytest's own per-test cost (about 100-300 us a test in a plain run) is the scale to read it against.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import time
from typing import Any

from codekiln.grading import guard_plugin_bodies
from codekiln.grading.guard_plugin_equality import Equality
from codekiln.grading.guard_plugin_machinery import Machinery

HEAD = (
    "import dataclasses\n\n\n@dataclasses.dataclass\nclass P:\n    x: int\n\n\n"
    "def double(k):\n    return 2 * k\n\n\nFLOATS = [i / 7 for i in range(10)]\n\n\n"
)
TEST = (
    "def test_{i}():\n    assert double({i}) == {j}\n    assert list(FLOATS) == FLOATS\n"
    "    assert {{'p': P({i})}} == {{'p': P({i})}}\n\n\n"
)


def module(n: int, guarded: bool) -> dict[str, Any]:
    source = HEAD + "".join(TEST.format(i=i, j=2 * i) for i in range(n))
    tree = ast.parse(source)
    space: dict[str, Any] = {}
    if guarded:
        guard_plugin_bodies.wrap_tests(tree, ["test"], "bench_equality.py")
        check = Equality()
        check.bind(Machinery("/nonexistent-tree"), None, [])
        code = guard_plugin_bodies.bind(compile(tree, "bench_equality.py", "exec"), lambda keys: None, check)
    else:
        code = compile(tree, "bench_equality.py", "exec")
    exec(code, space)
    return space


def run(space: dict[str, Any], n: int) -> float:
    tests = [space[f"test_{i}"] for i in range(n)]
    start = time.process_time()
    for test in tests:
        test()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    guarded, plain = module(args.tests, True), module(args.tests, False)
    times: dict[str, list[float]] = {"guarded": [], "plain": []}
    for _ in range(args.rounds):
        times["guarded"].append(run(guarded, args.tests))
        times["plain"].append(run(plain, args.tests))
    per = {k: statistics.median(v) / args.tests * 1e6 for k, v in times.items()}
    print(f"{args.tests} tests, {args.rounds} rounds, median CPU time per test (3 comparisons each):")
    print(
        f"  checked: {per['guarded']:.1f} us   plain: {per['plain']:.1f} us   cost: {per['guarded'] - per['plain']:.1f} us"
    )


if __name__ == "__main__":
    main()
