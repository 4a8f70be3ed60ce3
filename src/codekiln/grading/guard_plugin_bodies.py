"""Test modules compiled from trusted bytes, each test function's body wrapped so that an exception
leaving it is announced from the test's own code (`grading.guard_plugin`; it runs inside the sandbox).

    install(trusted, settings, rewritten, compiled, announce)  # pytest compiles trusted bytes, wrapped
    announce = raised_announcer(nonce, trusted, workdir)        # what a wrapped body calls
    wrap_tests(tree, patterns)                                  # the wrap, on a module's syntax tree

The guard announced failures from a pluggy hook given pytest's report (`guard_plugin_report`): code
under test that controls the report chain (pluggy's record of the hook pointed at a no-op, a
makereport wrapper registered mid-run, the report flipped through the frames of pytest's call: the
tenth red team's `announce-*` attacks) controlled the announcement too. Here the evidence comes from
the test function itself. The guard compiles every trusted test module (the test files and conftests
it read before any code under test ran); each test function's body becomes

    try:
        <body>
    except:                                   # bare: no name that code under test can rebind
        <announce>.__call__("<keys>")         # the announcer is a constant of the code, not a name
        raise

and the line `codekiln-guard-raised <nonce> <keys>` leaves by the grader's file (`print_line`) while the
test runs, before pytest makes a report of it. `<keys>` name the function (the `nodeid_key` of its name
and of the names a module or class binds it to again: `test_b = test_a`). Code constants cannot be
changed; a test whose code is not what was compiled here is a replaced test (`Guard.check_item`); the
announcer holds its settings as keyword defaults, guarded by the report module's audit hook.

The grader calls a run tampered where a function announced more raises than the results hold not-passed
cases of its names (`guard_check.raised_evidence`). An exception leaving a test called by pytest always
makes its case not passed (failed, an error, skipped or xfailed), so only calls pytest makes count:
the announcer reads who called the body (`raised_announcer`). pytest's `pytest_pyfunc_call` or unittest's
`_callTestMethod` count; a test file's own code (a test calling another, a conftest decorator) and
pytest's other code (a fixture named like a test) do not; nor does a read-only library between pytest
and the test (Hypothesis calls a test many times, and raises through it to steer it) unless code of the
graded tree is below it; code of the graded tree calling a test itself always counts.

Shipped beside the plugin as `<plugin module>_bodies` (`grading.shipped`); like the plugin, it imports
nothing from codekiln.
"""

from __future__ import annotations

import ast
import dis
import fnmatch
import hashlib
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

PLACEHOLDER = "\0codekiln-guard-raised\0"
"""The constant a wrapped body calls, swapped for the announcer after each compile (`bind`): code kept
between runs (`guard_rewrites`) is marshalled, which a function constant is not."""
EQUAL = "\0codekiln-guard-equal\0"
"""The constant each comparison calls, swapped likewise for the equality check (`guard_plugin_equality`)."""


def walk(code: types.CodeType) -> Any:
    """`code` and every code object nested in it."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from walk(const)


def functions(obj: Any) -> list[Any]:
    """A test callable's function and those it wraps (`__wrapped__`), outermost first."""
    out: list[Any] = []
    while obj is not None and len(out) < 20:
        func = getattr(obj, "__func__", obj)
        if not isinstance(getattr(func, "__code__", None), types.CodeType):
            break
        out.append(func)
        obj = getattr(func, "__wrapped__", None)
    return out


HELD: dict[str, bytes] = {}  # the held files' bytes, by path: filled by `_hide` when it empties them


