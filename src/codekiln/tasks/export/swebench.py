"""Export tasks as SWE-bench rows that swebench 5's harness runs unchanged (checked with swebench 5.0.2).

    export_swebench_bundle(tasks, Path("out/toolz/swebench"))   # rows + one git repository per environment

The folder holds:

    swebench.jsonl          one SWE-bench row per task (FAIL_TO_PASS / PASS_TO_PASS as JSON strings)
    images/<instance_id>/   the instance image's build context: Dockerfile, requirements.txt, task.bundle
    repos/<slug>.git        a bare git repository per environment: branch `main` is the clean snapshot
                            (the row's `environment_setup_commit`); each task has a branch named by its
                            instance_id holding one parentless commit, the buggy code without the hidden
                            tests (the row's `base_commit`), the way SWE-smith keeps a branch per task

A row's fields:
- `repo`: `owner/name` when the project's metadata names its GitHub repository (a PyPI sdist's
  `Project-URL` or `Home-page`, a git snapshot's URL), else `pypi/<name>` (`git/`, `local/` for other
  sources): stable, and never a guess.
- `base_commit`: checked out from `git_repo` (`git clone --branch <instance_id> <git_repo>`) it is the
  buggy state an agent starts from; `patch` (the fix) and `test_patch` (the hidden tests back) apply on
  it, and both together give the clean snapshot back. Parentless, so its history does not hold the fix.
- what swebench 5's `make_test_spec` reads for a repository it has no built-in spec for: `image`
  (named as swebench names instance images, under the `codekiln` namespace), `eval_script` (write the
  Harbor verifier outside the repository and run its patch rules and scan on the patched tree against
  the export's manifest of `base_commit`, put back what the grader puts back, from `base_commit`,
  apply `test_patch`, run the graded tests under the verifier's guard, and print between swebench's
  output markers one pytest-style status line per graded test as the guard vouches for it, FAILED for
  all when the patch was rejected or the report fails its cross-checks (`swebench_guard`,
  `grading.row_verifier`), reset again),
  `log_parser` (`parse_log_pytest_v2`, which keeps node ids whole) and `eval_type` (`pass_and_fail`);
  `version` is the project's version.
- `FAIL_TO_PASS` / `PASS_TO_PASS`: a case whose id holds an object's address (`test_x[<a.T object at
  0x7f..>]`, named anew in every process) is listed with the address blanked (`at 0x?>`), and the
  eval script prints its status under that id, the worst of its cases, as codekiln's runner reads it
  back (`grading.unstable_ids`). A task two of whose ids blank alike is left out
  (`skipped["ambiguous_test_ids"]`): no log tells its cases apart. So is a task whose FAIL_TO_PASS
  holds doctests of library modules (`skipped["graded_doctests"]`): the eval script cannot check that a
  fix left their examples alone (`graded_doctests`).
- `patch` / `test_patch`: a change to a file that is not UTF-8 (a latin-1 module) is a git binary
  patch (`export.ascii_patch`), which a JSON string and the harness's UTF-8 patch file carry exactly.
- `git_repo`, `image_context`: paths relative to the folder (swebench ignores keys it does not read).

`image` is built from `images/<instance_id>/` (`docker build -t <image> images/<instance_id>`): FROM the
public `python:<version>` image, /testbed cloned at `base_commit` from the bundle, the environment's
pinned packages in a venv on PATH, the project installed editable, the git directory outside /testbed
(`GIT_DIR`, where no patch the harness applies can write; `swebench_image`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tempfile
from collections.abc import Iterable
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from codekiln.core.diffs import make_diff, parse_diff
from codekiln.core.errors import TaskError
from codekiln.core.patches import apply_diff
from codekiln.core.proc import run, tail
from codekiln.core.records import append_jsonl, atomic_write_text
from codekiln.core.sources import is_utf8_text, read_byte_text, text_bytes
from codekiln.envs import EnvRecord, load_env
from codekiln.grading.doctests import doctest_ids
from codekiln.grading.graded import patch_paths as graded_patch_paths
from codekiln.grading.manifests import scrubbed_manifests
from codekiln.grading.patchrules import path_roots
from codekiln.grading.pathrules import code_areas, is_protected, protected_globs
from codekiln.grading.support import support_modules
from codekiln.grading.unstable_ids import blank
from codekiln.repos.fetch import GIT_ENV
from codekiln.repos.snapshot import COMMIT_DATE, SnapshotRecord, get_snapshot
from codekiln.sandbox.base import WORKDIR
from codekiln.tasks.export import swebench_guard as sg
from codekiln.tasks.export.ascii_patch import ascii_safe
from codekiln.tasks.export.swebench_image import image_files
from codekiln.tasks.records import TaskRecord

ROWS = "swebench.jsonl"
LOG_PARSER = "parse_log_pytest_v2"
EVAL_TYPE = "pass_and_fail"
IMAGE_NAMESPACE = "codekiln"
START, END = ">>>>> Start Test Output", ">>>>> End Test Output"
_GITHUB = re.compile(
    r"^(?:https?://|git@|ssh://git@)(?:www\.)?github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$"
)
# Project-URL labels that name the code's home, best first; `Home-page` comes after them.
_SOURCE_LABELS = ("source", "source code", "repository", "code", "github", "homepage", "home")


def github_repo(url: str) -> str | None:
    """`owner/name` of a GitHub repository URL (https, ssh, `.git` or not), else None."""
    m = _GITHUB.match(url.strip())
    return f"{m[1]}/{m[2]}" if m else None


def _pkg_info_urls(snapshot_dir: Path) -> list[str]:
    path = snapshot_dir / "PKG-INFO"
    if not path.is_file():
        return []
    meta = HeaderParser().parsestr(path.read_text(encoding="utf-8", errors="replace"))
    labelled = []
    for value in meta.get_all("Project-URL") or []:
        label, _, url = str(value).partition(",")
        rank = _SOURCE_LABELS.index(label.strip().lower()) if label.strip().lower() in _SOURCE_LABELS else 99
        labelled.append((rank, url.strip()))
    urls = [url for _, url in sorted(labelled, key=lambda p: p[0])]
    return [*urls, str(meta["Home-page"])] if meta.get("Home-page") else urls


def repo_name(snapshot: SnapshotRecord) -> str:
    """SWE-bench's `repo` for a snapshot: `owner/name` where its metadata names a GitHub repository,
    else `<kind>/<name>` (`pypi/toolz`), the name normalized as PyPI does."""
    urls = _pkg_info_urls(Path(snapshot.path)) if snapshot.kind == "pypi" else []
    if snapshot.kind == "git":
        urls = [snapshot.source.split("@", 1)[0] if snapshot.source.startswith("http") else snapshot.source]
    for url in urls:
        if name := github_repo(url):
            return name
    return f"{snapshot.kind}/{re.sub(r'[-_.]+', '-', snapshot.name).lower()}"


def image_name(instance_id: str) -> str:
    """The instance image's name, as swebench derives one (`task.checks.expected_image`)."""
    return f"{IMAGE_NAMESPACE}/sweb.eval.x86_64.{instance_id}:latest".lower().replace("__", "_1776_")


