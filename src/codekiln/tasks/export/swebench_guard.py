"""The judging steps of an exported SWE-bench row: the lines of its eval script that write the Harbor
verifier outside the repository, run its patch rules and scan on the patched tree, and run the graded
tests under its guard (`grading.row_verifier`).

    body = row_payload(task, env, base, git_dir)      # base: the row's base_commit, in git_dir
    # MAKE_FOLDER, UNPACK <<heredoc of body>>, CHECK_COMMAND, the resets, test_patch, TEST_COMMAND

The setup writes `shipped.ROW` (the verifier, the guard plugin and the files they read, standard
library only) with the task's `task.json` and `state.json` into a fresh `mktemp -d` folder under /tmp
(mode 0700, the test process's user cannot read or write it) from one base64 zip in a heredoc, unpacked
by `python -I -S`, as both commands run the verifier: neither the working directory nor the venv's site
(an editable install's `.pth` names the tree) is on `sys.path`, so the verifier, root, imports nothing of
the tree. First of all the script makes itself unreadable to that user (`HIDE_SCRIPT`: `test_patch`,
the hidden tests' text, is in it, and an ancestor's command line names it). `CHECK_COMMAND` runs on the tree as
the harness left it: the Harbor verifier's `check` against the manifest of `base_commit` (what the
patch touched; rejected paths, new modules or packages hiding installed ones, the static scan;
protected, data, support and hidden files put back), its verdict kept in that folder. The test command
prints that rejection, or runs FAIL_TO_PASS + PASS_TO_PASS as the Harbor verifier runs them (the guard
plugin loaded with `-p` under a fresh name and nonce, the snapshot's config, plugin autoload off, the
task's support modules held, canaries planted), then prints one swebench status line per graded test:
what the guard vouches for, or FAILED for every test when the patch was rejected or the report fails
its cross-checks.

Its settings are the Harbor verifier's (`harbor_payload.verifier_settings`), each run's limit the
derived one within its share of the harness's timeout (`HARNESS_TIMEOUT_S`, `limits.verifier_limit`:
half of it where a kept twin is shipped); its state holds the manifest of `base_commit` (path -> [kind,
sha256, mode], from the export's git repository, never from the tree under test), the commit, the
buggy state's doctest digests (`grading.doctest_runs`) and the baseline's statuses of the graded cases
named by an address (`unstable_ids.cases_of`), and the task's kept twin (`harbor_payload.twin_state`),
whose run and the real one run in a drawn order (`verifier_twin`). The snapshot's bytes themselves are
not shipped: the check reads them from git at `base_commit` and holds them to the manifest's digests.
The payload is the same for every row but for the two JSON files: about 95 kB of each row's
`eval_script`, plus about 50 bytes per file of the repository.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shlex
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from codekiln.core.errors import TaskError
from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy, row_verifier, shipped, unstable_ids
from codekiln.grading.doctest_runs import buggy_doctest_digests
from codekiln.grading.limits import verifier_limit
from codekiln.repos.fetch import GIT_ENV
from codekiln.sandbox.base import WORKDIR
from codekiln.tasks.export.harbor_payload import twin_state, verifier_settings
from codekiln.tasks.records import TaskRecord

UNZIP = (
    "import base64, io, sys, zipfile; "
    "zipfile.ZipFile(io.BytesIO(base64.b64decode(sys.stdin.read()))).extractall(sys.argv[1])"
)
MAKE_FOLDER = 'CODEKILN_ROW="$(mktemp -d /tmp/codekiln-row.XXXXXXXX)"'
UNPACK = f'python -I -S -c {shlex.quote(UNZIP)} "$CODEKILN_ROW"'
"""Followed by the payload as a heredoc: unpacks it into the row's fresh folder."""
CHECK_COMMAND = f'python -I -S "$CODEKILN_ROW/row_verifier.py" --check --testbed {WORKDIR}'
"""Run on the patched tree before the eval script's resets: the patch rules and scan (`row_verifier`)."""
TEST_COMMAND = f'python -I -S "$CODEKILN_ROW/row_verifier.py" --testbed {WORKDIR}'
"""The command between swebench's markers (see `grading.row_verifier`)."""
SPARE_KEPT = (
    "import json, os, sys; kept = set(json.load(open(sys.argv[1])) if os.path.isfile(sys.argv[1]) else []); "
    "sys.stdout.buffer.write(b''.join(p + b'\\0' for p in sys.stdin.buffer.read().split(b'\\0') "
    "if p and p.decode('utf-8', 'surrogateescape') not in kept))"
)
SPARE = f'python -I -c {shlex.quote(SPARE_KEPT)} "$CODEKILN_ROW/{row_verifier.KEPT}"'
"""A filter of NUL-separated paths that drops the new library modules named like tests the check kept
(`row_verifier.KEPT`; none when the check did not write the list): the eval script's removal of new
protected files spares them, as the grader does (`grading.libnames`)."""
GIT_HOME = "/opt/codekiln/testbed.git"
"""The image's git directory of /testbed: outside it, where no patch the harness applies can write."""
INSTALLED = "/opt/codekiln/installed.json"
"""The image's /testbed as its build left it (`verifier_files.tree_state`, written after the install):
the files the install made there (`*.egg-info`, a C extension built in place) are no patch's."""
IMAGE_ENV = {"GIT_DIR": GIT_HOME, "GIT_WORK_TREE": WORKDIR}
"""Set in the image: every `docker exec` (the harness's `git apply`, `git diff`, the eval script) uses
`GIT_HOME` and never looks for a repository under /testbed, so a `.git` a patch writes there is inert."""
HIDE_SCRIPT = 's="${BASH_SOURCE[0]:-}"; [ -z "$s" ] || { chown 0:0 -- "$s" 2>/dev/null; chmod 0600 -- "$s"; }'
"""The eval script's first command: the harness's `/eval.sh` (0644, named by `/bin/bash /eval.sh`, the
command line of every test's ancestor) holds `test_patch`; bash reads on from the file it opened. Run
from no file (`bash -c`, stdin: `$0` is bash itself), it touches nothing; the tests' stdin is /dev/null."""
HARNESS_TIMEOUT_S = 1800.0
"""swebench's `run_evaluation --timeout` default: the time of the whole eval script, the row's graded
runs within it (`grading.limits.verifier_limit`). A user's longer timeout leaves the runs' limits as they are."""
SAFE_GIT = 'git() { command git -c core.fsmonitor=false -c core.hooksPath=/dev/null "$@"; }'
"""The eval script's git: no fsmonitor command and no hooks, whatever a config says."""


