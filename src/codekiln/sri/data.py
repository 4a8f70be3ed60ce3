"""`codekiln sri make`: SRI samples from a real repository, de-duplicated and split by file, with chat
rows for training.

    report = make_samples(MakeConfig(spec="pypi:toolz==1.2.0", out="sri/toolz", per_kind=20, corrupt=0.5))

or `codekiln sri make pypi:toolz==1.2.0 --out sri/toolz --per-kind 20 --corrupt 0.5`.

The environment is built (or found) and its coverage map read; every span of every kind (`spans.KINDS`)
in the snapshot's source files is a candidate, and only spans that some test passing in the clean run
executes are kept, with those tests (execution scoring runs them). Per kind, up to `per_kind` spans are
drawn (seeded). A share `corrupt` of them get one mutator applied inside the window. Duplicates (same
kind, window and middle, whitespace-normalized) keep their first occurrence. Whole files go to the test
split by a hash of their path (`test_share`), so no test sample shares a file with a training sample.

Outputs: `samples.jsonl` (one `SriSample` per line), `sft-train.jsonl` and `sft-test.jsonl` (one
`training.SftRow` per sample: system + user + the gold answer as the assistant turn, rendered in
`format`, with input ids and the loss mask on the answer when a tokenizer is given), `fim.jsonl` (the
same samples as FIM training text in the `fim` family, loss on the middle: the FIM side of an SRI-vs-FIM
training comparison at equal data), `report.json`
(candidates, drops by reason, samples per kind and split). A rerun with the same options skips the
samples already written; other options stop with the difference (`--redo` starts over).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from codekiln.core.errors import FormatError
from codekiln.core.records import Record
from codekiln.core.stage import Layout, StageManifest, open_stage
from codekiln.envs import EnvRecord, ensure_env
from codekiln.formats import Tokenizer, get_format
from codekiln.models import DEFAULT_FORMAT
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.sri.fim import FimFamily, get_family
from codekiln.sri.format import DEFAULT_WINDOW, Problem
from codekiln.sri.prompt import DEFAULT_CONTEXT, ContextView, sri_messages
from codekiln.sri.spans import KINDS, Span, SpanKind, corrupt, find_spans, with_edits
from codekiln.tasks.frontend.entities import iter_source_files
from codekiln.tasks.frontend.mutators import Edit, SourceFile, code_mutators
from codekiln.tasks.validation.coverage_map import CoverageMap, coverage_map
from codekiln.training.sft import SftRow, load_tokenizer

SAMPLES, TRAIN, TEST, REPORT = "samples.jsonl", "sft-train.jsonl", "sft-test.jsonl", "report.json"
FIM_ROWS = "fim.jsonl"
LAYOUT = Layout("SRI samples", logs=(SAMPLES, TRAIN, TEST, FIM_ROWS), derived=(REPORT,))


class SriSample(Record):
    """One infilling problem from a real file, with what execution scoring needs."""

    schema_version: int = 1
    id: str
    repo: str
    spec: str
    env_id: str
    path: str
    """The file, relative to the snapshot root."""
    kind: SpanKind
    start: int
    end: int
    """The middle is text[start:end] of the clean file."""
    first_line: int
    last_line: int
    text: str
    """The clean file, as in the repository."""
    corruption: list[tuple[int, int, str]] = Field(default_factory=list)
    """Edits (start, end, replacement) of the clean file that corrupt the window, if any."""
    mutator: str | None = None
    window: int = DEFAULT_WINDOW
    context_lines: int = DEFAULT_CONTEXT
    tests: list[str] = Field(default_factory=list)
    """Tests that execute the middle's lines and pass on the clean repository."""
    split: Literal["train", "test"] = "train"

    def problem(self) -> Problem:
        clean = Problem.from_span(self.text, self.start, self.end, window=self.window)
        if not self.corruption:
            return clean
        return with_edits(clean, [Edit(a, b, t) for a, b, t in self.corruption])

    def view(self) -> ContextView:
        return ContextView(self.problem(), self.path, self.context_lines)


