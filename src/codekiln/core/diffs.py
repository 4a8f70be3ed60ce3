"""Git-style unified diffs: make them, parse them, reverse them, hash them (applying and merging them
in memory is `codekiln.core.patches`).

Every patch codekiln stores (an injected bug, its gold fix, a test patch) is text in `git diff` format,
applicable with `git apply` (and reversible with `git apply -R`):

    bug = make_diff("pkg/mod.py", old_text, new_text)     # "diff --git a/pkg/mod.py b/pkg/mod.py" ...
    fix = reverse_diff(bug)                                # the gold patch
    key = diff_hash(bug)                                   # ignores line numbers and context
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.core.errors import TaskError

NO_NEWLINE = "\\ No newline at end of file"
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class HunkLine:
    """One line of a hunk: `tag` is ' ', '-' or '+'; `eol` is False when the file lacks a final newline."""

    tag: str
    text: str
    eol: bool = True


@dataclass
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: list[HunkLine] = field(default_factory=list)


@dataclass
class FilePatch:
    """The change to one file. `old_path`/`new_path` are None for a created/deleted file."""

    old_path: str | None
    new_path: str | None
    hunks: list[Hunk] = field(default_factory=list)
    mode: str = "100644"

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


def make_diff(
    path: str,
    old: str | None,
    new: str | None,
    *,
    mode: str = "100644",
    context: int = 3,
    first_line: int = 1,
) -> str:
    """A `git diff` of one file from `old` to `new` text; None means the file does not exist on that side.

    `first_line` > 1 diffs a window of the file that starts at that line (both sides), which must hold
    `context` unchanged lines around every change unless it reaches the start or end of the file."""
    if old == new:
        return ""
    old_lines = _lines_keepends(old or "")
    new_lines = _lines_keepends(new or "")
    a, b = quote_path(f"a/{path}"), quote_path(f"b/{path}")
    header = [f"diff --git {a} {b}\n"]
    if old is None:
        header += [f"new file mode {mode}\n", "--- /dev/null\n", f"+++ {b}\n"]
    elif new is None:
        header += [f"deleted file mode {mode}\n", f"--- {a}\n", "+++ /dev/null\n"]
    else:
        header += [f"--- {a}\n", f"+++ {b}\n"]
    # Diff only the differing middle (plus context): difflib is slow on long files, and a mutation
    # touches a few lines of one entity.
    same, tail = common_ends(old_lines, new_lines)
    lo, cut = max(0, same - context), max(0, tail - context)
    old_mid, new_mid = old_lines[lo : len(old_lines) - cut], new_lines[lo : len(new_lines) - cut]
    body = []
    for line in list(difflib.unified_diff(old_mid, new_mid, n=context))[2:]:
        if line.startswith("@@"):
            body.append(_shift_header(line, lo + first_line - 1))
        elif line.endswith("\n"):
            body.append(line)
        else:
            body.append(line + "\n" + NO_NEWLINE + "\n")
    return "".join(header + body)


def common_ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many leading and how many trailing items `a` and `b` share (never overlapping)."""
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def _lines_keepends(text: str) -> list[str]:
    """Split after each "\\n" only (str.splitlines also splits on form feeds and other separators git ignores)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _shift_header(line: str, offset: int) -> str:
    """A difflib hunk header moved down by `offset` lines (difflib's `-5` / `-0,0` forms are kept; git
    accepts them)."""
    m = _HUNK_RE.match(line)
    assert m is not None, line
    a, b, c, d = m.groups()
    old = f"{int(a) + offset}" + (f",{b}" if b is not None else "")
    new = f"{int(c) + offset}" + (f",{d}" if d is not None else "")
    return f"@@ -{old} +{new} @@\n"


_C_ESCAPES = {
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    '"': '"',
    "\\": "\\",
}
_C_UNESCAPES = {v: k for k, v in _C_ESCAPES.items()}


def _needs_quotes(c: str) -> bool:
    return c in _C_ESCAPES or ord(c) < 0x20 or ord(c) == 0x7F


def quote_path(name: str) -> str:
    """`name` as git writes it in a diff header: C-quoted when it holds a double quote, a backslash or
    a control character (a tab or a newline would end the name), else as is. Other non-ASCII is kept
    as is, as git does with core.quotePath=false; git apply reads both forms."""
    if not any(_needs_quotes(c) for c in name):
        return name
    body = "".join(
        "\\" + _C_ESCAPES[c] if c in _C_ESCAPES else f"\\{ord(c):03o}" if _needs_quotes(c) else c
        for c in name
    )
    return f'"{body}"'


def unquote_path(text: str) -> tuple[str, str]:
    """Read the C-quoted name git wrote at the start of `text` (which starts with a double quote):
    (the name, the text after its closing quote). Octal escapes are bytes (git quotes each byte of a
    non-ASCII name unless core.quotePath=false): decoded as UTF-8, with surrogateescape for the rest.
    Raises TaskError on an unterminated name."""
    out = bytearray()
    i = 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return out.decode("utf-8", errors="surrogateescape"), text[i + 1 :]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _C_UNESCAPES:
                out += _C_UNESCAPES[nxt].encode()
                i += 2
                continue
            if re.fullmatch(r"[0-3][0-7]{2}", text[i + 1 : i + 4]):
                out.append(int(text[i + 1 : i + 4], 8))
                i += 4
                continue
        out += c.encode("utf-8", errors="surrogateescape")
        i += 1
    raise TaskError(f"unterminated quoted file name {text[:80]!r}", hint="regenerate the patch with git diff")


def _git_names(rest: str) -> tuple[str | None, str | None]:
    """The two names of a `diff --git` line (after "diff --git "), quoted or not, prefixes kept.
    Unquoted names may hold spaces: git names the same file twice, so the line splits in the middle."""
    if rest.startswith('"'):
        a, tail = unquote_path(rest)
        tail = tail.lstrip(" ")
        return a, (unquote_path(tail)[0] if tail.startswith('"') else tail or None)
    half = (len(rest) - 1) // 2
    if len(rest) % 2 and rest[half] == " " and rest[2:half] == rest[half + 3 :]:
        return rest[:half], rest[half + 1 :]
    quoted = rest.find(' "')
    if quoted >= 0 and rest.endswith('"'):
        return rest[:quoted], unquote_path(rest[quoted + 1 :])[0]
    a, _, b = rest.partition(" ")
    return a or None, b.split(" ", 1)[0] or None


def _side_path(raw: str, prefix: str) -> str | None:
    body = raw[4:]
    path = unquote_path(body)[0] if body.startswith('"') else body.split("\t", 1)[0]
    return None if path == "/dev/null" else path.removeprefix(prefix)


def parse_diff(text: str) -> list[FilePatch]:
    """Parse `git diff` text (or a plain unified diff) into file patches.

    Hunk lines are counted against their header, so a removed line that starts with `--- ` is read
    as content. Raises TaskError on a malformed hunk header."""
    patches: list[FilePatch] = []
    current: FilePatch | None = None
    hunk: Hunk | None = None
    left_old = left_new = 0
    for raw in text.split("\n")[: -1 if text.endswith("\n") else None]:
        if raw.startswith(NO_NEWLINE[:2]):
            if hunk is not None and hunk.lines:
                hunk.lines[-1].eol = False
            continue
        if hunk is not None and (left_old > 0 or left_new > 0):
            tag = raw[:1] or " "  # some tools strip the space of an empty context line
            if tag in " -+":
                hunk.lines.append(HunkLine(tag, raw[1:]))
                left_old -= tag != "+"
                left_new -= tag != "-"
                continue
            hunk = None
        if raw.startswith("diff --git "):
            a, b = _git_names(raw[len("diff --git ") :])
            current, hunk = FilePatch(a[2:] if a else None, b[2:] if b else None), None
            patches.append(current)
        elif raw.startswith("--- "):
            if current is None or current.hunks:  # a plain unified diff: each file starts here
                current = FilePatch(None, None)
                patches.append(current)
            current.old_path, hunk = _side_path(raw, "a/"), None
        elif current is None:
            continue
        elif raw.startswith("+++ "):
            current.new_path = _side_path(raw, "b/")
        elif raw.startswith(("new file mode ", "deleted file mode ")):
            current.mode = raw.rsplit(" ", 1)[1]
        elif raw.startswith("@@"):
            m = _HUNK_RE.match(raw)
            if not m:
                raise TaskError(f"malformed hunk header {raw!r}", hint="regenerate the patch with git diff")
            a, b, c, d = m.groups()
            hunk = Hunk(int(a), int(b) if b is not None else 1, int(c), int(d) if d is not None else 1)
            current.hunks.append(hunk)
            left_old, left_new = hunk.old_len, hunk.new_len
    return patches


def render_diff(patches: list[FilePatch]) -> str:
    out: list[str] = []
    for fp in patches:
        a = quote_path(f"a/{fp.old_path or fp.new_path}")
        b = quote_path(f"b/{fp.new_path or fp.old_path}")
        out.append(f"diff --git {a} {b}\n")
        if fp.old_path is None:
            out.append(f"new file mode {fp.mode}\n")
        elif fp.new_path is None:
            out.append(f"deleted file mode {fp.mode}\n")
        out.append(f"--- {a}\n" if fp.old_path else "--- /dev/null\n")
        out.append(f"+++ {b}\n" if fp.new_path else "+++ /dev/null\n")
        for h in fp.hunks:
            out.append(f"@@ -{_range(h.old_start, h.old_len)} +{_range(h.new_start, h.new_len)} @@\n")
            for line in h.lines:
                out.append(f"{line.tag}{line.text}\n")
                if not line.eol:
                    out.append(NO_NEWLINE + "\n")
    return "".join(out)


def _range(start: int, length: int) -> str:
    return str(start) if length == 1 else f"{start},{length}"


def reverse_diff(text: str) -> str:
    """The patch that undoes `text` (what `git apply -R` would do), as `git diff` text."""
    reversed_patches = []
    for fp in parse_diff(text):
        hunks = []
        for h in fp.hunks:
            swapped = [HunkLine({"-": "+", "+": "-"}.get(x.tag, x.tag), x.text, x.eol) for x in h.lines]
            hunks.append(Hunk(h.new_start, h.new_len, h.old_start, h.old_len, _removals_first(swapped)))
        reversed_patches.append(FilePatch(fp.new_path, fp.old_path, hunks, fp.mode))
    return render_diff(reversed_patches)


def _removals_first(lines: list[HunkLine]) -> list[HunkLine]:
    """Within each run of changed lines, put '-' lines before '+' lines (git's own order)."""
    out: list[HunkLine] = []
    run: list[HunkLine] = []
    for line in [*lines, HunkLine(" ", "", True)]:
        if line.tag == " ":
            out += [x for x in run if x.tag == "-"] + [x for x in run if x.tag == "+"]
            run = []
            out.append(line)
        else:
            run.append(line)
    return out[:-1]


def changed_lines(text: str) -> tuple[list[str], list[str]]:
    """The removed and the added lines of a patch (without their '-'/'+' marks)."""
    removed: list[str] = []
    added: list[str] = []
    for fp in parse_diff(text):
        for h in fp.hunks:
            for line in h.lines:
                if line.tag == "-":
                    removed.append(line.text)
                elif line.tag == "+":
                    added.append(line.text)
    return removed, added


@dataclass
class ChangeBlock:
    """One run of changed lines: at 0-based old line `start`, `removed` lines become `added` lines."""

    start: int
    removed: list[HunkLine]
    added: list[HunkLine]


def change_blocks(fp: FilePatch) -> list[ChangeBlock]:
    """The context-free change blocks of a file patch, in order."""
    blocks: list[ChangeBlock] = []
    for h in fp.hunks:
        pos = max(h.old_start - 1, 0) if h.old_len else h.old_start
        current: ChangeBlock | None = None
        for line in [*h.lines, HunkLine(" ", "")]:
            if line.tag == " ":
                if current is not None:
                    blocks.append(current)
                    current = None
                pos += 1
                continue
            if current is None:
                current = ChangeBlock(pos, [], [])
            if line.tag == "-":
                current.removed.append(line)
                pos += 1
            else:
                current.added.append(line)
    return blocks


def diff_stats(text: str) -> tuple[int, int, int]:
    """(files changed, lines added + removed, hunks) of a patch."""
    patches = parse_diff(text)
    removed, added = changed_lines(text)
    return len(patches), len(removed) + len(added), sum(len(fp.hunks) for fp in patches)


def diff_hash(text: str) -> str:
    """A sha256 of what a patch changes: per file, each change block's first old line number and its
    removed and added lines (trailing whitespace ignored).

    Independent of context size, hunk boundaries and header details, so the same edit made by two
    mutators (or exported by two tools) hashes alike, while the same edit in two places does not. This is
    the key datasets are deduplicated by (within one snapshot: line numbers are part of it)."""
    h = hashlib.sha256()
    for fp in sorted(parse_diff(text), key=lambda p: p.path):
        h.update(f"F {fp.old_path} {fp.new_path}\n".encode("utf-8", "surrogatepass"))
        for block in change_blocks(fp):
            h.update(f"@{block.start}\n".encode())
            for line in [*block.removed, *block.added]:
                h.update(f"{line.tag}{line.text.rstrip()}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def whole_file_diff(path: Path, rel: str, *, create: bool) -> str:
    """The diff that creates (or deletes) the file at `path`, named `rel`, whole. Many tasks of one
    snapshot hide the same test files, so these diffs are cached, by content: a cache keyed on the
    file's size and mtime gave a same-size rewrite the old file's diff when the mtime matched (one
    put back with utime, as task trees do, or two writes within the file system's clock tick)."""
    text = path.read_bytes().decode("utf-8", "surrogateescape")  # patch text: the exact bytes
    executable = create and bool(path.stat().st_mode & stat.S_IXUSR)
    return _whole_file_diff(rel, text, create, executable)


@functools.lru_cache(maxsize=256)
def _whole_file_diff(rel: str, text: str, create: bool, executable: bool) -> str:
    if not create:
        return make_diff(rel, text, None)
    return make_diff(rel, None, text, mode="100755" if executable else "100644")