def payload(files: dict[str, bytes]) -> str:
    """`files` as a base64 zip in 76-column lines; the same files always give the same text."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return base64.encodebytes(raw.getvalue()).decode("ascii")


def commit_manifest(git_dir: Path, commit: str) -> dict[str, list[Any]]:
    """rel -> [kind, sha256, mode] of `commit`'s tree as a checkout writes it, the entries
    `verifier_files.tree_state` reads there: a file 0o644 or 0o755, a symlink's sha its target's."""
    env = {**os.environ, **GIT_ENV, "GIT_DIR": str(git_dir)}

    def git(*args: str, data: bytes | None = None) -> bytes:
        done = subprocess.run(
            ["git", *args], input=data, env=env, capture_output=True, timeout=600, check=False
        )
        if done.returncode != 0:
            raise TaskError(
                f"git {args[0]} failed on {git_dir.name}: {done.stderr.decode(errors='replace')[-500:]}",
                hint="check that git works (git --version) and that the row's base commit was written",
            )
        return done.stdout

    entries = []
    for record in filter(None, git("ls-tree", "-r", "-z", "--full-tree", commit).split(b"\0")):
        meta, path = record.split(b"\t", 1)
        mode, kind, blob = meta.split()
        if kind == b"blob":  # a submodule's commit checks out as an empty folder: no entry
            entries.append((path.decode("utf-8", "surrogateescape"), mode, blob))
    batch, at, out = git("cat-file", "--batch", data=b"".join(e[2] + b"\n" for e in entries)), 0, {}
    for rel, mode, _ in entries:
        header_end = batch.index(b"\n", at)
        size = int(batch[at:header_end].split()[2])
        digest = hashlib.sha256(batch[header_end + 1 : header_end + 1 + size]).hexdigest()
        at = header_end + 1 + size + 1
        link = mode == b"120000"
        out[rel] = (
            ["symlink", digest, 0o777] if link else ["file", digest, 0o755 if mode == b"100755" else 0o644]
        )
    return out


def row_files(
    task: TaskRecord, env: EnvRecord, base: str, manifest: dict[str, list[Any]]
) -> dict[str, bytes]:
    """The folder the row's eval script writes: `shipped.ROW`, `task.json`, `state.json` (`manifest`:
    `base_commit`'s, `commit_manifest`)."""
    twin = twin_state(task, env, GradePolicy())  # run in the twin step (`verifier_twin`)
    # the whole eval script runs under the harness's timeout: with a kept twin a tree is run twice in it
    limit = verifier_limit(env, HARNESS_TIMEOUT_S, 2 if twin else 1)
    settings = verifier_settings(task, env, timeout_s=limit, policy=GradePolicy())
    state: dict[str, Any] = {
        "manifest": manifest,
        "base_commit": base,
        "installed": INSTALLED,
        "originals": {},  # read from git at `base_commit` by the check (`row_verifier.RowVerifier`)
        "before": {},
        "doctest_digests": buggy_doctest_digests(task, env),
        "baseline_cases": unstable_ids.cases_of(env.baseline, task.tests),
    }
    if twin:
        state["twin"] = twin
    files = {name: (shipped.FOLDER / name).read_bytes() for name in shipped.ROW}
    files["task.json"] = (json.dumps(settings, indent=1, sort_keys=True) + "\n").encode()
    files["state.json"] = (json.dumps(state, sort_keys=True) + "\n").encode()
    return files


def row_payload(task: TaskRecord, env: EnvRecord, base: str, git_dir: Path) -> str:
    """The text `UNPACK` reads: the row's folder (`row_files`) as a base64 zip, with the manifest of
    `base` (a commit of the bare repository `git_dir`)."""
    return payload(row_files(task, env, base, commit_manifest(git_dir, base)))


__all__ = [
    "CHECK_COMMAND",
    "GIT_HOME",
    "HARNESS_TIMEOUT_S",
    "HIDE_SCRIPT",
    "IMAGE_ENV",
    "INSTALLED",
    "MAKE_FOLDER",
    "SAFE_GIT",
    "SPARE",
    "TEST_COMMAND",
    "UNPACK",
    "commit_manifest",
    "payload",
    "row_files",
    "row_payload",
]
