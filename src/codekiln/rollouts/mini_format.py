"""Rollouts as mini-swe-agent 2.4.6 saves its trajectories (`trajectory_format` "mini-swe-agent-1.1").

    doc = to_mini(rollout)      # {"info": {...}, "messages": [...], "trajectory_format": "mini-swe-agent-1.1"}

The file is what mini's `DefaultAgent.save` writes with its tool-calling model (`LitellmModel`):
- `info`: `model_stats` (`instance_cost`, `api_calls`), `config` (`agent` with `AgentConfig`'s fields,
  `agent_type`, `model`, `model_type`, `environment`, `environment_type`), `mini_version`, `exit_status`,
  `submission`; codekiln's grade and reward go under `info.codekiln` (mini ignores keys it does not know).
- `messages`: system and user turns; each model turn an `assistant` message (OpenAI `tool_calls`, every
  call a `bash` call) whose `extra` holds `actions` ({command, tool_call_id}), `response` (an OpenAI
  chat completion), `cost` and `timestamp`; each executed call a `tool` message whose `extra` holds
  `raw_output`, `returncode`, `timestamp` and `exception_info` (a timeout: returncode -1 and
  `exception_type`/`exception`, as mini's environments report it). A turn that broke the format is one
  `user` message with `extra.interrupt_type` "FormatError" and the `response` (mini never adds the
  rejected assistant turn). The last message has role `exit` and carries `exit_status` and `submission`.
- As mini runs them: the turn whose command submits gets no tool messages (mini stops executing at the
  sentinel), and exit statuses are mini's names (Submitted, LimitsExceeded, TimeExceeded,
  RepeatedFormatError, or the error's type).

Non-bash tools become the bash command mini would run for the same effect: `submit` ->
`echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git add -A && git diff --cached`; `str_replace_editor`'s
view -> `cat -n` / `find`, create -> `printf`, str_replace and insert -> a short `python3` script with
the exact strings. The original call is kept in the assistant's `extra.rendered_from`; the tool message
keeps what the model saw. Calls with no faithful bash form (`undo_edit`, Terminus's `execute_commands`)
make the export refuse with a `ConfigError` (export ATIF instead). Timestamps are rebuilt from the
episode's start and step durations; `cost` is 0.0 (calls are not priced). The agent config's
`system_template` and `instance_template` render exactly the episode's two prompts.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from codekiln import __version__
from codekiln.agents.records import Observation, Step, Trajectory
from codekiln.agents.scaffolds import SENTINEL
from codekiln.core.errors import ConfigError
from codekiln.rollouts.records import Rollout, outcome

MINI_FORMAT = "mini-swe-agent-1.1"
MINI_EXIT = {
    "submitted": "Submitted",
    "max_turns": "LimitsExceeded",
    "max_tokens": "LimitsExceeded",
    "wall_time": "TimeExceeded",
    "format_errors": "RepeatedFormatError",
}
SUBMIT_COMMAND = f"echo {SENTINEL} && git add -A && git diff --cached"
REFUSE_HINT = "export it as ATIF instead: codekiln rollout export DIR --to atif"


def _edit_script(path: str, body: str) -> str:
    """A python3 heredoc that reads `path` as `t`, runs `body` (which sets `u`) and writes `u` back, bytes
    exact (no newline translation); a file that is not UTF-8 in the encoding its Python declaration
    names (`# -*- coding: latin-1 -*-`), as the editor reads and writes it."""
    script = (
        f"import io, pathlib, tokenize\np = pathlib.Path({path!r})\nb = p.read_bytes()\ntry:\n    e, t = 'utf-8', b.decode()\n"
        f"except UnicodeDecodeError:\n    e = tokenize.detect_encoding(io.BytesIO(b).readline)[0]\n    t = b.decode(e)\n"
        f"{body}\np.write_bytes(u.encode(e))"
    )
    marker = "CODEKILN_EDIT"
    while marker in script:
        marker += "_"
    return f"python3 - <<'{marker}'\n{script}\n{marker}"


def render_editor(args: dict[str, Any]) -> str:
    """The bash command with the same effect as a `str_replace_editor` call, or ConfigError."""
    command, path = args.get("command"), str(args.get("path", ""))
    if command == "view":
        rng = args.get("view_range")
        if isinstance(rng, list) and len(rng) == 2:
            end = "$" if rng[1] == -1 else str(rng[1])
            return f"cat -n {shlex.quote(path)} | sed -n '{rng[0]},{end}p'"
        return (
            f"if [ -d {shlex.quote(path)} ]; then find {shlex.quote(path)} -maxdepth 2 -not -path '*/.*' | sort; "
            f"else cat -n {shlex.quote(path)}; fi"
        )
    if command == "create":
        text = str(args.get("file_text", ""))
        q = shlex.quote(path)
        return f"test ! -e {q} && mkdir -p -- \"$(dirname -- {q})\" && printf '%s' {shlex.quote(text)} > {q}"
    if command == "str_replace":
        old, new = str(args.get("old_str") or ""), str(args.get("new_str") or "")
        body = f"old, new = {old!r}, {new!r}\nassert old and t.count(old) == 1, 'old_str must occur exactly once'\nu = t.replace(old, new, 1)"
        return _edit_script(path, body)
    if command == "insert":
        line, new = int(args.get("insert_line", 0)), str(args.get("new_str", ""))
        body = (  # codekiln's editor: after line `line` (0 = top); a last line without newline gets one
            f"new = {new!r}\nnew = new if new.endswith('\\n') else new + '\\n'\n"
            f"at = sum(len(x) + 1 for x in t.split('\\n')[:{line}])\n"
            "u = t + '\\n' + new if at > len(t) else t[:at] + new + t[at:]"
        )
        return _edit_script(path, body)
    raise ConfigError(
        f"str_replace_editor's {command!r} has no bash command with the same effect (mini-swe-agent has only bash)",
        hint=REFUSE_HINT,
    )


def render_call(name: str, args: dict[str, Any]) -> str | None:
    """The bash command mini would run for a call (None: the call already is one), or ConfigError."""
    if name == "bash":
        return None
    if name == "submit":
        return SUBMIT_COMMAND
    if name == "str_replace_editor":
        return render_editor(args)
    raise ConfigError(f"the tool {name!r} has no bash rendering for mini-swe-agent", hint=REFUSE_HINT)


def _raw_output(obs: Observation, rendered: bool) -> str:
    """The command's output without codekiln's `exit code N` header (tool text as is for rendered calls)."""
    if rendered or obs.timed_out or obs.exit_code is None:
        return obs.text
    head, _, rest = obs.text.partition("\n")
    return rest if head == f"exit code {obs.exit_code}" else obs.text


def _response(rollout: Rollout, step: Step, message: dict[str, Any]) -> dict[str, Any]:
    usage = {"prompt_tokens": step.usage.prompt_tokens, "completion_tokens": step.usage.completion_tokens}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    choice = {"index": 0, "message": message, "finish_reason": step.finish_reason or "stop"}
    return {"id": f"codekiln-{rollout.instance_id}-s{rollout.sample}-{step.index}",
            "object": "chat.completion", "model": rollout.model, "choices": [choice], "usage": usage}  # fmt: skip


def _model_turn(rollout: Rollout, step: Step, at: float) -> dict[str, Any]:
    calls, actions, rendered_from = [], [], []
    for i, call in enumerate(step.message.get("tool_calls") or []):
        fn = call.get("function") or {}
        raw = fn.get("arguments") or "{}"
        args = json.loads(raw) if isinstance(raw, str) else dict(raw)
        call_id = str(call.get("id") or f"call_{step.index}_{i}")
        command = render_call(str(fn.get("name", "")), args)
        if command is None:
            command = str(args.get("command", ""))
        else:
            rendered_from.append({"tool_call_id": call_id, "name": fn.get("name"), "arguments": args})
        arguments = json.dumps({"command": command})
        calls.append(
            {"id": call_id, "type": "function", "function": {"name": "bash", "arguments": arguments}}
        )
        actions.append({"command": command, "tool_call_id": call_id})
    message: dict[str, Any] = {"role": "assistant", "content": step.message.get("content")}
    if calls:
        message["tool_calls"] = calls
    extra: dict[str, Any] = {
        "actions": actions, "response": _response(rollout, step, dict(message)), "cost": 0.0, "timestamp": at,
    }  # fmt: skip
    if rendered_from:
        extra["rendered_from"] = rendered_from
    return {**message, "extra": extra}


def _tool_message(obs: Observation, rendered: bool, at: float) -> dict[str, Any]:
    extra: dict[str, Any] = {"raw_output": _raw_output(obs, rendered), "returncode": obs.exit_code,
                             "timestamp": at, "exception_info": ""}  # fmt: skip
    if rendered and obs.exit_code is None:
        extra["returncode"] = 0 if obs.ok else 1
    if obs.timed_out:
        extra["returncode"] = -1
        extra["exception_info"] = "An error occurred while executing the command: the command timed out"
        extra |= {"exception_type": "TimeoutExpired", "exception": "the command timed out"}
    return {"content": obs.text, "extra": extra, "tool_call_id": obs.tool_call_id, "role": "tool"}


def _steps(rollout: Rollout, traj: Trajectory) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    at = traj.started_at
    last = len(traj.steps) - 1
    for step in traj.steps:
        turn_start = at + step.model_latency_s
        at += step.duration_s
        if step.parse_error is not None:
            response = _response(rollout, step, {"role": "assistant", "content": step.raw})
            note = next((str(m.get("content") or "") for m in step.feedback), step.parse_error)
            extra = {"interrupt_type": "FormatError", "cost": 0.0, "response": response}
            out.append({"role": "user", "content": note, "extra": extra})
            continue
        turn = _model_turn(rollout, step, turn_start)
        out.append(turn)
        if step.index == last and traj.exit_reason == "submitted":
            break  # mini executes no further and records no output for the submitting turn
        rendered = {r["tool_call_id"] for r in turn["extra"].get("rendered_from", [])}
        for obs in step.observations:
            out.append(_tool_message(obs, obs.tool_call_id in rendered, at))
    return out


def _exit(rollout: Rollout, traj: Trajectory | None) -> dict[str, Any]:
    reason = traj.exit_reason if traj is not None else None
    if reason == "submitted":
        submission = traj.exit_message if traj is not None and traj.scaffold == "mini" else rollout.patch
        return {
            "role": "exit",
            "content": submission,
            "extra": {"exit_status": "Submitted", "submission": submission},
        }
    if reason in MINI_EXIT:
        return {
            "role": "exit",
            "content": MINI_EXIT[reason],
            "extra": {"exit_status": MINI_EXIT[reason], "submission": ""},
        }
    error = (traj.error if traj is not None else None) or rollout.error or {}
    kind = str(error.get("type") or ("SandboxError" if reason == "sandbox_error" else "ModelError"))
    text = str(error.get("message") or (traj.exit_message if traj else "") or kind)
    extra = {"exit_status": kind, "submission": "", "exception_str": text, "traceback": ""}
    return {"role": "exit", "content": text, "extra": extra}


def literal_template(text: str) -> str:
    """A Jinja template (mini renders its prompts with Jinja) that renders exactly `text`."""
    return (
        "{% raw %}"
        + text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}")
        + "{% endraw %}"
    )


def to_mini(rollout: Rollout) -> dict[str, Any]:
    """The rollout as mini-swe-agent 2.4.6's trajectory file (see the module docstring); ConfigError
    when a call has no bash rendering."""
    traj = rollout.trajectory
    try:
        steps = _steps(rollout, traj) if traj is not None else []
    except ConfigError as err:
        raise ConfigError(f"{rollout.instance_id} sample {rollout.sample} ({rollout.scaffold}): {err.message}",
                          hint=err.hint) from err  # fmt: skip
    messages = [
        {"role": m.get("role"), "content": m.get("content")} for m in (traj.messages[:2] if traj else [])
    ]
    messages += steps
    end = _exit(rollout, traj)
    messages.append(end)
    last: dict[str, Any] = end["extra"]
    prompts = [str(m["content"] or "") for m in messages[:2] if m["role"] in ("system", "user")] + ["", ""]
    agent = {"system_template": literal_template(prompts[0]), "instance_template": literal_template(prompts[1]), "step_limit": 0, "cost_limit": 0.0, "wall_time_limit_seconds": 0,
             "max_consecutive_format_errors": 0, "output_path": None}  # fmt: skip
    info = {
        "model_stats": {"instance_cost": 0.0, "api_calls": traj.totals.turns if traj else 0},
        "config": {
            "agent": agent,
            "agent_type": f"codekiln.agents.scaffolds:{rollout.scaffold}",
            "model": {"model_name": rollout.model, "format": rollout.format, "seed": rollout.seed},
            "model_type": f"codekiln.models:{rollout.model}",
            "environment": {"cwd": "/testbed", "instance_id": rollout.instance_id},
            "environment_type": "codekiln.sandbox",
        },
        "mini_version": f"codekiln-{__version__}",
        "exit_status": last["exit_status"],
        "submission": last["submission"],
        "codekiln": outcome(rollout),
    }
    return {"info": info, "messages": messages, "trajectory_format": MINI_FORMAT}
