"""SFT / mid-training export: keep the good trajectories, render each in K chat formats, tokenize.

    episodes = list(load_episodes("out/rollouts.jsonl"))         # codekiln.training.source
    selection = select_trajectories(episodes)                    # kept + why each other one was dropped
    rows = augment(selection.kept[0], list_formats(), k=4, seed=0, tokenizer=byte_tokenizer)
    export_sft("out/rollouts.jsonl", "sft/", formats="all", k=4, tokenizer="smollm2")

or `codekiln export sft out/rollouts.jsonl --formats all --out sft/ --tokenizer smollm2`.

Filters (report section 3): an episode is kept only if it finished (the agent submitted), its task was
resolved, and every assistant turn holds only well-formed tool calls (no format error in any step, every
call names a tool the episode offered, with JSON-object arguments). Infrastructure failures are counted
apart. Each drop is counted by its first failing reason: masked, unfinished, ungraded, unresolved,
malformed_calls.

Template augmentation: the same conversation (messages + tools, stored once in OpenAI shape) is rendered
with K formats chosen per episode (seeded by seed and episode id; `k=None` takes all). A format is used
only if every assistant turn, rendered with it, parses back with it to the same content and calls;
failures are counted per format and the next format in the seeded order is taken instead.

Outputs in the export directory: `sft.jsonl` (one `SftRow` per line: id, format, messages, tools, text,
and with a tokenizer input_ids, loss_mask, head_len), `report.json` (selection counts, rows per format),
and, when `datasets` is installed, `hf/data/train-00000-of-00001.parquet` (tools as a JSON string:
schemas differ per tool and do not fit one Arrow type). Rerunning skips rows already written.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from codekiln.core.errors import CodekilnError, ConfigError, FormatError
from codekiln.core.records import Record, iter_jsonl
from codekiln.core.stage import Layout, Stage, StageManifest, open_stage
from codekiln.formats import ChatFormat, Tokenizer, get_format, list_formats
from codekiln.formats.base import check_tool, message_calls, message_text
from codekiln.training.source import Episode, load_episodes

SFT, REPORT, HF_DIR = "sft.jsonl", "report.json", "hf"
SFT_LAYOUT = Layout("SFT rows", logs=(SFT,), derived=(REPORT, HF_DIR))


class SftManifest(StageManifest):
    """What an export directory holds rows for: a rerun with other formats, k, seed or tokenization must
    not mix its rows into these (it stops, naming the difference; `--redo` starts over)."""

    informational: ClassVar[frozenset[str]] = frozenset({"rollouts"})
    formats: list[str]
    k: int | None
    seed: int
    tokenized: bool
    rollouts: str = ""


DROP_REASONS = ("masked", "unfinished", "ungraded", "unresolved", "malformed_calls")
TOKENIZERS = ("none", "byte", "smollm2")


class SftRow(Record):
    """One training example: an episode rendered in one chat format."""

    schema_version: int = 1
    id: str
    """`<episode id>:<format>`."""
    episode_id: str
    task_id: str = ""
    scaffold: str = ""
    format: str
    messages: list[dict[str, Any]]
    """The conversation in OpenAI shape, identical for every format of one episode."""
    tools: list[dict[str, Any]]
    text: str
    """The whole conversation rendered by `format` (no generation prompt)."""
    input_ids: list[int] | None = None
    loss_mask: list[int] | None = None
    """1 on assistant output (including its end-of-turn token), 0 elsewhere."""
    head_len: int | None = None
    """Tokens of the head segment (system prompt + tool definitions): packing never cuts inside it."""


@dataclass
class Selection:
    """The episodes kept for SFT and, for the rest, how many were dropped for each reason."""

    kept: list[Episode] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)

    def report(self) -> dict[str, Any]:
        total = len(self.kept) + sum(self.dropped.values())
        return {
            "episodes": total,
            "kept": len(self.kept),
            "dropped": {r: self.dropped[r] for r in DROP_REASONS},
        }


def malformed_reason(episode: Episode) -> str | None:
    """Why the episode's tool calls are not all well-formed, or None."""
    traj = episode.trajectory
    for step in traj.steps:
        if step.parse_error is not None:
            return f"step {step.index}: {step.parse_error}"
    if traj.totals.format_errors:
        return f"{traj.totals.format_errors} format errors"
    for i, msg in enumerate(traj.messages):
        if msg.get("role") != "assistant":
            continue
        try:
            calls = message_calls(msg)
            for call in calls:
                check_tool(call.name, traj.tools)
        except FormatError as err:
            return f"message {i}: {err.message}"
        if not calls:
            return f"message {i}: an assistant turn without a tool call"
    return None


