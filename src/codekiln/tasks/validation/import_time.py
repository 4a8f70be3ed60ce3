"""Bugs whose touched lines ran at import time while the code that runs then is unchanged: which tests
can observe them, so that the engine runs those instead of the whole suite.

    check = ImportTimeCheck(snapshot_dir)
    lines = check.observable(files, chunks, cmap.import_lines)   # {file: lines} or None
    observers = cmap.tests_for(lines)

`Validator.select` gives a bug whose touched lines ran at import time the whole passing suite (what
module-level code computes can reach any test), and that selection is the task's PASS_TO_PASS. Most
such bugs touch a line that ran at import only because it is a `def` line (its signature was edited,
or a line was inserted right below it), while the change itself is inside the function. `observable`
proves that case from the two texts and the coverage map, or returns None:
- compiled (the changed top-level statements, as the warm runner's swapper compiles them), the
  buggy file's module and class bodies are the original's, code for code, and no function came or
  went (`codekiln_swap.changed_functions`): importing the buggy file runs the same module-level code
  and makes the same objects, only the changed functions get other code;
- those functions keep their signature, flags and docstring (`surface`: what a function shows
  without being called, which import-time code such as `curry` or doctest collection reads);
- no line of those functions' bodies ran at import time in the coverage run (nothing called them
  then, so nothing computed at import time differs).
The bug is then exactly the swap the warm runner makes for a bug inside a function, and only tests
that execute the changed functions can observe it: the lines returned are those functions' lines in
the original file (decorators to last line). The other selected tests run the clean snapshot's code
on the same path, so they pass as they did in the baseline: the engine records them as passed without
running them. This rests on the coverage map as every other selection does; a bug whose functions no
test executes, or one the runner could not swap after all, keeps the whole re-imported run.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from pathlib import Path

from codekiln.core.sources import read_byte_text
from codekiln.tasks.in_sandbox.codekiln_swap import _FUTURE_FLAGS, _excerpt, _tree, changed_functions
from codekiln.tasks.validation.chunks import Chunk


def surface(code: types.CodeType) -> tuple[object, ...]:
    """What a function made from `code` shows without being called: its parameters (counts, names),
    its flags (generator, coroutine, varargs) and its docstring (`inspect.signature`, `curry`'s
    arity, doctest collection read these at import or collection time)."""
    n = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
    cells = tuple(types.CellType() for _ in code.co_freevars)  # a closure's code needs its cells
    doc = types.FunctionType(code, {}, None, None, cells).__doc__
    return (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags,
            code.co_varnames[:n], doc)  # fmt: skip


def code_lines(code: types.CodeType) -> set[int]:
    """The line numbers a code object and the code nested in it run."""
    lines = {line for _, _, line in code.co_lines() if line is not None}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            lines |= code_lines(const)
    return lines


class ImportTimeCheck:
    """Decides `observable` for bugs on one snapshot (the original files compiled once each)."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.snapshot_dir = Path(snapshot_dir)
        self.flags: dict[str, int] = {}

    def _changed(self, rel: str, old: str, new: str, chunk: Chunk | None) -> list[types.CodeType] | None:
        """The original code of the functions the change is confined to, or None when module-level
        code changed too, a changed function shows another signature or docstring, or a file does
        not compile."""
        path = str(self.snapshot_dir / rel)
        try:
            if rel not in self.flags:
                self.flags[rel] = compile(old, path, "exec", dont_inherit=True).co_flags & _FUTURE_FLAGS
            if chunk is None:
                before, after = old, new
            else:
                start, old_end, new_end, keep = chunk
                before = _excerpt(old, start, old_end, [list(k) for k in keep])
                after = _excerpt(new, start, new_end, [list(k) for k in keep])
            flags = self.flags[rel]
            changed = changed_functions(
                _tree(compile(before, path, "exec", flags, True)),
                _tree(compile(after, path, "exec", flags, True)),
            )
        except (SyntaxError, ValueError):
            return None
        if isinstance(changed, str) or any(surface(a) != surface(b) for a, b in changed.values()):
            return None
        return [old_code for old_code, _ in changed.values()]

    def observable(
        self,
        files: Mapping[str, str | None],
        chunks: Mapping[str, Chunk],
        import_lines: Mapping[str, list[int]],
    ) -> dict[str, set[int]] | None:
        """The original lines of the functions a bug changes, when that is all it changes and none
        of them ran at import time (see the module docstring); None otherwise, or when it changes no
        code at all. Narrowing only saves time: a bug this check cannot read (an error inside it)
        runs whole, re-imported, as it would without the check, and never stops the batch."""
        try:
            return self._observable(files, chunks, import_lines)
        except Exception:  # None is always a safe answer here
            return None

    def _observable(
        self,
        files: Mapping[str, str | None],
        chunks: Mapping[str, Chunk],
        import_lines: Mapping[str, list[int]],
    ) -> dict[str, set[int]] | None:
        out: dict[str, set[int]] = {}
        for rel, text in files.items():
            path = self.snapshot_dir / rel
            if text is None or not rel.endswith(".py") or not path.is_file():
                return None
            changed = self._changed(
                rel, read_byte_text(path), text, chunks.get(rel)
            )  # another encoding: None
            if changed is None:
                return None
            ran = set(import_lines.get(rel, ()))
            for code in changed:
                body = code_lines(code) - {code.co_firstlineno}  # the def (or first decorator) line
                if not body or body & ran:
                    return None
                out.setdefault(rel, set()).update(range(code.co_firstlineno, max(body) + 1))
        return out or None
