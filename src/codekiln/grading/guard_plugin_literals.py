"""Which of the tests' literal tables the guard holds (`guard_plugin_tables`; it runs inside the sandbox).

    found = literals(tree)          # (class or "", name, value): bound once, plainly, to a literal container
    unsafe_names(trees, deep)       # of those names, the ones the trusted files' code may write or hand on
    framework_read(trees_by_path)   # (path, name) of those only code outside the tests reads
    imported(tree)                  # the dotted names a file imports
    dict_paths(literal); dict_version()   # for `guard_plugin_tables`: the dicts a table holds, their tags

The rule, "held literals": in each trusted test file and support module, every name that the module
body or a module-level class body binds exactly once, by a plain assignment, to a non-empty dict, list,
set or tuple that `ast.literal_eval` reads, is held, unless the tests' own code may write it. Read as
one, the files' code (scopes ignored: a name is its every use, `x.NAME` included) must never:

- store or delete through it (`NAME[k] = v`, `NAME[k].x = v`, `del NAME[k]`), augment it, rebind it
  (`global NAME`, `X.NAME = ...`), or name a method of it or of an element of it other than a read
  (`get`, `items`, `copy`...);
- hand it on: as a call's argument (save to a read-only builtin: `len`, `sorted`, `list`...), returned,
  yielded, in a `with`, in a lambda, or stored in an object or under a key. A table handed to the
  library is the library's to change; one handed to `pytest.mark.parametrize` reaches the tests as
  arguments they may change. An element or a copy handed on (`total(list(args))` for `args` a key of
  `CASES`) only counts when the literal holds a list, dict or set inside it (`nested`);
- be named by a string (`setattr(mod, "NAME", ...)`, `monkeypatch.setattr`, `globals()["NAME"]`);

and every name bound to it, an element or a copy of it (`rows = NAME`, `row = NAME[0]`,
`for k, v in NAME.items()`) is judged the same way, as it stands for the same objects. A test that fills
its own table, or one that hands it to the library, keeps it unheld: it cannot make an honest run
`tampered`. So does a table no file's code names, in a module no file imports and that is no
conftest (a test module: none of its tests collected; `framework_read`): the tests hand that module to a framework by its dotted name
(pytest-django's `DJANGO_SETTINGS_MODULE` in the pytest configuration, which a patch cannot edit), and
the framework may fill in its tables (Django's `DATABASES`); no test compares with it but through the
framework. Not held for that reason either: such a table read by the tests through the module's
namespace (`vars(importlib.import_module("tests.data"))`), which names neither. Shipped beside the plugin as `<plugin module>_literals` (`grading.shipped`); like the plugin,
it imports nothing of codekiln's.
"""

from __future__ import annotations

import ast
import sys
from typing import Any

CONTAINERS = (dict, list, set, tuple)
READ_METHODS = frozenset(
    {"get", "keys", "values", "items", "copy", "count", "index", "union", "intersection", "difference"}
    | {"symmetric_difference", "issubset", "issuperset", "isdisjoint", "__contains__", "__getitem__"}
    | {"__len__", "__iter__"}
)
READ_CALLS = frozenset(
    {"len", "sorted", "list", "tuple", "set", "frozenset", "dict", "iter", "enumerate", "zip", "reversed"}
    | {"min", "max", "sum", "any", "all", "repr", "str", "print", "isinstance", "bool", "id", "hash"}
    | {"type", "format", "next"}
)
"""Builtins that read what they are given; their result shares its elements (`for r in list(NAME)`)."""
_READS = (
    ast.Compare,
    ast.UnaryOp,
    ast.Assert,
    ast.If,
    ast.While,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.Expr,
)
_INDEX = getattr(ast, "Index", ast.Starred)  # Python 3.8 wraps a subscript's key


def literals(tree: ast.Module) -> list[tuple[str, str, Any]]:
    """(class or "", name, value) for each name a scope binds once, plainly, to a non-empty literal container."""
    out = _scope(tree.body, "")
    for node in _statements(tree.body):
        if isinstance(node, ast.ClassDef):
            out += _scope(node.body, node.name)
    return out


