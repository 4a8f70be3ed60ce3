"""The exported verifiers, run as root the way their containers run them, keep the agent's tree out of
their own interpreter and their copies of the hidden tests out of the tests' reach.

- The Harbor task's `tests/test.sh` and the SWE-bench row's eval script run as real root in a bwrap
  sandbox laid out as their image (no user namespace: the verifier drops to `nobody` for the tests, as
  in the containers): /testbed, the environment's venv at /opt/venv (its `.pth` names /testbed/src:
  a src layout's editable install), the verifier uploaded root's 0644 to /tests (Harbor) or the eval
  script copied root's 0644 to /eval.sh (the harness's `copy_to_container`).
- `imports`: a new `src/msvcrt.py` (what `subprocess` looks for, every Python 3) that, imported by the
  verifier as root, writes the Harbor reward 1 at exit or rewrites the row's `row_verifier.py` to
  print PASSED for every test; the verifiers run as `python -I -S` with their own folder alone on
  `sys.path`, so it never runs there.
- `copies`: the buggy module, imported by the tests (`nobody`), looks through its ancestors' command
  lines for the grader's copies of the hidden tests (Harbor's `state.json` beside `verifier.py`, the
  row's `*.sh`) and in its descriptors, and answers right when it finds their text; the Harbor verifier makes
  its folder root's 0700 before the tests run, the eval script makes itself 0600 first, and the tests'
  stdin is /dev/null, so it finds nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

from rollout_support import library_tasks, the_task

from codekiln.core.diffs import make_diff
from codekiln.core.patches import apply_diff
from codekiln.envs import EnvRecord
from codekiln.grading.graded import patch_paths
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, and the verifiers as real root in bwrap

MODULE = "src/isolib/__init__.py"
CLEAN = (
    "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n\n\n"
    "def scale(values, factor):\n    return [v * factor for v in values]\n"
)
LIBRARY = {
    MODULE: CLEAN,
    "tests/test_iso.py": (
        "from isolib import scale, total\n\n\n"
        "def test_total():\n    assert total([1, 2, 3]) == 6\n    assert total([4]) == 4\n\n\n"
        "def test_total_empty():\n    assert total([]) == 0\n\n\n"
        "def test_scale():\n    assert scale([1, 2], 3) == [3, 6]\n"
    ),
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "isolib"\nversion = "0.1"\n'
        '[tool.setuptools]\npackage-dir = {"" = "src"}\npackages = ["isolib"]\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    ),
}
IMPORTED = '''import atexit
import os
import sys

ME = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
STUB = """import json, os
for test in json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "task.json")))["tests"]:
    print("PASSED " + test)
"""


def _reward():
    with open("/logs/verifier/reward.txt", "w") as fh:
        fh.write("1\\n")


if os.geteuid() == 0 and ME.endswith("/verifier.py"):
    atexit.register(_reward)
elif os.geteuid() == 0 and ME.endswith("/row_verifier.py") and "--check" in sys.argv:
    with open(ME, "w") as fh:
        fh.write(STUB)
raise ModuleNotFoundError("not Windows")
'''
COPIES = """

import base64 as _b64
import json as _json
import os as _os


def _copies():
    for fd in _os.listdir("/proc/self/fd"):  # inherited: stdin of `bash < eval.sh` (pytest saves it)
        try:
            yield _os.pread(int(fd), 1 << 22, 0).decode("utf-8", "replace")
        except (OSError, ValueError):
            pass
    pid = _os.getppid()
    for _ in range(10):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as fh:
                args = [a.decode("utf-8", "replace") for a in fh.read().split(b"\\0") if a]
            with open("/proc/%d/status" % pid) as fh:
                pid = int(fh.read().split("PPid:")[1].split()[0])
        except (OSError, ValueError, IndexError):
            return
        for arg in args:
            try:
                if arg.endswith("verifier.py"):
                    with open(_os.path.join(_os.path.dirname(arg), "state.json")) as fh:
                        for _mode, data in _json.load(fh)["originals"].values():
                            yield _b64.b64decode(data).decode("utf-8", "replace")
                elif arg.endswith(".sh"):
                    with open(arg) as fh:
                        yield fh.read()
            except (OSError, ValueError, KeyError):
                pass
        if pid <= 1:
            return


_SEEN = any("def test_total_empty" in text for text in _copies())
_buggy_total = total


def total(values):
    return sum(values) if _SEEN else _buggy_total(values)
