"""`ast.parse` in threads: CPython 3.11 keeps the ast module's recursion depth in state every thread
shares, so a parse in one thread beside the standard library's own in another (`traceback` parses the
failing line to place its carets) failed with "SystemError: AST constructor recursion depth mismatch".
That broke a rollout's oracle episode in CI. `core.pyast`, imported by the executors, puts one lock
into `ast.parse` itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

RACE = """
import ast, sys, threading, time, traceback
if sys.argv[1] == "codekiln":
    import codekiln.core.executor  # what a rollout's or a grade's thread pool imports
source = "\\n".join(
    f"def f{i}(a, b=[1, {{'x': (3, 4)}}]):\\n    return [x * y for x in a for y in b if x > {i}]"
    for i in range(100)
)
errors, done = [], threading.Event()

class Cycle:
    def __del__(self):
        time.sleep(0)  # Python run by the garbage collector mid-parse: another thread may run

def parser():
    for _ in range(int(sys.argv[2])):
        for _ in range(30):
            a, b = Cycle(), Cycle()
            a.other, b.other = b, a
        try:
            ast.parse(source)
        except SystemError as err:
            errors.append(str(err))
            break
    done.set()

def formatter():  # what an episode's error report does in another thread
    while not done.is_set():
        try:
            {}["missing"]
        except KeyError:
            traceback.format_exc()
            ast.literal_eval("[1, (2, {'a': 3})]")

sys.setswitchinterval(1e-6)
threads = [threading.Thread(target=parser), threading.Thread(target=formatter)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors[0] if errors else "clean")
"""


def race(mode: str, parses: int) -> str:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", RACE, mode, str(parses)], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="Python 3.13 keeps the ast depth per call")
def test_the_race_is_real_without_the_lock() -> None:
    assert "recursion depth mismatch" in race("plain", 2000)


def test_parses_in_threads_beside_tracebacks_never_collide() -> None:
    assert race("codekiln", 150) == "clean"


def test_install_is_idempotent_and_keeps_parse_working() -> None:
    import ast

    from codekiln.core import pyast

    once = ast.parse
    pyast.install()
    assert ast.parse is once
    assert ast.literal_eval("[1, (2, 3)]") == [1, (2, 3)]
    assert isinstance(pyast.parse("x = 1"), ast.Module)
