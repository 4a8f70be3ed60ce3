"""The graded workspace of one grade: the state before the patch, and what the patch really changed.

    g = GradedWorkspace(sandbox, task, env)
    problem = g.prepare(patch, modes)      # bug in, hidden tests and .git out, the patch applied by git
    g.touched()                            # {path: kind}: read from the workspace, not from the patch
    g.restore(paths)                       # put paths back as in the snapshot
    canary_module(task, snapshot_dir)      # where a grade plants its canaries
    graded_files(task, patch, snapshot_dir)  # the graded state of the files a patch touches, in memory

Used by `grading.grader`, which judges those changes and runs the tests; see its docstring.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from codekiln.core.diffs import make_diff, parse_diff, whole_file_diff
from codekiln.core.errors import CodekilnError
from codekiln.core.patches import apply_diff
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.core.sources import SourceEncodingError, decode_python, is_utf8_text, read_byte_text, text_bytes
from codekiln.grading import libnames, pathrules
from codekiln.grading.guard_check import checks_module_text
from codekiln.grading.manifests import scrubbed_manifests
from codekiln.grading.patchrules import is_protected
from codekiln.grading.subject import GradedTask, GradingEnv
from codekiln.sandbox.files import remove_at

GIT_APPLY = ["git", "-c", "safe.directory=*", "apply", "--whitespace=nowarn", "-"]
_MODE = re.compile(r"\bmode (?:\d{6} => )?(\d{6})\b")


def read_snapshot(snapshot_dir: Path, rel: str) -> str | None:
    """A snapshot file as patch text: its exact bytes, a latin-1 source's included (`core.sources`)."""
    path = Path(snapshot_dir) / rel
    return read_byte_text(path) if path.is_file() else None


def snapshot_text(snapshot_dir: Path, rel: str) -> str | None:
    """`read_snapshot`, but None for a file that is neither UTF-8 nor a Python source valid in its own
    encoding (a logo, a zip): a change to it is one a text patch cannot carry, left out of an agent's
    patch rather than failing the episode."""
    text = read_snapshot(snapshot_dir, rel)
    if text is None or is_utf8_text(text):
        return text
    if rel.endswith(".py"):
        try:
            decode_python(text_bytes(text), rel)
            return text
        except SourceEncodingError:
            pass
    return None


def setup_patch(task: GradedTask, snapshot_dir: Path) -> str:
    """The environment setup patch: the snapshot -> the agent's workspace (bug in, hidden tests out)."""
    deletions = "".join(
        whole_file_diff(Path(snapshot_dir) / rel, rel, create=False)
        if (Path(snapshot_dir) / rel).is_file()
        else make_diff(rel, None, None)
        for rel in task.hidden_tests
    )
    return task.bug_patch + deletions


def graded_files(task: GradedTask, patch: str, snapshot_dir: Path) -> dict[str, str | None]:
    """The graded state of every file the setup or `patch` touches (None: absent), computed in memory
    with a strict apply. For patches codekiln made itself (gold, bug); the grader reads what an
    agent's patch changed from the workspace. Raises TaskError when a patch does not apply."""
    paths = patch_paths(task.bug_patch) | patch_paths(patch) | set(task.hidden_tests)
    files: dict[str, str | None] = {rel: read_snapshot(snapshot_dir, rel) for rel in sorted(paths)}
    files.update(apply_diff({k: v for k, v in files.items() if v is not None}, task.bug_patch))
    files.update(dict.fromkeys(task.hidden_tests))  # the setup patch's deletions, made from the snapshot
    files.update(apply_diff({k: v for k, v in files.items() if v is not None}, patch))
    for rel in paths:
        if is_protected(rel) or rel in task.hidden_tests:
            files[rel] = read_snapshot(snapshot_dir, rel)
    return files


def restores_snapshot(task: GradedTask, patch: str, snapshot_dir: Path) -> bool:
    """True when grading `patch` leaves exactly the snapshot's files (what the gold patch must do)."""
    return all(
        text == read_snapshot(snapshot_dir, rel)
        for rel, text in graded_files(task, patch, snapshot_dir).items()
    )


def patch_paths(patch: str) -> set[str]:
    """Both paths of every file a (codekiln-made) patch touches."""
    return {p for fp in parse_diff(patch) for p in (fp.old_path, fp.new_path) if p}


