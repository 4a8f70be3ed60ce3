"""Libraries whose sources are not plain UTF-8, and whose test ids hold an object's address, end to end.

The fixture library has a Latin-1 module (PEP 263 cookie; a string literal a test checks holds `é`), a
module opening with a UTF-8 byte order mark, a Latin-1 test module, and a parametrized test whose ids
pytest makes from an object's default repr (`<encpkg.things.Thing object at 0x7f..>`). Before, synth
skipped the first two silently (entities read as strict UTF-8; `ast.parse` refuses a BOM) and the
validator could not read the Latin-1 file. Now:

- synth makes tasks in both modules, the patches hold the files' exact bytes, and each gold patch
  grades resolved through the grader (the agent's start tree holds the Latin-1 bytes unchanged);
- the SWE-bench rows carry those changes as git binary patches (ASCII in JSON) and the address ids
  blanked; swebench 5.0.2's own harness steps, log parser and report agree with codekiln's grader on
  the gold and the empty patch;
- the Harbor export writes the bytes as they are; with podman, its verifier (tests/test.sh) grades
  the oracle's solution resolved and the untouched tree unresolved;
- the parquet export leaves the Latin-1 tasks out with a counted reason.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codekiln.core.diffs import make_diff
from codekiln.core.sources import (
    SourceEncodingError,
    byte_text,
    decode_python,
    encode_python,
    is_utf8_text,
    patch_text_of,
    text_bytes,
)
from codekiln.envs import load_env
from codekiln.grading import grade_patch
from codekiln.grading.start import agent_start
from codekiln.grading.unstable_ids import blank, is_unstable
from codekiln.tasks.export.ascii_patch import ascii_safe
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.testing.git import write_files

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "encpkg"
version = "0.1"
[project.optional-dependencies]
test = ["pytest"]
[tool.setuptools]
packages = ["encpkg"]
"""
LATIN = '''# -*- coding: latin-1 -*-
"""Greetings, written in Latin-1."""


def greet(name):
    if not name:
        return "hé toi"
    return "café " + name


def shout(word, times):
    out = []
    for _ in range(times):
        out.append(word.upper())
    return " ".join(out)
'''
BOM = '''"""A module that opens with a byte order mark."""


def clamp(x, low, high):
    # bornes incluses: « low » et « high »
    if x < low:
        return low
    if x > high:
        return high
    return x
'''
THINGS = """class Thing:
    def __init__(self, n):
        self.n = n


def check(x):
    return getattr(x, "n", x) > 0
"""
TEST_LATIN = """# -*- coding: latin-1 -*-
from encpkg.latin import greet, shout


def test_greet():
    assert greet("Bob") == "café Bob"
    assert greet("") == "hé toi"


def test_shout():
    assert shout("a", 3) == "A A A"
"""
TEST_OTHER = """import pytest

from encpkg.bom import clamp
from encpkg.things import Thing, check


def test_clamp():
    assert [clamp(x, 1, 3) for x in range(5)] == [1, 1, 2, 3, 3]


@pytest.mark.parametrize("thing, ok", [(Thing(1), True), (Thing(-1), False), (3, True)], ids=repr)
def test_check(thing, ok):
    assert check(thing) == ok
"""


def write_library(root: Path) -> Path:
    return write_files(
        root,
        {
            "pyproject.toml": PYPROJECT,
            "encpkg/__init__.py": "",
            "encpkg/latin.py": LATIN.encode("latin-1"),
            "encpkg/bom.py": codecs.BOM_UTF8 + BOM.encode(),
            "encpkg/things.py": THINGS,
            "tests/test_latin.py": TEST_LATIN.encode("latin-1"),
            "tests/test_other.py": TEST_OTHER,
        },
    )


# --- the pure parts -------------------------------------------------------------------------------


def test_sources_are_read_as_python_reads_them_and_written_back_in_their_encoding() -> None:
    latin, bom = LATIN.encode("latin-1"), codecs.BOM_UTF8 + BOM.encode()
    assert decode_python(latin) == LATIN and decode_python(bom) == BOM
    assert encode_python(decode_python(latin), like=latin) == latin
    assert encode_python(decode_python(bom), like=bom) == bom
    changed = LATIN.replace("café ", "thé ")
    assert text_bytes(patch_text_of(changed, latin)) == changed.encode("latin-1")
    with pytest.raises(SourceEncodingError, match="cannot be written in the file's encoding"):
        encode_python(LATIN.replace("café", "café ☕"), like=latin)
    with pytest.raises(SourceEncodingError, match="invalid or missing encoding declaration"):
        decode_python(b"x = '\xe9'\n", "pkg/m.py")  # no declaration: Python refuses it too
    assert byte_text(latin) != LATIN and text_bytes(byte_text(latin)) == latin