def drop_reason(episode: Episode) -> str | None:
    """The first filter the episode fails (one of DROP_REASONS), or None when it is kept."""
    if episode.masked:
        return "masked"
    if episode.trajectory.exit_reason != "submitted":
        return "unfinished"
    if episode.resolved is None:
        return "ungraded"
    if not episode.resolved:
        return "unresolved"
    return "malformed_calls" if malformed_reason(episode) else None


def select_trajectories(episodes: Iterable[Episode]) -> Selection:
    """Keep finished, resolved episodes with only well-formed calls; count the others by reason."""
    selection = Selection()
    for episode in episodes:
        reason = drop_reason(episode)
        if reason is None:
            selection.kept.append(episode)
        else:
            selection.dropped[reason] += 1
    return selection


def normalize_message(message: dict[str, Any]) -> dict[str, Any]:
    """One fixed OpenAI shape: string content, tool-call arguments as JSON strings, no empty extras."""
    out: dict[str, Any] = {"role": message.get("role"), "content": message_text(message)}
    calls = message_calls(message)
    if calls:
        out["tool_calls"] = [c.to_openai() for c in calls]
    for key in ("tool_call_id", "name", "reasoning_content"):
        if message.get(key):
            out[key] = message[key]
    return out


def round_trip_error(
    fmt: ChatFormat, messages: Sequence[dict[str, Any]], tools: list[dict[str, Any]]
) -> str | None:
    """Why some assistant turn rendered by `fmt` does not parse back to itself with `fmt`, or None."""
    for i, msg in enumerate(messages):
        if msg.get("role") != "assistant":
            continue
        try:
            turn = fmt.parse(fmt.render_assistant(msg), tools)
        except FormatError as err:
            return f"message {i}: {err.message}"
        want = [(c.name, c.arguments) for c in message_calls(msg)]
        if [(c.name, c.arguments) for c in turn.tool_calls] != want:
            return f"message {i}: the calls parse back differently"
        kept = "" if fmt.calls_only and want else message_text(msg)  # calls-only formats drop that text
        if turn.content.strip() != kept.strip():
            return f"message {i}: the text parses back differently"
    return None


def format_order(episode_id: str, formats: Sequence[str], seed: int) -> list[str]:
    """The formats in a seeded order that depends on the episode (so each episode gets its own K)."""
    order = list(formats)
    random.Random(f"{seed}:{episode_id}").shuffle(order)
    return order


def augment(
    episode: Episode,
    formats: Sequence[str],
    k: int | None = None,
    seed: int = 0,
    *,
    tokenizer: Tokenizer | None = None,
    skipped: Counter[str] | None = None,
) -> list[SftRow]:
    """The episode rendered in up to `k` formats (all when None) that round-trip every assistant turn."""
    traj = episode.trajectory
    messages = [normalize_message(m) for m in traj.messages]
    rows: list[SftRow] = []
    want = len(formats) if k is None else k
    for name in format_order(episode.id, formats, seed):
        if len(rows) >= want:
            break
        fmt = get_format(name)
        if round_trip_error(fmt, messages, traj.tools) is not None:
            if skipped is not None:
                skipped[name] += 1
            continue
        row = SftRow(
            id=f"{episode.id}:{name}",
            episode_id=episode.id,
            task_id=episode.task_id,
            scaffold=traj.scaffold,
            format=name,
            messages=messages,
            tools=traj.tools,
            text=fmt.render_prompt(messages, traj.tools, add_generation_prompt=False),
        )
        if tokenizer is not None:
            row.input_ids, row.loss_mask = fmt.render_tokens(messages, traj.tools, tokenizer)
            row.head_len = len(fmt.head_ids(messages, traj.tools, tokenizer))
        rows.append(row)
    return rows


