"""Export rollouts to other tools' trajectory formats: mini-swe-agent's and Harbor's ATIF.

    to_mini(rollout)        # {"info": {...}, "messages": [...], "trajectory_format": "mini-swe-agent-1.1"}
    to_atif(rollout)        # {"schema_version": "ATIF-v1.4", "session_id", "agent", "steps", ...}
    export_rollouts(Path("runs/r1"), "atif", Path("runs/r1/atif"))    # one JSON file per rollout

- mini-swe-agent: exactly as its 2.4.6 `DefaultAgent.save` writes (see `rollouts.mini_format`), non-bash
  tools rendered as the bash commands mini would run, or refused.
- ATIF v1.4 (Harbor's Agent Trajectory Interchange Format): the system prompt and the task are steps 1
  and 2 (`source` system / user); every model turn is an `agent` step with `message`, `tool_calls`
  (`tool_call_id`, `function_name`, `arguments`), `observation.results` (each `source_call_id` naming a
  call of the same step) and `metrics` (token counts and, when the backend gave them, prompt/completion
  token ids and logprobs). A turn's format error and raw output go in the step's `extra`; the grade and
  reward in the root `extra`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from codekiln import __version__
from codekiln.agents.records import Step
from codekiln.core.errors import ConfigError
from codekiln.core.records import atomic_write_text, dumps_utf8
from codekiln.rollouts.mini_format import to_mini
from codekiln.rollouts.records import Rollout, outcome

ATIF_VERSION = "ATIF-v1.4"
Target = Literal["mini", "atif"]


def session_id(rollout: Rollout) -> str:
    return f"{rollout.instance_id}__s{rollout.sample}"


def _call_id(call: dict[str, Any], step: Step, i: int) -> str:
    return str(call.get("id") or f"call_{step.index}_{i}")


def _agent_step(step: Step, step_id: int, model: str) -> dict[str, Any]:
    calls = step.message.get("tool_calls") or []
    tool_calls = []
    for i, call in enumerate(calls):
        fn = call.get("function") or {}
        raw = fn.get("arguments") or "{}"
        try:
            args = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except ValueError:
            args = {"_raw": raw}
        tool_calls.append(
            {
                "tool_call_id": _call_id(call, step, i),
                "function_name": str(fn.get("name", "")),
                "arguments": args,
            }
        )
    ids = {c["tool_call_id"] for c in tool_calls}
    by_position = [c["tool_call_id"] for c in tool_calls]
    results = []
    tool_messages = [m for m in step.feedback if m.get("role") == "tool"]
    for i, msg in enumerate(tool_messages):
        source = msg.get("tool_call_id") or (by_position[i] if i < len(by_position) else None)
        results.append(
            {"source_call_id": source if source in ids else None, "content": str(msg.get("content", ""))}
        )
    for msg in step.feedback:
        if msg.get("role") != "tool":
            results.append({"source_call_id": None, "content": str(msg.get("content", ""))})
    metrics: dict[str, Any] = {
        "prompt_tokens": step.usage.prompt_tokens,
        "completion_tokens": step.usage.completion_tokens,
    }
    for key, value in (
        ("prompt_token_ids", step.prompt_ids),
        ("completion_token_ids", step.completion_ids),
        ("logprobs", step.logprobs),
    ):
        if value is not None:
            metrics[key] = list(value)
    out: dict[str, Any] = {
        "step_id": step_id,
        "source": "agent",
        "model_name": model,
        "message": str(step.message.get("content") or ""),
        "metrics": metrics,
        "extra": {
            "raw": step.raw,
            "parse_error": step.parse_error,
            "finish_reason": step.finish_reason,
            "duration_s": step.duration_s,
        },
    }
    if tool_calls:
        out["tool_calls"] = tool_calls
    if results:
        out["observation"] = {"results": results}
    return out


def to_atif(rollout: Rollout) -> dict[str, Any]:
    """The rollout as an ATIF v1.4 trajectory (see the module docstring)."""
    traj = rollout.trajectory
    steps: list[dict[str, Any]] = []
    if traj is not None:
        for msg in traj.messages[:2]:
            source = "system" if msg.get("role") == "system" else "user"
            steps.append(
                {"step_id": len(steps) + 1, "source": source, "message": str(msg.get("content") or "")}
            )
        for step in traj.steps:
            steps.append(_agent_step(step, len(steps) + 1, rollout.model))
    totals = traj.totals if traj is not None else None
    return {
        "schema_version": ATIF_VERSION,
        "session_id": session_id(rollout),
        "agent": {
            "name": f"codekiln-{rollout.scaffold}",
            "version": __version__,
            "model_name": rollout.model,
            "extra": {"format": rollout.format, "tools": traj.tools if traj else []},
        },
        "steps": steps,
        "final_metrics": {
            "total_prompt_tokens": totals.prompt_tokens if totals else 0,
            "total_completion_tokens": totals.completion_tokens if totals else 0,
            "total_steps": len(steps),
        },
        "extra": {
            **outcome(rollout),
            "exit_reason": traj.exit_reason if traj else None,
            "exit_message": traj.exit_message if traj else "",
            "patch": rollout.patch,
        },
    }


EXPORTERS = {"mini": (to_mini, ".traj.json"), "atif": (to_atif, ".atif.json")}


def export_rollouts(rollouts: list[Rollout], to: str, out: Path) -> list[Path]:
    """Write each rollout as one JSON file in `out` (`<instance_id>__s<sample>.traj.json` / `.atif.json`)."""
    if to not in EXPORTERS:
        raise ConfigError(f"unknown trajectory format {to!r}", hint=f"choose one of: {', '.join(EXPORTERS)}")
    convert, suffix = EXPORTERS[to]
    docs = [
        (session_id(r), convert(r)) for r in rollouts
    ]  # a refused rollout stops the export before any write
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in docs:
        path = out / f"{name}{suffix}"
        atomic_write_text(path, dumps_utf8(doc, indent=2) + "\n")
        paths.append(path)
    return paths
