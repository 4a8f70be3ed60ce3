"""Static scan of a patch: does what it adds to non-test Python code reach into the test machinery?

    findings = scan_changes({"toolz/__init__.py": (old_text, new_text)}, is_test=is_protected)
    [f.as_dict() for f in findings]      # {"path", "line", "kind", "detail"}

Code under test runs inside the test process, so it can rewrite the verdict there (patch pytest's
reports, write a fake JUnit file and `os._exit(0)`, walk frames up to the runner). No file rule stops
that; this scan flags the constructs such code needs, read with `ast` (not regexes over text): the
kinds in `KINDS`, each described, with the names it looks for, in `scan_rules`.
Only what the patch adds counts: a file's constructs before and after are compared as multisets of
(kind, detail). Docstrings are prose, not scanned. New Python that does not parse is no finding (its
tests fail anyway). Limits: a static scan of Python text; reach built out of data at run time is caught
only through the `dynamic-*` kinds; non-Python files are the grader's file rules' business.
"""

from __future__ import annotations

import ast
import functools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:
    from . import scan_classwalk as cw
    from . import scan_fold as sf
    from . import scan_modules as sm
    from . import scan_parse as sp
    from . import scan_rules as rules
    from . import scan_strings as ss
else:  # shipped: beside scan_rules.py in an exported task's tests/codekiln/ (`grading.shipped`)
    import scan_classwalk as cw
    import scan_fold as sf
    import scan_modules as sm
    import scan_parse as sp
    import scan_rules as rules
    import scan_strings as ss

