"""Cheap rejection of model-written bugs: a pure function of the model's raw output and the clean file,
run before any sandbox work. Each rejection has a name (`LmReject`):

- `no_code`: no code block (nor a bare `def`) in the output;
- `unparsable`: the code does not parse;
- `no_function`: it parses but holds no function of the entity's name;
- `signature_changed`: name, parameters, defaults, annotations, decorators or async-ness differ;
- `touches_other_functions`: it also defines another function or class that differs from the file's;
- `docstring_dropped` / `docstring_changed`: the docstring is gone or reworded (a reworded one may
  describe the bug);
- `identical`: the same AST as the original (formatting and comments aside): a no-op;
- `syntax_error`: the file does not parse with the function spliced in (indentation);
- `near_duplicate` (`dedupe`): the same change as an earlier candidate of the same function, up to
  formatting and the names of local variables.

What survives is spliced into the file in place of the original function (its decorators and
indentation kept) and becomes a `Candidate` whose `mutators` is `[strategy]`.

    judged = judge("lm_modify", entity, file_text, raw_output, seed=0)
    judged.candidate or judged.reason          # a Candidate, or why not
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.core.pyast import parse as parse_ast
from codekiln.core.sources import SourceEncodingError, patch_text_of
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity

LmReject = Literal[
    "no_code",
    "unparsable",
    "no_function",
    "signature_changed",
    "touches_other_functions",
    "docstring_dropped",
    "docstring_changed",
    "identical",
    "syntax_error",
    "near_duplicate",
    "unencodable",
]
UNPARSED: frozenset[str] = frozenset({"no_code", "unparsable", "no_function"})
"""The rejections of outputs that did not even yield the function (the funnel's "parsed" step)."""

_FENCE_RE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)
_CHANGE_RE = re.compile(r"^\s*\**change\**\s*:\s*(.+)$", re.I | re.M)
FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Judged:
    """The verdict on one output: a candidate, or the reason there is none."""

    candidate: Candidate | None = None
    reason: LmReject | None = None
    detail: str = ""
    normalized: str = ""
    """The new function with formatting and local names normalised (what `dedupe` compares)."""
    explanation: str = ""
    """The model's own "Change:" line, if it wrote one."""


def extract_code(raw: str) -> str | None:
    """The first fenced code block holding a `def`, else the first fenced block, else the text from its
    first `def` (or decorator) line when the model wrote bare code; None when there is no code."""
    blocks = [m.group(1) for m in _FENCE_RE.finditer(raw)]
    for block in blocks:
        if re.search(r"^\s*(async\s+)?def\s", block, re.M):
            return block
    if blocks:
        return blocks[0]
    m = re.search(r"^[ \t]*(@|(async\s+)?def\s)", raw, re.M)
    if m is None:
        return None
    return _CHANGE_RE.split(raw[m.start() :], maxsplit=1)[0]


def explanation_of(raw: str) -> str:
    m = _CHANGE_RE.search(raw)
    return m.group(1).strip()[:500] if m else ""


def _signature(node: FuncNode) -> str:
    parts = [
        type(node).__name__,
        node.name,
        ast.dump(node.args),
        ast.dump(node.returns) if node.returns else "",
    ]
    return "|".join([*parts, *(ast.dump(d) for d in node.decorator_list)])


def _find(tree: ast.Module, name: str) -> tuple[FuncNode | None, list[ast.stmt]]:
    """The function named `name` (top level, or inside a class the model wrapped it in), and the other
    definitions found beside it."""
    found: FuncNode | None = None
    others: list[ast.stmt] = []
    for stmt in tree.body:
        inner = stmt.body if isinstance(stmt, ast.ClassDef) else [stmt]
        for node in inner:
            if isinstance(node, FuncNode) and node.name == name and found is None:
                found = node
            elif isinstance(node, FuncNode | ast.ClassDef):
                others.append(node)
    return found, others


def _file_defs(tree: ast.Module) -> dict[str, set[str]]:
    defs: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, FuncNode | ast.ClassDef):
            defs.setdefault(node.name, set()).add(ast.dump(node))
    return defs


def normalize(node: FuncNode) -> str:
    """`node` unparsed with local names renamed in order of first use (parameters and globals kept)."""
    params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    stored = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    local = {name: f"_v{i}" for i, name in enumerate(dict.fromkeys(stored)) if name not in params}
    copy = parse_ast(ast.unparse(node)).body[0]
    for n in ast.walk(copy):
        if isinstance(n, ast.Name) and n.id in local:
            n.id = local[n.id]
    return ast.unparse(copy)


