"""The prompts of the model-written bug strategies: versioned files in `prompts/`, and the request one
function makes.

A prompt file is `prompts/<strategy>.v<N>.md`: the system text, a line `=== user ===`, then the user
template with `{file}`, `{where}`, `{context}` and `{code}`. A changed prompt is a new file (a new
version), never an edit of a published one: every model call records the version it used, and a synth
directory resumes only with the versions it started with.

    prompt = load_prompt("lm_modify")              # the newest version
    prompt.version                                 # "lm_modify.v1"
    messages = prompt.messages(entity, file_text)  # system + user, the function shown with its context
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from importlib import resources

from codekiln.core.errors import ConfigError
from codekiln.core.pyast import parse as parse_ast
from codekiln.tasks.frontend.entities import Entity

STRATEGIES = ("lm_modify", "lm_rewrite")
"""The model-written strategies (the procedural one is `func_pm`)."""

_USER_MARK = "=== user ==="
_VERSION_RE = re.compile(r"^(?P<strategy>\w+)\.v(?P<n>\d+)\.md$")
MAX_CONTEXT_LINES = 24
"""Lines of module context shown beside the function (imports first, then the enclosing class)."""


@dataclass(frozen=True)
class Prompt:
    """One versioned prompt: its system text and the user template."""

    strategy: str
    version: str
    """`<strategy>.v<N>`: what each model call records."""
    system: str
    user: str

    def messages(self, entity: Entity, file_text: str) -> list[dict[str, str]]:
        """The chat messages asking for a bug in `entity` (lm_rewrite: the body is left out)."""
        code = entity.code if self.strategy == "lm_modify" else without_body(entity)
        cls = entity.qualname.rsplit(".", 1)[0] if "." in entity.qualname else ""
        where = f", in class `{cls}`" if cls else ""
        user = self.user.format_map(
            {
                "file": entity.file,
                "where": where,
                "context": module_context(entity, file_text),
                "code": code.rstrip("\n"),
            }
        )
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


def prompt_versions(strategy: str) -> list[str]:
    """The versions shipped for `strategy`, oldest first."""
    found = []
    for item in resources.files(__package__).joinpath("prompts").iterdir():
        m = _VERSION_RE.match(item.name)
        if m and m["strategy"] == strategy:
            found.append((int(m["n"]), f"{strategy}.v{m['n']}"))
    return [v for _, v in sorted(found)]


def load_prompt(strategy: str, version: str | None = None) -> Prompt:
    """The prompt of `strategy` at `version` (`lm_modify.v1`), or its newest version."""
    versions = prompt_versions(strategy)
    if not versions:
        raise ConfigError(
            f"no prompt ships for strategy {strategy!r}", hint=f"use one of {', '.join(STRATEGIES)}"
        )
    version = version or versions[-1]
    if version not in versions:
        raise ConfigError(f"no prompt version {version!r}", hint=f"shipped: {', '.join(versions)}")
    text = resources.files(__package__).joinpath("prompts", f"{version}.md").read_text(encoding="utf-8")
    system, mark, user = text.partition(_USER_MARK)
    if not mark:
        raise ConfigError(f"prompt {version} lacks its {_USER_MARK!r} line", hint="fix the prompt file")
    return Prompt(strategy, version, system.strip(), user.strip() + "\n")


def without_body(entity: Entity) -> str:
    """The entity's source with its body replaced by its docstring (if any) and `...`."""
    code = textwrap.dedent(entity.code)
    node = parse_ast(code).body[0]
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return entity.code
    prefix = entity.code[: len(entity.code) - len(entity.code.lstrip(" "))]
    lines = code.split("\n")
    first = node.body[0]
    keep_to = first.lineno - 1
    if ast.get_docstring(node, clean=False) is not None:
        keep_to = first.end_lineno or first.lineno
    if lines[first.lineno - 1][: first.col_offset].strip():  # `def f(x): return x`: the signature alone
        head = f"{entity.signature}:"
        return textwrap.indent(f"{head}\n    ...\n", prefix)
    body_pad = " " * first.col_offset
    return textwrap.indent("\n".join([*lines[:keep_to], body_pad + "..."]) + "\n", prefix)


def module_context(entity: Entity, file_text: str) -> str:
    """What the model sees around the function: the file's imports and, for a method, its class line."""
    lines = file_text.split("\n")
    out: list[str] = []
    try:
        tree = parse_ast(file_text)
    except SyntaxError:
        return ""
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out += lines[node.lineno - 1 : node.end_lineno or node.lineno]
    out = out[:MAX_CONTEXT_LINES]
    enclosing = [
        c
        for c in ast.walk(tree)
        if isinstance(c, ast.ClassDef) and c.lineno < entity.start_line <= (c.end_lineno or 0)
    ]
    if enclosing and "." in entity.qualname:  # the innermost class (walk goes outside in)
        out += ["", lines[enclosing[-1].lineno - 1].strip(), "    ..."]
    return "\n".join(out)