def class_bindings(tree: ast.Module) -> set[tuple[str, str]]:
    """(class, name) for every name a module-level class's body binds, however."""
    return {
        (node.name, name)
        for node in _statements(tree.body)
        if isinstance(node, ast.ClassDef)
        for inner in _statements(node.body)
        for name in _bound(inner)
    }


def _scope(body: list[ast.stmt], owner: str) -> list[tuple[str, str, Any]]:
    counts: dict[str, int] = {}
    plain: dict[str, ast.expr] = {}
    for node in _statements(body):
        for sub in _bound(node):
            counts[sub] = counts.get(sub, 0) + 1
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            plain[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            plain[node.target.id] = node.value
    out = []
    for name, value in plain.items():
        if counts.get(name) != 1 or not isinstance(value, ast.Dict | ast.List | ast.Set | ast.Tuple):
            continue
        try:
            literal = ast.literal_eval(value)
            canon(literal)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if type(literal) in CONTAINERS and literal:
            out.append((owner, name, literal))
    return out


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """A scope's statements, those under `if`, `try`, `for`, `while` and `with` included."""
    out: list[ast.stmt] = []
    pending = list(reversed(body))
    while pending:
        node = pending.pop()
        out.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            inner = [s for f in ("body", "orelse", "finalbody") for s in getattr(node, f, None) or []]
            inner += [s for h in getattr(node, "handlers", None) or [] for s in h.body]
            inner += [s for c in getattr(node, "cases", None) or [] for s in c.body]
            pending.extend(reversed([s for s in inner if isinstance(s, ast.stmt)]))
    return out


def _bound(node: ast.stmt) -> list[str]:
    """The names one statement of a scope binds itself (not those of the statements inside it)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(a.asname or a.name).split(".", 1)[0] for a in node.names]
    names = [h.name for h in getattr(node, "handlers", None) or [] if h.name]
    parts: list[ast.AST] = [*(getattr(node, "targets", None) or [])]
    parts += [t for t in [getattr(node, "target", None)] if isinstance(t, ast.AST)]
    parts += [i.optional_vars for i in getattr(node, "items", None) or [] if i.optional_vars is not None]
    parts += [  # a walrus inside (a literal display holds none: `ast.literal_eval` reads no walrus)
        part
        for part in (getattr(node, f, None) for f in ("value", "test", "iter"))
        if isinstance(part, ast.AST)
        and not isinstance(part, ast.Constant | ast.Dict | ast.List | ast.Set | ast.Tuple)
    ]
    for sub in (s for part in parts for s in ast.walk(part)):  # assignments, `del`, walrus
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            names.append(sub.id)
    return names


def imported(tree: ast.Module) -> set[str]:
    """The dotted names a file's module-level imports name (`from a import b` names `a` and `a.b`)."""
    out: set[str] = set()
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def framework_read(trees: dict[str, ast.Module]) -> set[tuple[str, str]]:
    """(path, name) for each candidate table only code outside the tests reads: in a file that is no
    conftest and that no file's `import` names (by any dotted tail of its path, or
    relative to the importing file), bound to a name no file's code names (a name, an attribute, an
    imported name, a string). The tests hand such a module to a framework by its dotted name, in the
    pytest configuration or a string (pytest-django's `DJANGO_SETTINGS_MODULE`), and the framework
    fills in or normalises its tables (Django's `DATABASES`): its to change, as a table handed on is.
    A test module's (`test_settings.py`) only while no test of it is collected (`guard_plugin_tables`)."""
    imported: set[str] = set()
    named: set[str] = set()
    for path, tree in trees.items():
        here = path.strip("/").removesuffix(".py").replace("/", ".").split(".")[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    imported.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] if node.level else [])
                module = ".".join(p for p in (base, node.module or "") if p)
                imported.add(module)
                imported.update(f"{module}.{a.name}".lstrip(".") for a in node.names)
                named.update(a.name for a in node.names)
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
                named.add(node.id)
            elif isinstance(node, ast.Attribute):
                named.add(node.attr)
            elif isinstance(node, ast.Constant) and type(node.value) is str:
                named.add(node.value)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                named.update(node.names)
    out: set[tuple[str, str]] = set()
    for path, tree in trees.items():
        parts = path.strip("/").removesuffix(".py").removesuffix("/__init__").split("/")
        if path.endswith("/conftest.py") or any(".".join(parts[i:]) in imported for i in range(len(parts))):
            continue
        out.update((path, n) for _, n, _ in literals(tree) if n not in named)
    return out


