"""String folding for the static scan (`grading.scan`): the value of a string expression built only from
constants, and the coding a module's source declares. Shipped beside `scan.py` (`grading.shipped`):
standard library only."""

from __future__ import annotations

import ast
import codecs
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:
    from . import scan_modules as sm
    from . import scan_rules as rules
else:  # shipped: beside scan.py in an exported task's tests/codekiln/ (`grading.shipped`)
    import scan_modules as sm
    import scan_rules as rules

FOLD_LIMIT = 1 << 12
"""The longest string a `join` folds to. A join repeats its separator once per part, so a short source
asks for a string of the product of the two sizes: 80 KB of `"<50,000 chars>".join(["", "", ...])`
was a 500 MB string that the scan built and searched on the host (29 s, 1 GB; 460 KB asked for 16 GB).
No name or path the checks look for is longer (PATH_MAX); a longer join reads as not constant, as a
name computed at run time does (a finding where a name is expected, no check where text is)."""

# PEP 263: a coding declaration on one of the first two lines (a comment holding `coding[:=] NAME`).
_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)


def coding(text: str) -> tuple[int, str] | None:
    """(line, codec) of a coding declaration naming something other than UTF-8: Python then decodes
    the file's bytes as that codec, which is not the text a scan of its UTF-8 reading sees (a utf-7
    comment line is code). None: no declaration, or UTF-8."""
    for number, line in enumerate(text.splitlines()[:2], start=1):
        match = _COOKIE.match(line)
        if match:
            try:
                name = codecs.lookup(match.group(1)).name
            except LookupError:
                return number, match.group(1)  # Python refuses to import it: no code, but say so
            return None if name in ("utf-8", "utf-8-sig") else (number, name)
        if line.strip() and not line.lstrip().startswith("#"):
            return None
    return None


def by_written_name(node: ast.AST, mutators: frozenset[str]) -> bool:
    """Whether `sys.modules` (node) is only indexed by a written-out name (or the module's own,
    `__name__`), asked for one, or asked whether it holds something."""
    parent = getattr(node, "_parent", None)
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return _named(parent.slice)
    if isinstance(parent, ast.Attribute) and parent.attr in ("get", *mutators):
        call = getattr(parent, "_parent", None)  # a write is the sys-modules-write kind's
        return parent.attr != "get" or (
            isinstance(call, ast.Call) and bool(call.args) and _named(call.args[0])
        )
    return isinstance(parent, ast.Compare) and all(isinstance(op, ast.In | ast.NotIn) for op in parent.ops)


def namespace_of(node: ast.AST, qualname: Callable[[ast.AST], str]) -> str:
    """The module whose namespace an expression is, read as a dict: `sys.modules` (its keys are
    modules), `vars(M)`, `M.__dict__`, `__builtins__`. "" when it is none of these."""
    name = qualname(node)
    if name in ("sys.modules", "builtins"):
        return name
    if isinstance(node, ast.Call) and qualname(node.func) in ("vars", "builtins.vars") and node.args:
        return qualname(node.args[0])
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return qualname(node.value)
    return ""


def aliased(node: ast.AST, qualname: Callable[[ast.AST], str], readers: frozenset[str]) -> bool:
    """Whether a value is handed on under another name (assigned, passed to a function other than a
    reader such as `len`): what is done to it there is not read."""
    parent = getattr(node, "_parent", None)
    if isinstance(parent, ast.Call) and node in parent.args:
        return qualname(parent.func) not in readers
    return isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr | ast.keyword | ast.Return)


def keyword_names(call: ast.Call) -> list[str | None]:
    """A call's keyword names, those of a `**{...}` dict written out included (None: one not known)."""
    names: list[str | None] = []
    for keyword in call.keywords:
        if keyword.arg is not None:
            names.append(keyword.arg)
        elif isinstance(keyword.value, ast.Dict):
            names.extend(fold(k) if k is not None else None for k in keyword.value.keys)
        else:
            names.append(None)
    return names


def _named(key: ast.AST) -> bool:
    # not `cls.__module__`: a class body sets its own freely (`__module__ = "".join(...)`)
    return fold(key) is not None or (isinstance(key, ast.Name) and key.id == "__name__")


def fold(node: ast.AST) -> str | None:
    """The value of a string expression built only from constants (`+`, f-strings, `"".join([...])`);
    a relative module name (leading dot) folds to None: it stays inside the package."""
    value = fold_any(node)
    return None if value is None or value.startswith(".") else value


def constant(node: ast.AST) -> bool:
    """Whether an expression is written out: a string `fold` reads, or a literal (`{"version": 1}`)."""
    if fold(node) is not None:
        return True
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def constant_name(call: ast.Call, keywords: tuple[str, ...]) -> bool:
    """Whether the name a resolver is handed (its first argument, or one of `keywords`) is written
    out; a call handed none takes its default."""
    given = call.args[:1] or [k.value for k in call.keywords if k.arg in keywords or k.arg is None]
    return all(constant(node) for node in given)