def _heredoc(body: str, tag: str) -> str:
    """A quoted heredoc of `body` whose end marker (derived from it, so exports are reproducible) does
    not occur in it."""
    marker = f"EOF_{tag}_{hashlib.sha256(body.encode()).hexdigest()[:12]}"
    if marker in body:
        raise TaskError(f"{tag} contains its own heredoc marker", hint="this should never happen; report it")
    text = body if body.endswith("\n") else body + "\n"
    return f"<<'{marker}'\n{text}{marker}"


def eval_script(task: TaskRecord, env: EnvRecord, base_commit: str, git_dir: Path) -> str:
    """The script swebench's harness runs in the instance container after applying the model patch: the
    Harbor verifier's patch rules and scan on the patched tree against the manifest of `base_commit` in
    `git_dir` (`swebench_guard.commit_manifest`), the graded test files, every file that is not Python source and
    every Python file outside the packages the fix changes (but those the fix changes) reset to
    `base_commit`, `test_patch` applied, the check's rejection or the graded tests run under the Harbor
    verifier's guard with one status line each printed between swebench's markers (`swebench_guard`),
    and the test files reset again."""
    patches = parse_diff(task.test_patch)
    created = sorted({p.new_path for p in patches if p.old_path is None and p.new_path})
    graded_files = {t.split("::", 1)[0] for t in task.tests}
    # Only test files are reset: a doctest's module is the code under test, which the fix changes.
    modified = {p.old_path for p in patches if p.old_path} | {f for f in graded_files if is_protected(f)}
    # The test support modules the fix leaves alone are the tests' own code (`grading.support`): reset.
    fixed_paths = {p for fp in parse_diff(task.bug_patch) for p in (fp.old_path, fp.new_path) if p}
    support = support_modules(Path(env.snapshot_path), graded_files | set(task.hidden_tests), fixed_paths)
    reset = sorted((modified | support) - set(created) - set(task.hidden_tests))
    remove = sorted(set(created) | set(task.hidden_tests))
    # Files that are not Python source and that the fix leaves alone are the tests' data too, wherever
    # they are (`grading.pathrules.is_data`): reset, as the grader puts them back.
    fixed = sorted(fixed_paths)
    keep = " ".join(shlex.quote(f":(exclude,literal){p}") for p in fixed if not p.endswith(".py"))
    # So is Python source outside the packages the fix changes (`testdata/cases.py`), but new modules.
    areas = code_areas(fixed, path_roots(Path(env.venv), Path(env.snapshot_path), task.tests, WORKDIR))
    spare = " ".join(shlex.quote(f":(exclude,literal){p}") for p in sorted({*areas, *fixed}))
    reset_lines = []
    if reset:
        reset_lines.append(f"git checkout {base_commit} -- {' '.join(map(shlex.quote, reset))}")
    if areas:  # no areas (no bug patch): no Python file is the tests' data (`pathrules.is_data`)
        reset_lines.append(f"git checkout {base_commit} -- ':(glob)**/*.py' {spare}".rstrip())  # before `rm`
    if remove:
        reset_lines.append(f"rm -f -- {' '.join(map(shlex.quote, remove))}")
    # New files Python or pytest read on their own (a root conftest.py), which no checkout deletes,
    # but the new library modules named like tests that the check kept (`grading.libnames`).
    globs = " ".join(shlex.quote(g) for g in protected_globs())
    reset_lines.append(f"git ls-files -z --others -- {globs} | {sg.SPARE} | xargs -0r rm -f --")
    reset_lines.append(f"git checkout {base_commit} -- . ':(exclude)*.py' {keep}".rstrip())
    exports = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.test.env.items())]
    apply = [f"git apply --verbose - {_heredoc(task.test_patch, 'TEST_PATCH')}"] if task.test_patch else []
    lines = [
        "#!/bin/bash",
        "set -uxo pipefail",
        sg.HIDE_SCRIPT,  # test_patch is in it: unreadable to the test process's user
        f"cd {WORKDIR}",
        *(f"export {k}={shlex.quote(v)}" for k, v in sg.IMAGE_ENV.items()),
        sg.SAFE_GIT,
        *exports,
        # The Harbor verifier, written outside the repository, judges the patched tree first (its patch
        # rules and scan); the graded tests then run under its guard and print what the check and the
        # guard vouch for (`grading.row_verifier`): the lines swebench's log parser reads.
        sg.MAKE_FOLDER,
        f"{sg.UNPACK} {_heredoc(sg.row_payload(task, env, base_commit, git_dir), 'ROW')}",
        sg.CHECK_COMMAND,
        *reset_lines,
        *apply,
        f": '{START}'",
        sg.TEST_COMMAND,
        f": '{END}'",
        *reset_lines,
        'rm -rf -- "$CODEKILN_ROW"',
    ]
    return "\n".join(lines) + "\n"


