"""The guarded test step of an exported SWE-bench row: the lines of its eval script that write the Harbor
verifier's guard outside the repository and run the graded tests under it (`grading.row_verifier`).

    body = row_payload(task, env)            # MAKE_FOLDER, then UNPACK <<heredoc of body>>, then TEST_COMMAND

The setup writes `shipped.ROW` (the verifier, the guard plugin and the files they read, standard
library only) with the task's `task.json` and `state.json` into a fresh `mktemp -d` folder under /tmp
(mode 0700, the test process's user cannot read or write it) from one base64 zip in a heredoc, unpacked
by `python -I` (nothing of the working directory on `sys.path`). The command runs FAIL_TO_PASS +
PASS_TO_PASS as the Harbor verifier runs them (the guard plugin loaded with `-p` under a fresh name and
nonce, the snapshot's config, plugin autoload off, the task's support modules held, canaries planted),
then prints one swebench status line per graded test: what the guard vouches for, or FAILED for every
test when the report fails its cross-checks.

Its settings are the Harbor verifier's (`harbor_payload.verifier_settings`); its state holds only what
the guarded run reads (the buggy state's doctest digests, `grading.doctest_runs`): the eval script
itself puts back what the grader puts back (by git, from `base_commit`). The payload is the same for
every row but for the two JSON files: about 95 kB of each row's `eval_script`.
"""

from __future__ import annotations

import base64
import io
import json
import shlex
import zipfile

from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy, shipped
from codekiln.grading.doctest_runs import buggy_doctest_digests
from codekiln.grading.limits import graded_limit
from codekiln.sandbox.base import WORKDIR
from codekiln.tasks.export.harbor_payload import verifier_settings
from codekiln.tasks.records import TaskRecord

UNZIP = (
    "import base64, io, sys, zipfile; "
    "zipfile.ZipFile(io.BytesIO(base64.b64decode(sys.stdin.read()))).extractall(sys.argv[1])"
)
MAKE_FOLDER = 'CODEKILN_ROW="$(mktemp -d /tmp/codekiln-row.XXXXXXXX)"'
UNPACK = f'python -I -c {shlex.quote(UNZIP)} "$CODEKILN_ROW"'
"""Followed by the payload as a heredoc: unpacks it into the row's fresh folder."""
TEST_COMMAND = f'python -E -s "$CODEKILN_ROW/row_verifier.py" --testbed {WORKDIR}'
"""The command between swebench's markers (see `grading.row_verifier`)."""


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


def row_files(task: TaskRecord, env: EnvRecord) -> dict[str, bytes]:
    """The folder the row's eval script writes: `shipped.ROW`, `task.json`, `state.json`."""
    settings = verifier_settings(task, env, timeout_s=graded_limit(env), policy=GradePolicy())
    # The eval script has put the tree back already: the verifier's patch rules get nothing to judge.
    state = {
        "manifest": {},
        "originals": {},
        "before": {},
        "doctest_digests": buggy_doctest_digests(task, env),
    }
    files = {name: (shipped.FOLDER / name).read_bytes() for name in shipped.ROW}
    files["task.json"] = (json.dumps(settings, indent=1, sort_keys=True) + "\n").encode()
    files["state.json"] = (json.dumps(state, sort_keys=True) + "\n").encode()
    return files


def row_payload(task: TaskRecord, env: EnvRecord) -> str:
    """The text `UNPACK` reads: the row's folder (`row_files`) as a base64 zip."""
    return payload(row_files(task, env))


__all__ = ["MAKE_FOLDER", "TEST_COMMAND", "UNPACK", "payload", "row_files", "row_payload"]
