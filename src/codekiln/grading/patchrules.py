"""What a graded patch may change: the rules the grader applies to the files a patch really changed.

    policy = GradePolicy()                                   # defaults suit Python source repositories
    problem = reject_reason(rel, kind, workspace_bytes, executable, snapshot_dir, policy)   # None, or why
    is_protected("toolz/tests/conftest.py")                  # True: restored from the snapshot
    shadowed = shadowing(new_paths, roots, installed, snapshot_dir)   # new modules that hide installed ones

The grader lists changed paths from the workspace itself (`Sandbox.changed`, the overlay's own record),
never from a parse of the patch text, and applies the rules of `grading.pathrules` to that list (see
there: rejected, protected, shadowing). Those rules are standard-library code that an exported
Harbor task's verifier ships unchanged; this module adapts them to a snapshot directory on the host
and holds the grader's policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from codekiln.grading import pathrules
from codekiln.grading.pathrules import (
    COMPILED_SUFFIXES,
    CONFIG_FILES,
    TEST_DIRS,
    installed_modules,
    is_protected,
)


class GradePolicy(BaseModel):
    """What a graded patch may contain and how strictly its test run is checked."""

    allow_binary: bool = Field(default=False, description="accept files whose content is not UTF-8 text")
    allow_symlinks: bool = Field(default=False, description="accept symlinks the patch creates")
    allow_mode_changes: bool = Field(default=False, description="accept changed executable bits")
    compiled_suffixes: tuple[str, ...] = Field(
        default=COMPILED_SUFFIXES, description="file endings of compiled artefacts a patch may not add"
    )
    scan: str = Field(
        default="enforce",
        description="static scan of added code: enforce (a finding scores 0), advisory (recorded), off",
    )
    canaries: bool = Field(default=True, description="plant canary tests in every graded run")
    twins: bool = Field(
        default=True,
        description="grade a resolved patch once more on the task's twin (`grading.twin_check`); off in validation",
    )
    twin_order: Literal["random", "twin-first", "real-first"] = Field(
        default="random",
        description="the order of the twin check's two runs (random: a mark cannot tell which is the twin's)",
    )

    def rules(self) -> pathrules.Rules:
        """The file rules of this policy, as the standalone verifier takes them."""
        return pathrules.Rules(
            allow_binary=self.allow_binary,
            allow_symlinks=self.allow_symlinks,
            allow_mode_changes=self.allow_mode_changes,
            compiled_suffixes=tuple(self.compiled_suffixes),
        )


def _original_executable(snapshot_dir: Path, rel: str) -> bool | None:
    original = Path(snapshot_dir) / rel
    if not original.is_file() or original.is_symlink():
        return None
    return bool(original.stat().st_mode & 0o111)


def reject_reason(
    rel: str,
    kind: str,
    data: bytes | None,
    executable: bool,
    snapshot_dir: Path,
    policy: GradePolicy,
    put_back: bool = False,
) -> str | None:
    """Why a changed path makes the patch unacceptable (None: it may stand). `kind` as from
    `Sandbox.changed`; `data` and `executable`: the file's bytes and exec bit in the graded workspace;
    `put_back`: the path is put back as in the snapshot anyway (`pathrules.put_back`)."""
    original = _original_executable(snapshot_dir, rel)
    return pathrules.reject_reason(rel, kind, data, executable, original, policy.rules(), put_back)


def path_roots(venv_dir: Path, snapshot_dir: Path, tests: list[str], workdir: str) -> set[str]:
    """Repo-relative directories on `sys.path` in a test process (see `grading.pathrules.path_roots`)."""
    return pathrules.path_roots(
        venv_dir, lambda folder: (Path(snapshot_dir) / folder / "__init__.py").is_file(), tests, workdir
    )


def shadowing(
    new_paths: list[str], roots: set[str], installed: frozenset[str], snapshot_dir: Path
) -> dict[str, str]:
    """New paths that put a module on `sys.path` under a name already importable elsewhere:
    path -> the module it hides."""
    return pathrules.shadowing(new_paths, roots, installed, lambda rel: (Path(snapshot_dir) / rel).exists())


__all__ = [
    "CONFIG_FILES",
    "TEST_DIRS",
    "GradePolicy",
    "installed_modules",
    "is_protected",
    "path_roots",
    "reject_reason",
    "shadowing",
]
