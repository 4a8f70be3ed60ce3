"""The execution worker through its real sandbox (bwrap as root, else the local backend): per-call limits,
output normalisation, argument isolation and the (program, input) cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codekiln.verify.exec_worker import normalise
from codekiln.verify.runner import Program, Runner


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with Runner(timeout_s=0.5, memory_mb=256) as r:
        yield r


def one(runner: Runner, body: str, arg: str = "(1,)") -> str:
    prog = Program(f"import os\n\ndef f(x):\n{body}\n", "f")
    return runner.run([prog], [arg])[(prog.key, arg)]


def test_results_and_errors_are_normalised_texts(runner: Runner) -> None:
    assert one(runner, "    return x + 1") == "2"
    assert one(runner, "    return [x / 3, (x, 2.0)]") == "[0.333333, (1, 2)]"
    assert one(runner, "    return {3, x}") == repr(("<set>", ["1", "3"]))
    assert one(runner, "    raise KeyError(x)") == "!raise:KeyError"
    assert one(runner, "    return x +") == "!load:SyntaxError"
    assert one(runner, "    return (i for i in [x])") == "'<generator>'"


def test_python_loop_times_out(runner: Runner) -> None:
    assert one(runner, "    while True:\n        pass") == "!timeout"


def test_call_stuck_in_c_code_is_killed_and_the_next_calls_still_run(runner: Runner) -> None:
    prog = Program("def f(x):\n    return sum(range(10**12)) if x else 7\n", "f")
    outs = runner.run([prog], ["(1,)", "(0,)"])
    assert outs[(prog.key, "(1,)")] == "!timeout"
    assert outs[(prog.key, "(0,)")] == "7"


def test_memory_limit_gives_memory_error(runner: Runner) -> None:
    assert one(runner, "    return len(bytearray(1 << 30))") == "!memory"


def test_crash_is_recorded_and_the_worker_survives(runner: Runner) -> None:
    assert one(runner, "    os._exit(3)") == "!crash"
    assert one(runner, "    os.kill(os.getpid(), 9)") == "!crash"
    assert one(runner, "    return 5") == "5"


def test_printing_does_not_corrupt_the_protocol(runner: Runner) -> None:
    assert one(runner, "    print('{\"outputs\": [1]}')\n    return 4") == "4"


def test_an_argument_mutated_by_one_call_is_fresh_in_the_next(runner: Runner) -> None:
    prog = Program("def f(xs):\n    xs.append(1)\n    return len(xs)\n", "f")
    other = Program("def f(xs):\n    return len(xs)\n", "f")
    outs = runner.run([prog, other], ["([0],)"])
    assert outs[(prog.key, "([0],)")] == "2"
    assert outs[(other.key, "([0],)")] == "1"


def test_cache_serves_repeats_and_survives_a_new_runner(tmp_path: Path) -> None:
    cache = tmp_path / "cache.jsonl"
    prog = Program("def f(x):\n    return x * 2\n", "f")
    inputs = [f"({i},)" for i in range(20)]
    with Runner(cache_path=cache) as first:
        outs = first.run([prog], inputs)
        assert first.executions == 20
        again = first.run([prog], inputs)
        assert first.executions == 20 and again == outs
    with Runner(cache_path=cache) as second:
        assert second.run([prog], inputs) == outs
        assert second.executions == 0 and second.lookups == 20
    assert outs[(prog.key, "(7,)")] == "14"


def test_normalise_rounds_floats_and_keeps_container_kinds() -> None:
    assert normalise(0.1 + 0.2) == normalise(0.3)
    assert normalise(2.0) == "2"
    assert normalise((1, 2)) != normalise([1, 2])
    assert normalise({"b": 1, "a": 2}) == normalise({"a": 2, "b": 1})
    assert normalise(float("nan")) == "'nan'"


def test_a_program_that_hangs_stops_costing_after_its_strikes(runner: Runner) -> None:
    prog = Program("def f(x):\n    while x:\n        pass\n    return 0\n", "f")
    inputs = [f"({i},)" for i in range(1, 30)] + ["(0,)"]
    outs = runner.run([prog], inputs)
    assert {outs[(prog.key, t)] for t in inputs} == {"!timeout"}  # (0,) too: skipped after 3 strikes
    later = runner.run([prog], ["(False,)"])  # and in later requests: it is not run again
    assert later[(prog.key, "(False,)")] == "!timeout"
    fine = Program("def f(x):\n    while x:\n        pass\n    return 1\n", "f")
    assert runner.run([fine], ["(False,)"])[(fine.key, "(False,)")] == "1"  # the same code, untouched
