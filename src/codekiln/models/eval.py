"""Format following: per chat format, the share of turns answered with a valid call of an offered tool.

    codekiln formats eval --model embedded --formats all --out eval.json
    report = evaluate("embedded", ["hermes", "qwen3_coder"], limit=4)   # EvalReport
    report.scores[0].rate

This is the metric of the Qwen3-Coder-Next report's Table 2 (the share of turns answered in the required
format). The prompts ship with codekiln (`data/format_eval.json`): coding-agent requests, some after a
previous call and its result, each offering 2-4 tools (shell, file viewer/editor, search, tests, python,
submit). For every format and prompt the model is built with that format, so the prompt is rendered and
the output parsed by the same format.

A turn is valid when the output parses, holds at least one tool call, and every call names an offered tool
with arguments that match its JSON schema: required keys present, no unknown keys, JSON types right
(booleans are not numbers), enum values allowed, array items typed. Failures are labelled parse_error,
no_call, unknown_tool or bad_arguments. A backend failure (`ModelError`, e.g. a server going down) is
labelled error and left out of the rate: infrastructure is never scored as the model's miss.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field

from codekiln.core.errors import ConfigError, ModelError
from codekiln.core.records import Record
from codekiln.formats import list_formats
from codekiln.models import ModelResponse, make_model

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


@dataclass
class EvalPrompt:
    """One conversation to answer: messages (system first) and the tools offered, OpenAI-shaped."""

    id: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]


def load_prompts(limit: int | None = None) -> list[EvalPrompt]:
    """The shipped prompts, in file order (the first `limit` if given)."""
    data = json.loads(resources.files("codekiln.models").joinpath("data/format_eval.json").read_text())
    prompts = []
    for item in data["prompts"][:limit]:
        system = {"role": "system", "content": item.get("system", data["system"])}
        tools = [data["tools"][name] for name in item["tools"]]
        prompts.append(EvalPrompt(item["id"], [system, *item["messages"]], tools))
    return prompts


def _type_error(value: Any, schema: dict[str, Any], name: str) -> str | None:
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        accepted = tuple(t for kind in names for t in _TYPES.get(kind, (object,)))
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            return f"argument {name!r} should be {' or '.join(names)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"argument {name!r} must be one of {schema['enum']}, got {value!r}"
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            if err := _type_error(item, schema["items"], f"{name}[{i}]"):
                return err
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        return check_arguments(value, schema, path=f"{name}.")
    return None


def check_arguments(arguments: dict[str, Any], schema: dict[str, Any], path: str = "") -> str | None:
    """Why `arguments` do not match the object `schema`, or None when they do."""
    props = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if key not in arguments:
            return f"missing required argument {path + key!r}"
    for key, value in arguments.items():
        if key not in props:
            return f"unknown argument {path + key!r} (expected: {', '.join(props) or 'none'})"
        if err := _type_error(value, props[key], path + key):
            return err
    return None


def judge(response: ModelResponse, tools: Sequence[dict[str, Any]]) -> tuple[str | None, str | None]:
    """(reason, detail) why a turn is not a valid call of an offered tool; (None, None) when it is."""
    if response.parse_error:
        return "parse_error", response.parse_error
    calls = response.tool_calls
    if not calls:
        return "no_call", None
    offered = {t["function"]["name"]: t["function"] for t in tools}
    for call in calls:
        if call["name"] not in offered:
            return "unknown_tool", f"{call['name']!r} is not one of {', '.join(offered)}"
        if not isinstance(call["arguments"], dict):
            return "bad_arguments", f"{call['name']}: arguments are not an object"
        if err := check_arguments(call["arguments"], offered[call["name"]].get("parameters") or {}):
            return "bad_arguments", f"{call['name']}: {err}"
    return None, None


class TurnResult(BaseModel):
    """One prompt answered in one format."""

    format: str
    prompt: str
    valid: bool
    reason: str | None = None
    detail: str | None = None
    calls: list[str] = Field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


class FormatScore(BaseModel):
    """One format's result: `rate` = valid / scored, where scored leaves out backend errors."""

    format: str
    turns: int
    scored: int
    valid: int
    rate: float
    reasons: dict[str, int] = Field(default_factory=dict)
    completion_tokens: int = 0
    latency_s: float = 0.0