def install(
    trusted: dict[str, bytes],
    settings: dict[str, Any],
    rewritten: dict[str, tuple[Any, ...]],
    compiled: dict[str, list[types.CodeType]],
    compiled_ids: dict[str, set[int]],
    announce: Callable[[str], None],
    appended_code: Callable[..., types.CodeType | None],
    equal: Callable[..., Any],
) -> None:
    """pytest compiles (and rewrites) test modules and conftests in `_rewrite_test`: make it read the
    trusted bytes instead of the file as it is now, wrap their test functions, and keep what each
    compile made (`compiled`, by path: the code that runs; `rewritten`: the same before `bind`, which
    a trusted run exports); a held file emptied at the plugin's load (`_hide`) is read from `HELD`."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    original, rewrite_asserts = rewrite._rewrite_test, rewrite.rewrite_asserts

    def _wrapping_rewrite_asserts(
        mod: Any, source: bytes, module_path: Any = None, config: Any = None
    ) -> None:
        rewrite_asserts(mod, source, module_path, config)
        if module_path is not None and str(module_path) in trusted:
            patterns = config.getini("python_functions") if config is not None else ["test"]
            wrap_tests(mod, list(patterns or ["test"]), str(module_path))

    def _keep(path: str, code: types.CodeType) -> types.CodeType:
        bound = bind(code, announce, equal)
        compiled.setdefault(path, []).append(bound)
        compiled_ids.setdefault(path, set()).update(map(id, walk(bound)))
        return bound

    def _rewrite_test(fn: Any, config: Any) -> Any:
        path = str(fn)
        kept = rewritten.get(path)
        if (
            path in trusted
            and kept is not None
            and hasattr(rewrite, "_write_pyc")
            and wrapped(kept[2], config, kept[3] if len(kept) > 3 else None)
        ):
            hook = bool(config.getini("enable_assertion_pass_hook")) if config is not None else False
            code = kept[2] if kept[:2] == (hashlib.sha256(trusted[path]).hexdigest(), hook) else None
            split = settings.get("appended", {}).get(path) if kept[1] == hook else None
            if code is None and split:  # the grader's canaries appended to a kept module
                code = appended_code(path, trusted[path], split, kept, config, rewrite)
            if code is not None:
                return None, _keep(path, code)  # the first item only feeds _write_pyc, a no-op here
        if path in trusted or path in HELD:
            source = trusted[path] if path in trusted else HELD[path]

            class _Trusted(type(fn)):  # type: ignore[misc]
                def read_bytes(self) -> bytes:
                    return source

            fn = _Trusted(path)
        result = original(fn, config)
        code = result[-1] if isinstance(result, tuple) else result
        if path in trusted and isinstance(code, types.CodeType):
            hook = bool(config.getini("enable_assertion_pass_hook")) if config is not None else False
            patterns = (
                tuple(config.getini("python_functions") or ["test"]) if config is not None else ("test",)
            )
            rewritten[path] = (hashlib.sha256(trusted[path]).hexdigest(), hook, code, patterns)
            bound = _keep(path, code)
            return (*result[:-1], bound) if isinstance(result, tuple) else bound
        return result

    rewrite._rewrite_test = _rewrite_test
    rewrite.rewrite_asserts = _wrapping_rewrite_asserts
    # A rewritten module that an earlier run left in __pycache__ was not compiled from the bytes read
    # above (it would be flagged as a replaced test): every run compiles afresh, and writes nothing
    # that no run may read back.
    if hasattr(rewrite, "_read_pyc"):
        rewrite._read_pyc = lambda *args, **kwargs: None
    if hasattr(rewrite, "_write_pyc"):
        rewrite._write_pyc = lambda *args, **kwargs: False


def wrapped(code: Any, config: Any, made_for: Any = None) -> bool:
    """Whether kept code (`guard_rewrites`) has its test functions wrapped as this run wraps them: an
    entry holds the `python_functions` patterns it was wrapped for (`made_for`; a run whose config says
    otherwise compiles the module afresh). The warm runner of validation exports wrapped code for the
    modules it rewrote from source (`tasks.in_sandbox.warm_runner.export_rewritten`) and, for those it
    did not, the code pytest made for it, unwrapped: such a module is compiled afresh here. A module
    with no function named like a test and no comparison needs no wrap."""
    if not isinstance(code, types.CodeType):
        return False
    patterns = list(config.getini("python_functions") or ["test"]) if config is not None else ["test"]
    if made_for is not None and (not isinstance(made_for, tuple | list) or list(made_for) != patterns):
        return False
    codes = list(walk(code))
    if any(PLACEHOLDER in c.co_consts or EQUAL in c.co_consts for c in codes):
        return True
    return not any(_is_test(c.co_name, patterns) or _COMPARES.intersection(c.co_code[::2]) for c in codes)


def key(name: str) -> str:
    """A test function's name as the raised lines name it (`guard_check.nodeid_key` of the name)."""
    return hashlib.sha256(bytes(name, "utf-8", "surrogatepass")).hexdigest()[:16]


def _is_test(name: str, patterns: list[str]) -> bool:
    """pytest's `python_functions` rule (a prefix, or a glob), and unittest's `test` prefix."""
    return name.startswith("test") or any(
        fnmatch.fnmatch(name, p) if any(c in p for c in "*?[") else name.startswith(p) for p in patterns
    )


