"""Patches that survive a JSON string and a UTF-8 text file: a change to a file in another encoding as
a git binary patch.

    patch = ascii_safe(task.patch, before={"pkg/latin.py": buggy_bytes})

codekiln's patches hold a file's exact bytes (`core.sources`: a latin-1 `\\xe9` is the lone surrogate
`\\udce9`), which a JSON string field cannot carry and which a consumer writing the patch out as UTF-8
(swebench's harness: `patch_file.write_text(model_patch)`) turns into other bytes or an error. Such a
file's change is rewritten as git's own `GIT binary patch` (base85: ASCII only), which `git apply`
takes as it takes any patch and which gives back the same bytes; the other files' changes stay plain
diffs. A patch that is valid UTF-8 (a BOM is) comes back unchanged.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from codekiln.core.diffs import make_diff, parse_diff
from codekiln.core.errors import TaskError
from codekiln.core.patches import apply_diff
from codekiln.core.proc import run, tail
from codekiln.core.sources import byte_text, is_utf8_text, text_bytes
from codekiln.repos.fetch import GIT_ENV


def ascii_safe(patch: str, before: Mapping[str, bytes | None]) -> str:
    """`patch` with every file whose old or new bytes are not UTF-8 as a git binary patch.
    `before`: the bytes of each file the patch touches as the patch finds them (None: absent)."""
    if is_utf8_text(patch):
        return patch
    old = {rel: byte_text(data) for rel, data in before.items() if data is not None}
    after = apply_diff(old, patch)
    out = []
    for fp in parse_diff(patch):
        rel = fp.path
        a, b = old.get(rel), after.get(rel, old.get(rel))
        if (a is None or is_utf8_text(a)) and (b is None or is_utf8_text(b)):
            out.append(make_diff(rel, a, b))
        else:
            out.append(
                binary_patch(rel, None if a is None else text_bytes(a), None if b is None else text_bytes(b))
            )
    return "".join(out)


def binary_patch(rel: str, old: bytes | None, new: bytes | None) -> str:
    """git's binary patch of one file from `old` to `new` bytes (None: absent), with full index ids."""
    with tempfile.TemporaryDirectory(prefix="codekiln-binpatch-") as scratch:
        work = Path(scratch) / "work"
        attributes = Path(scratch) / "attributes"
        attributes.write_text("* binary\n")
        env = {**os.environ, **GIT_ENV, "GIT_DIR": str(Path(scratch) / "git"), "GIT_WORK_TREE": str(work)}
        git = ["git", "-c", "safe.directory=*", "-c", f"core.attributesFile={attributes}"]
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        steps: list[list[str]] = [["init", "-q"]]
        if old is not None:
            path.write_bytes(old)
            steps.append(["add", "--", rel])
        for step in steps:
            _ok(run([*git, *step], timeout=120, env=env, cwd=work), rel)
        if new is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(new)
            if old is None:
                _ok(run([*git, "add", "-N", "--", rel], timeout=120, env=env, cwd=work), rel)
        res = run(
            [*git, "diff", "--binary", "--full-index", "--no-color", "--", rel],
            timeout=120,
            env=env,
            cwd=work,
        )
        _ok(res, rel)
        return res.stdout


def _ok(res: object, rel: str) -> None:
    if getattr(res, "exit_code", 1) != 0:
        raise TaskError(
            f"git could not write a binary patch of {rel}: {tail(getattr(res, 'stderr', '') or '', 8)}",
            hint="check that git works (git --version)",
        )


__all__ = ["ascii_safe", "binary_patch"]