aliased, by_written_name, calls, coding, fold = sf.aliased, sf.by_written_name, sf.calls, sf.coding, sf.fold
keyword_names, leading, namespace_of, strings, unparse = (
    sf.keyword_names, sf.leading, sf.namespace_of, sf.strings, sf.unparse
)  # fmt: skip
AST_LOCK, UNREADABLE, deep_enough, parse_module, python_text = (
    sp.AST_LOCK, sp.UNREADABLE, sp.deep_enough, sp.parse_module, sp.python_text
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One construct a patch adds that reaches into the test machinery."""

    path: str
    line: int
    kind: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Scanner(ss.StringChecks, sf.Names, ast.NodeVisitor):
    """Collects (line, kind, detail) for one module; names are resolved through its imports."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str, str]] = []
        self.aliases: dict[str, str] = {}
        self.imported: set[str] = set()  # names bound by import statements
        self.docstrings: set[int] = set()
        # Each expression's name, once: every rule and every expression around it asks (a chain of 5,000
        # attributes asked ~10^7 times: ~3 minutes). Imports, the only thing that changes a name, are
        # statements: none is asked before and after one.
        self._qualnames: dict[int, str] = {}

    def check_namespace(self, node: ast.AST, of: ast.AST) -> None:
        """A module's namespace read as data (`vars(sys)`, `sys.__dict__`): only a written-out key
        (`vars(sys)["settrace"]`, read as `sys.settrace`) names what it takes. `of`: the expression
        whose namespace it is, a module only if its name was bound by an import (or is the builtins)."""
        root = of
        while isinstance(root, ast.Attribute):
            root = root.value
        owner = self.qualname(of)
        bound = isinstance(root, ast.Name) and (root.id in self.imported or root.id == "__builtins__")
        if not bound or owner.split(".")[0] not in rules.WATCHED_MODULES:
            return
        parent = getattr(node, "_parent", None)
        if isinstance(parent, ast.Subscript) and parent.value is node and fold(parent.slice) is not None:
            return
        self.add(node, "dynamic-attribute", f"the namespace of {owner} read as data")

    def check_value(self, node: ast.AST, name: str) -> None:
        """A code runner, importer or attribute reader taken as a value (`rules.value_kind`)."""
        if kind := rules.value_kind(name):
            self.add(node, kind, f"{name} taken as a value")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imported.add(alias.asname or alias.name.split(".")[0])
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            if ss.is_runner(alias.name):
                self.add(node, "runner-import", f"import {alias.name}")
            if alias.name.split(".")[0] in rules.NATIVE_MODULES:
                self.add(node, "dynamic-code", f"import {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        if any(a.name == "*" for a in node.names) and node.module.split(".")[0] in rules.WATCHED_MODULES:
            self.add(node, "dynamic-attribute", f"from {node.module} import *")
        for alias in node.names:
            self.imported.add(alias.asname or alias.name)
            written = f"{node.module}.{alias.name}"
            full = alias.name if alias.name in rules.REEXPORTED else sm.reexport(node.module, alias.name)
            full = full or written
            self.aliases[alias.asname or alias.name] = full  # `from os import sys` binds `sys`
            for name in {written, full}:
                if name not in rules.NAME_ONLY:  # those: read where used
                    self.check_name(node, name)
        if ss.is_runner(node.module):
            self.add(node, "runner-import", f"from {node.module} import")
        if node.module.split(".")[0] in rules.NATIVE_MODULES:
            self.add(node, "dynamic-code", f"from {node.module} import")

    def check_name(self, node: ast.AST, name: str) -> None:
        """A reference (import or call) of a dangerous function by its qualified name."""
        if name in rules.EXITS:
            self.add(node, "process-exit", name)
        elif name == "atexit.register":
            self.add(node, "atexit", name)
        elif name in rules.FRAME_CALLS:
            self.add(node, "frame-walk", name)
        elif name in rules.TRACE_CALLS or name.startswith("sys.monitoring."):
            self.add(node, "trace-hook", name)
        elif name in rules.RESOLVER_CLASSES:
            self.add(node, "dynamic-import", name)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualname(node.func)
        if name not in rules.NAME_ONLY or not sf.name_only(node, rules.NAME_ATTRS):
            self.check_name(node, name)  # `inspect.getmodule(fn).__name__` reads a name, no namespace
        if isinstance(node.func, ast.Attribute) and node.func.attr == "join" and (joined := fold(node)):
            self.check_string(node, joined)
        if name == "os.kill" and any("getpid" in self.qualname(a.func) for a in calls(node.args)):
            self.add(node, "process-exit", "os.kill(os.getpid())")
        elif name in rules.IMPORT_CALLS and node.args:
            target = node.args[0]
            if fold(target) is not None or leading(target).startswith("."):
                pass  # a constant name is checked as a string; a relative one stays in the package
            else:  # a name built by code, or held in a variable: "".join(reversed("tsetyp_"))
                self.add(node, "dynamic-import", name)
        elif name in rules.RESOLVE_CALLS and not sf.constant_name(node, rules.NAMED_BY):
            self.add(node, "dynamic-import", name)  # a name computed at run time, resolved
        elif name in rules.CODE_CALLS and not (name == "doctest.testmod" and sf.by_hand(node)):
            self.add(node, "dynamic-code", name)  # testmod() under `__main__`: the module's own, run by hand
        elif name in rules.ATTR_CALLS or (
            isinstance(node.func, ast.Attribute) and node.func.attr == "__getattribute__"
        ):
            self.check_attr_call(node, name)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("__setattr__", "__delattr__"):
            # obj.__setattr__(NAME, v) is setattr(obj, NAME, v)
            self.check_attr_call(node, node.func.attr, [node.func.value, *node.args])
        elif name in rules.MEMBER_CALLS:
            self.add(node, "dynamic-attribute", name)
        elif name in ("vars", "builtins.vars") and node.args:
            self.check_namespace(node, node.args[0])
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "replace"
            and any(str(k).startswith("co_") for k in keyword_names(node))
        ):
            self.add(node, "code-rewrite", ".replace(co_...)")
        elif name in rules.SPAWN_CALLS or name.startswith("subprocess."):
            words = list(strings(node))
            hits = sorted({m.group(1) for w in words for m in rules.SPAWNS_RUNNER.finditer(w)})
            if hits:
                self.add(node, "spawn-runner", f"{name} {' '.join(hits)}")
        elif name == "setattr" and node.args and self.qualname(node.args[0]) in rules.BUILTINS:
            self.add(node, "builtins-patch", "setattr(builtins)")
        elif isinstance(node.func, ast.Attribute):
            owner = self.qualname(node.func.value)
            if owner == "sys.modules" and node.func.attr in rules.MUTATORS:
                self.add(node, "sys-modules-write", f"sys.modules.{node.func.attr}")
            elif owner in ("sys.meta_path", "sys.path_hooks") and node.func.attr in rules.LIST_MUTATORS:
                self.add(node, "import-hook", f"{owner}.{node.func.attr}")
            elif owner in rules.BUILTINS and node.func.attr in ("__setattr__", "__setitem__", "update"):
                self.add(node, "builtins-patch", f"builtins.{node.func.attr}")
        self.generic_visit(node)

    def check_attr_call(self, node: ast.Call, name: str, call_args: list[ast.expr] | None = None) -> None:
        """`getattr(obj, NAME)` and its kin: a name written whole is read as `obj.NAME`; one computed
        at run time, or spelled in pieces, cannot be read (`dynamic-attribute`). `call_args`: the
        arguments as for `setattr` when they are not the call's own (`obj.__setattr__(NAME, v)`)."""
        all_args = node.args if call_args is None else call_args
        args = all_args[1:] if name not in ("operator.attrgetter", "operator.methodcaller") else all_args
        if not args and not name.endswith("__getattribute__"):
            return
        target = args[0] if args else None
        if target is not None and (names := sf.either(target)):  # "add" if c else "or_": each as written
            for each in names:
                self.check_attr_call(node, name, [*all_args[: len(all_args) - len(args)], each, *args[1:]])
            return
        literal = isinstance(target, ast.Constant) and isinstance(target.value, str)
        folded = fold(target) if target is not None else None
        if not literal:
            self.add(node, "dynamic-attribute", unparse(node))
            if folded is None:
                return
        attr = str(folded)
        owner = self.qualname(all_args[0]) if all_args and not name.startswith("operator.") else ""
        if attr in rules.FRAME_ATTRS:
            self.add(node, "frame-walk", attr)
        elif not owner and name.startswith("operator."):
            for part in attr.split("."):  # attrgetter("a.b") reads a, then b
                self.check_unowned(node, part)
        elif attr in rules.ORIGIN_ATTRS and name.split(".")[-1] in ("setattr", "__setattr__"):
            self.add(node, "code-rewrite", f"set {attr}")
        elif owner:
            full = f"{owner}.{attr}"
            self.check_name(node, full)
            if full in ("sys.meta_path", "sys.path_hooks", "sys.modules"):
                self.add(
                    node, "import-hook" if full != "sys.modules" else "sys-modules-write", f"{name} {full}"
                )
            elif owner in rules.BUILTINS and name.split(".")[-1] in ("setattr", "delattr", "__setattr__"):
                self.add(node, "builtins-patch", f"{name}(builtins)")

    def check_target(self, node: ast.AST, verb: str) -> None:
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self.check_target(elt, verb)
        elif isinstance(node, ast.Starred):
            self.check_target(node.value, verb)
        elif isinstance(node, ast.Subscript):
            owner = self.qualname(node.value)
            if owner == "sys.modules":
                self.add(node, "sys-modules-write", f"{verb} sys.modules[]")
            elif owner in rules.BUILTINS:
                self.add(node, "builtins-patch", f"{verb} {owner}[]")
        elif isinstance(node, ast.Attribute):
            owner = self.qualname(node.value)
            if node.attr in rules.ORIGIN_ATTRS:
                self.add(node, "code-rewrite", f"{verb} {node.attr}")
            elif owner in rules.BUILTINS:
                self.add(node, "builtins-patch", f"{verb} builtins.{node.attr}")
            elif self.qualname(node) in ("sys.modules", "sys.meta_path", "sys.path_hooks"):
                kind = "sys-modules-write" if node.attr == "modules" else "import-hook"
                self.add(node, kind, f"{verb} {self.qualname(node)}")

    def visit_Assign(self, node: ast.Assign) -> None:
        to, name, root = node.targets[0], self.qualname(node.value), sf.root_name(node.value)
        if (
            len(node.targets) == 1
            and isinstance(to, ast.Name)
            and (name in rules.REEXPORTED or sm.is_module(name))
            and (root in self.imported or sf.fetched(node.value, self.qualname))
        ):
            self.imported.add(to.id)  # `s = os.sys`: `s` is `sys`; `p = __import__("pdb")`: `pdb`
            self.aliases[to.id] = name
        for target in node.targets:
            self.check_target(target, "set")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.check_target(node.target, "set")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.check_target(node.target, "set")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.check_target(target, "del")
        self.generic_visit(node)

    def check_unowned(self, node: ast.AST, attr: str) -> None:
        """An attribute read by name off a value the scan cannot name: flagged if it names one of the
        rules' functions (`rules.UNOWNED`), or is a frame attribute."""
        if attr in rules.FRAME_ATTRS or attr in rules.UNOWNED:
            self.add(node, "dynamic-attribute", f"{attr} read off a value the scan cannot name")

    def visit_Match(self, node: ast.Match) -> None:
        """`case object(get_objects=f)` reads `subject.get_objects` with no attribute in the source: read
        as that attribute where the subject is the pattern's own, by its name alone deeper in."""
        for case in node.cases:
            for attr, on_subject in sf.pattern_reads(case.pattern):
                if on_subject:
                    read = ast.copy_location(ast.Attribute(node.subject, attr, ast.Load()), case.pattern)
                    read._parent = ast.keyword(attr, read)  # type: ignore[attr-defined] # bound to a name
                    self.check_attribute(read)
                else:
                    self.check_unowned(case.pattern, attr)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.check_attribute(node)
        self.generic_visit(node)

    def check_attribute(self, node: ast.Attribute) -> None:
        if node.attr in rules.FRAME_ATTRS:
            self.add(node, "frame-walk", node.attr)
        elif node.attr in rules.DISTINCT:
            self.add(node, rules.DISTINCT[node.attr], f".{node.attr}")
        elif node.attr == "__dict__":
            self.check_namespace(node, node.value)
        elif self.check_modules(node):
            pass
        elif self.qualname(node) in ("sys.meta_path", "sys.path_hooks") and aliased(
            node, self.qualname, rules.READERS
        ):
            self.add(node, "import-hook", f"{self.qualname(node)} taken as a value")
        elif isinstance(node.ctx, ast.Load) and not getattr(node, "_is_called", False):
            self.check_name(node, self.qualname(node))  # taken as a value: `f = os._exit`
            self.check_value(node, self.qualname(node))

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not getattr(node, "_is_called", False):
            self.check_modules(node)
            self.check_value(node, name := self.qualname(node))
            if name in rules.NAME_ONLY:  # `from inspect import getmodule as g`, then `f = g`
                self.check_name(node, name)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load) and not getattr(node, "_is_called", False):
            self.check_modules(node)
            name = self.qualname(node)  # `vars(sys)["settrace"]` taken as a value
            self.check_name(node, name)
            self.check_value(node, name)
        self.generic_visit(node)


