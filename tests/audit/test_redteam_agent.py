"""Red team of the agent path (#26's brief): tool calls a policy makes through `codekiln rollout`, on a
real toolz task, real bwrap sandboxes and the real grader. Each test attacks one property and asserts
the exact outcome. Found by trying, not by reading: a NUL byte or a JSON "\\ud800" escape in a tool
argument raised out of the sandbox call, so the episode was never recorded (the run exited 1 and a
rerun played it again), and a file name that is not UTF-8 crashed the writer of rollouts.jsonl, taking
the whole run down; both are now the model's own outcome. The three findings left open then (names git
quotes, a manifest naming the hidden tests, turn tokens forged in tool output) are closed too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import toolz_tasks

from codekiln.core.diffs import parse_diff
from codekiln.envs import load_env
from codekiln.grading import grade_patch, open_task_sandbox
from codekiln.reports.html import build_report
from codekiln.rollouts import Rollout, RolloutConfig, agent_patch, read_rollouts, run_rollouts
from codekiln.rollouts.engine import ROLLOUTS
from codekiln.rollouts.export import export_rollouts
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.testing import make_repo, open_test_sandbox

pytestmark = pytest.mark.root  # real tasks: environment and grading in bwrap sandboxes

HINT = "arguments must be plain text (write such bytes from bash, e.g. printf '\\000')"
SUBMIT = "<tool_call>\n<function=submit>\n</function>\n</tool_call>"


def bash(command: str) -> str:
    return f"<tool_call>\n<function=bash>\n<parameter=command>\n{command}\n</parameter>\n</function>\n</tool_call>"


def view(path: str) -> str:
    params = f"<parameter=command>\nview\n</parameter>\n<parameter=path>\n{path}\n</parameter>\n"
    return f"<tool_call>\n<function=str_replace_editor>\n{params}</function>\n</tool_call>"


def rollout(tmp: Path, outputs: list[str], **kw: object) -> tuple[RolloutConfig, Rollout]:
    """One scripted episode on the first recorded toolz task; the config (to rerun it) and its rollout."""
    script = tmp / "script.json"
    script.write_text(json.dumps(outputs))
    cfg = RolloutConfig.model_validate(
        {"tasks": toolz_tasks(), "out": tmp / "out", "model": f"scripted:{script}", "limit": 1,
         "max_turns": len(outputs) + 1, **kw}
    )  # fmt: skip
    stats = run_rollouts(cfg)
    assert stats.errors == [] and stats.done == 1, stats.errors
    (r,) = read_rollouts(tmp / "out")
    return cfg, r


@pytest.fixture(scope="module")
def odd_bytes(tmp_path_factory: pytest.TempPathFactory) -> tuple[RolloutConfig, Rollout]:
    """An episode that sends a NUL byte in a command and in a path, then leaves files whose names are
    not UTF-8 or are ones git quotes (a double quote, a backslash, a tab, a newline) or splits oddly
    (a space)."""
    names = "printf 'x = 1\\n' > \"$(printf 'toolz/bad\\377.py')\"; printf 'y = 1\\n' > 'toolz/q\"uote.py'"
    names += "; for n in 'ta\\tb' 'new\\nline' 'back\\\\slash' 'sp ace'; do : > \"$(printf \"toolz/$n.txt\")\"; done"
    outputs = [bash("echo a\0b"), view("toolz/\0x"), bash(names), SUBMIT]
    return rollout(tmp_path_factory.mktemp("odd-bytes"), outputs)


def test_a_nul_byte_in_a_tool_argument_is_the_models_error(odd_bytes: tuple[RolloutConfig, Rollout]) -> None:
    _, r = odd_bytes
    assert r.trajectory is not None and r.trajectory.exit_reason == "submitted"
    assert not r.reward.masked and r.reward.value == 0.0 and r.grade is not None
    first, second = (s.observations[0] for s in r.trajectory.steps[:2])
    assert (first.ok, first.text) == (False, f"bash: argument 'command' contains a NUL byte (\\x00); {HINT}")
    assert (second.ok, second.text) == (
        False,
        f"str_replace_editor: argument 'path' contains a NUL byte (\\x00); {HINT}",
    )


def test_a_file_name_that_is_not_utf8_is_recorded_and_resumed(
    odd_bytes: tuple[RolloutConfig, Rollout],
) -> None:
    """The name reaches the record as git wrote it (surrogateescape), and a rerun finds the episode done."""
    cfg, r = odd_bytes
    assert "b/toolz/bad\udcff.py" in r.patch
    stats = run_rollouts(cfg)
    assert (stats.resumed, stats.done, stats.errors) == (1, 1, [])
    assert len((Path(cfg.out) / ROLLOUTS).read_bytes().splitlines()) == 1


def test_a_file_name_that_is_not_utf8_is_exported_and_reported(
    odd_bytes: tuple[RolloutConfig, Rollout], tmp_path: Path
) -> None:
    """The trajectory exporters and the HTML report wrote UTF-8 text and crashed on the same name."""
    cfg, r = odd_bytes
    for to in ("atif", "mini"):
        (path,) = export_rollouts([r], to, tmp_path / to)
        assert "bad\\udcff.py" in path.read_text()  # JSON's escape of the undecodable byte
    report = build_report([Path(cfg.out)], tmp_path / "report.html")
    assert report.rollouts == 1 and "bad\\udcff.py" in (tmp_path / "report.html").read_text()


QUOTED = ['toolz/q"uote.py', "toolz/ta\tb.txt", "toolz/new\nline.txt", "toolz/back\\slash.txt"]


def test_a_file_name_git_quotes_reaches_the_patch(odd_bytes: tuple[RolloutConfig, Rollout]) -> None:
    """`git diff` C-quotes such names ("b/toolz/q\\"uote.py"); parse_diff read the quote as part of the
    name, so the file silently left the agent's patch. Now every file is there, quoted as git quotes it,
    and the grader's `git apply` took the patch (unresolved, not patch_failed)."""
    _, r = odd_bytes
    paths = {fp.path for fp in parse_diff(r.patch)}
    assert {*QUOTED, "toolz/sp ace.txt", "toolz/bad\udcff.py"} <= paths
    assert '+++ "b/toolz/q\\"uote.py"' in r.patch and '+++ "b/toolz/ta\\tb.txt"' in r.patch
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("unresolved", "")


def test_a_lone_surrogate_escape_in_json_arguments_is_the_models_error(tmp_path: Path) -> None:
    """hermes arguments are JSON: "\\ud800" decodes to a lone surrogate, which no process can be given."""
    call = '<tool_call>\n{"name": "bash", "arguments": {"command": "echo \\ud800"}}\n</tool_call>'
    done = '<tool_call>\n{"name": "submit", "arguments": {}}\n</tool_call>'
    _, r = rollout(tmp_path, [call, done], format="hermes")
    assert r.trajectory is not None and not r.reward.masked and r.reward.value == 0.0
    obs = r.trajectory.steps[0].observations[0]
    assert (
        obs.text
        == f"bash: argument 'command' contains an unpaired surrogate ('\\ud800'), which is not text; {HINT}"
    )


def test_a_tree_too_deep_for_python_is_scored_not_lost(tmp_path: Path) -> None:
    """A 1,500-level folder in the agent's change: the grader's os.walk of the workspace raised
    RecursionError, which no one caught, so the episode was lost (the reset the grader does before its
    empty-patch check had the same flaw: tests/sandbox/test_sandbox_workspace.py)."""
    deep = "python -c \"import os\nfor _ in range(1500): os.mkdir('d'); os.chdir('d')\nopen('x', 'w').write('x')\""
    _, r = rollout(tmp_path, [bash(deep), SUBMIT])
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("unresolved", "")
    assert r.reward.value == 0.0 and not r.reward.masked
    assert "/".join(["d"] * 1500) + "/x" in r.patch


def test_an_oversized_change_is_refused_before_it_is_read(tmp_path: Path) -> None:
    write = "python -c \"open('big.txt', 'w').write(('x' * 99 + '\\n') * 80_000)\""  # 8 MB of text
    cfg, r = rollout(tmp_path, [bash(write), SUBMIT])
    assert r.reward.value == 0.0 and not r.reward.masked
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("rejected", "change_too_large")
    assert r.patch == "" and r.trajectory is not None and r.trajectory.diff.startswith("(not read: 8,")
    assert (Path(cfg.out) / ROLLOUTS).stat().st_size < 2_000_000


def test_touching_a_binary_file_of_the_snapshot_leaves_a_patch(tmp_path: Path) -> None:
    """jinja2, attrs and dateutil ship binary files (logos, a zip, a tzfile). An agent that deletes or
    rewrites one made agent_patch raise UnicodeDecodeError reading the snapshot's copy: the episode was
    lost. The change is one a text patch cannot carry, so it is left out, like an unreadable file."""
    snapshot = make_repo(
        tmp_path / "snap", {"pkg/mod.py": "x = 1\n", "docs/logo.png": b"\x89PNG\r\n\x1a\n\xff"}
    )
    task = TaskRecord.model_construct(instance_id="t", bug_patch="", hidden_tests=[])
    with open_test_sandbox(snapshot) as sb:
        sb.exec("rm docs/logo.png && echo 'x = 2' > pkg/mod.py")
        patch = agent_patch(task, sb, snapshot)
    assert (
        patch
        == "diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    )


def test_the_hidden_test_files_are_not_named_in_the_agents_workspace() -> None:
    """The sdist's toolz.egg-info/SOURCES.txt listed every test file, so comparing it with toolz/tests
    named the hidden ones (and the buggy module: test_functoolz.py). The workspace now gets it without
    those lines; an agent that changes nothing leaves an empty patch, and the gold patch still resolves
    (the grader puts the snapshot's own manifest back before the tests run)."""
    task = read_tasks(toolz_tasks() / "tasks.jsonl")[0]
    env = load_env(task.environment_id or "")
    snapshot = Path(env.snapshot_path)
    assert "toolz/tests/test_functoolz.py" in (snapshot / "toolz.egg-info/SOURCES.txt").read_text()
    with open_task_sandbox(task, env) as sb:
        named = {
            rel: sb.exec(["grep", "-rlF", "--exclude-dir=.git", rel, "/testbed"]).stdout
            for rel in task.hidden_tests
        }
        listed = sb.read_file("toolz.egg-info/SOURCES.txt").decode()
        assert agent_patch(task, sb, snapshot) == ""
    assert named == dict.fromkeys(task.hidden_tests, "")
    assert "toolz/tests/test_curried.py" in listed  # the visible tests stay listed
    assert grade_patch(task, env, task.patch).outcome == "resolved"