class EvalReport(Record):
    """What `codekiln formats eval` writes."""

    model: str
    settings: dict[str, Any]
    prompts: int
    scores: list[FormatScore]
    turns: list[TurnResult]
    duration_s: float


def resolve_formats(names: str | Sequence[str]) -> list[str]:
    """ "all", a comma-separated string or a list of names -> format names, checked to exist."""
    known = list(list_formats())
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    if wanted == ["all"]:
        return known
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        raise ConfigError(
            f"unknown formats: {', '.join(unknown) or '(none given)'}",
            hint=f"choose from: all, {', '.join(known)}",
        )
    return wanted


def score(fmt: str, turns: list[TurnResult]) -> FormatScore:
    scored = [t for t in turns if t.reason != "error"]
    valid = sum(t.valid for t in scored)
    reasons: dict[str, int] = {}
    for t in turns:
        if t.reason:
            reasons[t.reason] = reasons.get(t.reason, 0) + 1
    return FormatScore(
        format=fmt,
        turns=len(turns),
        scored=len(scored),
        valid=valid,
        rate=valid / len(scored) if scored else 0.0,
        reasons=reasons,
        completion_tokens=sum(t.completion_tokens for t in turns),
        latency_s=round(sum(t.latency_s for t in turns), 3),
    )


def run_turn(model: Any, fmt: str, prompt: EvalPrompt) -> TurnResult:
    """Answer one prompt; a backend error becomes an `error` turn."""
    try:
        response = model.chat(prompt.messages, prompt.tools)
    except ModelError as err:
        return TurnResult(format=fmt, prompt=prompt.id, valid=False, reason="error", detail=str(err))
    reason, detail = judge(response, prompt.tools)
    return TurnResult(
        format=fmt,
        prompt=prompt.id,
        valid=reason is None,
        reason=reason,
        detail=detail,
        calls=[c["name"] for c in response.tool_calls],
        text=response.text,
        finish_reason=response.finish_reason,
        prompt_tokens=response.usage.prompt_tokens,
        completion_tokens=response.usage.completion_tokens,
        latency_s=round(response.latency_s, 4),
    )


def evaluate(
    model: str,
    formats: str | Sequence[str] = "all",
    *,
    limit: int | None = None,
    max_tokens: int = 256,
    temperature: float = 0.0,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    on_turn: Callable[[TurnResult], None] | None = None,
) -> EvalReport:
    """Run every prompt in every format with the model `model` (a spec, see `make_model`)."""
    names = resolve_formats(formats)
    taken = {
        "format": "--formats",
        "max_tokens": "--max-tokens",
        "temperature": "--temperature",
        "seed": "--seed",
    }
    if clash := [key for key in options or {} if key in taken]:
        raise ConfigError(
            f"--option {clash[0]}=... names what {taken[clash[0]]} sets in format evaluation",
            hint=f"use {taken[clash[0]]} instead",
        )
    prompts = load_prompts(limit)
    settings = {
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": seed,
        "limit": limit,
        **(options or {}),
    }
    start = time.perf_counter()
    scores, turns = [], []
    for fmt in names:
        backend = make_model(
            model, format=fmt, max_tokens=max_tokens, temperature=temperature, seed=seed, **(options or {})
        )
        if getattr(backend, "format", None) is None:
            raise ConfigError(
                f"model {model!r} does not render codekiln formats (the server parses tool calls itself)",
                hint="evaluate an OpenAI server in raw mode: --option mode=raw",
            )
        done = []
        for prompt in prompts:
            turn = run_turn(backend, fmt, prompt)
            done.append(turn)
            if on_turn:
                on_turn(turn)
        scores.append(score(fmt, done))
        turns += done
    return EvalReport(
        model=model,
        settings=settings,
        prompts=len(prompts),
        scores=scores,
        turns=turns,
        duration_s=round(time.perf_counter() - start, 3),
    )
