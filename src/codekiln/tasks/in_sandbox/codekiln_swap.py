"""Swapping a bug's code into live functions: a script module that runs *inside* a sandbox beside
`warm_runner.py`, which imports it (standard library only, like the runner).

`Swapper` finds the repository's live functions once; `plan` compiles the changed module (or only the
changed top-level statements, see codekiln.tasks.validation.chunks) and pairs each changed function with its new
code object, or says why the change cannot be swapped in (the runner then re-imports instead).
"""

from __future__ import annotations
import __future__

import functools
import gc
import operator
import os
import types
from typing import Any

ROOT = os.getcwd()

_FUNC_FLAGS = 0x0002  # CO_NEWLOCALS: functions, lambdas and comprehensions (not module or class bodies)


def _shallow(code: types.CodeType) -> tuple[Any, ...]:
    """What a code object does, ignoring line numbers; nested code objects are named, not compared."""
    consts = tuple(
        ("<code>", c.co_qualname) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c))
        for c in code.co_consts
    )
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_flags,
            code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_exceptiontable)  # fmt: skip


def _walk(code: types.CodeType, out: dict[str, list[types.CodeType]]) -> None:
    out.setdefault(code.co_qualname if code.co_name != "<module>" else "<module>", []).append(code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _walk(const, out)


def _tree(module: types.CodeType) -> dict[str, list[types.CodeType]]:
    """Every code object of a compiled module, by qualified name."""
    out: dict[str, list[types.CodeType]] = {}
    _walk(module, out)
    return out


_FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)
)


def _excerpt(source: str, start: int, end: int, keep: list[list[int]]) -> str:
    """Lines `start`..`end` of `source` at their own line numbers; above them only the `keep` spans
    (the module's imports: see codekiln.tasks.validation.chunks)."""
    lines = source.split("\n")
    out = [""] * (start - 1)
    for a, b in keep:
        out[a - 1 : b] = lines[a - 1 : b]
    return "\n".join(out + lines[start - 1 : end]) + "\n"


def _top(qualname: str) -> str:
    """The outermost function holding `qualname` (`f.<locals>.g` -> `f`)."""
    return qualname.split(".<locals>", 1)[0]


def changed_functions(
    old_tree: dict[str, list[types.CodeType]], new_tree: dict[str, list[types.CodeType]]
) -> dict[str, tuple[types.CodeType, types.CodeType]] | str:
    """The outermost functions whose code differs between two compiled versions of a module (or of
    the same excerpt of it), by qualified name: (old code, new code); or why the change is not only
    inside functions (code of a module or class body changed, a function came or went). When this
    returns functions, running either version's module-level code does the same, except that those
    functions get the other code."""
    pairs = {q: (old_tree.get(q, []), new_tree.get(q, [])) for q in sorted(old_tree.keys() | new_tree.keys())}
    if any(len(olds) != len(news) and _top(q) == q for q, (olds, news) in pairs.items()):
        return "functions were added or removed"
    changed: dict[str, tuple[types.CodeType, types.CodeType]] = {}
    for qualname, (olds, news) in pairs.items():
        # a nested function or comprehension that came or went needs no check: the outer
        # function's new code makes the new ones
        if len(olds) == len(news):
            differ = [old for old, new in zip(olds, news, strict=True) if _shallow(old) != _shallow(new)]
            if not differ:
                continue
            if any(not old.co_flags & _FUNC_FLAGS for old in differ):
                return f"code outside functions changed ({qualname})"
        top = _top(qualname)
        if top not in changed:
            tops_old, tops_new = old_tree.get(top, []), new_tree.get(top, [])
            if len(tops_old) != 1 or len(tops_new) != 1:
                return f"cannot tell apart the definitions of {top}"
            changed[top] = (tops_old[0], tops_new[0])
    return changed


def _other_encoding(src: str) -> bool:
    """Whether a file's text (its bytes as UTF-8, surrogateescape for other bytes) is not its source:
    a BOM, or bytes of another encoding (latin-1), which only the file's own declaration decodes."""
    if src.startswith("\ufeff"):
        return True
    try:
        src.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _compilable(src: str) -> str | bytes:
    """What `compile` reads as Python reads the file: the bytes when its encoding is another."""
    return src.encode("utf-8", "surrogateescape") if _other_encoding(src) else src


class Swapper:
    """Finds the live functions of the repository's modules once, then swaps new code into them."""

    def __init__(self) -> None:
        # (path,) or (path, excerpt span): the old code objects by qualname
        self.old_trees: dict[tuple[Any, ...], dict[str, list[types.CodeType]]] = {}
        self.futures: dict[str, int] = {}
        self.functions: dict[tuple[str, str, int], list[types.FunctionType]] = {}
        for obj in gc.get_objects():
            if isinstance(obj, types.FunctionType):
                code = obj.__code__
                if code.co_filename.startswith(ROOT + os.sep):
                    self.functions.setdefault(
                        (code.co_filename, code.co_qualname, code.co_firstlineno), []
                    ).append(obj)

    def plan(
        self, path: str, old_src: str, new_src: str, chunk: list[Any] | None = None
    ) -> list[tuple[types.FunctionType, types.CodeType]] | str:
        """(function, new code) pairs turning the live module at `path` into `new_src`, or why not.
        `chunk` (first line, last old line, last new line, import spans above): the top-level
        statements holding every change; only they (and those imports) are compiled, in place."""
        if not hasattr(types.CodeType, "co_qualname"):  # Python < 3.11: run such jobs by re-importing
            return "swapping code needs Python 3.11+"
        if _other_encoding(old_src) or _other_encoding(new_src):
            chunk = None  # an excerpt would lose the coding line: compiled whole, from the bytes
        try:
            if path not in self.futures:  # the old source of a path never changes: jobs restore it
                module = compile(_compilable(old_src), path, "exec", dont_inherit=True)
                self.futures[path] = module.co_flags & _FUTURE_FLAGS
                self.old_trees[(path,)] = _tree(module)
            if chunk:
                start, old_end, new_end, keep = chunk
                flags = self.futures[path]
                key = (path, start, old_end, repr(keep))  # candidates share functions: compiled once
                if key not in self.old_trees:
                    old_excerpt = _excerpt(old_src, start, old_end, keep)
                    self.old_trees[key] = _tree(compile(old_excerpt, path, "exec", flags, True))
                old_tree = self.old_trees[key]
                new_tree = _tree(compile(_excerpt(new_src, start, new_end, keep), path, "exec", flags, True))
            else:
                old_tree = self.old_trees[(path,)]
                new_tree = _tree(compile(_compilable(new_src), path, "exec", dont_inherit=True))
        except (SyntaxError, ValueError) as err:  # ValueError: not valid in its declared encoding
            return f"syntax error: {err}"
        changed = changed_functions(old_tree, new_tree)
        if isinstance(changed, str):
            return changed
        swaps: list[tuple[types.FunctionType, types.CodeType]] = []
        for top, (old, new) in changed.items():
            live = self.functions.get((path, top, old.co_firstlineno), [])
            if not live:
                return f"{top} is not a live function (run at import time only?)"
            for func in live:
                if len(func.__code__.co_freevars) != len(new.co_freevars):
                    return f"{top} changed its closure"
                swaps.append((func, new))
        return swaps
