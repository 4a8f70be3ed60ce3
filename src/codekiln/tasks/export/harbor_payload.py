"""The files of an exported Harbor task that come from its environment: the image recipe and the verifier.

    files = environment_files(task, env)     # environment/: Dockerfile, testbed.tar.gz, requirements.txt
    files = verifier_files(task, env)        # tests/codekiln/: verifier.py + its modules, task.json, state.json

The image builds from the export alone: a public Python base image (`python:<the env's version>`, which
has git), the snapshot's sources (`testbed.tar.gz`), the venv's `pip freeze` pinned in
`requirements.txt` (installed without resolving), the project installed editable at /testbed with the
environment's install variables, then `prepare.sh` (bug in, hidden tests out, a fresh git history).

The verifier (`grading.verifier`, shipped unchanged with the other files of `grading.shipped.VERIFIER`) reads `task.json` (tests, isolation, policy) and `state.json`: the pre-agent
tree as path -> [kind, sha256, mode], the snapshot's protected files and hidden tests (restored before
the run), the pre-agent text of the other Python files (what the static scan compares against), and
the digests of the examples the buggy state's own run collects for graded doctests whose docstrings
the snapshot does not spell (`grading.doctest_runs`: one guarded run at export, for a task that grades a
module's doctest only), the environment's baseline statuses of the cases of graded functions asked for
by function (`grading.unstable_ids.cases_of`): renamed cases are read as the grader reads them, and the
task's kept twin (`twin_state`: its test files with the literals its FAIL_TO_PASS tests compare with
changed, and the ids the gold fails there), which the verifier runs the tree on besides its real run,
in a drawn order (`grading.verifier_twin`).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shlex
import stat
import tarfile
from pathlib import Path
from typing import Any

from codekiln.core.diffs import parse_diff
from codekiln.core.errors import GradingError, TaskError
from codekiln.core.patches import apply_diff
from codekiln.core.sources import read_byte_text, text_bytes
from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy, GradeResult, doctests, grade_patch, pathrules, shipped, unstable_ids
from codekiln.grading.doctest_runs import buggy_doctest_digests
from codekiln.grading.guard import Isolation
from codekiln.grading.manifests import scrubbed_manifests
from codekiln.grading.patchrules import path_roots
from codekiln.grading.suite_order import in_suite_order
from codekiln.grading.support import support_modules
from codekiln.grading.twin_check import kept_twin, kept_twin_cases
from codekiln.sandbox.base import VENV_DIR, WORKDIR
from codekiln.tasks.records import TaskRecord

SHIPPED = shipped.VERIFIER
"""Standard-library modules of `codekiln.grading` (pytest too, for the guard plugin), shipped as they are."""
VERIFIER_DIR = "tests/codekiln"


def snapshot_files(snapshot: Path) -> dict[str, Path]:
    """Every non-directory of a snapshot (no `.git`), by repo-relative POSIX path, sorted."""
    out = {}
    for path in sorted(snapshot.rglob("*")):
        rel = path.relative_to(snapshot)
        if rel.parts[0] == ".git" or "__pycache__" in rel.parts or (path.is_dir() and not path.is_symlink()):
            continue
        out[rel.as_posix()] = path
    return out


def base_image(env: EnvRecord) -> str:
    """The public image the environment's Dockerfile starts from: python:<version> (Debian, with git)."""
    return f"python:{env.recipe.python.version}"


def requirements(env: EnvRecord) -> str:
    """The venv's pinned packages, less pip itself and the project's own editable install."""
    pins = [p for p in env.packages if "(editable" not in p and not p.lower().startswith("pip==")]
    return "".join(f"{p}\n" for p in pins)


def testbed_tar(snapshot: Path) -> bytes:
    """The snapshot as a deterministic .tar.gz (same bytes for the same files)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, path in snapshot_files(snapshot).items():
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            elif info.issym():
                tar.addfile(info)
    return gzip.compress(raw.getvalue(), mtime=0)


def venv_install(env: EnvRecord) -> list[str]:
    """Shell commands that build the environment's venv at VENV_DIR from the pinned
    /tmp/codekiln-task/requirements.txt (installed without resolving) and install the project at WORKDIR
    editable with the environment's install variables and extras."""
    install_env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.recipe.install_env.items()))
    editable = f"{WORKDIR}[{','.join(env.recipe.extras)}]" if env.recipe.extras else WORKDIR
    pip = f"{VENV_DIR}/bin/python -m pip install --no-cache-dir --no-deps"
    return [
        f"python3 -m venv {VENV_DIR}",
        f"{pip} -r /tmp/codekiln-task/requirements.txt",
        f"{('env ' + install_env + ' ') if install_env else ''}{pip} -e {shlex.quote(editable)}",
    ]