class MakeConfig(BaseModel):
    """Options of `codekiln sri make`."""

    spec: str
    """Repository spec or env id (e.g. pypi:toolz==1.2.0)."""
    out: Path
    kinds: list[SpanKind] = Field(default_factory=lambda: list(KINDS))
    per_kind: int = 20
    """Samples drawn per kind (fewer when the repository has fewer covered spans)."""
    corrupt: float = 0.0
    """Share of samples whose window is corrupted by one mutator."""
    window: int = DEFAULT_WINDOW
    context_lines: int = DEFAULT_CONTEXT
    test_share: float = 0.2
    """Share of files (by a hash of their path) whose samples form the test split."""
    seed: int = 0
    format: str = DEFAULT_FORMAT
    """The chat format the SFT rows are rendered in."""
    tokenizer: str = "none"
    """none, byte, smollm2 or a .gguf path: with one, rows carry input ids and the loss mask."""
    fim: str = "starcoder"
    """The FIM family of the FIM rows (the same samples as FIM training text, for an SRI-vs-FIM run)."""
    backend: str = DEFAULT_BACKEND


class MakeManifest(StageManifest):
    spec: str
    env_id: str
    kinds: list[str]
    per_kind: int
    corrupt: float
    window: int
    context_lines: int
    test_share: float
    seed: int
    format: str
    tokenizer: str
    fim: str = "starcoder"


class FimRow(Record):
    """One sample as FIM training text in one family: loss on the middle and the end token only."""

    id: str
    sample_id: str
    split: Literal["train", "test"]
    family: str
    text: str
    input_ids: list[int] | None = None
    loss_mask: list[int] | None = None


def fim_row(sample: SriSample, family: FimFamily, tokenizer: Tokenizer | None) -> FimRow:
    """The sample in FIM form (the same context the SRI row shows); the middle is the clean one, so a
    corrupted window stays corrupted: FIM has no way to repair it."""
    prefix, suffix = sample.view().fim_parts()
    problem = sample.problem()
    prompt = family.prompt(prefix, suffix)
    target = problem.middle + (family.end[0] if family.end else "")
    row = FimRow(id=f"{sample.id}:{family.name}", sample_id=sample.id, split=sample.split, family=family.name,
                 text=prompt + target)  # fmt: skip
    if tokenizer is not None:
        head, tail = tokenizer.encode(prompt), tokenizer.encode(target)
        row.input_ids, row.loss_mask = head + tail, [0] * len(head) + [1] * len(tail)
    return row


