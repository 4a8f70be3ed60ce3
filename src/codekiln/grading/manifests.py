"""What an agent's workspace may not hold: the hidden tests. Build manifests list a project's files (an
sdist's `*.egg-info/SOURCES.txt` lists every test file), so a snapshot taken from an sdist tells an agent
which tests were removed, and by elimination which module the bug is in.

    scrubbed_manifests(snapshot_dir, task.hidden_tests)   # {rel: the manifest without those lines}
    workspace_copies(snapshot_dir, task)                  # [(rel, hidden test)] of files holding one's code

The agent's workspace (`grading.prepare_workspace`) and the graded one (`GradedWorkspace`) get the
scrubbed manifests; the grader puts the snapshot's own back before the tests run (they are package
metadata, protected), so the tests read what they always read. Scrubbed are the lists of files that
build tools write: `*.egg-info/SOURCES.txt` and `installed-files.txt`, `*.dist-info/RECORD`, and
distutils' `MANIFEST`, and git's `.gitattributes` (a path list for git alone, often naming test
files at paths the sdist no longer has: more-itertools' `more_itertools/tests/test_more.py
merge=union`); a line that holds a hidden path goes.

What a hidden test protects is its content: the assertions the fix must satisfy. Another file of the
workspace that holds a hidden test function's code (a copy of the test file under `build/`, a
duplicated suite, an example quoting the test) gives it away, and validation refuses such a task
(`workspace_copies`, reason `workspace_names_hidden_test`). A file that only mentions a test file's
path (a tox.ini running it, a changelog, a docstring pointing at it) says no more than the hidden
file's absence from the folder listing does, and is the same whatever the bug: it is left alone
(aiohappyeyeballs 2.7.1: a benchmark helper's docstring names `tests/test_impl.py`, which refused
every bug caught there).
"""

from __future__ import annotations

import ast
import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from codekiln.core.diffs import parse_diff
from codekiln.core.patches import apply_diff
from codekiln.core.sources import read_byte_text
from codekiln.grading.subject import GradedTask

MAX_TEXT_BYTES = 1_000_000  # larger files are data, not read by the workspace check


def is_manifest(rel: str) -> bool:
    """A file list a build tool wrote, or git reads (see the module docstring)."""
    path = PurePosixPath(rel)
    folder = path.parent.name
    if folder.endswith(".egg-info"):
        return path.name in ("SOURCES.txt", "installed-files.txt")
    if folder.endswith(".dist-info"):
        return path.name == "RECORD"
    return path.name in ("MANIFEST", ".gitattributes")


@functools.lru_cache(maxsize=64)
def _snapshot_texts(snapshot_dir: str) -> dict[str, str]:
    """Every UTF-8 text file of a snapshot (not .git, none over `MAX_TEXT_BYTES`), by relative path.
    Snapshots never change once made, so this is read once per process."""
    texts: dict[str, str] = {}
    for folder, dirs, files in os.walk(snapshot_dir):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_TEXT_BYTES:
                continue
            try:
                texts[str(path.relative_to(snapshot_dir))] = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
    return texts


def scrubbed_manifests(snapshot_dir: Path, hidden: Iterable[str]) -> dict[str, str]:
    """The snapshot's manifests that name a hidden path, each without the lines that do."""
    names = [h for h in hidden if h]
    out: dict[str, str] = {}
    for rel, text in _snapshot_texts(str(snapshot_dir)).items():
        if is_manifest(rel) and any(h in text for h in names):
            kept = [line for line in text.splitlines(keepends=True) if not any(h in line for h in names)]
            out[rel] = "".join(kept)
    return out


