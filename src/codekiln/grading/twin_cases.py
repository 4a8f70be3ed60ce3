"""The ids a twin gives the parametrized cases it changes, and the runs that ask for them.

A case named by its scalar values (`test_scale[2-3-6]`) shows its answer in its id, which the test
process holds (`sys.argv`, an `@file` of ids, pytest's session). The twin changes those values too
(`grading.twins`), so the case has another id in the twin's files (`test_scale[2-3-7]`): the twin's runs
ask for the twin's ids, as a real run asks for the real ones, and read their statuses back under the real
ids.

    cases = learn_apart(task, env, backend, gold, twin, tests)   # real id -> twin id (the gold's run)
    asked = [cases.get(t, t) for t in tests]; statuses = read_back(run.statuses, cases)

The cases of a function are paired by their place in each run's own collection order: the environment's
baseline on the real side, a `--collect-only` of the changed functions on the twin's files on the other.
Ids built from literal scalars do not depend on the library, so the map is kept with the task's twin
(`twin_check`). A function whose case counts differ, or whose ids repeat, is left out: its cases are
asked for by their real ids, which its twin lacks (missing, as the gold's are there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from codekiln.core.protocols import Sandbox
from codekiln.grading import unstable_ids
from codekiln.grading.graded import GradedWorkspace
from codekiln.grading.runner import TestCommand
from codekiln.grading.subject import GradedTask, GradingEnv


def functions_of(tests: Iterable[str], files: Iterable[str]) -> list[str]:
    """The function ids of the parametrized cases among `tests` whose file the twin changes."""
    changed = set(files)
    return sorted(
        {
            unstable_ids.function_id(t)
            for t in tests
            if "[" in t.partition("::")[2]
            and t.split("::", 1)[0] in changed
            and not unstable_ids.is_unstable(t)
        }
    )


def case_map(real: Sequence[str], twin: Sequence[str], functions: Iterable[str]) -> dict[str, str]:
    """real id -> twin id of each case of `functions` whose id differs, paired by place within its
    function in each run order (`real`, `twin`: ids in collection order)."""
    out: dict[str, str] = {}
    for function in functions:
        mine = [t for t in real if _case_of(t, function)]
        theirs = [t for t in twin if _case_of(t, function)]
        if len(mine) != len(theirs) or len(set(mine)) != len(mine) or len(set(theirs)) != len(theirs):
            continue
        out.update((a, b) for a, b in zip(mine, theirs, strict=True) if a != b)
    return out


def _case_of(test_id: str, function: str) -> bool:
    return test_id.startswith(f"{function}[") and test_id.endswith("]")


def collected(output: str, functions: Iterable[str]) -> list[str]:
    """The case ids of `functions` that `pytest --collect-only -q` printed, in its order."""
    wanted = tuple(f"{f}[" for f in functions)
    return [line.strip() for line in output.splitlines() if line.strip().startswith(wanted)]


def learn(
    sb: Sandbox, command: TestCommand, tests: list[str], files: Iterable[str], real: Sequence[str]
) -> dict[str, str]:
    """The map of the twin's files written in `sb` (a trusted tree: the gold's): its changed functions
    collected with the environment's test command, paired with `real` (the baseline's ids). The
    verbosity is set after every option (an ini file's `addopts = -v` comes first): a verbose
    collection prints a tree, not the ids `collected` reads."""
    functions = functions_of(tests, files)
    if not functions:
        return {}
    options = [a for a in command.args if a.startswith("-")]
    argv = ["python", "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", sb.workdir, "--collect-only"]
    result = sb.exec(
        [*argv, "--color=no", *options, "--verbosity=-1", *functions],  # last: over an `addopts = -v`
        timeout=command.timeout_s,
        env={**command.env, "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=sb.workdir,
    )
    return case_map(real, collected(result.stdout, functions), functions)


def learn_apart(
    task: GradedTask, env: GradingEnv, backend: str, patch: str, twin: Mapping[str, str], tests: list[str]
) -> dict[str, str]:
    """`learn`, in a sandbox of its own (the gold's tree with the twin's files written in), closed after:
    the collection is unguarded and runs the suite's conftests, whose side effects (a folder made at
    import, a lock taken and let go by a session fixture that a collection never runs) must not reach
    the gold's twin run that the map is for (twenty-fifth red team: collect-side-effect, collect-lock)."""
    if not functions_of(tests, twin):
        return {}
    sb = env.open_sandbox(backend)
    try:
        if GradedWorkspace(sb, task, env).prepare(patch):
            return {}  # the gold does not apply: its twin run says so
        for rel, text in twin.items():
            sb.write_file(rel, text)
        return learn(sb, env.test, tests, twin, list(env.baseline))
    finally:
        sb.close()


def asked(tests: Iterable[str], cases: Mapping[str, str]) -> list[str]:
    return [cases.get(t, t) for t in tests]


def read_back(statuses: Mapping[str, str], cases: Mapping[str, str]) -> dict[str, str]:
    """A twin's run's `statuses` (or messages) under the real ids."""
    back = {twin: real for real, twin in cases.items()}
    return {back.get(t, t): s for t, s in statuses.items()}


__all__ = ["asked", "case_map", "collected", "functions_of", "learn", "learn_apart", "read_back"]
