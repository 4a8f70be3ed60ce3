"""Model calls for model-written bugs: which functions are asked for, running the requests concurrently
against any `Model`, and the `LmCall` record each one leaves (prompt version, raw output, tokens,
latency, and the cheap verdict).

    requests = plan_requests(entities, ["lm_modify", "lm_rewrite"], seed=0, max_functions=20)
    run_requests(model, requests, snapshot_dir, concurrency=4, on_call=log.append)

Requests run on `concurrency` threads (the model object is shared: the embedded backend serialises
its own use; an OpenAI-compatible server takes them in parallel). Transport retries are the backend's
(`openai`: `retries`, `backoff`). A call that still fails (`ModelError`: server down, bad URL) stops
the run: requests not yet started are cancelled, the ones in flight are waited for and recorded, and
the error is raised, so a rerun makes only the calls that are missing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.core.errors import CodekilnError
from codekiln.core.protocols import Model
from codekiln.core.pyast import AST_LOCK
from codekiln.core.records import Record
from codekiln.core.sources import decode_python, is_plain_utf8
from codekiln.tasks.frontend.candidates import derive_seed
from codekiln.tasks.frontend.entities import Entity, named
from codekiln.tasks.frontend.lm.judge import judge
from codekiln.tasks.frontend.lm.prompts import Prompt, load_prompt

MIN_LINES, MAX_LINES = 3, 80
"""Functions sent to a model: at least a body beside the signature, at most what fits a small context."""


class LmCall(Record):
    """One model call for one function and strategy, and what came of it."""

    schema_version: int = 1
    key: str
    """`strategy:entity id:sample`: what a rerun skips."""
    strategy: str
    entity: str
    sample: int = 0
    prompt: str
    """The prompt version (`lm_modify.v1`)."""
    model: str
    raw: str
    """The model's output, exactly."""
    explanation: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    outcome: str = ""
    """"candidate", or the cheap rejection (`judge.LmReject`) the output got on its own."""
    detail: str = ""
    candidate_id: str | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class LmRequest:
    strategy: str
    entity: Entity
    sample: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.strategy}:{self.entity.id}:{self.sample}"


def eligible(entity: Entity) -> bool:
    """A function or method of MIN_LINES..MAX_LINES lines (classes are left to the procedural mutators)."""
    return entity.kind != "class" and MIN_LINES <= entity.n_lines <= MAX_LINES


def plan_requests(
    entities: Sequence[Entity],
    strategies: Sequence[str],
    *,
    seed: int = 0,
    max_functions: int | None = None,
    samples: int = 1,
    only: Sequence[str] | None = None,
    keep: Callable[[Entity], bool] | None = None,
) -> list[LmRequest]:
    """The requests of a run, in a seeded order: up to `max_functions` eligible functions (those named in
    `only`, by id or qualname, when given; those `keep` accepts, e.g. the ones some test runs), each
    asked `samples` times per strategy."""
    pool = [e for e in named(list(entities), only) if eligible(e) and (keep is None or keep(e))]
    pool.sort(key=lambda e: e.id)
    random.Random(derive_seed(seed, "lm-functions")).shuffle(pool)
    if max_functions is not None:
        pool = pool[:max_functions]
    return [
        LmRequest(strategy, entity, sample, derive_seed(seed, entity.id, strategy, str(sample)))
        for entity in pool
        for strategy in strategies
        for sample in range(samples)
    ]


def call_model(
    model: Model,
    request: LmRequest,
    prompt: Prompt,
    file_text: str,
    like: bytes | None = None,
    *,
    max_tokens: int,
    temperature: float,
) -> LmCall:
    """Ask `model` for one bug and judge the output (raises what the backend raises)."""
    start = time.perf_counter()
    with AST_LOCK:  # model calls run in threads; the prompt reads the file's tree (see core.pyast)
        messages = prompt.messages(request.entity, file_text)
    response: Any = model.chat(
        messages,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=request.seed % 2**31,
    )
    raw = str(getattr(response, "text", response) or "")
    usage = getattr(response, "usage", None)
    with AST_LOCK:
        verdict = judge(request.strategy, request.entity, file_text, raw, seed=request.seed, like=like)
    return LmCall(
        key=request.key,
        strategy=request.strategy,
        entity=request.entity.id,
        sample=request.sample,
        prompt=prompt.version,
        model=str(getattr(response, "model", "") or getattr(model, "name", "")),
        raw=raw,
        explanation=verdict.explanation,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        latency_s=round(float(getattr(response, "latency_s", 0.0) or time.perf_counter() - start), 4),
        finish_reason=getattr(response, "finish_reason", None),
        outcome="candidate" if verdict.candidate else str(verdict.reason),
        detail=verdict.detail,
        candidate_id=verdict.candidate.id if verdict.candidate else None,
    )


def run_requests(
    model: Model,
    requests: Sequence[LmRequest],
    snapshot_dir: Path,
    *,
    on_call: Callable[[LmCall], None],
    concurrency: int = 4,
    max_tokens: int = 512,
    temperature: float = 0.7,
    prompts: dict[str, Prompt] | None = None,
) -> int:
    """Make every request, `concurrency` at a time; `on_call` gets each record as it finishes (on this
    thread). Returns the number of calls made; raises the first backend error after recording the
    calls already in flight (see the module docstring)."""
    prompts = prompts or {s: load_prompt(s) for s in {r.strategy for r in requests}}
    texts: dict[str, tuple[str, bytes | None]] = {}
    for r in requests:
        if r.entity.file not in texts:
            texts[r.entity.file] = source_and_bytes(Path(snapshot_dir) / r.entity.file, r.entity.file)
    made = 0
    error: BaseException | None = None
    todo = list(requests)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        running: set[Future[LmCall]] = set()
        while todo or running:
            while todo and error is None and len(running) < max(1, concurrency):
                r = todo.pop(0)
                running.add(
                    pool.submit(
                        call_model,
                        model,
                        r,
                        prompts[r.strategy],
                        *texts[r.entity.file],
                        max_tokens=max_tokens,
                        temperature=temperature,
                    )
                )
            if error is not None:
                todo.clear()
            if not running:
                break
            finished, running = _wait(running)
            for future in finished:
                try:
                    record = future.result()
                except CodekilnError as err:
                    error = error or err
                    continue
                on_call(record)
                made += 1
    if error is not None:
        raise error
    return made


def _wait(running: set[Future[LmCall]]) -> tuple[list[Future[LmCall]], set[Future[LmCall]]]:
    done, pending = wait(running, return_when=FIRST_COMPLETED)
    return list(done), set(pending)


def source_and_bytes(path: Path, rel: str) -> tuple[str, bytes | None]:
    """A source file's text as Python reads it, and its bytes when its patches must carry them (a file
    not in plain UTF-8: `core.sources`), else None."""
    data = path.read_bytes()
    return decode_python(data, rel), None if is_plain_utf8(data, rel) else data