def dockerfile(task: TaskRecord, env: EnvRecord) -> str:
    files = "testbed.tar.gz requirements.txt prepare.sh" + (" bug.patch" if task.bug_patch else "")
    return (
        f"# {task.instance_id}: the environment {env.id} ({env.name} {env.version or ''}) rebuilt from its\n"
        "# recipe: pinned packages, the project installed editable, then the task's starting state.\n"
        f"FROM {base_image(env)}\n"
        f"COPY {files} /tmp/codekiln-task/\n"
        f"RUN mkdir -p {WORKDIR} && tar -xzf /tmp/codekiln-task/testbed.tar.gz -C {WORKDIR} \\\n"
        + "".join(f"    && {line} \\\n" for line in venv_install(env))
        +
        # the install rewrites metadata in the tree (egg-info): put the snapshot's files back
        f"    && tar -xzf /tmp/codekiln-task/testbed.tar.gz -C {WORKDIR} \\\n"
        f"    && bash /tmp/codekiln-task/prepare.sh {WORKDIR} \\\n"
        "    && rm -rf /tmp/codekiln-task\n"
        f"ENV VIRTUAL_ENV={VENV_DIR} PATH={VENV_DIR}/bin:$PATH\n"
        f"WORKDIR {WORKDIR}\n"
    )


def environment_files(task: TaskRecord, env: EnvRecord) -> dict[str, str | bytes]:
    return {
        "environment/Dockerfile": dockerfile(task, env),
        "environment/requirements.txt": requirements(env),
        "environment/testbed.tar.gz": testbed_tar(Path(env.snapshot_path)),
    }


def _entry(path: Path, data: bytes | None = None) -> list[Any]:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return ["symlink", hashlib.sha256(str(path.readlink()).encode()).hexdigest(), 0o777]
    if not stat.S_ISREG(st.st_mode):
        return ["other", "", stat.S_IMODE(st.st_mode)]
    content = path.read_bytes() if data is None else data
    return ["file", hashlib.sha256(content).hexdigest(), stat.S_IMODE(st.st_mode)]


def verifier_state(task: TaskRecord, env: EnvRecord) -> dict[str, Any]:
    """The pre-agent tree (snapshot + bug - hidden tests, build manifests scrubbed) and the snapshot
    files the verifier restores."""
    snapshot = Path(env.snapshot_path)
    files = snapshot_files(snapshot)
    texts = {rel: read_byte_text(files[rel]) for rel in _bug_paths(task) if rel in files}
    buggy = apply_diff(texts, task.bug_patch) if task.bug_patch else {}
    buggy.update(scrubbed_manifests(snapshot, task.hidden_tests))  # as prepare.sh leaves them
    hidden = set(task.hidden_tests)
    manifest, before = {}, {}
    for rel, path in files.items():
        if rel in hidden or (rel in buggy and buggy[rel] is None):
            continue
        text = buggy.get(rel)
        data = text_bytes(text) if text is not None else None
        manifest[rel] = _entry(path, data)
        if rel.endswith(".py") and manifest[rel][0] == "file" and not pathrules.is_protected(rel):
            before[rel] = text if text is not None else read_byte_text(path)  # the scan decodes it
    graded = doctests.doctest_ids(task.tests)  # the snapshot's doctests: see `grading.doctests`
    whole = {rel for rel in graded if doctests.is_text_doctest(rel)}
    fixed = _bug_paths(task)  # files the tests may read as data are put back unless the fix changes them
    areas = pathrules.code_areas(fixed, path_roots(Path(env.venv), snapshot, task.tests, WORKDIR))
    support = _support(task, env)
    originals = {
        rel: [stat.S_IMODE(path.lstat().st_mode), base64.b64encode(path.read_bytes()).decode()]
        for rel, path in files.items()
        if (
            pathrules.is_protected(rel)
            or rel in hidden
            or rel in whole
            or pathrules.is_data(rel, fixed, areas)
            or rel in support
        )
        and path.is_file()
        and not path.is_symlink()
    }
    modules = {
        rel: base64.b64encode(files[rel].read_bytes()).decode()
        for rel in graded
        if rel not in whole and rel in files and files[rel].is_file() and not files[rel].is_symlink()
    }
    vouched = buggy_doctest_digests(task, env)  # what the buggy state's run collects: `doctest_runs`
    return {
        "manifest": manifest,
        "originals": originals,
        "before": before,
        "doctests": modules,
        "doctest_digests": vouched,
        "baseline_cases": unstable_ids.cases_of(env.baseline, task.tests),
    }


