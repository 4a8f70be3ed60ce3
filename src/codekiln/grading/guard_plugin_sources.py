"""What a test support module's trusted bytes bind at module level, read with `ast` (for
`guard_plugin_support`; it runs inside the sandbox).

    source = Source(path, dotted_name(path), data)   # its bindings, classes, plain compile, names read
    taken(test_bytes, test_path, test_module_name, sources)   # what a test file takes from them
    forwarder(function)   # made from text only to pass its arguments on (hypothesis's `@composite`)
    code_key(code), plain_keys(data, path), def_names(data)   # a test file's code, to compare (`Guard`)
    tree_decorators(data, name, namespace, readonly, trusted)  # the tree's decorators above a test

Shipped beside the plugin as `<plugin module>_sources` (`grading.shipped`); like the plugin, it imports
nothing from codekiln.
"""

from __future__ import annotations

import ast
import dis
import gc
import os
import sys
import types
from collections.abc import Callable
from typing import Any

MISSING = object()
TRY = (ast.Try, getattr(ast, "TryStar", ast.Try))


class Source:
    """What a support module's trusted bytes bind at module level."""

    def __init__(self, path: str, dotted: str, data: bytes) -> None:
        self.path, self.dotted, self.data = path, dotted, data
        self.bindings: dict[str, list[ast.AST]] = {}
        self.classes: dict[str, dict[str, list[ast.AST]]] = {}
        self.codes: list[types.CodeType] = []
        self.read: set[str] = set()
        self.rebound: set[str] = set()
        """Names its functions declare `global`: rebound by its own code as it runs."""
        try:
            tree = ast.parse(data, filename=path)
            self.codes.append(compile(data, path, "exec", dont_inherit=True))
        except (SyntaxError, ValueError):  # it fails on its own when imported
            return
        for node in module_scope(tree.body):
            for name in bound(node):
                self.bindings.setdefault(name, []).append(node)
            if isinstance(node, ast.ClassDef):
                members = self.classes.setdefault(node.name, {})
                for inner in module_scope(node.body):
                    for name in bound(inner):
                        members.setdefault(name, []).append(inner)
        self.rebound |= {n for node in ast.walk(tree) if isinstance(node, ast.Global) for n in node.names}
        self.read |= {n for code in self.codes for c in walk(code) for n in c.co_names}


def module_scope(body: list[ast.stmt]) -> list[ast.stmt]:
    """A scope's statements, those under `if`, `try` and `with` included (not functions' or classes')."""
    out: list[ast.stmt] = []
    pending = list(reversed(body))
    while pending:
        node = pending.pop()
        out.append(node)
        if isinstance(node, ast.If | ast.For | ast.While | ast.With | ast.AsyncWith):
            pending.extend(reversed([*node.body, *getattr(node, "orelse", [])]))
        elif isinstance(node, TRY):
            inner = [*node.body, *[s for h in node.handlers for s in h.body], *node.orelse, *node.finalbody]
            pending.extend(reversed(inner))
    return out