def unsafe_names(trees: list[ast.Module], deep: dict[str, bool]) -> set[str]:
    """Of the candidates' names (`deep`: True when a candidate holds a list, dict or set inside it), those
    the files' code may write through, or hands on (see the module's docstring)."""
    if not deep:  # no candidate: nothing to look for in the files' code
        return set()
    writes: set[str] = set()
    escapes: dict[str, set[bool]] = {}  # name -> handed on: the object itself (True), an element or a copy
    aliases: dict[str, set[tuple[str, bool]]] = {}  # name -> the names bound to it (True) or its elements
    for tree in trees:
        parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):  # breadth first: a node's parents are known when it is reached
            for child in ast.iter_child_nodes(node):
                parents[child] = node
            if isinstance(node, ast.Constant):
                if type(node.value) is str and not isinstance(parents.get(node), ast.Expr):  # no docstring
                    writes.add(node.value)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                writes.update(node.names)
            elif isinstance(node, ast.Name | ast.Attribute):
                key = node.id if isinstance(node, ast.Name) else node.attr
                if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
                    writes.add(key)
                elif isinstance(node.ctx, ast.Load):
                    fate, whole = _fate(node, parents)
                    if fate is None:
                        writes.add(key)
                    elif fate == "read":
                        continue
                    elif fate == "escape":
                        escapes.setdefault(key, set()).add(whole)
                    else:
                        aliases.setdefault(key, set()).update((n, whole) for n in fate)
    out = set()
    for name, nested in deep.items():
        todo, seen = [(name, True)], set()
        while todo and name not in out:
            key, whole = todo.pop()
            if (key, whole) in seen:
                continue
            seen.add((key, whole))
            handed = escapes.get(key, set())
            if key in writes or (whole and True in handed) or (nested and bool(handed)):
                out.add(name)
            todo += [(n, whole and w) for n, w in aliases.get(key, ())]
    return out