def _git(git_dir: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None) -> str:
    full = {**os.environ, **GIT_ENV, "GIT_DIR": str(git_dir), **(env or {})}
    for who in ("AUTHOR", "COMMITTER"):
        full |= {f"GIT_{who}_NAME": "codekiln", f"GIT_{who}_EMAIL": "tasks@codekiln",
                 f"GIT_{who}_DATE": COMMIT_DATE}  # fmt: skip
    argv = ["git", "-c", "safe.directory=*", "-c", "core.logAllRefUpdates=false", "-c", "gc.auto=0", *args]
    res = run(argv, timeout=600, env=full, input=data)
    if res.exit_code != 0:
        raise TaskError(
            f"git {args[0]} failed while writing {git_dir.name}: {tail(res.stderr or res.stdout, 8)}",
            hint="check that git works (git --version) and that the task's bug patch applies to its snapshot",
        )
    return res.stdout.strip()


def task_commit(git_dir: Path, task: TaskRecord, clean: str, manifests: dict[str, str] | None = None) -> str:
    """Commit the task's starting state (the clean tree, its bug patch applied, its hidden tests removed,
    `manifests` written: build file lists without the hidden tests, `grading.manifests`) as a parentless
    commit on branch `<instance_id>` of `git_dir`; returns the commit id. The same task always gives the
    same commit (fixed author, date and message)."""
    with tempfile.TemporaryDirectory(prefix="codekiln-index-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(git_dir, "read-tree", clean, env=index)
        if task.bug_patch:
            data = task.bug_patch.encode("utf-8", errors="surrogateescape")
            _git(git_dir, "apply", "--cached", "--whitespace=nowarn", "-", env=index, data=data)
        if task.hidden_tests:
            _git(git_dir, "rm", "--cached", "-q", "--ignore-unmatch", "--", *task.hidden_tests, env=index)
        for rel, text in sorted((manifests or {}).items()):
            blob = _git(git_dir, "hash-object", "-w", "--stdin", data=text.encode("utf-8"))
            _git(git_dir, "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", env=index)
        tree = _git(git_dir, "write-tree", env=index)
    commit = _git(git_dir, "commit-tree", tree, "-m", f"{task.instance_id}: the task's starting state")
    _git(git_dir, "update-ref", f"refs/heads/{task.instance_id}", commit)
    return commit


def environment_repo(root: Path, env: EnvRecord, repo: str) -> tuple[Path, str]:
    """The bare repository of an environment under `root/repos` (made on first use, its `main` the clean
    snapshot's commit); returns (its path, the clean commit)."""
    git_dir = Path(root) / "repos" / f"{repo.replace('/', '__')}.{env.id[:12]}.git"
    if not (git_dir / "HEAD").is_file():
        git_dir.mkdir(parents=True, exist_ok=True)
        _git(git_dir, "init", "-q", "--bare", "--initial-branch=main")
        _git(
            git_dir, "fetch", "-q", "--no-tags", str(Path(env.snapshot_path) / ".git"), "HEAD:refs/heads/main"
        )
    return git_dir, _git(git_dir, "rev-parse", "refs/heads/main")


def write_image_context(task: TaskRecord, env: EnvRecord, git_dir: Path, context: Path) -> None:
    """`context/`: the image's files (`swebench_image.image_files`) and task.bundle (the task's branch as a
    git bundle)."""
    context.mkdir(parents=True, exist_ok=True)
    for name, text in image_files(task, env).items():
        atomic_write_text(context / name, text)
    (context / "task.bundle").unlink(missing_ok=True)
    _git(git_dir, "bundle", "create", "-q", str(context / "task.bundle"), f"refs/heads/{task.instance_id}")


def swebench_row(task: TaskRecord, env: EnvRecord, snapshot: SnapshotRecord, root: Path) -> dict[str, Any]:
    """The task's row for swebench 5 (see the module docstring), its commit written under `root`."""
    repo = repo_name(snapshot)
    git_dir, clean = environment_repo(root, env, repo)
    # The base commit's build manifests do not list the hidden tests; the test patch lists them again.
    manifests = scrubbed_manifests(Path(env.snapshot_path), task.hidden_tests)
    restore = "".join(
        make_diff(rel, text, (Path(env.snapshot_path) / rel).read_text(encoding="utf-8"))
        for rel, text in sorted(manifests.items())
    )
    task = task.model_copy(update={"test_patch": task.test_patch + restore})
    base = task_commit(git_dir, task, clean, manifests)
    task = task.model_copy(update=carried_patches(task, Path(env.snapshot_path), manifests))
    context = Path(root) / "images" / task.instance_id
    write_image_context(task, env, git_dir, context)
    row = task.to_swebench_row()
    row["FAIL_TO_PASS"] = json.dumps([blank(t) for t in task.FAIL_TO_PASS])
    row["PASS_TO_PASS"] = json.dumps([blank(t) for t in task.PASS_TO_PASS])
    row.update(
        repo=repo,
        base_commit=base,
        environment_setup_commit=clean,
        version=task.version or snapshot.version or "0",
        image=image_name(task.instance_id),
        eval_script=eval_script(task, env, base, git_dir),
        log_parser=LOG_PARSER,
        eval_type=EVAL_TYPE,
        git_repo=git_dir.relative_to(root).as_posix(),
        image_context=context.relative_to(root).as_posix(),
    )
    return row


def carried_patches(task: TaskRecord, snapshot: Path, manifests: dict[str, str]) -> dict[str, str]:
    """`patch` and `test_patch` with each change to a file that is not UTF-8 as a git binary patch."""

    def snap(rel: str) -> bytes | None:
        return (snapshot / rel).read_bytes() if (snapshot / rel).is_file() else None

    if is_utf8_text(task.patch) and is_utf8_text(task.test_patch):
        return {}
    touched = graded_patch_paths(task.bug_patch)
    bugged = apply_diff(
        {r: read_byte_text(snapshot / r) for r in touched if snap(r) is not None}, task.bug_patch
    )
    start = {r: None if t is None else text_bytes(t) for r, t in bugged.items()}
    start.update(dict.fromkeys(task.hidden_tests))
    start.update({r: t.encode() for r, t in manifests.items()})
    out = {}
    for key in ("patch", "test_patch"):
        patch = getattr(task, key)
        out[key] = ascii_safe(
            patch, {r: start[r] if r in start else snap(r) for r in graded_patch_paths(patch)}
        )
    return out


def ambiguous_ids(task: TaskRecord) -> list[str]:
    """Test ids of the task that read the same once addresses are blanked (see the module docstring)."""
    seen: dict[str, str] = {}
    clashes = []
    for t in task.tests:
        if seen.setdefault(blank(t), t) != t:
            clashes.append(t)
    return clashes


def graded_doctests(task: TaskRecord) -> dict[str, set[str]]:
    """FAIL_TO_PASS doctests of files a fix may change (`grading.doctests`): the harness's eval script can
    put test files back, not a docstring inside the module the fix changes, so a patch that rewrites the
    doctest's expected output to the buggy result would pass there. codekiln's grader and the Harbor
    verifier compare those examples with the snapshot's; such a task is left out of the rows
    (`skipped["graded_doctests"]`) rather than exported gameable."""
    return doctest_ids(task.FAIL_TO_PASS)


def export_swebench_bundle(
    tasks: Iterable[TaskRecord], out_dir: Path, *, skipped: dict[str, list[str]] | None = None
) -> Path:
    """Write `out_dir/swebench.jsonl` (replaced) and the git repositories beside it; returns the rows file.
    Every task needs its environment (`environment_id`, as `codekiln synth` makes them). Tasks the rows
    cannot carry are left out, their ids added to `skipped` by reason (see the module docstring)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    envs: dict[str, EnvRecord] = {}
    rows = []
    for task in tasks:
        if not task.environment_id:
            raise TaskError(
                f"{task.instance_id} names no environment, so its buggy commit cannot be written",
                hint="export tasks made by codekiln synth (imported SWE-bench rows already name their commits)",
            )
        if not task.tests:
            raise TaskError(f"{task.instance_id} lists no tests", hint="validate the task before exporting")
        reason = (
            "ambiguous_test_ids"
            if ambiguous_ids(task)
            else "graded_doctests"
            if graded_doctests(task)
            else ""
        )
        if reason:
            (skipped if skipped is not None else {}).setdefault(reason, []).append(task.instance_id)
            continue
        env = envs.setdefault(task.environment_id, load_env(task.environment_id))
        rows.append(swebench_row(task, env, get_snapshot(env.snapshot_id), out_dir))
    path = out_dir / ROWS
    path.unlink(missing_ok=True)
    append_jsonl(path, rows)
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an exported `swebench.jsonl`."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