def bound(node: ast.stmt) -> list[str]:
    """The names a module-level statement binds itself (not those of the statements inside it)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(a.asname or a.name).split(".", 1)[0] for a in node.names if a.name != "*"]
    if isinstance(node, TRY):
        return [h.name for h in node.handlers if h.name]
    if isinstance(node, ast.If | ast.While):
        return []
    parts: list[ast.AST] = [node]
    if isinstance(node, ast.With | ast.AsyncWith):
        parts = [i.optional_vars for i in node.items if i.optional_vars is not None]
    elif isinstance(node, ast.For | ast.AsyncFor):
        parts = [node.target]
    names = []
    for sub in (s for part in parts for s in ast.walk(part)):  # assignments, `del`, `global`, walrus
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            names.append(sub.id)
        elif isinstance(sub, ast.Global | ast.Nonlocal):
            names.extend(sub.names)
    return names


def walk(code: types.CodeType) -> Any:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from walk(const)


SCALARS = (int, float, complex, str, bytes, bool, type(None))


def literal_of(node: ast.AST | None) -> Any:
    """An immutable literal's value (a mutable one may change honestly: a module's registry list)."""
    try:
        value = ast.literal_eval(node) if node is not None else MISSING
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return MISSING
    flat = value if isinstance(value, tuple) else (value,)
    return value if all(type(v) in SCALARS for v in flat) else MISSING


def same_literal(value: Any, literal: Any) -> bool:
    return literal is MISSING or (type(value) is type(literal) and bool(value == literal))


def same_defaults(value: types.FunctionType, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a function's defaults are the literal defaults its trusted `def` spells."""
    args = node.args
    defaults = [literal_of(d) for d in args.defaults]
    have = value.__defaults__ or ()
    if len(have) != len(defaults) or not all(map(same_literal, have, defaults)):
        return False
    kw = {
        a.arg: literal_of(d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
    }
    have_kw = value.__kwdefaults__ or {}
    return set(have_kw) == set(kw) and all(same_literal(have_kw[k], v) for k, v in kw.items())


_FORWARD_OPS = frozenset(
    {
        *("RESUME", "COPY_FREE_VARS", "MAKE_CELL", "NOP", "CACHE", "EXTENDED_ARG", "PUSH_NULL"),
        *("PRECALL", "CALL", "CALL_KW", "CALL_FUNCTION", "CALL_FUNCTION_KW", "CALL_FUNCTION_EX", "KW_NAMES"),
        *("LOAD_DEREF", "LOAD_CONST", "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW"),
        *("LOAD_FAST_LOAD_FAST", "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "RETURN_VALUE"),
        *(
            "DICT_MERGE",
            "BUILD_MAP",
            "BUILD_CONST_KEY_MAP",
            "LIST_EXTEND",
            "BUILD_LIST",
            "LIST_TO_TUPLE",
            "BUILD_TUPLE",
        ),
    }
)
_NOT_PLAIN = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async generator


def forwarder(func: types.FunctionType) -> bool:
    """Whether a function made from text (its code is no file's) only passes its arguments on: the
    body is `return f(a, b, *args, c=c, **kw)` with `f` its one free variable and every parameter
    passed once, in order, under its own name. A read-only library makes such a function to give a
    wrapper the decorated function's signature (hypothesis's `@composite`, through `exec`); reading no
    global, builtin or attribute name and making no function or constant, it runs nothing but what its
    closure holds, which is judged with the rest of the wrapper (and its defaults with the `def`'s)."""
    code = func.__code__
    if not code.co_filename.startswith("<") or code.co_names or code.co_flags & _NOT_PLAIN:
        return False
    names, a, k = code.co_varnames, code.co_argcount, code.co_argcount + code.co_kwonlyargcount
    star, starstar = bool(code.co_flags & 0x04), bool(code.co_flags & 0x08)  # *args, **kwargs: after those
    params = [*names[:a], *names[k : k + star], *names[a:k], *names[k + star : k + star + starstar]]
    loaded: list[str] = []
    derefs, key = 0, None
    for ins in dis.get_instructions(code):
        if ins.opname not in _FORWARD_OPS:
            return False
        if ins.opname.startswith("LOAD_FAST"):
            read = list(ins.argval) if isinstance(ins.argval, tuple) else [ins.argval]
            if key is not None and read[0] != key:
                return False
            loaded, key = loaded + read, None
        elif ins.opname in ("LOAD_CONST", "KW_NAMES"):  # only keyword names, each its argument's own
            value = code.co_consts[ins.arg or 0] if ins.opname == "KW_NAMES" else ins.argval
            if isinstance(value, str) and key is None:
                key = value  # a dict's key: the argument loaded next must be this name
            elif not isinstance(value, tuple) or not value or list(value) != loaded[-len(value) :]:
                return False
        elif key is not None:
            return False
        derefs += ins.opname == "LOAD_DEREF"
    return derefs == 1 and loaded == params and len(code.co_freevars) == 1


_NORMAL: dict[str, str] = {}  # each str seen: its normal form (the support check asks for every module's
# file before and after every test, ~1,000 modules in a pytest process)


def normal(path: Any) -> Any:
    """A module's or code's file without `..` (a `sys.path` entry made with `os.pardir` keeps it)."""
    if type(path) is not str:
        return path
    found = _NORMAL.get(path)
    if found is None:
        found = _NORMAL[path] = os.path.normpath(path)
    return found


def dotted_name(path: str) -> str:
    """The module name a file is imported under: its stem below the chain of packages above it."""
    parts = [os.path.splitext(os.path.basename(path))[0]]
    folder = os.path.dirname(path)
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    return ".".join(parts)


def taken(
    data: bytes, path: str, name: str, sources: dict[str, Source]
) -> tuple[list[tuple[str, str | None, str]], set[str]]:
    """The names a test file binds from support modules (module, attribute or None, name), and the
    names it binds otherwise as well."""
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError):
        return [], set()
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    out: list[tuple[str, str | None, str]] = []
    other: set[str] = set()
    for node in module_scope(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in sources:
                    out.append((alias.name, None, alias.asname))
                else:
                    other.add((alias.asname or alias.name).split(".", 1)[0])
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node, package)
            for alias in node.names:
                as_name = alias.asname or alias.name
                if f"{base}.{alias.name}" in sources:
                    out.append((f"{base}.{alias.name}", None, as_name))
                elif base in sources and alias.name != "*":
                    out.append((base, alias.name, as_name))
                else:
                    other.add(as_name)
        else:
            other.update(bound(node))
    return out, other


def resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    anchor = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
    return ".".join([*anchor, *([node.module] if node.module else [])])


def rewritten(source: Source, config: Any) -> types.CodeType | None:
    """The trusted bytes as pytest's assertion rewriting compiles a registered module."""
    try:
        from _pytest.assertion.rewrite import rewrite_asserts

        tree = ast.parse(source.data, filename=source.path)
        rewrite_asserts(tree, source.data, source.path, config)
        return compile(tree, source.path, "exec", dont_inherit=True)
    except Exception:  # no rewriting here: the plain compile stands alone
        return None


def reached(value: Any, readonly_object: Callable[[Any], bool]) -> list[types.FunctionType] | None:
    """The functions a decorated value is made of: it and those its closures hold, and those a read-only
    wrapper holds (its referents, and the values of its namespace), four levels deep; None: something
    else is in it."""
    out: list[types.FunctionType] = []
    pending, seen = [(value, 0)], set()
    while pending:
        obj, depth = pending.pop()
        if id(obj) in seen or depth > 4:
            continue
        seen.add(id(obj))
        if type(obj) is types.FunctionType:
            out.append(obj)
            for cell in obj.__closure__ or ():
                try:
                    pending.append((cell.cell_contents, depth + 1))
                except ValueError:  # an empty cell
                    pass
            if readonly_object(obj):
                pending += [(w, depth + 1) for w in [vars(obj).get("__wrapped__")] if w is not None]
        elif depth == 0 or callable(obj):
            if not readonly_object(type(obj)):
                return None if depth == 0 else out
            # What it holds, not what it says it wraps: a C wrapper's `__wrapped__` is data that code
            # under test can point at the trusted def while the wrapper calls another function.
            for held in gc.get_referents(obj):
                values = list(held.values()) if type(held) is dict else [held]
                pending += [(v, depth + 1) for v in values if callable(v) and not isinstance(v, type)]
    return out


def code_key(code: types.CodeType) -> tuple[Any, ...]:
    """What a function's code is made of (not where it is), to compare code made afresh with a compile."""
    consts = tuple(
        code_key(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c)) for c in code.co_consts
    )
    return (code.co_code, code.co_names, consts)