def test_a_change_to_a_latin1_file_crosses_json_as_a_git_binary_patch(tmp_path: Path) -> None:
    old = LATIN.encode("latin-1")
    new = LATIN.replace('return "café " + name', 'return "café" + name').encode("latin-1")
    patch = make_diff("encpkg/latin.py", byte_text(old), byte_text(new))
    assert not is_utf8_text(patch)
    carried = ascii_safe(patch, {"encpkg/latin.py": old})
    assert carried.isascii() and "GIT binary patch" in carried
    assert json.loads(json.dumps(carried)) == carried
    (tmp_path / "encpkg").mkdir()
    (tmp_path / "encpkg/latin.py").write_bytes(old)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    applied = subprocess.run(["git", "apply", "--verbose", "-"], cwd=tmp_path, input=carried.encode())
    assert applied.returncode == 0 and (tmp_path / "encpkg/latin.py").read_bytes() == new
    utf8 = make_diff("a.py", "x = 'é'\n", "x = 'è'\n")
    assert ascii_safe(utf8, {"a.py": "x = 'é'\n".encode()}) == utf8  # plain UTF-8: unchanged


# --- synthesis and exports on the real library -----------------------------------------------------


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TaskRecord]]:
    tmp = tmp_path_factory.mktemp("encodings")
    root = write_library(tmp / "encpkg")
    config = SynthConfig(spec=str(root), out=tmp / "out", max_tasks=60, workers=1)  # the warm engine
    result = synthesize(config)
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert len(tasks) == result.funnel.validated > 0, result.funnel.rejected
    return result.out, tasks


def _on(tasks: list[TaskRecord], rel: str) -> list[TaskRecord]:
    return [t for t in tasks if any(f"a/{rel} " in line for line in t.patch.splitlines()[:1])]


@pytest.mark.root  # synthesis: the environment and validation run in bwrap sandboxes
def test_synth_makes_tasks_in_a_latin1_module_and_a_bom_module(
    synthesized: tuple[Path, list[TaskRecord]],
) -> None:
    _, tasks = synthesized
    latin, bom = _on(tasks, "encpkg/latin.py"), _on(tasks, "encpkg/bom.py")
    assert latin and bom, sorted({t.patch.splitlines()[0] for t in tasks})
    assert any("tests/test_latin.py::test_greet" in t.FAIL_TO_PASS for t in latin)
    assert all(not is_utf8_text(t.patch) for t in latin if "\udce9" in t.patch)
    assert any("\udce9" in t.patch for t in latin)  # the é of the file's own bytes, not a UTF-8 one
    env = load_env(tasks[0].environment_id or "")
    snapshot = Path(env.snapshot_path)
    task = next(t for t in latin if "tests/test_latin.py::test_greet" in t.FAIL_TO_PASS)
    start = agent_start(task, snapshot).files["encpkg/latin.py"]
    assert start is not None and start.startswith(b"# -*- coding: latin-1 -*-") and b"caf\xe9" in start
    for one in (task, bom[0]):
        assert grade_patch(one, env, one.patch).resolved
        assert not grade_patch(one, env, "").resolved
    unstable = [t for t in tasks for x in t.tests if is_unstable(x)]
    assert unstable, "no task grades the cases named by an address"
    # The coverage run named those cases anew; its map names them as the baseline does, so a bug in
    # `check` selects them (they were never selected: "1 selected tests all pass").
    named = [t for t in coverage_map(env).tests if is_unstable(t)]
    assert len(named) == 2 and set(named) <= set(env.baseline), named
    check = [t for t in tasks if t.patch.startswith("diff --git a/encpkg/things.py")]
    assert any(is_unstable(x) for t in check for x in t.FAIL_TO_PASS)