def _is_fixture(node: ast.FunctionDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("fixture", "yield_fixture"):
            return True
    return False


def wrap_tests(tree: ast.Module, patterns: list[str], path: str = "") -> None:
    """Wrap, in place, the body of every test function of the module and of its classes (any class:
    a function that pytest does not call as a test is not counted, see `raised_announcer`), and make
    every comparison call the equality check (`_Compared`). A body emptied by
    `guard_plugin_speedups.appended_code` (code kept from a trusted run stands in) is left alone."""
    _Compared(path).visit(tree)
    defs: list[ast.FunctionDef] = []
    assigns: list[ast.Assign | ast.AnnAssign] = []
    scopes: list[list[ast.stmt]] = [tree.body]
    while scopes:  # the module's statements and its classes' (under `if` and `try` too), not functions'
        for node in scopes.pop():
            if isinstance(node, ast.ClassDef | ast.With):
                scopes.append(node.body)
            elif isinstance(node, ast.If | ast.Try):
                scopes += [
                    node.body,
                    node.orelse,
                    *([h.body for h in node.handlers] if isinstance(node, ast.Try) else []),
                ]
                scopes += [node.finalbody] if isinstance(node, ast.Try) else []
            elif isinstance(node, ast.FunctionDef) and node.body and _is_test(node.name, patterns):
                defs += [] if _is_fixture(node) else [node]
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                assigns.append(node)
    if not defs:
        return
    names = {d.name for d in defs}
    aliases: dict[str, set[str]] = {n: {n} for n in names}
    for assign in assigns:  # `test_b = test_a`, `test_b = mark(test_a)`, `test_b = Base.test_a`
        targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
        bound = {t.id for t in targets if isinstance(t, ast.Name)}
        bound |= {t.attr for t in targets if isinstance(t, ast.Attribute)}
        for inner in ast.walk(assign.value):  # type: ignore[arg-type]
            mentioned = inner.id if isinstance(inner, ast.Name) else getattr(inner, "attr", None)
            if mentioned in names:
                aliases[mentioned] |= bound
    for node in defs:
        _wrap(node, ",".join(sorted(map(key, aliases[node.name]))))


def _wrap(node: ast.FunctionDef, keys: str) -> None:
    first = node.body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    doc = node.body[:1] if docstring and isinstance(first.value.value, str) else []  # type: ignore[attr-defined]
    rest = node.body[len(doc) :]
    if not rest:
        return
    where = rest[0]
    call = ast.Call(
        func=ast.Attribute(value=ast.Constant(PLACEHOLDER), attr="__call__", ctx=ast.Load()),
        args=[ast.Constant(keys)],
        keywords=[],
    )
    handler = ast.ExceptHandler(type=None, name=None, body=[ast.Expr(call), ast.Raise(exc=None, cause=None)])
    wrapped = ast.Try(body=rest, handlers=[handler], orelse=[], finalbody=[])
    for made in (wrapped, *ast.walk(handler)):
        ast.copy_location(made, where)
    node.body = [*doc, wrapped]


def bind(code: types.CodeType, announce: Callable[[str], None], equal: Any) -> types.CodeType:
    """`code` with every `PLACEHOLDER` constant, in it and in the code nested in it, the announcer, and
    every `EQUAL` constant the equality check."""
    consts = code.co_consts
    new = tuple(
        announce
        if type(c) is str and c == PLACEHOLDER
        else equal
        if type(c) is str and c == EQUAL
        else bind(c, announce, equal)
        if isinstance(c, types.CodeType)
        else c
        for c in consts
    )
    if all(map(lambda a, b: a is b, new, consts)):
        return code
    return code.replace(co_consts=new)


_COMPARES = frozenset({dis.opmap["COMPARE_OP"], dis.opmap["CONTAINS_OP"]})
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in"}
_UNITTEST = {"failUnlessEqual", "failIfEqual"} | {  # unittest's methods that compare with `==`
    f"assert{n}{e}" for n in ("", "Not") for e in ("Equal", "Equals", "AlmostEqual", "AlmostEquals", "In")
}
_UNITTEST |= {
    f"assert{n}Equal" for n in ("Count", "Items", "List", "Tuple", "Set", "Dict", "Sequence", "MultiLine")
}


class _Compared(ast.NodeTransformer):
    """`a == b` (`!=`, `in`, `not in`) -> `EQUAL.__call__("path:line", "==", a, b)`; a chain's operands
    and unittest's compared arguments pass through it (`EQUAL.__call__("path:line", "", a)`)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _call(self, node: ast.expr, op: str, *args: ast.expr) -> ast.expr:
        where = (EQUAL, f"{self.path}:{getattr(node, 'lineno', 0)}", op)  # each new node at `node`
        const = [ast.copy_location(ast.Constant(v), node) for v in where]
        func = ast.copy_location(ast.Attribute(value=const[0], attr="__call__", ctx=ast.Load()), node)
        return ast.copy_location(ast.Call(func=func, args=[*const[1:], *args], keywords=[]), node)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if not any(type(op) in _OPS for op in node.ops):
            return node
        if len(node.ops) == 1:
            return self._call(node, _OPS[type(node.ops[0])], node.left, node.comparators[0])
        node.left = self._call(node.left, "", node.left)
        node.comparators = [self._call(c, "", c) for c in node.comparators]
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in _UNITTEST:
            node.args[:2] = [a if isinstance(a, ast.Starred) else self._call(a, "", a) for a in node.args[:2]]
        return node


def _code_of(owner: Any, name: str) -> types.CodeType | None:
    return getattr(getattr(owner, name, None), "__code__", None)


def _dir(module: str) -> str:
    mod = sys.modules.get(module)
    where = getattr(mod, "__file__", None) or ""
    return where.rsplit("/", 1)[0] + "/" if where else "\0"


def raised_announcer(
    nonce: str | None,
    trusted: frozenset[str],
    workdir: str,
    readonly: tuple[str, ...],
    say: Callable[[str], None],
) -> Callable[[str], None]:
    """What a wrapped test body calls as an exception leaves it (None `nonce`: a run that writes no
    results, nothing to announce). Its settings are keyword defaults bound now: nothing it reads is a
    global name or data that a walk of attributes could rewrite unseen; the report module's audit hook
    refuses changes to its code and defaults (`guard_plugin_report.announcer`'s `guarded`)."""
    if nonce is None:
        return _silent
    from _pytest import outcomes, python

    # unittest's caller of a test method, by its file and name: unittest may be imported after this
    # (code claiming that name only makes a call count)
    test_method = (
        sysconfig.get_paths().get("stdlib", "\0").rstrip("/") + "/unittest/case.py",
        "_callTestMethod",
    )

    def raised(
        keys: str,
        *,
        nonce: str = nonce,
        say: Callable[[str], None] = say,
        getframe: Any = sys._getframe,
        exc_info: Any = sys.exc_info,
        quiet: tuple[type, ...] = (KeyboardInterrupt, GeneratorExit, outcomes.Exit),
        pyfunc_call: Any = _code_of(python, "pytest_pyfunc_call"),
        test_method: tuple[str, str] = test_method,
        trusted: frozenset[str] = trusted,
        pytest_dirs: tuple[str, ...] = (_dir("_pytest"), _dir("pytest")),
        pluggy_dirs: tuple[str, ...] = (_dir("pluggy"),),
        readonly: tuple[str, ...] = readonly,
        workdir: str = workdir,
        isinstance_: Any = isinstance,
        str_: Any = str,
    ) -> None:
        if isinstance_(exc_info()[1], quiet):
            return
        frame, indirect, depth = getframe(2), False, 0  # 0: this, 1: the test, 2: its caller
        while frame is not None and depth < 200:
            code = frame.f_code
            where = str_(code.co_filename)
            if code is pyfunc_call or (where, code.co_name) == test_method:
                counted = not indirect
            elif where in trusted or where.startswith(pytest_dirs):
                counted = False  # a test file's own code calls it, or pytest's other code (a fixture)
            elif where.startswith(pluggy_dirs):
                counted = not indirect  # a hook calling the test itself
            elif where.startswith(workdir) or not where.startswith(readonly):
                counted = True  # code of the graded tree calls the test
            else:  # a read-only library runs it (Hypothesis, mock.patch): it may call it many times
                indirect, frame, depth = True, frame.f_back, depth + 1
                continue
            if counted:
                say(f"\ncodekiln-guard-raised {nonce} {keys}\n")
            return

    return raised


def _silent(keys: str) -> None:
    """The announcer of a run that writes no results."""
