"""Test support modules held to their trusted source (`grading.guard_plugin`; it runs inside the sandbox).

    check = SupportCheck(paths, workdir, key, from_readonly)   # at the plugin's import: bytes read now
    check.changed(item)   # before each test: ["unitlib/_checks.py: assert_close is not ...", ...]

The grader puts test support modules back (`grading.support`), but library code can rebind their
helpers at import, swap the module in `sys.modules` or change what a helper reads, so the restored
file's functions are not the ones the tests call. As a test function must be its trusted source's code
(`Guard.check_item`), the support modules' names must be theirs:

- every module-level name holds what its statement binds: a `def` the function compiled from those
  bytes (or as pytest rewrites it), with the module's globals and literal defaults (decorated: closures
  of read-only code, this file's, or text-made forwarders, `sources.forwarder`); a `class` defined there
  of its source's or read-only methods; an import what the imported module holds; a literal its value;
- no other name shadows one its code reads (`abs`), nor adds `__getattr__`; the module is a module;
- a test module's name taken from a support module is still that module's object, unless the test
  file binds it itself as well.

The bytes are read at the plugin's import, before any project code runs; pytest's reading of a
registered module is not trusted. Shipped beside the plugin (`grading.shipped`); like the plugin, it
imports nothing of codekiln's.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import operator
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import guard_plugin_held as held
    from . import guard_plugin_sources as sources
else:  # shipped beside it as `<plugin module>_sources`, `_held` (`grading.shipped`)
    sources = importlib.import_module(f"{__name__.removesuffix('_support')}_sources")
    held = importlib.import_module(f"{__name__.removesuffix('_support')}_held")

_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]  # a module's namespace, past any class trick
_SPEC: Any = type(builtins.__spec__)  # importlib's ModuleSpec, as the interpreter made it
_HOOKS = frozenset({"__getattribute__", "__getattr__", "__call__", "__get__"})
"""A class's hooks that answer for every attribute or call: judged even when its body does not bind them."""
_DUNDERS = frozenset(
    {
        "__name__",
        "__doc__",
        "__package__",
        "__loader__",
        "__spec__",
        "__file__",
        "__cached__",
        "__builtins__",
        "__annotations__",
        "__dict__",
        "__warningregistry__",
        "__conditional_annotations__",
        "__annotate__",
        "__path__",
    }
)