@pytest.mark.root  # the environment and the harness's steps run in bwrap sandboxes
@pytest.mark.parametrize("which", ["gold", "empty"])
def test_swebench_harness_agrees_on_latin1_tasks_and_address_ids(
    synthesized: tuple[Path, list[TaskRecord]], tmp_path: Path, which: str
) -> None:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_instance

    from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows

    _, tasks = synthesized
    latin = next(t for t in _on(tasks, "encpkg/latin.py") if "tests/test_latin.py" in t.hidden_tests)
    address = next(t for t in tasks if any(is_unstable(x) for x in t.FAIL_TO_PASS + t.PASS_TO_PASS))
    skipped: dict[str, list[str]] = {}
    bundle = export_swebench_bundle([latin, address], tmp_path / "swebench", skipped=skipped).parent
    rows = {r["instance_id"]: r for r in read_rows(bundle / "swebench.jsonl")}
    assert skipped == {} and set(rows) == {latin.instance_id, address.instance_id}
    text = (bundle / "swebench.jsonl").read_bytes().decode("utf-8")  # strict: no byte of another encoding
    assert "\\udc" not in text  # nor an escaped one
    assert "GIT binary patch" in rows[latin.instance_id]["patch"]
    assert "GIT binary patch" in rows[latin.instance_id]["test_patch"]  # the Latin-1 test file back
    listed = json.loads(rows[address.instance_id]["PASS_TO_PASS"]) + json.loads(
        rows[address.instance_id]["FAIL_TO_PASS"]
    )
    assert any("at 0x?>" in x for x in listed) and not any(is_unstable(x) for x in listed)
    env = load_env(latin.environment_id or "")
    for task in (latin, address):
        row = rows[task.instance_id]
        patch = row["patch"] if which == "gold" else ""
        report = run_instance(row, bundle, env, patch, tmp_path / task.instance_id)
        grade = grade_patch(task, env, task.patch if which == "gold" else "")
        assert report["patch_successfully_applied"] and not report["infra_failure"], report["log"][-3000:]
        assert report["resolved"] is grade.resolved is (which == "gold"), report["log"][-3000:]
        for test in task.tests:  # every graded test read back, with codekiln's status
            assert report["status_map"][blank(test)].lower() == grade.statuses[test], test


