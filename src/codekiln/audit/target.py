"""What an attack of the corpus (`audit.attacks`) is built from: the facts of a task it needs
(`Target`), what it does (`Plan`: a patch, or a scripted agent's commands), and the helpers that make
changes a text diff cannot hold (`git_diff`: binary hunks and symlinks; `compiled`: sourceless
bytecode; `write_command`: a file written by an agent's shell command).

    target = Target.of(task, snapshot_dir)
    target.package, target.src, target.hidden      # "toolz", "", "toolz/tests/test_x.py"
    target.new("conftest.py", text)                # a diff creating a file in the agent's workspace
"""

from __future__ import annotations

import base64
import os
import py_compile
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from codekiln.core.diffs import make_diff, parse_diff
from codekiln.grading import graded_files
from codekiln.tasks.records import TaskRecord


@dataclass
class Plan:
    """What an attack does: a patch to grade, or commands a scripted agent runs in its sandbox."""

    patch: str = ""
    commands: list[str] = field(default_factory=list)


@dataclass
class Target:
    """The facts about a task an attack needs, read from the task and its snapshot."""

    task: TaskRecord
    snapshot: Path

    @classmethod
    def of(cls, task: TaskRecord, snapshot: Path) -> Target:
        return cls(task, Path(snapshot))

    @cached_property
    def _buggy(self) -> dict[str, str | None]:
        return graded_files(self.task, "", self.snapshot)

    def text(self, rel: str) -> str | None:
        """The file as the agent's workspace holds it (None: absent)."""
        if rel in self.task.hidden_tests:
            return None
        if rel in self._buggy:
            return self._buggy[rel]
        path = self.snapshot / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    @cached_property
    def package(self) -> str:
        """The library's top package folder (`toolz`, `src/markupsafe`), found from the gold patch."""
        for fp in parse_diff(self.task.patch):
            path = PurePosixPath(fp.new_path or fp.old_path or "")
            while (self.snapshot / path.parent / "__init__.py").is_file():
                path = path.parent
            if path != PurePosixPath(fp.new_path or ""):
                return str(path)
        raise ValueError(f"no package found in the gold patch of {self.task.instance_id}")

    @property
    def src(self) -> str:
        """The folder holding the package, the one on `sys.path` ("" for the repository root)."""
        parent = str(PurePosixPath(self.package).parent)
        return "" if parent == "." else parent

    def at_src(self, name: str) -> str:
        return f"{self.src}/{name}" if self.src else name

    @property
    def init(self) -> str:
        return f"{self.package}/__init__.py"

    @property
    def hidden(self) -> str:
        """The first hidden test file; for a task that hides none (its failing tests are doctests of a
        source module), the file of its first failing test."""
        if self.task.hidden_tests:
            return self.task.hidden_tests[0]
        return self.task.FAIL_TO_PASS[0].split("::", 1)[0]

    @property
    def test_dir(self) -> str:
        return str(PurePosixPath(self.hidden).parent)

    def new(self, rel: str, text: str) -> str:
        return make_diff(rel, self.text(rel), text)

    def append(self, rel: str, code: str) -> str:
        old = self.text(rel) or ""
        return make_diff(rel, old or None, old + code)


@dataclass(frozen=True)
class Attack:
    name: str
    klass: str
    summary: str
    build: Callable[[Target], Plan]


def write_command(path: str, data: str | bytes) -> str:
    """A shell command writing `data` to `path` (base64: no quoting can alter it)."""
    blob = base64.b64encode(data.encode() if isinstance(data, str) else data).decode()
    return f"mkdir -p \"$(dirname '{path}')\" && printf '%s' '{blob}' | base64 -d > '{path}'"


def git_diff(
    files: dict[str, bytes | str], links: dict[str, str] | None = None, base: dict[str, str] | None = None
) -> str:
    """`git diff --binary` of new files (bytes for binary ones) and symlinks (path -> target) made in a
    scratch repository: real git headers for the kinds of change a text diff cannot hold."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", tmp], check=True, env=env)
        for rel, text in (base or {}).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        subprocess.run(["git", "-C", tmp, "add", "-A"], check=True, env=env)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data if isinstance(data, bytes) else data.encode())
        for rel, target in (links or {}).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).unlink(missing_ok=True)
            (root / rel).symlink_to(target)
        subprocess.run(["git", "-C", tmp, "add", "-A"], check=True, env=env)
        out = subprocess.run(
            ["git", "-C", tmp, "diff", "--cached", "--binary", "--full-index"],
            check=True, env=env, capture_output=True,
        )  # fmt: skip
    return out.stdout.decode()


def compiled(source: str) -> bytes:
    """Sourceless bytecode (`.pyc`) of `source` for this Python: imported where no `.py` of that name is."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "m.py", Path(tmp) / "m.pyc"
        src.write_text(source)
        py_compile.compile(str(src), cfile=str(out), doraise=True)
        return out.read_bytes()
