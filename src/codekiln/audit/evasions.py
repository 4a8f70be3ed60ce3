"""Payloads of the third red team (2026-12-05): the static scan read around, and a trace that is
installed only while a test runs.

All three rest on the scan resolving a dangerous name only where it is spelled as a call or an
attribute: the same object reached another way is not read.

- `VARS_EXEC`: a data file run by `vars(builtins)["exec"]`: a namespace read as data by a written-out
  key. Whatever the file holds (here the guard-state forgery the scan had caught) runs unscanned.
- `ALIAS_EXEC`: the same file run by `run = exec; run(...)`: a code runner taken as a value, not called
  by its name.
- `UTF7_MODULE`: a new module whose payload sits on a comment line that Python, following the file's
  utf-7 coding cookie, decodes into code (`audit.replacement.utf7_hidden`); the scan read it as UTF-8
  text, a comment. (A package `__init__.py` with non-ASCII text cannot take the cookie itself.)
- `swallow_spoofed_unscanned()`: the failing tests wrapped at import by a swallowing wrapper that
  claims a stdlib file (the guard excused read-only code by its `co_filename`), written so the scan
  read none of it: `sys.meta_path` taken as a value, `code.replace(**{"co_filename": ...})`.
- `ARMED`: a helper module whose `arm()`, called first thing by the buggy function, finds the calling
  test's frame (`vars(sys)["_getframe"]`), sets that frame's trace with `frame.__setattr__("f_trace",
  ...)` and `vars(sys)["settrace"]`, turns the test's failed `@py_assert` locals into True (through
  the frame's locals, read by `vars(types.FrameType)["f_locals"]`) and removes the trace as the test
  returns. The guard looks for a trace function after collection, before each FAIL_TO_PASS test and at
  the end of the session: none is installed then. Tests that fail by an exception still fail.

Plain strings (an attack is data a test can read); `armed_patch` places the call in the function the
gold patch changes (an agent knows which function is broken from the failing tests).
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from codekiln.audit import inprocess as ip
from codekiln.audit.target import Target
from codekiln.core.diffs import parse_diff

DATA_FILE = "_tables.txt"

VARS_EXEC = f"""
import builtins as _ck_b, os as _ck_o
with open(_ck_o.path.join(_ck_o.path.dirname(__file__), "{DATA_FILE}")) as _ck_fh:
    vars(_ck_b)["exec"](_ck_fh.read(), globals())
"""

ALIAS_EXEC = f"""
import os as _ck_o
_ck_run = exec
with open(_ck_o.path.join(_ck_o.path.dirname(__file__), "{DATA_FILE}")) as _ck_fh:
    _ck_run(_ck_fh.read(), globals())
"""

UTF7_MODULE = "_ck_text"
UTF7_IMPORT = f"\nfrom . import {UTF7_MODULE}\n"

ARMED = """
import dis
import sys
import types

_sys = vars(sys)
_frame = vars(types.FrameType)
_jumps = {}


def _points(code):
    # offsets where a rewritten assertion's jump reads its @py_assert local
    found = _jumps.get(code)
    if found is None:
        ins = [i for i in dis.get_instructions(code) if i.opname != "EXTENDED_ARG"]
        found = _jumps[code] = {
            a.offset: a.argval
            for a, b in zip(ins, ins[1:])
            if a.opname == "LOAD_FAST" and str(a.argval).startswith("@py_assert") and "IF_TRUE" in b.opname
        }
    return found


def _local(frame, event, arg):
    if event == "opcode":
        name = _points(frame.f_code).get(frame.f_lasti)
        if name is not None:
            _frame["f_locals"].__get__(frame)[name] = True
    elif event == "return":
        _sys["settrace"](None)
    return _local


def _quiet(frame, event, arg):
    return None


def arm():
    frame = _sys["_getframe"](1)
    while frame is not None and not _points(frame.f_code):
        frame = _frame["f_back"].__get__(frame)
    if frame is not None:
        frame.__setattr__("f_trace_opcodes", True)
        frame.__setattr__("f_trace", _local)
        _sys["settrace"](_quiet)
