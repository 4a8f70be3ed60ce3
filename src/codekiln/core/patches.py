"""Patches applied and merged in memory, without a checkout:

    fix = reverse_diff(bug)
    assert apply_diff({"pkg/mod.py": new_text}, fix)["pkg/mod.py"] == old_text
    both = merge_patches(files, [bug_a, bug_b])            # one patch making both changes

`apply_diff` is strict (context must match exactly); it exists to combine and check patches, not to
replace `git apply` on real trees.
"""

from __future__ import annotations

import itertools

from codekiln.core.diffs import ChangeBlock, FilePatch, change_blocks, make_diff, parse_diff
from codekiln.core.errors import TaskError


def _split_lines(text: str) -> list[tuple[str, bool]]:
    """(line, ends with a newline) for each line, splitting after each "\\n" only (as git does)."""
    parts = text.split("\n")
    lines = [(part, True) for part in parts[:-1]]
    return [*lines, (parts[-1], False)] if parts[-1] else lines


def apply_file_patch(old: str | None, fp: FilePatch) -> str | None:
    """Apply one file patch to `old` text (None = absent file); returns the new text or None if deleted."""
    parts = (old or "").split("\n")
    complete = parts[-1] == ""  # the text ends with a newline (or is empty)
    lines = parts[:-1] if complete else parts
    last = -1 if complete else len(lines) - 1  # the old line without a newline, if any
    out: list[str] = []
    bare: list[int] = []  # indexes in `out` of lines without a newline
    pos = 0
    for h in fp.hunks:
        start = max(h.old_start - 1, 0) if h.old_len else h.old_start
        if start < pos:
            raise TaskError(f"overlapping hunks in patch for {fp.path}", hint="regenerate the patch")
        if pos <= last < start:
            bare.append(len(out) + last - pos)
        out += lines[pos:start]
        pos = start
        for hl in h.lines:
            if hl.tag in (" ", "-"):
                if pos >= len(lines) or lines[pos] != hl.text:
                    raise TaskError(
                        f"patch does not apply to {fp.path} at line {pos + 1}",
                        hint="the file differs from the one the patch was made against",
                        line=pos + 1,
                    )
                if hl.tag == " ":
                    if pos == last:
                        bare.append(len(out))
                    out.append(lines[pos])
                pos += 1
            else:
                if not hl.eol:
                    bare.append(len(out))
                out.append(hl.text)
    if pos <= last:
        bare.append(len(out) + last - pos)
    out += lines[pos:]
    if fp.new_path is None:
        return None
    if not out:
        return ""
    if not bare:
        return "\n".join(out) + "\n"
    if bare == [len(out) - 1]:
        return "\n".join(out)
    no_newline = set(bare)
    return "".join(text if i in no_newline else text + "\n" for i, text in enumerate(out))


def apply_diff(files: dict[str, str], text: str) -> dict[str, str | None]:
    """Apply a multi-file patch to in-memory file texts; returns the changed files' new texts."""
    result: dict[str, str | None] = {}
    for fp in parse_diff(text):
        old = None if fp.old_path is None else files.get(fp.old_path)
        if fp.old_path is not None and old is None:
            raise TaskError(
                f"patch changes {fp.old_path}, which was not given", hint="pass every file it touches"
            )
        result[fp.path] = apply_file_patch(old, fp)
    return result


def merge_patches(files: dict[str, str], patches: list[str]) -> str:
    """One patch making all the given patches' changes (each made against the same `files`).

    Raises TaskError if two patches change the same or adjacent lines, or a patch does not match."""
    per_file: dict[str, list[ChangeBlock]] = {}
    for text in patches:
        for fp in parse_diff(text):
            if fp.old_path is None or fp.new_path is None or fp.old_path != fp.new_path:
                raise TaskError(
                    "only in-place edits can be merged", hint="merge patches that modify existing files"
                )
            per_file.setdefault(fp.path, []).extend(change_blocks(fp))
    out = []
    for path in sorted(per_file):
        if path not in files:
            raise TaskError(f"patch changes {path}, which was not given", hint="pass every file it touches")
        lines = _split_lines(files[path])
        blocks = sorted(per_file[path], key=lambda b: (b.start, len(b.removed)))
        for before, after in itertools.pairwise(blocks):
            if before.start + len(before.removed) >= after.start:
                raise TaskError(
                    f"patches overlap in {path} near line {after.start + 1}",
                    hint="combine bugs in distant code",
                )
        for block in reversed(blocks):
            old = lines[block.start : block.start + len(block.removed)]
            if [text for text, _ in old] != [x.text for x in block.removed]:
                raise TaskError(
                    f"patch does not apply to {path} at line {block.start + 1}", hint="regenerate the patch"
                )
            lines[block.start : block.start + len(block.removed)] = [(x.text, x.eol) for x in block.added]
        new = "".join(text + ("\n" if eol else "") for text, eol in lines)
        out.append(make_diff(path, files[path], new))
    return "".join(out)