def workspace_files(snapshot_dir: Path, task: GradedTask) -> dict[str, str]:
    """The text files of the task's agent workspace as `prepare_workspace` leaves them: the snapshot
    with the bug in, the hidden tests out and the manifests scrubbed."""
    files = dict(_snapshot_texts(str(snapshot_dir)))
    touched = {p for fp in parse_diff(task.bug_patch) for p in (fp.old_path, fp.new_path) if p}
    bugged = {
        rel: read_byte_text(Path(snapshot_dir) / rel)
        for rel in touched
        if (Path(snapshot_dir) / rel).is_file()
    }
    for rel, text in apply_diff(bugged, task.bug_patch).items():
        if text is None:
            files.pop(rel, None)
        else:
            files[rel] = text
    files.update(scrubbed_manifests(snapshot_dir, task.hidden_tests))
    for rel in task.hidden_tests:
        files.pop(rel, None)
    return files


_TEST_DEF = re.compile(r"def (test\w*)\(")


def _squash(text: str) -> str:
    return " ".join(text.split())


@functools.lru_cache(maxsize=8192)
def _defined_tests(text: str) -> frozenset[str]:
    """The names after `def test...(` in a text (any file: code, docs, a copy): where a hidden test's
    code can be, so that only those files are searched for it."""
    return frozenset(_TEST_DEF.findall(text))


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def source_lines(text: str) -> list[str]:
    """`text`'s lines, ends kept, split where Python's parser splits them (at \\r\\n, \\r and \\n;
    not at a form feed): the lines `ast.get_source_segment` counts in."""
    return _LINE.findall(text)


def source_segment(lines: list[str], node: ast.stmt | ast.expr, *, padded: bool = False) -> str | None:
    """`ast.get_source_segment(text, node, padded=padded)` from `source_lines(text)`, split once for
    every node of a file: the standard function splits the whole text again for each node, which made
    the workspace check quadratic in a test file's length (toolz: ~0.2 CPU s per task, most of
    validation's decisions). `padded`: the first line of a segment of several lines is padded to the
    node's column (tabs and form feeds kept), as the standard function does."""
    end_lineno, end_col = node.end_lineno, node.end_col_offset
    if end_lineno is None or end_col is None:
        return None
    first, last, col = node.lineno - 1, end_lineno - 1, node.col_offset
    if first == last:
        return lines[first].encode()[col:end_col].decode()
    before = lines[first].encode()[:col].decode()
    padding = "".join(c if c in "\f\t" else " " for c in before) if padded else ""
    head = padding + lines[first].encode()[col:].decode()
    return "".join([head, *lines[first + 1 : last], lines[last].encode()[:end_col].decode()])


@functools.lru_cache(maxsize=64)
def _test_functions(text: str) -> tuple[tuple[str, str], ...]:
    """(test name, its squashed source) for every test function of a Python text, in `ast.walk`
    order; none when it does not parse. Kept by text: a batch's tasks hide the same few files."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ()
    lines = source_lines(text)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            source = source_segment(lines, node)
            if source:
                found.append((node.name, _squash(source.split("def ", 1)[-1])))
    return tuple(found)


def hidden_test_code(snapshot_dir: Path, hidden: Iterable[str]) -> list[tuple[str, str, str]]:
    """(hidden file, test name, its squashed source) for every test function (`def test*`, any
    nesting) of the hidden files that parse; each from its `def` to the end of its body."""
    found = []
    for rel in hidden:
        path = Path(snapshot_dir) / rel
        if path.is_file():
            found += [(rel, name, source) for name, source in _test_functions(read_byte_text(path))]
    return found


def workspace_copies(snapshot_dir: Path, task: GradedTask) -> list[tuple[str, str]]:
    """(file, hidden test file) for every file of the agent's workspace that holds the code of a test
    function of a hidden test file (whitespace aside): see the module docstring."""
    code = hidden_test_code(snapshot_dir, task.hidden_tests)
    if not code:
        return []
    found: set[tuple[str, str]] = set()
    for path, text in workspace_files(snapshot_dir, task).items():
        names = _defined_tests(text)
        wanted = [(rel, source) for rel, name, source in code if name in names]
        if wanted:
            flat = _squash(text)
            found.update((path, rel) for rel, source in wanted if source in flat)
    return sorted(found)


__all__ = ["hidden_test_code", "is_manifest", "scrubbed_manifests", "workspace_copies", "workspace_files"]