def judge(
    strategy: str, entity: Entity, file_text: str, raw: str, *, seed: int = 0, like: bytes | None = None
) -> Judged:
    """Check one model output against the clean file (see the module docstring). `like`: the file's
    bytes, when its encoding is not plain UTF-8 (the patch then holds its bytes: `core.sources`)."""
    out = Judged(explanation=explanation_of(raw))
    code = extract_code(raw.replace("\r\n", "\n"))
    if code is None or not code.strip():
        return _no(out, "no_code", "the output holds no code block")
    try:
        tree = parse_ast(textwrap.dedent(code))
    except SyntaxError as err:
        return _no(out, "unparsable", f"{err.msg} at line {err.lineno} of the code block")
    new, others = _find(tree, entity.name)
    if new is None:
        return _no(out, "no_function", f"no function named {entity.name} in the code block")
    orig = parse_ast(textwrap.dedent(entity.code)).body[0]
    assert isinstance(orig, FuncNode)
    if _signature(new) != _signature(orig):
        return _no(out, "signature_changed", f"the signature is now {_first_line(code, new)}")
    file_defs = _file_defs(parse_ast(file_text))
    changed = [o for o in others if ast.dump(o) not in file_defs.get(getattr(o, "name", ""), set())]
    if changed:
        names = ", ".join(sorted({getattr(o, "name", "?") for o in changed}))
        return _no(out, "touches_other_functions", f"it also defines {names}")
    old_doc, new_doc = ast.get_docstring(orig), ast.get_docstring(new)
    if old_doc is not None and new_doc is None:
        return _no(out, "docstring_dropped", "the docstring is gone")
    if old_doc != new_doc:
        return _no(out, "docstring_changed", "the docstring was reworded")
    if ast.dump(new) == ast.dump(orig):
        return _no(out, "identical", "the same code as the original, up to formatting")
    new_text = splice(entity, file_text, textwrap.dedent(code), new, orig)
    try:
        parse_ast(new_text)
    except SyntaxError as err:
        return _no(out, "syntax_error", f"{err.msg} at line {err.lineno} with the function spliced in")
    try:
        texts = (
            [file_text, new_text] if like is None else [patch_text_of(t, like) for t in (file_text, new_text)]
        )
    except SourceEncodingError as err:
        return _no(out, "unencodable", err.message)
    patch = make_diff(entity.file, *texts)
    out.normalized = normalize(new)
    out.candidate = Candidate(
        id=diff_hash(patch)[:16],
        patch=patch,
        mutators=[strategy],
        entities=[entity.id],
        files=[entity.file],
        seed=seed,
    )
    return out


def splice(entity: Entity, file_text: str, code: str, new: FuncNode, orig: FuncNode) -> str:
    """`file_text` with the entity's `def` .. end replaced by the model's (its decorators are the same)."""
    lines = code.split("\n")
    body = lines[new.lineno - 1 : new.end_lineno]
    body = textwrap.dedent("\n".join(body)).split("\n")
    file_lines = file_text.split("\n")
    def_line = entity.start_line + orig.lineno - 1  # 1-based line of `def` in the file
    indent = file_lines[def_line - 1][
        : len(file_lines[def_line - 1]) - len(file_lines[def_line - 1].lstrip())
    ]
    placed = [indent + line if line.strip() else "" for line in body]
    return "\n".join([*file_lines[: def_line - 1], *placed, *file_lines[entity.end_line :]])


def dedupe(judged: Iterable[tuple[str, Judged]]) -> None:
    """Mark as `near_duplicate` every candidate whose normalised function equals an earlier one's for the
    same entity (the pairs are (entity id, verdict), in candidate order). Changes the verdicts."""
    seen: dict[tuple[str, str], str] = {}
    for entity_id, verdict in judged:
        if verdict.candidate is None:
            continue
        key = (entity_id, verdict.normalized)
        if key in seen:
            verdict.candidate = None
            _no(verdict, "near_duplicate", f"the same change as candidate {seen[key]}")
        else:
            seen[key] = verdict.candidate.id


def _no(out: Judged, reason: LmReject, detail: str) -> Judged:
    out.reason, out.detail = reason, detail
    return out


def _first_line(code: str, node: FuncNode) -> str:
    return textwrap.dedent(code).split("\n")[node.lineno - 1].strip()[:200]