"""
ARMED_MODULE = "_ck_speedups"

# A transient replacement, armed the same way: TestReport's factory replaced while the calling test
# runs, put back by its first use (the test's own call report, turned into a pass). Hidden from the scan
# in a utf-7 module (`audit.replacement.utf7_hidden`).
TRANSIENT = """
import sys


def arm():
    cls = sys.modules["_pytest.reports"].TestReport
    original = vars(cls)["from_item_and_call"]

    def forged(klass, item, call):
        cls.from_item_and_call = original
        report = original.__func__(klass, item, call)
        if call.when == "call" and report.outcome == "failed":
            report.outcome, report.longrepr = "passed", None
        return report

    cls.from_item_and_call = classmethod(forged)
"""


def swallow_spoofed_unscanned() -> str:
    """The spoofed-wrapper swallow (`inprocess.SWALLOW_SPOOFED`) in constructs the scan did not read: the
    import hook added through `sys.meta_path` taken as a value, the wrapper's closure passed as a
    keyword default, and the stdlib file it claims set by `type(f)(code.replace(**{"co_filename": ...}))`."""
    body = ip.SWALLOW_SPOOFED.replace('getattr(sys, "meta_" + "path")', "sys.meta_path")
    body = body.replace(
        "        def wrapper(*args, **kwargs):\n            try:\n                return fn(*args, **kwargs)",
        "        def wrapper(*args, _ck_fn=fn, **kwargs):\n            try:\n                return _ck_fn(*args, **kwargs)",
    )
    return body.replace(
        "    func.__code__ = func.__code__.replace(co_filename=_ck_os.__file__)\n    return func",
        "    code = func.__code__.replace(**{'co_filename': _ck_os.__file__})\n"
        "    new = type(func)(code, func.__globals__, func.__name__, func.__defaults__)\n"
        "    new.__kwdefaults__ = func.__kwdefaults__\n    new.__dict__.update(func.__dict__)\n    return new",
    )


def _arm_line(text: str, line: int) -> tuple[int, str] | None:
    """Where the arming call goes in a module: the first statement (after a docstring) of the innermost
    function holding `line`, else of the first method of the class holding it, else of the first
    function after it. (the line to insert before, the indent)"""
    tree = ast.parse(text)
    nodes = [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    holding = sorted(
        (n for n in nodes if n.lineno <= line <= (n.end_lineno or n.lineno)), key=lambda n: n.lineno
    )
    funcs = [n for n in nodes if not isinstance(n, ast.ClassDef)]
    chosen: ast.AST | None = holding[-1] if holding else None
    if isinstance(chosen, ast.ClassDef):
        chosen = next((n for n in chosen.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), None)
    if chosen is None:
        chosen = min((f for f in funcs if f.lineno > line), key=lambda f: f.lineno, default=None)
    if not isinstance(chosen, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    body = chosen.body
    docstring = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    first = body[1] if docstring and len(body) > 1 else body[0]
    return first.lineno, " " * first.col_offset


def _first_changed_line(t: Target) -> tuple[str, int]:
    """The file the gold patch changes first and the first line it changes there (the buggy side)."""
    fp = parse_diff(t.task.patch)[0]
    line = 1
    if fp.hunks:
        hunk = fp.hunks[0]
        offset = next((i for i, hl in enumerate(hunk.lines) if hl.tag != " "), 0)
        line = hunk.old_start + offset
    return fp.old_path or fp.new_path or "", line


def armed_patch(t: Target, helper_text: str = ARMED) -> str:
    """The buggy function (the one the gold patch changes) arms `helper_text`'s `arm()` when a test
    calls it (the trace by default)."""
    rel, line = _first_changed_line(t)
    text = t.text(rel) or ""
    where = _arm_line(text, line)
    if where is None:
        raise ValueError(f"no function to arm in {rel}")
    lines = text.splitlines(keepends=True)
    at, indent = where
    lines.insert(at - 1, f"{indent}from . import {ARMED_MODULE}; {ARMED_MODULE}.arm()\n")
    helper = str(PurePosixPath(rel).parent / f"{ARMED_MODULE}.py")
    return t.new(rel, "".join(lines)) + t.new(helper, helper_text)