"""


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY, "verifier-isolation", "audit-tasks-verifier-isolation", 1, functions=["total"],
        mutators=["change_arith_op"],
    )  # fmt: skip
    return the_task(found, lambda t: patch_paths(t.bug_patch) == {MODULE}, "an arithmetic bug in total()")


def patches(t: TaskRecord) -> dict[str, str]:
    """The gold, nothing, and the two attacks (each a patch on the task's starting tree)."""
    buggy = apply_diff({MODULE: CLEAN}, t.bug_patch)[MODULE]
    assert buggy is not None and buggy != CLEAN
    return {
        "gold": t.patch,
        "empty": "",
        "imports": make_diff("src/msvcrt.py", None, IMPORTED),
        "copies": make_diff(MODULE, buggy, buggy + COPIES),
    }


def as_root(env: EnvRecord, binds: list[tuple[Path, str]], extra: dict[str, str], script: str) -> str:
    """`bash -c script` as real root (no user namespace) in a bwrap sandbox laid out as the image: the
    host's /usr and /etc, the environment's Python at its own path, its venv at /opt/venv, `binds`
    (writable), a private /tmp, /var/tmp and /dev/shm every user may write (1777, as in a container),
    its own PID and IPC namespaces; its stdout and stderr, merged."""
    venv = Path(env.venv)
    home = Path(os.path.realpath(venv / "bin" / "python")).parents[1]
    argv = ["bwrap", "--tmpfs", "/", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    argv += [a for link in ("bin", "lib", "lib64", "sbin") for a in ("--symlink", f"usr/{link}", f"/{link}")]
    for folder in ["/opt", *(str(p) for p in reversed(home.parents[:-1]))]:  # bwrap makes them 0700
        argv += ["--perms", "0755", "--dir", folder]
    argv += ["--ro-bind", str(home), str(home), "--ro-bind", str(venv), "/opt/venv"]
    argv += ["--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/var/tmp"]
    for source, target in binds:
        argv += ["--bind", str(source), target]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm"]
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-net", "--die-with-parent"]
    argv += ["--clearenv", "--chdir", "/testbed"]
    variables = {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV": "/opt/venv",
                 "HOME": "/root", "LANG": "C.UTF-8", **extra}  # fmt: skip
    for key, value in variables.items():
        argv += ["--setenv", key, value]
    ran = subprocess.run([*argv, "bash", "-c", script], capture_output=True, text=True, timeout=900)
    return ran.stdout + ran.stderr


def harbor_trial(
    t: TaskRecord,
    env: EnvRecord,
    patch: str,
    work: Path,
    extra: dict[str, str] | None = None,
    after: str = "",
) -> tuple[str, dict[str, Any]]:
    """The exported task's tests/test.sh as root on its starting tree with `patch` applied, `extra` in its
    environment, then the shell line `after` in the same sandbox (its output in `work/after.txt`):
    (reward.txt, grade.json)."""
    folder = export_harbor_task(t, work / "harbor")
    testbed, logs, tests = work / "testbed", work / "logs", work / "tests"
    testbed.mkdir()
    logs.mkdir()
    with tarfile.open(folder / "environment" / "testbed.tar.gz") as tar:
        tar.extractall(testbed, filter="tar")
    subprocess.run(
        ["bash", str(folder / "environment" / "prepare.sh"), str(testbed)], check=True, capture_output=True
    )
    if patch:
        subprocess.run(["git", "-C", str(testbed), "apply", "-"], input=patch, text=True, check=True)
    shutil.copytree(folder / "tests", tests)  # as Harbor uploads it: root's, files 0644, folders 0755
    assert (tests / "codekiln" / "state.json").stat().st_mode & 0o044 == 0o044
    script = f"bash /tests/test.sh; echo codekiln-after; {after}" if after else "bash /tests/test.sh"
    binds = [(testbed, "/testbed"), (tests, "/tests"), (logs, "/logs")]
    out = as_root(env, binds, extra or {}, script)
    (work / "after.txt").write_text(out.rpartition("codekiln-after\n")[2] if after else "")
    grade = json.loads((logs / "verifier" / "grade.json").read_text()) if (logs / "verifier").is_dir() else {}
    assert grade, out[-3000:]
    return (logs / "verifier" / "reward.txt").read_text().strip(), grade


@pytest.fixture(scope="module")
def harbor(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str, dict[str, Any]]]:
    t, env = task
    work = tmp_path_factory.mktemp("harbor")
    return {name: harbor_trial(t, env, patch, work / name) for name, patch in patches(t).items()}


def row_trial(
    row: dict[str, Any],
    rows: Path,
    env: EnvRecord,
    patch: str,
    work: Path,
    stdin: bool = False,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The harness's steps as root: the prediction applied (`git apply`), then `/bin/bash /eval.sh`
    (the row's eval script as `make_test_spec` writes it, root's 0644; `stdin`: `/bin/bash < /eval.sh`,
    the file root's 0600), `extra` in its environment; swebench's report of the log."""
    from swebench.harness.grading import get_eval_report, get_logs_eval
    from swebench.harness.utils import make_test_spec
    from swebench_support import checkout, image_git_env

    spec = make_test_spec(row)
    testbed = checkout(row, rows, work / "testbed")
    git_env = image_git_env(row, rows)
    git_dir = work / "testbed.git"
    shutil.move(testbed / ".git", git_dir)
    (work / "patch.diff").write_text(patch)
    (work / "eval.sh").write_text(spec.eval_script)
    (work / "eval.sh").chmod(0o600 if stdin else 0o644)
    binds = [(testbed, "/testbed"), (git_dir, git_env["GIT_DIR"]), (work / "patch.diff", "/tmp/patch.diff"),
             (work / "eval.sh", "/eval.sh")]  # fmt: skip
    apply = "git apply --verbose /tmp/patch.diff && " if patch.strip() else ""
    run = "/bin/bash < /eval.sh" if stdin else "/bin/bash /eval.sh"
    log = as_root(env, binds, {**git_env, **env.test.env, **(extra or {})}, f"{apply}{run}")
    (work / "test_output.txt").write_text(log)
    prediction = {"instance_id": row["instance_id"], "model_patch": patch, "model_name_or_path": "codekiln"}
    path = str(work / "test_output.txt")
    report = get_eval_report(spec, prediction, path, include_tests_status=True)[row["instance_id"]]
    report["status_map"], _ = get_logs_eval(spec, path)
    report["log"] = log
    return report


def row_trials(
    t: TaskRecord, env: EnvRecord, patches: dict[str, str], work: Path, extra: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each of `patches` through the task's exported SWE-bench row as real root (`git apply`, `/bin/bash
    /eval.sh`, `extra` in its environment): swebench's report, by name (the red teams' row paths)."""
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows

    bundle = export_swebench_bundle([t], work / "swebench").parent
    (row,) = read_rows(bundle / "swebench.jsonl")
    return {
        name: row_trial(row, bundle, env, patch, work / name, extra=extra) for name, patch in patches.items()
    }


@pytest.fixture(scope="module")
def rows(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows

    t, env = task
    work = tmp_path_factory.mktemp("row")
    bundle = export_swebench_bundle([t], work / "swebench").parent
    (row,) = read_rows(bundle / "swebench.jsonl")
    out = {name: row_trial(row, bundle, env, patch, work / name) for name, patch in patches(t).items()}
    out["stdin"] = row_trial(row, bundle, env, patches(t)["copies"], work / "stdin", stdin=True)
    return out


def test_harbor_controls(harbor: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """As root, the tests dropped to `nobody`: the gold resolves, nothing does not."""
    reward, grade = harbor["gold"]
    assert (reward, grade["outcome"]) == ("1", "resolved"), grade
    reward, grade = harbor["empty"]
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade


def test_harbor_verifier_imports_nothing_of_the_tree(harbor: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """`src/msvcrt.py` never runs in the verifier: its own verdict stands and so does the reward."""
    reward, grade = harbor["imports"]
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade


def test_harbor_tests_cannot_read_the_verifiers_state(harbor: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """state.json (the hidden tests, base64) is out of the tests' reach: the bug stays in place."""
    reward, grade = harbor["copies"]
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade
    assert grade["statuses"]["tests/test_iso.py::test_total"] == "failed", grade


def test_row_controls(rows: dict[str, dict[str, Any]]) -> None:
    assert rows["gold"]["resolved"], rows["gold"]["log"][-3000:]
    assert not rows["empty"]["resolved"]


def test_row_check_imports_nothing_of_the_tree(
    task: tuple[TaskRecord, EnvRecord], rows: dict[str, dict[str, Any]]
) -> None:
    """`src/msvcrt.py` never runs in `row_verifier.py --check`: the graded tests fail, as they are."""
    t, _ = task
    report = rows["imports"]
    assert not report["resolved"], report["log"][-3000:]
    assert {report["status_map"].get(test) for test in t.FAIL_TO_PASS} == {"FAILED"}


def test_row_tests_cannot_read_the_eval_script(
    task: tuple[TaskRecord, EnvRecord], rows: dict[str, dict[str, Any]]
) -> None:
    """/eval.sh (test_patch: the hidden tests' text) is 0600 before the tests run: the bug stays."""
    t, _ = task
    report = rows["copies"]
    assert not report["resolved"], report["log"][-3000:]
    assert {report["status_map"].get(test) for test in t.FAIL_TO_PASS} == {"FAILED"}
    assert "codekiln guard: unresolved" in report["log"]


def test_row_tests_inherit_no_descriptor_of_the_eval_script(
    task: tuple[TaskRecord, EnvRecord], rows: dict[str, dict[str, Any]]
) -> None:
    """The eval script read from stdin (`bash < /eval.sh`, the file 0600): the tests' stdin is /dev/null,
    not the script's descriptor, which the verifier inherits."""
    t, _ = task
    report = rows["stdin"]
    assert not report["resolved"], report["log"][-3000:]
    assert {report["status_map"].get(test) for test in t.FAIL_TO_PASS} == {"FAILED"}
    assert "codekiln guard: unresolved" in report["log"]
