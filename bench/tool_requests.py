"""Synthetic single-call tool-use conversations for the template-diversity bench.

    convs = synth_conversations(64, seed=0, held=eval_prompt_texts, max_tools=2)

Each conversation is the format eval's system prompt, the offered tools (the called one plus 1 to
`max_tools - 1` others; only the called one when `max_tools` is 1, from `codekiln/models/data/format_eval.json`), one user request filled from
seeded templates, and one assistant turn calling the right tool with valid arguments. No request text
equal to an eval prompt's text is ever produced (`held`), so the eval prompts never enter training.
"""

from __future__ import annotations

import json
import random
from importlib import resources
from typing import Any

Conversation = tuple[list[dict[str, Any]], list[dict[str, Any]]]
"""(messages, tools), OpenAI-shaped."""

FILES = [
    "src/app/main.py",
    "lib/utils.py",
    "pkg/core/models.py",
    "docs/index.md",
    "CHANGELOG.md",
    "app/views.py",
]
FILES += ["src/cli/parser.py", "tests/test_api.py", "config/settings.yaml", "scripts/build.sh", "Makefile"]
DIRS = ["src", "lib", "tests", "docs", "pkg/core", "scripts", "app", "."]
WORDS = [
    "retry",
    "timeout",
    "cache",
    "unicode",
    "encode",
    "deprecated",
    "FIXME",
    "logger",
    "session",
    "token",
]
FUNCS = ["parse_args", "load_config", "render_page", "fetch_user", "normalize", "split_words", "connect"]
PKGS = ["requests", "numpy", "click", "attrs", "jinja2", "pyyaml", "rich"]
EXTS = ["py", "md", "toml", "json", "yaml", "cfg"]
TEXTS = ["TODO: write docs", "version = 2", "Run make test first.", "print('ok')", "# Notes"]
SUMMARIES = [
    "fixed the off-by-one in the pager",
    "added a retry to the HTTP client",
    "renamed the config key",
]


def _requests(r: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """Candidate (tool, request, arguments) triples, freshly filled from `r`."""
    f, d, w, fn, p = r.choice(FILES), r.choice(DIRS), r.choice(WORDS), r.choice(FUNCS), r.choice(PKGS)
    a = r.randint(1, 120)
    b, n, ext, txt = a + r.randint(5, 60), r.randint(2, 20), r.choice(EXTS), r.choice(TEXTS)
    old, new = r.sample(FUNCS, 2)
    test = r.choice(["tests/test_api.py", "tests/test_models.py", "tests/unit/test_io.py"])
    summary = r.choice(SUMMARIES)
    return [
        ("bash", f"List everything in {d}, hidden files too.", {"command": f"ls -la {d}"}),
        ("bash", f"Show the last {n} commits, one per line.", {"command": f"git log --oneline -{n}"}),
        ("bash", f"How many lines does {f} have?", {"command": f"wc -l {f}"}),
        ("bash", f"Which version of {p} is installed?", {"command": f"pip show {p}"}),
        ("bash", f"Print the first {n} lines of {f}.", {"command": f"head -n {n} {f}"}),
        (
            "bash",
            f"Run `make build` but stop it after {n * 10} seconds.",
            {"command": "make build", "timeout": n * 10},
        ),
        ("read_file", f"Open {f}.", {"path": f}),
        ("read_file", f"Show me lines {a} to {b} of {f}.", {"path": f, "start_line": a, "end_line": b}),
        ("write_file", f"Create {f} containing exactly: {txt}", {"path": f, "content": txt}),
        ("edit_file", f"In {f}, change `{old}` to `{new}`.", {"path": f, "old_text": old, "new_text": new}),
        (
            "edit_file",
            f"Rename every `{old}` in {f} to `{new}`.",
            {"path": f, "old_text": old, "new_text": new, "replace_all": True},
        ),
        ("search", f"Search {d} for the word {w}.", {"pattern": w, "path": d}),
        (
            "search",
            f"Where is `{fn}` defined? Look in the Python files.",
            {"pattern": f"def {fn}", "include": "*.py"},
        ),
        ("find_files", f"Which .{ext} files are under {d}?", {"glob": f"{d}/**/*.{ext}"}),
        ("find_files", f"Show at most {n} .{ext} files.", {"glob": f"**/*.{ext}", "max_results": n}),
        ("run_tests", f"Run the tests in {test}.", {"paths": [test]}),
        (
            "run_tests",
            f"Run the tests matching {w}, stop at the first failure.",
            {"keyword": w, "fail_fast": True},
        ),
        ("python", f"Compute {a} * {b} with Python.", {"code": f"print({a} * {b})"}),
        ("python", f"Use Python to check whether {p} imports.", {"code": f"import {p}\nprint('ok')"}),
        ("str_replace_editor", f"View /testbed/{f}.", {"command": "view", "path": f"/testbed/{f}"}),
        (
            "str_replace_editor",
            f"Show lines {a} to {b} of /testbed/{f}.",
            {"command": "view", "path": f"/testbed/{f}", "view_range": [a, b]},
        ),
        (
            "str_replace_editor",
            f"Create /testbed/{f} with the content: {txt}",
            {"command": "create", "path": f"/testbed/{f}", "file_text": txt},
        ),
        (
            "submit",
            f"The work is done; submit it saying that you {summary}.",
            {"summary": summary.capitalize() + "."},
        ),
    ]


def synth_conversations(n: int, seed: int, held: set[str], max_tools: int = 3) -> list[Conversation]:
    """`n` seeded single-call conversations over the eval's tools, none with an eval prompt's text."""
    data = json.loads(resources.files("codekiln.models").joinpath("data/format_eval.json").read_text())
    tools, system = data["tools"], data["system"]
    r = random.Random(seed)
    out: list[Conversation] = []
    while len(out) < n:
        name, request, args = r.choice(_requests(r))
        if request in held:
            continue
        others = r.sample([t for t in tools if t != name], r.randint(min(1, max_tools - 1), max_tools - 1))
        offered = [tools[t] for t in r.sample([name, *others], len(others) + 1)]
        call = {
            "id": f"call_{len(out)}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": request},
            {"role": "assistant", "content": "", "tool_calls": [call]},
        ]
        out.append((messages, offered))
    return out