def file_split(repo: str, path: str, test_share: float) -> Literal["train", "test"]:
    """The split of every sample of one file: a stable hash of repo and path against `test_share`."""
    h = int(hashlib.sha256(f"{repo}:{path}".encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return "test" if h < test_share else "train"


def dedup_key(sample: SriSample) -> str:
    """Kind, window and middle with runs of whitespace collapsed: equal keys are duplicates."""
    problem = sample.problem()
    norm = " ".join(re.split(r"\s+", problem.window_text() + "\0" + problem.middle))
    return hashlib.sha256(f"{sample.kind}\0{norm}".encode()).hexdigest()


def sample_id(repo: str, path: str, span: Span, mutator: str | None) -> str:
    raw = f"{repo}:{path}:{span.kind}:{span.start}:{span.end}:{mutator or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def sft_row(sample: SriSample, format_name: str, tokenizer: Tokenizer | None) -> SftRow:
    """The sample as one chat training row: the gold SRI answer is the assistant turn."""
    fmt = get_format(format_name)
    messages = [
        *sri_messages(sample.view()),
        {"role": "assistant", "content": sample.problem().gold_answer()},
    ]
    row = SftRow(
        id=f"{sample.id}:{format_name}", episode_id=sample.id, scaffold="sri", format=format_name,
        messages=messages, tools=[], text=fmt.render_prompt(messages, [], add_generation_prompt=False),
    )  # fmt: skip
    if tokenizer is not None:
        row.input_ids, row.loss_mask = fmt.render_tokens(messages, [], tokenizer)
        row.head_len = len(fmt.head_ids(messages, [], tokenizer))
    return row


def candidates(env: EnvRecord, cmap: CoverageMap, config: MakeConfig, drops: Counter[str]) -> list[SriSample]:
    """Every covered span of the configured kinds, as uncorrupted samples, in file order."""
    root = Path(env.snapshot_path)
    out: list[SriSample] = []
    passing = {t for t, s in cmap.statuses.items() if s == "passed"}
    for rel in iter_source_files(root, "python"):
        text = (root / rel).read_text(encoding="utf-8")
        for span in find_spans(str(rel), text):
            if span.kind not in config.kinds:
                continue
            lines = range(span.first_line, span.last_line + 1)
            tests = sorted(cmap.tests_for({str(rel): lines}) & passing)
            if not tests:
                drops["uncovered"] += 1
                continue
            out.append(
                SriSample(
                    id=sample_id(env.name, str(rel), span, None), repo=env.name, spec=config.spec,
                    env_id=env.id, path=str(rel), kind=span.kind, start=span.start, end=span.end,
                    first_line=span.first_line, last_line=span.last_line, text=text,
                    window=config.window, context_lines=config.context_lines, tests=tests,
                    split=file_split(env.name, str(rel), config.test_share),
                )
            )  # fmt: skip
    return out


def draw(pool: list[SriSample], config: MakeConfig, drops: Counter[str]) -> list[SriSample]:
    """Up to `per_kind` samples per kind (seeded), duplicates dropped, a share corrupted."""
    rng = random.Random(config.seed)
    mutators = code_mutators()
    parsed: dict[str, SourceFile] = {}
    seen: set[str] = set()
    chosen: list[SriSample] = []
    for kind in config.kinds:
        mine = [s for s in pool if s.kind == kind]
        rng.shuffle(mine)
        taken = 0
        for sample in mine:
            if taken >= config.per_kind:
                break
            try:
                sample.problem().check()
            except FormatError:
                drops["malformed"] += 1
                continue
            key = dedup_key(sample)
            if key in seen:
                drops["duplicate"] += 1
                continue
            seen.add(key)
            if rng.random() < config.corrupt:
                src = parsed.setdefault(sample.path, SourceFile(sample.path, sample.text))
                done = corrupt(sample.problem(), src, mutators, rng)
                if done is None:
                    drops["no_corruption_site"] += 1  # kept uncorrupted
                else:
                    sample = sample.model_copy(
                        update={
                            "corruption": [(e.start, e.end, e.text) for e in done.edits],
                            "mutator": done.mutator,
                            "id": sample_id(sample.repo, sample.path, _span(sample), done.mutator),
                        }
                    )
            chosen.append(sample)
            taken += 1
    return chosen


def _span(s: SriSample) -> Span:
    return Span(s.kind, s.start, s.end, s.first_line, s.last_line)


def make_samples(
    config: MakeConfig, *, redo: bool = False, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Build (or resume) the samples directory `config.out`; returns the report also saved there."""
    env = ensure_env(config.spec, backend=config.backend)
    tok = load_tokenizer(config.tokenizer)
    with open_stage(Path(config.out), LAYOUT, redo=redo) as stage:
        stage.match(
            MakeManifest(
                spec=config.spec, env_id=env.id, kinds=list(config.kinds), per_kind=config.per_kind,
                corrupt=config.corrupt, window=config.window, context_lines=config.context_lines,
                test_share=config.test_share, seed=config.seed, format=config.format,
                tokenizer=config.tokenizer, fim=config.fim,
            )
        )  # fmt: skip
        done = set(stage.finished(SAMPLES, key=lambda row: str(row["id"])))
        rows_done = {
            str(k) for name in (TRAIN, TEST) for k in stage.finished(name, key=lambda r: r["episode_id"])
        }
        fim_done = set(stage.finished(FIM_ROWS, key=lambda r: str(r["sample_id"])))
        family = get_family(config.fim)
        cmap = coverage_map(env, backend=config.backend)
        drops: Counter[str] = Counter()
        pool = candidates(env, cmap, config, drops)
        chosen = draw(pool, config, drops)
        for i, sample in enumerate(chosen):
            if sample.id not in done:
                if sample.id not in rows_done:
                    row = sft_row(sample, config.format, tok)
                    stage.append(TRAIN if sample.split == "train" else TEST, [row])
                if sample.id not in fim_done:
                    stage.append(FIM_ROWS, [fim_row(sample, family, tok)])
                stage.append(SAMPLES, [sample])  # last: a sample is finished once its line is here
            if progress:
                progress(i + 1, len(chosen))
        report = {
            "repo": env.name,
            "env_id": env.id,
            "candidates": len(pool) + drops["uncovered"],
            "covered": len(pool),
            "samples": len(chosen),
            "dropped": dict(sorted(drops.items())),
            "per_kind": dict(Counter(s.kind for s in chosen)),
            "per_split": dict(Counter(s.split for s in chosen)),
            "corrupted": sum(1 for s in chosen if s.corruption),
            "files": {"train": len({s.path for s in chosen if s.split == "train"}),
                      "test": len({s.path for s in chosen if s.split == "test"})},
        }  # fmt: skip
        stage.write(REPORT, report)
        return report