def _support(task: TaskRecord, env: EnvRecord) -> frozenset[str]:
    """The snapshot's test support modules the fix leaves alone (`grading.support`): put back too."""
    test_files = {t.split("::", 1)[0] for t in task.tests} | set(task.hidden_tests)
    return support_modules(Path(env.snapshot_path), test_files, _bug_paths(task))


def _bug_paths(task: TaskRecord) -> set[str]:
    return {p for fp in parse_diff(task.bug_patch) for p in (fp.old_path, fp.new_path) if p}


def verifier_settings(
    task: TaskRecord, env: EnvRecord, *, timeout_s: float, policy: GradePolicy
) -> dict[str, Any]:
    iso = Isolation.for_environment(Path(env.snapshot_path), Path(env.venv), task.tests)
    return {
        "instance_id": task.instance_id,
        "tests": task.tests,
        "order": in_suite_order(task.tests, list(env.baseline)),  # asked for as the suite runs them
        "fail_to_pass": task.FAIL_TO_PASS,
        "pass_to_pass": task.PASS_TO_PASS,
        "hidden_tests": task.hidden_tests,
        "fixed": sorted(_bug_paths(task)),
        "support": sorted(_support(task, env)),
        "workdir": WORKDIR,
        "venv": VENV_DIR,
        "isolation": {
            "config": iso.config,
            "plugins": list(iso.plugins),
            "function_prefix": iso.function_prefix,
            "trusted": list(iso.trusted),
            "doctests": {test: json.loads(examples) for test, examples in iso.doctests},
        },
        "pytest_options": env.test.argv([])[3:],
        "env": dict(env.test.env),
        "timeout_s": timeout_s,
        "policy": {**policy.rules().__dict__, "scan": policy.scan},
    }


def twin_state(task: TaskRecord, env: EnvRecord, policy: GradePolicy) -> dict[str, Any] | None:
    """The task's kept twin as the verifiers' state holds it: {"files": rel -> the twin's text, "ids": the
    FAIL_TO_PASS ids the gold fails on it, "cases": real id -> the twin's id of each parametrized case it
    renames (`twin_check.kept_twin_cases`)}, worked out as the grader does (`twin_check.kept_twin`: the
    gold graded on the twin in the environment's sandbox, cached per task). None: the policy's twins are
    off, or the task keeps no twin (no literal to change, or the gold passes its twin). Raises TaskError
    when the gold's run on the twin fails (now or cached: `twin_check`): a verifier shipped without it
    would grade less than the grader."""
    if not policy.twins:
        return None

    def grade(patch: str, twin: dict[str, str], cases: dict[str, str] | None = None) -> GradeResult:
        return grade_patch(task, env, patch, policy=policy, twin=twin, cases=cases)

    try:
        kept = kept_twin(task, Path(env.snapshot_path), grade)
    except GradingError as err:
        raise TaskError(
            str(err)[:800],
            hint="export where the environment's sandbox runs (root, bwrap), or with GradePolicy(twins=False)",
        ) from err
    if not kept:
        return None
    return {"files": kept[0], "ids": kept[1], "cases": kept_twin_cases(task, Path(env.snapshot_path))}


def verifier_files(
    task: TaskRecord,
    env: EnvRecord,
    *,
    timeout_s: float,
    policy: GradePolicy | None = None,
    twin: dict[str, Any] | None = None,
) -> dict[str, str | bytes]:
    """tests/codekiln/: the standalone verifier, its modules, its settings and the pre-agent state (with
    `twin`, the task's kept twin: `twin_state`)."""
    settings = verifier_settings(task, env, timeout_s=timeout_s, policy=policy or GradePolicy())
    out: dict[str, str | bytes] = {
        f"{VERIFIER_DIR}/{name}": (shipped.FOLDER / name).read_bytes() for name in SHIPPED
    }
    state = verifier_state(task, env)
    if twin:
        state["twin"] = twin
    out[f"{VERIFIER_DIR}/task.json"] = json.dumps(settings, indent=1, sort_keys=True) + "\n"
    out[f"{VERIFIER_DIR}/state.json"] = json.dumps(state, sort_keys=True) + "\n"
    return out