def leading(node: ast.AST) -> str:
    """The constant text a string expression starts with (`f".{name}"` -> ".")."""
    if isinstance(node, ast.JoinedStr) and node.values:
        return leading(node.values[0])
    if isinstance(node, ast.BinOp):
        return leading(node.left)
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def fold_any(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        # The right operand first: in a long sum it is a leaf, so a sum of names fails at once
        # instead of folding its whole left spine again at every level (quadratic).
        right = fold_any(node.right)
        left = None if right is None else fold_any(node.left)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = [fold_any(v) for v in node.values]
        return None if any(p is None for p in parts) else "".join(p or "" for p in parts)
    if isinstance(node, ast.FormattedValue) and node.format_spec is None:
        return fold_any(node.value)
    if (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
        and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple))
    ):  # fmt: skip
        sep, parts = fold_any(node.func.value), [fold_any(e) for e in node.args[0].elts]
        if sep is None or any(p is None for p in parts):
            return None
        size = len(sep) * max(len(parts) - 1, 0) + sum(len(p or "") for p in parts)
        return None if size > FOLD_LIMIT else sep.join(p or "" for p in parts)
    return None


def unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError):  # pragma: no cover - a tree ast itself made
        return type(node).__name__


def calls(nodes: list[ast.expr]) -> Iterator[ast.Call]:
    for node in nodes:
        yield from (n for n in ast.walk(node) if isinstance(n, ast.Call))


