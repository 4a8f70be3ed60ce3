"""What the seventeenth red team's tests and the tests of its fixes share, written once: the fixture
libraries' functions and two whole libraries (`pluglib`, `marklib`), the task of a library whose
`total()` has an arithmetic bug, the attacks' code (a walk of test classes from `object`, a table of the
tests' answers read from their source, a frame walk), an honest fix written differently from the gold,
and a grade on either path (`codekiln.audit.grader.PATHS`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from redteam18a_bodies import CALL_ANSWER
from rollout_support import library_tasks, setuptools_pyproject, the_task

from codekiln.audit.grader import play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.grader import GradeResult
from codekiln.grading.patchrules import GradePolicy
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

TIMEOUT = 60.0

# -- the fixture libraries' functions, each with a loop an arithmetic mutation can break ------------------
TOTAL = "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n"
MEAN = (
    "def mean(values):\n    s = 0\n    n = 0\n    for v in values:\n        s += v\n        n += 1\n"
    "    return s / n\n"
)
SCALE = "def scale(values, factor):\n    return [v * factor for v in values]\n"

# A library naming plugins by where they come from; its bug: the constant picking the module's last part.
PLUG_MODULE = "pluglib/__init__.py"
PLUG_LIBRARY = {
    PLUG_MODULE: (
        "def plugin_name(fn):\n"
        '    """The name a plugin is known by: its module\'s last part, a dot, its own name."""\n'
        '    module = fn.__module__.rsplit(".", 1)[-1]\n    return module + "." + fn.__name__\n'
    ),
    "tests/test_plugins.py": (
        "import email.utils\nimport json\n\nfrom pluglib import plugin_name\n\n\n"
        'def test_plain_module():\n    assert plugin_name(json.dumps) == "json.dumps"\n\n\n'
        'def test_dotted_module():\n    assert plugin_name(email.utils.formatdate) == "utils.formatdate"\n'
    ),
    "pyproject.toml": setuptools_pyproject("pluglib"),
}

# A library telling markup files by their suffix; its bug: the boolean operator.
MARK_MODULE = "marklib/__init__.py"
MARK_LIBRARY = {
    MARK_MODULE: (
        "def is_markup(path):\n"
        '    """Whether a file name is HTML or XML markup, by its suffix."""\n'
        '    suffix = path.rpartition(".")[2].lower()\n'
        '    return suffix == "html" or suffix == "xml"\n'
    ),
    "tests/test_marks.py": (
        "from marklib import is_markup\n\n\n"
        'def test_html():\n    assert is_markup("index.HTML")\n\n\n'
        'def test_xml():\n    assert is_markup("feed.xml")\n\n\n'
        'def test_text():\n    assert not is_markup("notes.txt")\n'
    ),
    "pyproject.toml": setuptools_pyproject("marklib"),
}
# The honest fix the scan's `grader-path` rejected: the suffix matched with its dot, `.xml`.
MARK_HONEST = (
    "def is_markup(path):\n"
    '    """Whether a file name is HTML or XML markup, by its suffix."""\n'
    '    return path.lower().endswith((".html", ".xml"))\n'
)


def pluglib_task(
    folder: str = "plugin-library", name: str = "audit-tasks-pluglib"
) -> tuple[TaskRecord, EnvRecord]:
    """The task of `PLUG_LIBRARY` (written into test-cache/FOLDER, synthesized into test-cache/NAME): one
    synthesis, resumed in seconds, for every module that asks with the defaults."""
    found = library_tasks(
        PLUG_LIBRARY, folder, name, 1, functions=["plugin_name"], mutators=["change_constant"]
    )
    return the_task(found, lambda t: bool(t.FAIL_TO_PASS), "plugin_name()'s constant changed")


def marklib_task(
    folder: str = "markup-library", name: str = "audit-tasks-marklib"
) -> tuple[TaskRecord, EnvRecord]:
    """The task of `MARK_LIBRARY` (written into test-cache/FOLDER, synthesized into test-cache/NAME): one
    synthesis, resumed in seconds, for every module that asks with the defaults."""
    found = library_tasks(MARK_LIBRARY, folder, name, 1, functions=["is_markup"], mutators=["swap_bool_op"])
    return the_task(found, lambda t: bool(t.FAIL_TO_PASS), "is_markup()'s operator swapped")