def load_tokenizer(name: str) -> Tokenizer | None:
    """ "none", "byte", "smollm2" (the embedded model's vocabulary), or a path to a GGUF file."""
    from codekiln.formats.tokenizers import ByteTokenizer, LlamaCppTokenizer, smollm2_tokenizer

    if name == "none":
        return None
    if name == "byte":
        return ByteTokenizer()
    if name == "smollm2":
        return smollm2_tokenizer()
    if name.endswith(".gguf"):
        return LlamaCppTokenizer(name)
    raise ConfigError(
        f"unknown tokenizer {name!r}", hint=f"use one of {', '.join(TOKENIZERS)} or a .gguf path"
    )


def parse_formats(spec: str) -> list[str]:
    """ "all" or a comma-separated list of registered format names."""
    if spec.strip() == "all":
        return list_formats()
    names = [n.strip() for n in spec.split(",") if n.strip()]
    known = set(list_formats())
    unknown = [n for n in names if n not in known and ":" not in n]
    if unknown or not names:
        raise ConfigError(
            f"unknown chat formats: {', '.join(unknown) or '(none given)'}",
            hint="give 'all' or names from `codekiln formats list`, comma-separated",
        )
    return names


def write_parquet(rows_path: Path, out_dir: Path) -> Path | None:
    """`sft.jsonl` as a Hugging Face parquet dataset folder; None when `datasets` is not installed."""
    try:
        import datasets
    except ImportError:
        return None
    records = []
    for row in iter_jsonl(rows_path):
        records.append({**row, "tools": json.dumps(row.get("tools") or [], ensure_ascii=False)})
    target = out_dir / "data" / "train-00000-of-00001.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    shown = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # the CLI shows its own progress
    try:
        datasets.Dataset.from_list(records).to_parquet(str(target))
    finally:
        if shown:
            datasets.enable_progress_bars()
    return target


def export_sft(
    rollouts: str | Path,
    out: str | Path,
    *,
    formats: str | Sequence[str] = "all",
    k: int | None = None,
    seed: int = 0,
    tokenizer: str | Tokenizer | None = None,
    redo: bool = False,
    parquet: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Select, augment and write (see the module docstring). Returns the report that is also saved."""
    out = Path(out)
    names = parse_formats(formats) if isinstance(formats, str) else list(formats)
    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    selection = select_trajectories(load_episodes(rollouts))
    with open_stage(out, SFT_LAYOUT, redo=redo) as stage:
        stage.match(
            SftManifest(formats=names, k=k, seed=seed, tokenized=tok is not None, rollouts=str(rollouts))
        )
        done = {str(key) for key in stage.finished(SFT, key=lambda row: row.get("episode_id"))}
        return _export(stage, selection, names, k, seed, tok, done, parquet, progress)


def _export(
    stage: Stage,
    selection: Any,
    names: list[str],
    k: int | None,
    seed: int,
    tok: Tokenizer | None,
    done: set[str],
    parquet: bool,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    out, rows_path = stage.out, stage.path(SFT)
    skipped: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    written = 0
    for i, episode in enumerate(selection.kept):
        if episode.id in done:
            continue  # this episode was exported by an earlier run
        try:
            rows = augment(episode, names, k, seed, tokenizer=tok, skipped=skipped)
        except CodekilnError as err:  # one bad episode never stops the export
            failed[type(err).__name__] += 1
            continue
        written += stage.append(SFT, rows)
        if progress:
            progress(i + 1, len(selection.kept))
    per_format = Counter(str(r.get("format")) for r in iter_jsonl(rows_path))
    report = {
        **selection.report(),
        "rows": sum(per_format.values()),
        "rows_written_now": written,
        "rows_per_format": dict(sorted(per_format.items())),
        "round_trip_failures": dict(sorted(skipped.items())),
        "render_failures": dict(failed),
        "formats": names,
        "k": k,
        "seed": seed,
        "tokenized": tok is not None,
    }
    if parquet and report["rows"]:
        target = write_parquet(rows_path, out / HF_DIR)
        report["parquet"] = str(target) if target else None
    stage.write(REPORT, report)
    return report