@pytest.mark.root  # the environment and synthesis run in bwrap sandboxes
def test_parquet_export_leaves_latin1_tasks_out_with_a_reason(
    synthesized: tuple[Path, list[TaskRecord]], tmp_path: Path
) -> None:
    pytest.importorskip("datasets", reason="datasets is not installed: pip install 'codekiln[hf]'")
    from codekiln.tasks.export.datasets import read_parquet_tasks, write_parquet_dataset

    out, tasks = synthesized
    skipped: dict[str, list[str]] = {}
    path = write_parquet_dataset(tasks, tmp_path / "hf", skipped=skipped)
    kept = read_parquet_tasks(path)
    patches = {t.instance_id: (t.bug_patch, t.patch, t.test_patch) for t in tasks}  # a Latin-1 test file too
    latin = {i for i, ps in patches.items() if not all(is_utf8_text(p) for p in ps)}
    assert latin and set(skipped["not_utf8"]) == latin
    assert {t.instance_id for t in kept} == {t.instance_id for t in tasks} - latin
    cli = subprocess.run(  # the command a user runs: the tasks left out are said, with the way out
        [str(Path(sys.executable).parent / "codekiln"), "tasks", "export", str(out), "--format", "hf"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert f"warning: {len(latin)} tasks left out of the hf export (not_utf8:" in cli.stdout
    assert "--format swebench or harbor" in cli.stdout
    assert f"exported {len(tasks) - len(latin)} tasks" in cli.stdout


def _harbor() -> Any:
    import harbor_support as hs

    return hs


@pytest.mark.root  # the environment and the exported verifier run in bwrap sandboxes
def test_the_exported_verifier_grades_latin1_and_address_tasks_as_codekiln(
    synthesized: tuple[Path, list[TaskRecord]], tmp_path: Path
) -> None:
    """The exported Harbor task's `solution/solve.sh` (its Latin-1 bytes) on the starting tree, then its
    `tests/test.sh` in a bwrap sandbox of the environment (no image): 1; the starting tree alone: 0."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audit"))
    from audit_support import harbor_verdict

    _, tasks = synthesized
    latin = next(t for t in _on(tasks, "encpkg/latin.py") if "tests/test_latin.py" in t.hidden_tests)
    address = next(t for t in tasks if any(is_unstable(x) for x in t.FAIL_TO_PASS + t.PASS_TO_PASS))
    for task in (latin, address):
        env = load_env(task.environment_id or "")
        got, grade = harbor_verdict(task, env, "", tmp_path / task.instance_id / "oracle", oracle=True)
        assert got == "1", grade
        if task is latin:
            solve = next((tmp_path / task.instance_id / "oracle" / "harbor").rglob("solve.sh"))
            assert b"caf\xe9" in solve.read_bytes()
        got, grade = harbor_verdict(task, env, "", tmp_path / task.instance_id / "empty")
        assert got == "0", grade


@pytest.mark.root
@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_encodings.py::test_the_exported_verifier_grades_latin1_and_address_tasks_as_codekiln "
    "(the same solve.sh and tests/test.sh on the same trees, in bwrap); test_harbor.py's trials run them "
    "in the image"
)
def test_harbor_verifier_grades_latin1_and_address_tasks_as_codekiln(
    synthesized: tuple[Path, list[TaskRecord]], tmp_path: Path
) -> None:
    hs = _harbor()
    if (problem := hs.podman_problem()) is not None:
        pytest.skip(f"podman cannot run: {problem}")
    _, tasks = synthesized
    latin = next(t for t in _on(tasks, "encpkg/latin.py") if "tests/test_latin.py" in t.hidden_tests)
    address = next(t for t in tasks if any(is_unstable(x) for x in t.FAIL_TO_PASS + t.PASS_TO_PASS))
    with hs.trials(tmp_path) as harbor:
        assert b"caf\xe9" in (harbor.exported(latin)[0] / "solution/solve.sh").read_bytes()
        for task in (latin, address):
            got, grade = harbor.oracle(task)
            assert got == "1", grade
            got, grade = harbor.run(task, "true")
            assert got == "0", grade


@pytest.mark.root  # rollouts and grading in bwrap sandboxes
def test_oracle_rollout_and_eval_of_predictions_resolve_latin1_tasks(
    synthesized: tuple[Path, list[TaskRecord]], tmp_path: Path
) -> None:
    """`codekiln rollout --model oracle` applies each gold patch in the agent's sandbox (its bytes went
    through a UTF-8 encode that refused a Latin-1 byte), and `codekiln eval` grades predictions of
    both forms: codekiln's own patch (the bytes, JSON-escaped) and the SWE-bench row's binary patch."""
    from codekiln.core.records import dumps_utf8
    from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows

    _, tasks = synthesized
    latin = sorted(  # a Latin-1 module's fix first, then Latin-1 hidden tests
        (t for t in tasks if not all(is_utf8_text(p) for p in (t.bug_patch, t.patch, t.test_patch))),
        key=lambda t: is_utf8_text(t.patch),
    )[:3]
    assert not is_utf8_text(latin[0].patch)
    tasks_file = tmp_path / "tasks.jsonl"
    tasks_file.write_text("".join(dumps_utf8(t.model_dump(mode="json")) + "\n" for t in latin))
    exe = str(Path(sys.executable).parent / "codekiln")
    ran = subprocess.run(
        [exe, "rollout", "--tasks", str(tasks_file), "--model", "oracle", "--out", str(tmp_path / "r")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ran.returncode == 0 and f"resolved: {len(latin)}/{len(latin)}" in ran.stdout, (
        ran.stdout + ran.stderr
    )
    rows = read_rows(export_swebench_bundle(latin, tmp_path / "swebench"))
    predictions = [
        {"instance_id": t.instance_id, "model_patch": t.patch, "model_name_or_path": "own"} for t in latin
    ]
    predictions += [
        {"instance_id": r["instance_id"], "model_patch": r["patch"], "model_name_or_path": "row"}
        for r in rows
    ]
    assert all("GIT binary patch" in r["patch"] for r in rows if not is_utf8_text(next(
        t.patch for t in latin if t.instance_id == r["instance_id"])))  # fmt: skip
    for name in ("own", "row"):
        preds = tmp_path / f"{name}.jsonl"
        preds.write_text(
            "".join(dumps_utf8(p) + "\n" for p in predictions if p["model_name_or_path"] == name)
        )
        ran = subprocess.run(
            [exe, "eval", "--tasks", str(tasks_file), "--predictions", str(preds), "--out", str(tmp_path / name)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert ran.returncode == 0 and f"resolved: {len(latin)}/{len(latin)}" in ran.stdout, (
            ran.stdout + ran.stderr
        )


def test_a_statement_quoting_a_changed_latin1_line_is_a_leak() -> None:
    """The leak check compares a statement with the gold patch's lines, which for a Latin-1 file hold
    its bytes: the line is also read as Latin-1 text, as the statement would quote it."""
    from codekiln.tasks.frontend.leaks import leaked_lines

    old = LATIN.encode("latin-1")
    new = LATIN.replace('return "café " + name', 'return "café" + name').encode("latin-1")
    patch = make_diff("encpkg/latin.py", byte_text(old), byte_text(new))
    assert leaked_lines('The code says return "café " + name here.', patch) == ['return "café " + name']


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "a = 1\r\nb = 2\r\nc = 3\r\n",
            "a = 1\nb = 5\nx = 0\nc = 3\n",
            "a = 1\r\nb = 5\r\nx = 0\r\nc = 3\r\n",
        ),
        ("a = 1\r\nb = 2\r\n", "a = 1\n", "a = 1\r\n"),  # a line removed
        ("a = 1\nb = 2\r\nc = 3", "a = 1\nb = 2\nc = 4", "a = 1\nb = 2\r\nc = 4"),  # mixed, no final end
    ],
)
def test_a_patch_keeps_the_files_line_ends(old: str, new: str, expected: str) -> None:
    """pytweening 1.2.0's `\\r\\n` lines: a bug made on the universal-newline source applied nowhere."""
    assert patch_text_of(new, old.encode()) == expected
    assert patch_text_of(old.replace("\r\n", "\n"), old.encode()) == old