def plain_keys(source: bytes, path: str) -> set[tuple[Any, ...]]:
    """Every function's code in the plain compile of a trusted test source (what Python itself makes of
    a module pytest does not rewrite, such as a test package's __init__.py)."""
    try:
        return {code_key(c) for c in walk(compile(source, path, "exec", dont_inherit=True))}
    except Exception:  # a test file that does not compile: its tests fail on their own
        return set()


def _defs(source: bytes) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    try:
        return [
            n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
    except SyntaxError:
        return []


def def_names(source: bytes) -> set[str]:
    return {n.name for n in _defs(source)}


def tree_decorators(
    source: bytes, name: str, namespace: dict[str, Any], readonly: tuple[str, ...], trusted: Any
) -> list[str]:
    """Where the graded tree's decorators written above the def `name` in a test source come from, one
    entry a decorator: the folder of the package that the decorator's first name (in the test module's
    `namespace`) belongs to, or its module's file (testfixtures' `@replace(...)` is a `functools.wraps`
    wrapper, `patched()`, of `src/testfixtures/utils.py`: `src/testfixtures/`). Read-only and test-file
    decorators are not counted (their code is accepted, or checked, on its own)."""
    out: list[str] = []
    for node in (d for n in _defs(source) if n.name == name for d in n.decorator_list):
        while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
            node = node.func if isinstance(node, ast.Call) else node.value
        if not isinstance(node, ast.Name) or node.id not in namespace:
            continue
        obj = namespace[node.id]
        module = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
        top = sys.modules.get(str(module or type(obj).__module__).split(".", 1)[0])
        where = str(getattr(top, "__file__", None) or "")
        place = where.rsplit("/", 1)[0] + "/" if where.endswith("/__init__.py") else where
        if place and not place.startswith(readonly) and where not in trusted:
            out.append(place)
    return out