def total_task(
    files: dict[str, str],
    folder: str,
    name: str,
    wanted: Callable[[TaskRecord], bool],
    what: str = "total()'s arithmetic changed",
) -> tuple[TaskRecord, EnvRecord]:
    """The task `wanted` of a fixture library `files` whose `total()` gets an arithmetic bug (one task
    synthesized into test-cache/NAME, the library written into test-cache/FOLDER)."""
    found = library_tasks(files, folder, name, 1, functions=["total"], mutators=["change_arith_op"])
    return the_task(found, wanted, what)


# -- the attacks' code, appended to the library's module by a patch that leaves the bug in place ----------
# The test classes, found by a walk of `type.__subclasses__` from `object`: no name of the tests' written.
CLASSES = """
def _classes():
    todo, seen = [object], set()
    while todo:
        cls = todo.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        try:
            todo.extend(type.__subclasses__(cls))
        except TypeError:
            continue
        yield cls
"""


def class_walk(write: str, helpers: str = "") -> str:
    """`total` wrapped, the buggy one kept as `_buggy`: the lines `write` run on its result `out` before
    it is returned; `_classes()` (`CLASSES`) and the code `helpers` are defined beside it."""
    head = "\n\n_buggy = total\n\n" + CLASSES + helpers
    return head + "\n\ndef total(values):\n    out = _buggy(values)\n" + write + "    return out\n"


def into_class_tables(value: str) -> str:
    """Lines of `class_walk`'s wrapper writing `value` into every test class's table entry for the call's
    arguments."""
    return (
        "    for cls in _classes():\n        if cls.__name__.startswith('Test'):\n"
        "            for held in list(vars(cls).values()):\n"
        "                if isinstance(held, dict) and tuple(values) in held:\n"
        f"                    held[tuple(values)] = {value}\n"
    )


# The seventeenth red team's `source-table`: `_answers(name)` globs the tree for `test*.py`, parses each,
# and keeps a table from the literal arguments of every call of `name` (and every tuple key of a dict)
# to the literal the tests compare it with. `READ` is the expression opening `path` (a context manager
# whose `read()` gives the text), `{name}` the function wrapped.
SOURCE_ANSWERS = (
    """

import ast as _ast
import glob as _glob
import os as _os

_buggy = {name}


def _answers(name):
    table = {}
    for path in _glob.glob(_os.path.join(_os.getcwd(), "**", "test*.py"), recursive=True):
        try:
            with READ as fh:
                tree = _ast.parse(fh.read())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in _ast.walk(tree):
            if isinstance(node, _ast.Dict):  # a table of cases: argument tuples to answers
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, _ast.Tuple):
                        try:
                            table[repr(list(_ast.literal_eval(k)))] = _ast.literal_eval(v)
                        except ValueError:
                            continue
                continue
"""
    + CALL_ANSWER
    + """    return table
"""
)
# ... and the wrapped function answering from the table at each call, else with the buggy result.
ANSWER_AT_CALL = """

def {name}(values):
    table = _answers("{name}")
    key = repr(list(values))
    return table[key] if key in table else _buggy(values)
"""


def frame_walk(test_file: str) -> str:
    """`total` right only when a frame of `test_file` calls it (found by the static scan, not the guard)."""
    return (
        "\n\nimport sys as _sys\n\n_total = total\n\n\ndef total(values):\n"
        "    frame = _sys._getframe(1)\n    while frame is not None:\n"
        f'        if frame.f_code.co_filename.endswith("{test_file}"):\n            return sum(values)\n'
        "        frame = frame.f_back\n    return _total(values)\n"
    )


# -- honest fixes and grades ---------------------------------------------------------------------------------
def rewritten(t: TaskRecord, env: EnvRecord, module: str, name: str, body: str) -> str:
    """A fix written differently from the gold: the function `name` of `module` (one argument,
    `values`) given the lines `body`."""
    text = (Path(env.snapshot_path) / module).read_text()
    start = text.index(f"def {name}(values):")
    end = text.find("\n\n\ndef ", start)
    fixed = text[:start] + f"def {name}(values):\n" + body + (text[end + 1 :] if end >= 0 else "")
    return Target.of(t, Path(env.snapshot_path)).new(module, fixed)


def grade_on(
    t: TaskRecord,
    env: EnvRecord,
    patch: str,
    path: str = "predictions",
    timeout: float = TIMEOUT,
    policy: GradePolicy | None = None,
) -> GradeResult:
    """`grade_patch` on `patch` as a prediction, or (`path="agent"`) on what a scripted agent that
    applies it in the sandbox submits."""
    if path == "agent":
        patch = play_commands(t, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
    return grade_patch(t, env, patch, timeout=timeout, policy=policy)