def new_links(diff: str) -> dict[str, str]:
    """Path -> target of every symlink a `git diff` creates (a new entry of mode 120000)."""
    return {
        fp.new_path: "\n".join(line.text for hunk in fp.hunks for line in hunk.lines if line.tag == "+")
        for fp in parse_diff(diff)
        if fp.new_path and fp.old_path is None and fp.mode == "120000"
    }


class GradedWorkspace:
    """The graded workspace of one grade: its state before the patch, and the patch's real changes."""

    def __init__(self, sandbox: Sandbox, task: GradedTask, env: GradingEnv) -> None:
        self.sb, self.task, self.env = sandbox, task, env
        self.snapshot = Path(env.snapshot_path)
        buggy = apply_diff(
            {
                rel: text
                for rel in patch_paths(task.bug_patch)
                if (text := read_snapshot(self.snapshot, rel)) is not None
            },
            task.bug_patch,
        )
        self.before: dict[str, str | None] = {
            **buggy,
            **dict.fromkeys(task.hidden_tests),
            **scrubbed_manifests(self.snapshot, task.hidden_tests),  # as in the agent's workspace
        }

    def prepare(self, patch: str = "", modes: list[str] | None = None) -> str | None:
        """Bug in, hidden tests and git metadata out (nothing of the fix stays in the tree), then `patch`
        applied by git fed on stdin in the sandbox. Returns git's complaint, or None; `modes` collects
        the file modes git's own summary names (160000: a submodule). The workspace must be fresh (as
        opened or reset). On a host backend the removals are made from the host, through no link
        (`.git` as one overlay whiteout where it can: `rm -rf` makes one per file, ~4 ms of kernel
        time), and git runs alone in the sandbox; elsewhere, or with a link in the way, one sandbox
        command does it all."""
        gone = [rel for rel, text in self.before.items() if text is None]
        hide = getattr(self.sb, "hide", None)
        hidden = [".git"] if hide is not None and hide([".git"]) else []
        for rel, text in self.before.items():
            if text is not None:
                self.sb.write_file(rel, text)
        self.baseline = {
            ".git": "deleted",
            **{r: "deleted" if t is None else "file" for r, t in self.before.items()},
        }
        data = patch.encode("utf-8", errors="surrogateescape") if patch.strip() else None
        apply = [*GIT_APPLY[:-1], "--summary", "--apply", "-"]
        tree = getattr(getattr(self.sb, "ws", None), "path", None)
        rest = [rel for rel in [".git", *gone] if rel not in hidden]
        if tree is not None and all(remove_at(Path(tree), rel) for rel in rest):
            if data is None:
                return None
            argv = apply
        else:
            script = 'rm -rf -- .git "$@"'
            if data is not None:
                script += " && exec " + " ".join(shlex.quote(a) for a in apply)
            argv = ["sh", "-c", script, "sh", *gone]
        res = self.sb.exec(argv, timeout=120, cwd=self.sb.workdir, input=data)
        if data is None:
            if not res.ok:
                raise CodekilnError(f"could not prepare the graded workspace: {tail(res.output, 10)}")
            return None
        if modes is not None:
            modes.extend(_MODE.findall(res.stdout))
        return (
            None if res.ok else tail(res.stderr or res.stdout, 10) or f"git apply exit code {res.exit_code}"
        )

    def _changes(self) -> dict[str, str]:
        changed = getattr(self.sb, "changed", None)
        if changed is None:
            raise CodekilnError(
                "this sandbox backend cannot list what a patch changed",
                hint="grade with a bwrap, podman or local sandbox",
            )
        return dict(changed((".git",)))  # the grader's own removal: one entry, not every object

    def _bytes(self, rel: str) -> bytes | None:
        try:
            return self.sb.read_file(rel)
        except (CodekilnError, OSError, ValueError):
            return None

    def touched(self) -> dict[str, str]:
        """Paths the patch really changed, with their kind (file, symlink, dir, other, deleted)."""
        out = {}
        for rel, kind in self._changes().items():
            if kind == "deleted" and (rel == ".git" or rel.startswith(".git/")):
                continue  # the grader's own removal
            if rel in self.baseline and self.baseline[rel] == kind:
                want = self.before.get(rel)
                if kind == "deleted" or (
                    kind == "file" and want is not None and self._bytes(rel) == text_bytes(want)
                ):
                    continue
            out[rel] = kind
        return out

    def snapshot_has(self, rel: str) -> bool:
        return (self.snapshot / rel).exists()

    def holds_tests(self, folder: str) -> bool:
        """The snapshot has a test file right in `folder` (`pathrules.library_module`'s `holds_tests`)."""
        return bool(pathrules.test_folders(map(str, (self.snapshot / folder).glob("*.py"))))

    def kept_modules(self, new: list[str], roots: set[str], tests: list[str]) -> frozenset[str]:
        """The new library modules named like tests among `new` that stand (`grading.libnames`)."""
        packages = pathrules.project_packages(Path(self.env.venv), self.sb.workdir)
        return libnames.kept_modules(new, packages, self.holds_tests, roots, tests)

    def snapshot_bytes(self, rel: str) -> bytes | None:
        path = self.snapshot / rel
        return path.read_bytes() if path.is_file() and not path.is_symlink() else None

    def executable(self, rel: str) -> bool:
        tree = getattr(getattr(self.sb, "ws", None), "path", None)
        if tree is not None:  # a host backend: look at the workspace directly
            return bool((Path(tree) / rel).lstat().st_mode & 0o111)
        return self.sb.exec(["test", "-x", rel], timeout=30, cwd=self.sb.workdir).ok

    def _in_the_way(self, above: list[str], paths: list[str]) -> bool:
        """Whether a restore must remove something first: one of `paths` exists, or a file or link
        stands where one of their folders (`above`) belongs. Always, when the tree cannot be seen."""
        tree = getattr(getattr(self.sb, "ws", None), "path", None)
        if tree is None:
            return bool(paths)
        root = Path(tree)

        def there(rel: str) -> bool:
            return (root / rel).is_symlink() or (root / rel).exists()

        return any(there(rel) for rel in paths) or any(
            there(a) and ((root / a).is_symlink() or not (root / a).is_dir()) for a in above
        )

    def restore(self, paths: list[str]) -> None:
        """Put `paths` back as they are in the snapshot (absent there: deleted); a file or link that
        took the place of one of their folders goes first."""
        above = sorted({str(p) for rel in paths for p in PurePosixPath(rel).parents if str(p) != "."})
        if self._in_the_way(above, paths):
            clear = (
                'n=$1; shift; i=0; for a in "$@"; do i=$((i+1)); if [ $i -le $n ]; then '
                'if [ -L "$a" ] || { [ -e "$a" ] && [ ! -d "$a" ]; }; then rm -f -- "$a"; fi; '
                'else rm -rf -- "$a"; fi; done'
            )
            argv = ["sh", "-c", clear, "sh", str(len(above)), *above, *paths]
            self.sb.exec(argv, timeout=120, cwd=self.sb.workdir)
        for rel in paths:
            original = self.snapshot / rel
            if original.is_dir() and not original.is_symlink():
                for child in sorted(original.rglob("*")):
                    if child.is_file() and not child.is_symlink():
                        self.sb.write_file(str(child.relative_to(self.snapshot)), child.read_bytes())
            elif original.is_file() and not original.is_symlink():
                self.sb.write_file(rel, original.read_bytes())


def canary_module(task: GradedTask, snapshot_dir: Path, tests: Iterable[str] = ()) -> tuple[str, str]:
    """Where a grade plants its canaries, and that file's source now: the first graded test module
    (a file of the suite, so the canaries look like its own tests) whose text no graded test checks
    (`guard_check.checks_module_text` over the record's tests and `tests`, the run's: a linter's item
    of the module would fail on them), else a new module beside the first test (a suite of doctests or
    data-driven tests only, or one whose every test module is linted by the run)."""
    graded = [*task.tests, *tests]
    for test in task.tests:
        rel = test.split("::", 1)[0]
        if "::" in test and rel.endswith(".py") and is_protected(rel):
            text = read_snapshot(snapshot_dir, rel)
            if text is not None and not checks_module_text(rel, text, graded):
                return rel, text
    folder = PurePosixPath(task.tests[0].split("::", 1)[0]).parent
    return str(folder / f"test_{secrets.token_hex(4)}.py").removeprefix("./"), ""


__all__ = ["GIT_APPLY", "GradedWorkspace", "canary_module", "patch_paths", "read_snapshot"]
