"""Mid-training rows from tasks: each task's fix rendered as SEARCH/REPLACE blocks and as a `git diff`
(the two PR-data targets of the Qwen3-Coder-Next report), as `training.SftRow`s with loss masks.

    blocks = diff_blocks(task.patch)                     # {path: [Block, ...]}: one block per hunk
    rows = task_rows(task, targets=("sri", "diff"), format_name="qwen3_coder", tokenizer=None)
    export_task_rows("out/toolz", "midtrain/", targets=("sri", "diff"), tokenizer="smollm2")

or `codekiln sri tasks out/toolz --out midtrain/ --targets sri,diff --tokenizer smollm2`.

A row's user turn is the task's problem statement and the buggy text of every file the fix touches (the
task's snapshot with its `bug_patch` applied); the assistant turn is the fix. As SEARCH/REPLACE, each
hunk is one block (its context and removed lines -> its context and added lines) after a line naming
its file; `diff` is the task's own patch. A hunk without context or removed lines (an insertion into an
empty file) has nothing to search for: such tasks get no `sri` row (counted as `no_search_text`).
Outputs: `rows.jsonl` (resumable by row id) and `report.json`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from codekiln.core.diffs import parse_diff
from codekiln.core.errors import CodekilnError, FormatError
from codekiln.core.patches import apply_diff
from codekiln.core.records import iter_jsonl
from codekiln.core.stage import Layout, StageManifest, open_stage
from codekiln.formats import Tokenizer, get_format
from codekiln.repos import get_snapshot
from codekiln.sri.format import Block, render_block
from codekiln.tasks import TaskRecord, load_tasks
from codekiln.training.sft import SftRow, load_tokenizer

Target = Literal["sri", "diff"]
ROWS, REPORT = "rows.jsonl", "report.json"
LAYOUT = Layout("mid-training rows", logs=(ROWS,), derived=(REPORT,))
SYSTEMS: dict[str, str] = {
    "sri": "Fix the issue in the repository. Answer only with SEARCH/REPLACE blocks, each after a line "
    "naming its file: <<<<<<< SEARCH, lines copied exactly from the file, =======, their replacement, "
    ">>>>>>> REPLACE.",
    "diff": "Fix the issue in the repository. Answer only with a unified diff (`git diff` format).",
}


class MidtrainManifest(StageManifest):
    targets: list[str]
    format: str
    tokenizer: str


def diff_blocks(patch: str) -> dict[str, list[Block]]:
    """The patch as SEARCH/REPLACE blocks, one per hunk, by file (the old path)."""
    out: dict[str, list[Block]] = {}
    for fp in parse_diff(patch):
        path = fp.old_path or fp.new_path or ""
        for hunk in fp.hunks:
            search = [line.text for line in hunk.lines if line.tag in (" ", "-")]
            replace = [line.text for line in hunk.lines if line.tag in (" ", "+")]
            if not "".join(search).strip():
                raise FormatError(f"a hunk of {path} has no context or removed lines to search for")
            out.setdefault(path, []).append(Block("\n".join(search), "\n".join(replace)))
    return out


def render_blocks(blocks: dict[str, list[Block]]) -> str:
    """Blocks as the SRI target text: each block after a line naming its file."""
    return "".join(f"{path}\n{render_block(b.search, b.replace)}" for path, bs in blocks.items() for b in bs)


def buggy_files(task: TaskRecord) -> dict[str, str]:
    """The text, before the fix, of every file the task's fix touches."""
    root = Path(get_snapshot(task.base_commit).path)
    paths = [fp.old_path for fp in parse_diff(task.patch) if fp.old_path]
    clean = {p: (root / p).read_text(encoding="utf-8") for p in paths}
    changed = apply_diff(clean, task.bug_patch) if task.bug_patch else {}
    return {p: changed.get(p) or clean[p] for p in paths}


def task_rows(
    task: TaskRecord,
    targets: Sequence[Target],
    format_name: str,
    tokenizer: Tokenizer | None,
    skipped: Counter[str] | None = None,
) -> list[SftRow]:
    """One row per target for `task` (see the module docstring)."""
    files = buggy_files(task)
    shown = "\n\n".join(f"File: {p}\n```python\n{t.rstrip()}\n```" for p, t in files.items())
    user = f"{task.problem_statement.strip()}\n\n{shown}"
    fmt = get_format(format_name)
    rows = []
    for target in targets:
        try:
            answer = render_blocks(diff_blocks(task.patch)) if target == "sri" else task.patch
        except FormatError:
            if skipped is not None:
                skipped["no_search_text"] += 1
            continue
        messages = [
            {"role": "system", "content": SYSTEMS[target]},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
        row = SftRow(
            id=f"{task.instance_id}:{target}:{format_name}", episode_id=f"{task.instance_id}:{target}",
            task_id=task.instance_id, scaffold=f"midtrain-{target}", format=format_name, messages=messages,
            tools=[], text=fmt.render_prompt(messages, [], add_generation_prompt=False),
        )  # fmt: skip
        if tokenizer is not None:
            row.input_ids, row.loss_mask = fmt.render_tokens(messages, [], tokenizer)
            row.head_len = len(fmt.head_ids(messages, [], tokenizer))
        rows.append(row)
    return rows


def export_task_rows(
    tasks: str | Path,
    out: str | Path,
    *,
    targets: Sequence[Target] = ("sri", "diff"),
    format_name: str = "qwen3_coder",
    tokenizer: str = "none",
    redo: bool = False,
) -> dict[str, Any]:
    """Write every task's rows to OUT/rows.jsonl (resumable); returns the report also saved."""
    records = load_tasks(tasks)
    tok = load_tokenizer(tokenizer)
    skipped: Counter[str] = Counter()
    with open_stage(Path(out), LAYOUT, redo=redo) as stage:
        stage.match(MidtrainManifest(targets=list(targets), format=format_name, tokenizer=tokenizer))
        done = set(stage.finished(ROWS, key=lambda row: str(row["task_id"])))
        for task in records:
            if task.instance_id in done:
                continue
            try:
                stage.append(ROWS, task_rows(task, targets, format_name, tok, skipped))
            except CodekilnError as err:  # one bad task never stops the export
                skipped[type(err).__name__] += 1
        per_target = Counter(str(r["episode_id"]).rsplit(":", 1)[-1] for r in iter_jsonl(stage.path(ROWS)))
        report = {"tasks": len(records), "rows": dict(per_target), "skipped": dict(skipped)}
        stage.write(REPORT, report)
        return report