def strings(node: ast.AST) -> Iterator[str]:
    return (n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def pattern_reads(pattern: ast.pattern, on_subject: bool = True) -> Iterator[tuple[str, bool]]:
    """The attributes a `case` pattern reads by name (`case C(name=x)` is `getattr(subject, "name")`),
    each with whether it is read off the match subject itself (else off a value the pattern took,
    which the scan cannot name). Positional class patterns read the class's `__match_args__`: the
    subject must be an instance of that class, which a module is not."""
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        yield from pattern_reads(pattern.pattern, on_subject)
    elif isinstance(pattern, ast.MatchOr):
        for alternative in pattern.patterns:
            yield from pattern_reads(alternative, on_subject)
    elif isinstance(pattern, ast.MatchClass):
        for attr in pattern.kwd_attrs:
            yield attr, on_subject
        for inner in (*pattern.patterns, *pattern.kwd_patterns):
            yield from pattern_reads(inner, False)
    elif isinstance(pattern, ast.MatchSequence | ast.MatchMapping):
        for inner in pattern.patterns:
            yield from pattern_reads(inner, False)


def name_only(call: ast.Call, attrs: frozenset[str]) -> bool:
    """Whether a call's result (a module) is used for its name alone: one of `attrs` read off it
    (`inspect.getmodule(fn).__name__`), or it bound to a plain name of a function whose every use
    there reads one of `attrs` or tests it (`is None`, `if module:`). Any other use hands the module
    on, and so does a name of a module or class body (an attribute others read) or of a function
    that reads its own namespace (`locals()`, `vars()`)."""
    parent = getattr(call, "_parent", None)
    if isinstance(parent, ast.Attribute) and parent.value is call:
        return parent.attr in attrs and isinstance(parent.ctx, ast.Load)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
    elif (isinstance(parent, ast.AnnAssign) and parent.value is call) or (
        isinstance(parent, ast.NamedExpr) and _reads_name(parent, attrs)  # `(m := ...) is None`
    ):
        target = parent.target
    else:
        return False
    if not isinstance(target, ast.Name):
        return False
    scope = getattr(parent, "_parent", None)
    while scope is not None and not isinstance(scope, (*_SCOPES, ast.Module, ast.ClassDef)):
        scope = getattr(scope, "_parent", None)
    if not isinstance(scope, _SCOPES):
        return False
    for node in ast.walk(scope):
        if isinstance(node, ast.Global | ast.Nonlocal) and target.id in node.names:
            return False
        if isinstance(node, ast.Name) and node.id in ("locals", "vars"):
            return False
        mine = isinstance(node, ast.Name) and node.id == target.id and node is not target
        if mine and not _reads_name(node, attrs):
            return False
    return True


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _reads_name(node: ast.AST, attrs: frozenset[str]) -> bool:
    """Whether one use of a module (a name bound to it, a `:=` of it) reads only its name, or tests it."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return False  # bound again, or deleted: what it holds then is not read here
    parent = getattr(node, "_parent", None)
    if isinstance(parent, ast.Attribute):
        return parent.attr in attrs and isinstance(parent.ctx, ast.Load)
    if isinstance(parent, ast.Compare):
        others = [parent.left, *parent.comparators]
        return all(isinstance(op, ast.Is | ast.IsNot) for op in parent.ops) and all(
            o is node or (isinstance(o, ast.Constant) and o.value is None) for o in others
        )
    if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
        return True
    if isinstance(parent, ast.If | ast.While | ast.IfExp | ast.Assert) and parent.test is node:
        return True
    # `module and module.__name__` is None or the name; `module or x`, `x and module` may be the module
    return isinstance(parent, ast.BoolOp) and isinstance(parent.op, ast.And) and parent.values[-1] is not node


def fetched(node: ast.AST, qualname: Callable[[ast.AST], str]) -> bool:
    """A module fetched by a written-out name (`__import__("pdb")`, `sys.modules["pdb"]`)."""
    if isinstance(node, ast.Attribute):
        return fetched(node.value, qualname)
    if isinstance(node, ast.Call):
        return qualname(node.func) in rules.IMPORT_CALLS or qualname(node.func) == "sys.modules.get"
    return isinstance(node, ast.Subscript) and bool(qualname(node))


def root_name(node: ast.AST) -> str:
    """The name an attribute chain starts from (`os.sys.modules` -> "os"); "" when it is no name."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


class Names:
    """The scanner's names: what an expression stands for, through the module's imports (`scan._Scanner`
    keeps `aliases`, `imported`, `_qualnames` and `add`)."""

    aliases: dict[str, str]
    imported: set[str]
    _qualnames: dict[int, str]
    add: Callable[[ast.AST, str, str], None]  # the scanner's: records a finding

    def qualname(self, node: ast.AST) -> str:
        """The dotted name an expression stands for (`o._exit` after `import os as o` -> `os._exit`),
        through module objects fetched by a written-out name (`__import__("os")._exit` -> `os._exit`,
        `vars(builtins)["exec"]` -> `builtins.exec`)."""
        name = self._qualnames.get(id(node))
        if name is None:
            name = self._qualnames[id(node)] = self._qualname(node)
        return name

    def _qualname(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            name = self.aliases.get(node.id, node.id)
            return "builtins" if name == "__builtins__" else name
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            root = getattr(node.value, "_root", node.value)  # set below: a chain's root, once
            node._root = root  # type: ignore[attr-defined] # a module: an import's name, or a fetch
            if base and (not isinstance(root, ast.Name) or root.id in self.imported):
                if node.attr in rules.REEXPORTED:
                    return node.attr  # a module another one re-exports: `os.sys` is `sys`
                if found := sm.reexport(base, node.attr):  # `pdb.code` is `code` (`scan_modules`)
                    return found
            return f"{base}.{node.attr}" if base else ""
        if isinstance(node, ast.Subscript) and (key := fold(node.slice)) is not None:
            owner = namespace_of(node.value, self.qualname)
            return key if owner == "sys.modules" else f"{owner}.{key}" if owner else ""
        if isinstance(node, ast.Call) and node.args and (key := fold(node.args[0])) is not None:
            name = self.qualname(node.func)
            if name in rules.IMPORT_CALLS or name == "sys.modules.get":
                return key  # the module of that name
            if name in ("getattr", "builtins.getattr") and len(node.args) >= 2:
                base, attr = self.qualname(node.args[0]), fold(node.args[1])
                return f"{base}.{attr}" if base and attr is not None else ""
        return ""

    def check_modules(self, node: ast.AST) -> bool:
        """`sys.modules` however reached (`vars(sys)["modules"]`, `from sys import modules`) read by a
        computed name."""
        if found := self.qualname(node) == "sys.modules" and not by_written_name(node, rules.MUTATORS):
            self.add(node, "dynamic-import", "sys.modules read by a computed name")
        return found


def by_hand(call: ast.Call) -> bool:
    """`doctest.testmod()` of the module itself (no argument but constants), run only as a script."""
    return not call.args and all(isinstance(k.value, ast.Constant) for k in call.keywords) and main_only(call)


def main_only(node: ast.AST) -> bool:
    """`node` sits in the body of an `if __name__ == "__main__":` block at a module's top level: code
    that runs when the file is run as a script, never when the tests import it (the idiom
    `doctest.testmod()` there tests the module's docstrings by hand)."""
    child, parent = node, getattr(node, "_parent", None)
    while parent is not None and not isinstance(parent, ast.Module):
        child, parent = parent, getattr(parent, "_parent", None)
    if not isinstance(child, ast.If) or not any(node is n or _inside(node, n) for n in child.body):
        return False
    test = child.test
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    return {ast.unparse(test.left), ast.unparse(test.comparators[0])} == {"__name__", "'__main__'"}


def _inside(node: ast.AST, top: ast.AST) -> bool:
    return any(n is node for n in ast.walk(top))


def either(node: ast.AST) -> list[ast.expr]:
    """The two names of `"add" if c else "or_"` (nested too), each a string written whole; [] when
    any branch is not."""
    if not isinstance(node, ast.IfExp):
        return []
    out: list[ast.expr] = []
    for branch in (node.body, node.orelse):
        if isinstance(branch, ast.Constant) and isinstance(branch.value, str):
            out.append(branch)
        elif not (inner := either(branch)):
            return []
        else:
            out.extend(inner)
    return out