def _fate(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> tuple[Any, bool]:
    """What a use of a name does with it: "read", "escape" (handed on), the set of names it is bound to,
    or None (it may write it); and whether that is the object itself (else an element or a copy of it;
    a display holding it, `[NAME]`, and what is made of that display hold the object itself)."""
    whole, inside = True, False
    while True:
        up: Any = parents.get(node)
        if isinstance(up, ast.Subscript | _INDEX) and getattr(up, "value", None) is node:
            if not isinstance(getattr(up, "ctx", ast.Load()), ast.Load):
                return None, whole
            node, whole = up, whole and (inside or isinstance(up, _INDEX))
        elif isinstance(up, ast.Subscript):  # the key of another subscript
            return "read", whole
        elif isinstance(up, ast.Attribute):
            call = parents.get(up)
            if not isinstance(up.ctx, ast.Load) or up.attr not in READ_METHODS:
                return None, whole
            if not (isinstance(call, ast.Call) and call.func is up):
                return "read", whole
            node, whole = call, whole and inside
        elif isinstance(up, ast.Call):
            if up.func is node:
                return "read", whole
            if not (isinstance(up.func, ast.Name) and up.func.id in READ_CALLS):
                return "escape", whole
            node, whole = up, whole and inside
        elif isinstance(up, ast.keyword):  # `dict(a=NAME)` holds the object itself: handed on
            call = parents.get(up)
            if not isinstance(call, ast.Call) or getattr(call.func, "id", "") not in READ_CALLS - {"dict"}:
                return "escape", whole
            return "read", whole
        elif isinstance(up, ast.BinOp | ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            node, whole = up, whole and inside  # a new object, holding the elements
        elif isinstance(up, ast.Starred | ast.IfExp | ast.BoolOp):
            node = up
        elif isinstance(up, ast.Tuple | ast.List | ast.Set | ast.Dict):
            node, inside = up, True
        elif isinstance(up, _READS):
            return "read", whole
        elif isinstance(up, ast.Assign | ast.AnnAssign | ast.NamedExpr) and up.value is node:
            return _names(up.targets if isinstance(up, ast.Assign) else [up.target]), whole
        elif isinstance(up, ast.For | ast.AsyncFor | ast.comprehension) and up.iter is node:
            return _names([up.target]), whole and inside
        elif isinstance(up, ast.comprehension):  # a condition of a comprehension
            return "read", whole
        elif isinstance(up, ast.Return | ast.Yield | ast.YieldFrom | ast.Lambda | ast.withitem | ast.Await):
            return "escape", whole
        else:  # augmented, deleted, stored in an object...
            return None, whole


def _names(targets: list[ast.expr]) -> set[str] | None:
    out: set[str] = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                out.add(sub.id)
            elif not isinstance(sub, ast.Tuple | ast.List | ast.Starred | ast.expr_context):
                return None  # stored in an object, or under a key
    return out


def nested(value: Any) -> bool:
    """Whether a literal holds a list, dict or set inside it (an element handed on can be changed)."""
    inner = list(value.items()) if type(value) is dict else list(value)
    while inner:
        item = inner.pop()
        if type(item) in (list, dict, set):
            return True
        if type(item) is tuple:
            inner.extend(item)
    return False


def canon(value: Any, depth: int = 0) -> Any:
    """A hashable form of a literal's value, made from exact builtin types only (ValueError otherwise):
    nothing of the project's runs while it is made or compared."""
    kind = type(value)
    if depth > 64:
        raise ValueError("too deep")
    if kind in (int, float, complex, str, bytes, bool) or value is None:
        return (kind.__name__, value)
    if kind is dict:
        return ("dict", frozenset((canon(k, depth + 1), canon(v, depth + 1)) for k, v in dict.items(value)))
    if kind is list or kind is tuple:
        return (kind.__name__, tuple(canon(v, depth + 1) for v in value))
    if kind is set:
        return ("set", frozenset(canon(v, depth + 1) for v in value))
    raise ValueError(f"not a literal's type: {kind.__name__}")


def dict_paths(literal: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]] | None:
    """The keys that lead to each dict of `literal` (tuples, frozensets and scalars are immutable), or
    None if it holds a list or a set, which no version tag covers."""
    kind = type(literal)
    if kind is list or kind is set:
        return None
    if kind is dict:
        items: Any = literal.items()
    elif kind is tuple:
        items = enumerate(literal)
    else:
        return []
    out = [path] if kind is dict else []
    for key, value in items:
        found = dict_paths(value, (*path, key))
        if found is None:
            return None
        out += found
    return out


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        if type(value) is not dict and type(value) is not tuple:
            raise TypeError(key)
        value = value[key]
    return value


def dict_version() -> Any:
    """A reader of a dict's version tag (PEP 509: `ma_version_tag`, after the object's header and
    `ma_used`), or None where it cannot be read or does not behave as one: a write put back must
    leave a new tag. CPython 3.8 to 3.13, no debug build."""
    if sys.implementation.name != "cpython" or not (3, 8) <= sys.version_info[:2] <= (3, 13):
        return None
    try:
        import ctypes
        import sysconfig

        if sysconfig.get_config_var("Py_GIL_DISABLED") or hasattr(sys, "gettotalrefcount"):
            return None
        offset = object.__basicsize__
        offset += ctypes.sizeof(ctypes.c_ssize_t)
        tag = ctypes.c_uint64.from_address

        def version(d: dict[Any, Any]) -> int:
            return int(tag(id(d) + offset).value)

        probe: dict[str, int] = {"k": 1}
        first = version(probe)
        probe["k"] = 2
        second = version(probe)
        probe["k"] = 1
        third = version(probe)
        if len({first, second, third}) != 3 or version(probe) != third or version({"k": 1}) == third:
            return None
        return version
    except Exception:  # no ctypes, an unreadable layout: compared every time
        return None