class SupportCheck:
    """The support modules' trusted sources, read when made, and the check made before each test."""

    def __init__(
        self,
        paths: list[str],
        key: Callable[[types.CodeType], Any],
        from_readonly: Callable[[Any], bool],
        readonly_object: Callable[[Any], bool],
        readonly: tuple[str, ...],
        workdir: str,
        writes: held.Held,
    ) -> None:
        self.sources: dict[str, sources.Source] = {}
        self._alike: dict[str, dict[str, sources.Source]] = {}  # dotted name -> path -> source
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    source = sources.Source(path, sources.dotted_name(path), fh.read())
            except OSError:
                continue
            self.sources.setdefault(source.dotted, source)
            self._alike.setdefault(source.dotted, {})[path] = source
        self._by_path = {s.path: s for alike in self._alike.values() for s in alike.values()}
        self._key, self._from_readonly, self._readonly_object = key, from_readonly, readonly_object
        self._readonly, self._workdir, self._held = readonly, workdir, writes
        self._rewritten: set[str] = set()
        self._keys: dict[tuple[str, str, str], set[Any]] = {}
        self._taken: dict[str, tuple[list[tuple[str, str | None, str]], set[str]]] = {}
        self._clean: dict[int, tuple[Any, ...]] = {}  # per module: the state last found clean

    def hold(self, loaded: list[tuple[sources.Source, Any]] | None = None) -> None:
        """Note who writes to the support modules imported so far (`guard_plugin_held`): called after
        collection, before any fixture runs, and before each test for those imported since."""
        for _, module in self._loaded() if loaded is None else loaded:
            self._held.hold(module)

    def _loaded(self) -> list[tuple[sources.Source, Any]]:
        """Each support module in `sys.modules`, and every one loaded from its file under another name,
        not a copy of another's namespace whose genuine spec names no such file (toolz's `tlz` modules)."""
        out = [(self._source_of(d, sys.modules[d]), sys.modules[d]) for d in self.sources if d in sys.modules]
        by_path = self._by_path
        for name, module in list(sys.modules.items()):
            if issubclass(type(module), types.ModuleType) and name not in self.sources:
                space = _MODULE_DICT.__get__(module)
                source = by_path.get(sources.normal(space.get("__file__")))
                spec = space.get("__spec__")
                if source is not None and (
                    type(spec) is not _SPEC or sources.normal(spec.origin) == source.path
                ):
                    out.append((source, module))
        return out

    def changed(self, item: Any, trusted: dict[str, bytes]) -> list[str]:
        """Why the support modules, or the test module's names taken from them, are not their trusted
        source's objects before `item` runs (empty when they are)."""
        if not self.sources:
            return []
        config = getattr(item, "config", None)
        loaded = self._loaded()  # once per test: it walks every module the process holds
        self.hold(loaded)
        out = self._held.cells_changed()  # an accepted forwarder pointed elsewhere since it was judged
        out += self._foreign({id(m): s for s, m in loaded}, config)
        for source, module in loaded:
            state = (module, *_state(module))  # the module kept, so no id is reused
            was = self._clean.get(id(module))
            if was is not None and len(was) == len(state) and all(map(operator.is_, was, state)):
                continue  # nothing in it is another object than when it was last found clean
            found = self._module(source, module, config)
            out += [f"{source.path}: {why}" for why in found]
            if not found:
                self._clean[id(module)] = state
        test_module = getattr(item, "module", None)
        path = str(getattr(test_module, "__file__", "") or "")
        if path in trusted and test_module is not None:
            out += [f"{path}: {why}" for why in self._taken_names(path, trusted[path], test_module, config)]
        return out

    def _foreign(self, loaded: dict[int, sources.Source], config: Any) -> list[str]:
        """What the writes that were not the test's own put in a support module, judged as its names are."""
        out = []
        for module, name, value in self._held.foreign():
            source = loaded.get(id(module))
            if module is None or source is None:
                out += (
                    ["code under test wrote to the support modules too often to judge"]
                    if module is None
                    else []
                )
                continue
            nodes = source.bindings.get(name)
            space = _MODULE_DICT.__get__(module)
            if value is held.DELETED or name in source.rebound or name in _DUNDERS:
                continue
            if (nodes and not self._holds(source, name, nodes, value, space, config)) or (
                not nodes and (name in source.read or name == "__getattr__" or hasattr(builtins, name))
            ):
                out.append(f"{source.path}: {name} was set to {_describe(value)} while the tests ran")
        return out

    def _module(self, source: sources.Source, module: Any, config: Any) -> list[str]:
        if not isinstance(module, types.ModuleType):
            return [f"sys.modules[{source.dotted!r}] is not a module"]
        space = _MODULE_DICT.__get__(module)
        where = space.get("__file__")
        if sources.normal(where) != source.path:
            if (
                isinstance(where, str)
                and where.startswith(self._readonly)
                and type(module) is types.ModuleType
            ):
                return []  # installed into the venv, not the tree's file: not the graded code
            return [f"sys.modules[{source.dotted!r}] is not the module loaded from it"]
        cls = type(module)
        if (
            cls is not types.ModuleType
            and cls is not self._held.cls
            and not self._readonly_object(cls)
            and not self._own_class(source, cls.__qualname__, cls, space, config)
        ):
            return [f"the module's class was replaced by {cls.__qualname__}"]
        out = []
        for name, nodes in source.bindings.items():
            if name in source.rebound:
                continue  # its own code rebinds it (`global name`)
            value = space.get(name, sources.MISSING)
            if value is sources.MISSING or self._held.excused(module, name, value):
                continue  # gone, or set by the test's own code (a fixture's monkeypatch)
            if not self._holds(source, name, nodes, value, space, config):
                out.append(f"{name} is not what its source binds ({_describe(value)})")
        for name in list(space):
            if name in source.bindings or name in _DUNDERS or self._held.excused(module, name, space[name]):
                continue
            if name in source.read or name == "__getattr__" or hasattr(builtins, name):
                out.append(f"{name} was added to the module ({_describe(space[name])})")
        return out

    def _holds(
        self, source: sources.Source, name: str, nodes: list[ast.AST], value: Any, space: Any, config: Any
    ) -> bool:
        """Whether `value` is what one of the statements binding `name` binds."""
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if self._own_function(source, ("", name), node, value, space, config):
                    return True
            elif isinstance(node, ast.ClassDef):
                if self._own_class(source, name, value, space, config):
                    return True
            elif isinstance(node, ast.Import | ast.ImportFrom):
                if value is _imported(source, node, name) or self._readonly_object(value):
                    return True
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                alone = len(targets) == 1 and isinstance(targets[0], ast.Name)
                literal = sources.literal_of(node.value) if alone else sources.MISSING
                if literal is sources.MISSING or sources.same_literal(value, literal):
                    return True
            else:  # bound by a loop, a `with`, `del`...: not judged
                return True
        return False

    def _codes(self, source: sources.Source, config: Any) -> list[types.CodeType]:
        """The trusted bytes compiled: plainly, and as pytest rewrites a registered module."""
        if config is not None and source.path not in self._rewritten:
            self._rewritten.add(source.path)
            rewritten = sources.rewritten(source, config)
            source.codes += [rewritten] if rewritten is not None else []
            self._keys = {k: v for k, v in self._keys.items() if k[0] != source.path}
        return source.codes

    def _code_keys(self, source: sources.Source, owner: str, name: str, config: Any) -> set[Any]:
        """Keys of the code of `def name` in class `owner` ("": the module; "*": any code of the file)."""
        codes = self._codes(source, config)
        cache = (source.path, owner, name)
        if cache not in self._keys:
            keys: set[Any] = set()
            for code in codes:
                if owner == "*":
                    keys.update(map(self._key, sources.walk(code)))
                    continue
                scopes = [code]
                if owner:
                    scopes = [
                        c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == owner
                    ]
                for scope in scopes:
                    keys.update(
                        self._key(c)
                        for c in scope.co_consts
                        if isinstance(c, types.CodeType) and c.co_name == name
                    )
            self._keys[cache] = keys
        return self._keys[cache]

    def _own_function(
        self, source: sources.Source, where: tuple[str, str], node: Any, value: Any, space: Any, config: Any
    ) -> bool:
        if not node.decorator_list:
            return self._plain_def(source, where, node, value, space, config)
        # A wrapper (the module's own decorator's, a read-only library's): everything it is made of is
        # read-only code or this file's, and reaches the trusted def.
        reached = sources.reached(value, self._readonly_object)
        if reached is None:
            return False
        anywhere = self._code_keys(source, "*", "", config)
        accepted = all(
            self._from_readonly(f)
            or (
                sources.normal(f.__code__.co_filename) == source.path
                and f.__globals__ is space
                and self._key(f.__code__) in anywhere
            )
            or (sources.forwarder(f) and sources.same_defaults(f, node))
            for f in reached
        ) and any(self._plain_def(source, where, node, f, space, config) for f in reached)
        for f in reached if accepted else ():  # what a forwarder forwards to is judged now, once
            if sources.forwarder(f):
                self._held.hold_cells(f, f"{source.path}: {'.'.join(filter(None, where))}")
        return accepted

    def _plain_def(
        self, source: sources.Source, where: tuple[str, str], node: Any, value: Any, space: Any, config: Any
    ) -> bool:
        if type(value) is not types.FunctionType or value.__globals__ is not space:
            return False
        code = value.__code__
        if sources.normal(code.co_filename) != source.path or self._key(code) not in self._code_keys(
            source, *where, config
        ):
            return False
        return sources.same_defaults(value, node)

    def _own_class(self, source: sources.Source, name: str, value: Any, space: Any, config: Any) -> bool:
        if not isinstance(value, type) or value.__qualname__ != name:
            return False
        if value.__module__ not in (source.dotted, space.get("__name__")):  # or the name it was loaded under
            return False
        members = source.classes.get(name, {})
        for attr, inner in list(vars(value).items()):
            func = getattr(inner, "__func__", None) or getattr(inner, "fget", None) or inner
            if not isinstance(func, types.FunctionType) or self._from_readonly(func):
                continue
            nodes = members.get(attr, [])
            defs = [n for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            if nodes and not defs:
                continue  # bound in the class body by an assignment or an import: not judged
            if not nodes and attr not in _HOOKS:  # made at run time (a dataclass's `__init__`)
                code = func.__code__
                if not code.co_filename.startswith(self._workdir) or (
                    sources.normal(code.co_filename) == source.path
                    and func.__globals__ is space
                    and self._key(code) in self._code_keys(source, "*", "", config)
                ):
                    continue
            if not any(self._own_function(source, (name, attr), n, func, space, config) for n in defs):
                return False
        return True

    def _taken_names(self, path: str, data: bytes, module: Any, config: Any) -> list[str]:
        if path not in self._taken:
            self._taken[path] = sources.taken(data, path, getattr(module, "__name__", ""), self.sources)
        taken, own = self._taken[path]
        space = getattr(module, "__dict__", {})
        out = []
        for dotted, attr, bound in taken:
            if bound in own or bound not in space:
                continue
            support = sys.modules.get(dotted)
            expected = getattr(support, attr, sources.MISSING) if attr else support
            if space[bound] is not expected and not self._source_binds(dotted, attr, space[bound], config):
                out.append(f"{bound} is not {dotted}{'.' + attr if attr else ''} ({_describe(space[bound])})")
        return out

    def _source_of(self, dotted: str, module: Any) -> sources.Source:
        """The trusted source `module` is held to: of the files importable under its name (semver 3.2.0's
        tests/ and docs/advanced/semverwithvprefix.py), the one it says it was loaded from."""
        alike = self._alike[dotted]
        if len(alike) > 1 and isinstance(module, types.ModuleType):
            where = sources.normal(_MODULE_DICT.__get__(module).get("__file__"))
            if where in alike:
                return alike[where]
        return self.sources[dotted]

    def _source_binds(self, dotted: str, attr: str | None, value: Any, config: Any) -> bool:
        """Whether `value` is what the support module's source binds to `attr` (a test module keeps the
        helper it took while a fixture of the test's own has put another in the support module)."""
        module = sys.modules.get(dotted)
        if dotted not in self.sources or not attr or not isinstance(module, types.ModuleType):
            return False
        source = self._source_of(dotted, module)
        nodes = source.bindings.get(attr, [])
        return bool(nodes) and self._holds(source, attr, nodes, value, _MODULE_DICT.__get__(module), config)


def _imported(source: sources.Source, node: ast.Import | ast.ImportFrom, name: str) -> Any:
    """What `node` binds to `name`, as the modules it imports from hold it now."""
    package = source.dotted.rpartition(".")[0]
    for alias in node.names:
        if (alias.asname or alias.name).split(".", 1)[0] != name:
            continue
        if isinstance(node, ast.Import):
            return sys.modules.get(
                alias.name if alias.asname else alias.name.split(".", 1)[0], sources.MISSING
            )
        base = sources.resolve(node, package)
        held = sys.modules.get(base)
        found = getattr(held, alias.name, sources.MISSING) if held is not None else sources.MISSING
        return (
            found
            if found is not sources.MISSING
            else sys.modules.get(f"{base}.{alias.name}", sources.MISSING)
        )
    return sources.MISSING


def _state(module: Any) -> tuple[Any, ...]:
    """A module's class, namespace and values, its functions' code, defaults and closures, its classes' members:
    compared by identity (the objects are kept, so no id is reused), equal state gives equal verdicts."""
    space = _MODULE_DICT.__get__(module)
    out: list[Any] = [type(module), space, *space.keys()]
    for value in list(space.values()):
        out.append(value)
        if type(value) is types.FunctionType:
            out += [value.__code__, value.__defaults__, value.__kwdefaults__, *held.closures(value)]
        elif isinstance(value, type):
            members = list(vars(value).values())
            out += [len(members), *members]
    return tuple(out)


def _describe(value: Any) -> str:
    code = getattr(value, "__code__", None)
    if isinstance(code, types.CodeType):
        return f"{code.co_name}() from {code.co_filename}:{code.co_firstlineno}"
    return type(value).__name__