@functools.lru_cache(maxsize=512)
def _scan_cached(text: str) -> tuple[tuple[int, str, str], ...] | None:
    found = scan_source(text)
    return None if found is None else tuple(found)


def scan_source(text: str) -> list[tuple[int, str, str]] | None:
    """(line, kind, detail) of every construct in one module's source; None when it does not parse."""
    with AST_LOCK:
        return _scan_source(text)


def _scan_source(text: str) -> list[tuple[int, str, str]] | None:
    try:
        with deep_enough():
            tree = ast.parse(python_text(text))
            return _scan_tree(text, tree)
    except (SyntaxError, ValueError):
        return None  # Python cannot compile it either: it never runs
    except (RecursionError, MemoryError):  # Python may, under a limit the code raised itself
        return [(1, "dynamic-code", UNREADABLE)]


def _scan_tree(text: str, tree: ast.Module) -> list[tuple[int, str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            node.func._is_called = True  # type: ignore[attr-defined]
        for child in ast.iter_child_nodes(node):
            child._parent = node  # type: ignore[attr-defined]
    scanner = _Scanner()
    if (declared := coding(python_text(text))) is not None:
        scanner.found.append((declared[0], "dynamic-code", f"coding: {declared[1]}"))
    scanner.visit(tree)
    return scanner.found + cw.class_walk(tree)


def scan_changes(
    changes: Mapping[str, tuple[str | None, str | None]], *, is_test: Callable[[str], bool]
) -> list[Finding]:
    """Findings in what `changes` (path -> (old text, new text), None: absent) add to non-test Python
    files, sorted by path and line. Constructs already in the old text are not counted again."""
    findings: list[Finding] = []
    for path in sorted(changes):
        old, new = (sp.source_text(t) for t in changes[path])
        if new is None or not path.endswith(".py") or is_test(path):
            continue
        found = _scan_cached(new)
        if not found:
            continue
        # The old text is the same buggy file for every grade of a task: its scan is kept.
        before = Counter((kind, detail) for _, kind, detail in (_scan_cached(old or "") or ()))
        for line, kind, detail in sorted(found):
            if before[(kind, detail)] > 0:
                before[(kind, detail)] -= 1
            else:
                findings.append(Finding(path, line, kind, detail))
    return findings


KINDS = rules.KINDS

__all__ = ["KINDS", "Finding", "scan_changes", "scan_source"]
