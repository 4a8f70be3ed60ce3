"""Third-party scaffolds on codekiln tasks: the real mini-swe-agent, unchanged, in codekiln's sandbox.

    rollout = run_mini_swe_agent(task, env, "oracle", Path("runs/mini"))      # a codekiln Rollout
    rollout.reward.resolved, rollout.trajectory.steps                         # graded like codekiln's own
    stats = run_mini_rollouts(Path("out/toolz"), Path("runs/mini"), "embedded", n=2)  # many, resumable

One episode:
1. the task's sandbox in the agent's starting state (`grading.open_task_sandbox`);
2. an `InterceptionProxy` (rollouts.proxy) on 127.0.0.1 in front of the codekiln model (any
   `models.make_model` spec, the `oracle` / `noop` control policies, or a Model object);
3. mini-swe-agent's own `DefaultAgent` and `LitellmModel` with its own prompts and config (default: its
   SWE-bench config `swebench.yaml`), the model pointed at the proxy (`openai/codekiln` + `api_base`).
   Only the environment is codekiln's: `SandboxEnvironment` implements mini-swe-agent's Environment
   protocol with `execute()` running in the codekiln sandbox (its `BASH_ENV`, meant for SWE-bench images'
   conda, is dropped: the sandbox's venv is already on PATH);
4. the workspace patch graded in a fresh sandbox (`grade_patch`), the reward computed
   (`rewards.compute_reward`), and one `Rollout` appended to `OUT/rollouts.jsonl`, the same records
   `codekiln rollout` writes (`read_rollouts` reads both). The trajectory is built from mini's messages
   and the proxy's records (raw output, token ids and logprobs when the backend gives them).

Beside it, `OUT/episodes/<instance_id>/<sample>.mini.traj.json` is mini-swe-agent's own trajectory file and
`<sample>.proxy.jsonl` the proxy's record of every model call. mini-swe-agent is an optional extra
(`pip install 'codekiln[thirdparty]'`), imported only when an episode runs.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from codekiln.agents.loop import final_diff, task_text
from codekiln.agents.records import Observation, Step, StepUsage, Totals, Trajectory
from codekiln.core.config import state_dir
from codekiln.core.errors import CodekilnError, ConfigError, SandboxError
from codekiln.core.protocols import Model, Sandbox
from codekiln.core.records import append_jsonl
from codekiln.core.stage import open_stage
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import grade_patch, open_task_sandbox
from codekiln.models import make_model
from codekiln.rewards import Reward, RewardConfig, compute_reward
from codekiln.rollouts.controls import control_model, is_control
from codekiln.rollouts.engine import Manifest, sample_seed
from codekiln.rollouts.episode import read_patch
from codekiln.rollouts.outdir import LAYOUT, ROLLOUTS, finished_pairs, task_digest
from codekiln.rollouts.proxy import SERVED_NAME, InterceptionProxy
from codekiln.rollouts.records import Rollout
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks import load_tasks
from codekiln.tasks.records import TaskRecord

SCAFFOLD = "mini-swe-agent"
DEFAULT_CONFIG = "swebench.yaml"
SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
INSTALL_HINT = "install the extra: pip install 'codekiln[thirdparty]' (mini-swe-agent==2.4.6 and mcp)"
EXITS = {"Submitted": "submitted", "LimitsExceeded": "max_turns", "TimeExceeded": "wall_time",
         "RepeatedFormatError": "format_errors"}  # fmt: skip


def import_mini() -> Any:
    """Import mini-swe-agent quietly, its state under codekiln's home, litellm offline; or explain."""
    os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
    os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", str(state_dir("mini-swe-agent")))
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else a ~7 s failing download
    # A failed call is the backend's failure (recorded by the proxy), not something to retry for minutes.
    os.environ.setdefault("MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT", "1")
    try:
        import mcp  # noqa: F401  (litellm imports it without declaring it; missing, mini retries silently)
        import minisweagent
        import minisweagent.agents.default
        import minisweagent.config
        import minisweagent.exceptions
        import minisweagent.models
    except ImportError as err:
        raise ConfigError(f"mini-swe-agent is not installed ({err})", hint=INSTALL_HINT) from err
    return minisweagent


class SandboxEnvironmentConfig(BaseModel):
    """The settings mini-swe-agent's configs give an environment (others, e.g. a docker image, are ignored)."""

    cwd: str = "/testbed"
    """Working directory of every command."""
    env: dict[str, str] = {}
    """Extra environment variables of every command."""
    timeout: int = 60
    """Seconds before a command is killed."""
    interpreter: list[str] = ["bash", "-c"]
    """argv prefix the command string is appended to."""


class SandboxEnvironment:
    """mini-swe-agent's Environment protocol (`execute(action, cwd, timeout) -> {"output", "returncode",
    "exception_info"}`, raising its `Submitted` on the sentinel) with every command run in `sandbox`.
    A timeout is reported like mini's own environments do (returncode -1 and exception_info); a
    broken sandbox raises `SandboxError`, which ends the episode as an infrastructure failure."""

    def __init__(self, sandbox: Sandbox, **kwargs: Any) -> None:
        self.sandbox = sandbox
        fields = SandboxEnvironmentConfig.model_fields
        self.config = SandboxEnvironmentConfig(**{k: v for k, v in kwargs.items() if k in fields})
        self.config.env = {k: str(v) for k, v in self.config.env.items() if k != "BASH_ENV"}

    def execute(self, action: dict[str, Any], cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        command = action.get("command", "")
        limit = timeout or self.config.timeout
        try:
            res = self.sandbox.exec(
                [*self.config.interpreter, command], timeout=limit, env=self.config.env,
                cwd=cwd or self.config.cwd,
            )  # fmt: skip
        except OSError as err:
            raise SandboxError(f"sandbox command failed: {err}", hint="check the sandbox backend") from err
        output: dict[str, Any] = {"output": res.output, "returncode": res.exit_code, "exception_info": ""}
        if res.timed_out:
            output["returncode"] = -1
            output["exception_info"] = (
                f"An error occurred while executing the command: timed out after {limit}s"
            )
            output["extra"] = {"exception_type": "TimeoutExpired", "exception": f"timed out after {limit}s"}
        self._check_finished(output)
        return output

    def _check_finished(self, output: dict[str, Any]) -> None:
        lines = output.get("output", "").lstrip().splitlines(keepends=True)
        if lines and lines[0].strip() == SENTINEL and output["returncode"] == 0:
            from minisweagent.exceptions import Submitted

            submission = "".join(lines[1:])
            extra = {"exit_status": "Submitted", "submission": submission}
            raise Submitted({"role": "exit", "content": submission, "extra": extra})

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        return {**self.config.model_dump(), **platform.uname()._asdict(), **kwargs}

    def serialize(self) -> dict[str, Any]:
        kind = f"{type(self).__module__}.{type(self).__name__}"
        return {
            "info": {"config": {"environment": self.config.model_dump(mode="json"), "environment_type": kind}}
        }


def _api(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "extra"}


def to_trajectory(
    messages: list[dict[str, Any]], records: list[dict[str, Any]], *, task_id: str, model: str
) -> Trajectory:
    """mini-swe-agent's messages + the proxy's records -> a codekiln Trajectory (one Step a model call)."""
    by_id = {r["id"]: r for r in records}
    traj = Trajectory(task_id=task_id, scaffold=SCAFFOLD, model=model)
    if records:
        traj.tools = list(records[0]["request"].get("tools") or [])
        traj.format = (records[0].get("codekiln") or {}).get("format")
    for msg in messages:
        extra = msg.get("extra") or {}
        if msg.get("role") == "exit":
            traj.exit_reason = EXITS.get(extra.get("exit_status", ""), "model_error")  # type: ignore[assignment]
            traj.exit_message = str(extra.get("submission") or msg.get("content") or "")
            break
        traj.messages.append(_api(msg))
        response = extra.get("response")
        if isinstance(response, dict) and response.get("id"):
            ck = by_id.get(response["id"], {}).get("codekiln") or {}
            usage = ck.get("usage") or response.get("usage") or {}
            step = Step(
                index=len(traj.steps), raw=ck.get("raw", _api(msg).get("content") or ""),
                usage=StepUsage(prompt_tokens=usage.get("prompt_tokens", 0),
                                completion_tokens=usage.get("completion_tokens", 0)),
                finish_reason=(response.get("choices") or [{}])[0].get("finish_reason"),
                model_latency_s=ck.get("latency_s", 0.0), prompt_ids=ck.get("prompt_ids"),
                completion_ids=ck.get("completion_ids"), logprobs=ck.get("logprobs"),
            )  # fmt: skip
            step.duration_s = step.model_latency_s
            if msg.get("role") == "assistant":
                step.message = _api(msg)
                step.parse_error = ck.get("parse_error")
                step.calls = [
                    {
                        "id": a.get("tool_call_id"),
                        "name": "bash",
                        "arguments": {"command": a.get("command", "")},
                    }
                    for a in extra.get("actions", [])
                ]
            else:  # mini rejected the output: its message carries the response and the rejection
                step.message = (response.get("choices") or [{}])[0].get("message") or {}
                step.parse_error = _api(msg).get("content") or "format error"
                step.feedback.append(_api(msg))
            traj.steps.append(step)
        elif traj.steps and msg.get("role") in ("tool", "user"):
            step = traj.steps[-1]
            step.feedback.append(_api(msg))
            if msg.get("role") == "tool":
                code = extra.get("returncode")
                step.observations.append(Observation(
                    text=str(msg.get("content") or ""), ok=code == 0, tool="bash",
                    tool_call_id=str(msg.get("tool_call_id") or ""), exit_code=code,
                ))  # fmt: skip
    traj.totals = Totals(
        turns=len(traj.steps),
        prompt_tokens=sum(s.usage.prompt_tokens for s in traj.steps),
        completion_tokens=sum(s.usage.completion_tokens for s in traj.steps),
        format_errors=sum(s.parse_error is not None for s in traj.steps),
        tool_calls=sum(len(s.calls) for s in traj.steps),
        duration_s=sum(s.duration_s for s in traj.steps),
    )
    return traj


def resolve_model(model: str | Model, task: TaskRecord, options: dict[str, Any] | None = None) -> Model:
    """A control policy speaking mini's tool (`bash`, then the sentinel), a make_model spec, or `model`."""
    if not isinstance(model, str):
        return model
    if is_control(model):
        return control_model(model.strip(), task, scaffold="mini")
    return make_model(model, **(options or {}))  # type: ignore[no-any-return]


def mini_config(config: str, max_turns: int, wall_time_s: float | None) -> dict[str, Any]:
    """mini-swe-agent's own config `config` (a builtin name or a path), limits set from codekiln's."""
    mini = import_mini()
    data = mini.config.get_config_from_spec(config)
    agent = dict(data.get("agent") or {})
    agent.pop("agent_class", None)
    agent.update(step_limit=max_turns, cost_limit=0, wall_time_limit_seconds=int(wall_time_s or 0))
    return {
        "agent": agent,
        "environment": dict(data.get("environment") or {}),
        "model": dict(data.get("model") or {}),
    }


def run_mini_swe_agent(
    task: TaskRecord, env: EnvRecord, model: str | Model, out_dir: Path, *, sample: int = 0, seed: int = 0,
    config: str = DEFAULT_CONFIG, max_turns: int = 50, wall_time_s: float | None = None,
    backend: str = DEFAULT_BACKEND, reward: RewardConfig | None = None, model_options: dict[str, Any] | None = None,
) -> Rollout:  # fmt: skip
    """Run one mini-swe-agent episode on `task`, grade it, reward it, append its Rollout (see the module
    docstring). Infrastructure failures (sandbox, model backend) give a masked rollout, never a 0."""
    mini = import_mini()
    start, out_dir = time.monotonic(), Path(out_dir)
    label = model if isinstance(model, str) else getattr(model, "name", type(model).__name__)
    cfg = mini_config(config, max_turns, wall_time_s)
    episode = out_dir / "episodes" / task.instance_id
    episode.mkdir(parents=True, exist_ok=True)
    proxy_log, traj_file = episode / f"{sample}.proxy.jsonl", episode / f"{sample}.mini.traj.json"
    proxy_log.unlink(missing_ok=True)
    backend_model = resolve_model(model, task, model_options)
    if hasattr(backend_model, "seed"):
        backend_model.seed = seed
    patch, grade, grade_s, error = "", None, 0.0, None
    messages: list[dict[str, Any]] = []
    traj: Trajectory | None = None
    try:
        with (
            open_task_sandbox(task, env, backend) as sandbox,
            InterceptionProxy(backend_model, proxy_log) as proxy,
        ):
            model_cfg = {
                **cfg["model"],
                "model_name": f"openai/{SERVED_NAME}",
                "cost_tracking": "ignore_errors",
            }
            model_cfg.pop("model_class", None)
            model_cfg["model_kwargs"] = {
                **(model_cfg.get("model_kwargs") or {}), "api_base": proxy.base_url, "api_key": "codekiln",
                "max_retries": 0,
            }  # fmt: skip
            agent = mini.agents.default.DefaultAgent(
                mini.models.get_model(config=model_cfg),
                SandboxEnvironment(sandbox, **cfg["environment"]),
                **{**cfg["agent"], "output_path": traj_file},
            )
            failure: BaseException | None = None
            try:
                agent.run(task_text(task)[1])
            except Exception as err:  # mini re-raises what ended it; classified below
                failure = err
            messages = agent.messages
            traj = to_trajectory(messages, proxy.records, task_id=task.instance_id, model=label)
            if failure is not None:
                kind = "sandbox_error" if isinstance(failure, SandboxError) else "model_error"
                record = failure.to_record() if isinstance(failure, CodekilnError) else {
                    "type": type(failure).__name__, "message": str(failure)[:1000]}  # fmt: skip
                traj.exit_reason, traj.exit_message, traj.error = kind, str(failure)[:500], record  # type: ignore[assignment]
            traj.diff = final_diff(sandbox)
            if not traj.infra_failure:
                patch, grade = read_patch(task, sandbox, Path(env.snapshot_path))
    except CodekilnError as err:
        error = err.to_record()
    if traj is not None and not traj.infra_failure and grade is None:
        graded_at = time.monotonic()
        grade = grade_patch(task, env, patch, backend=backend)
        grade_s = time.monotonic() - graded_at
    if traj is None:
        rew = Reward(
            value=None,
            masked=True,
            mask_reason=f"{(error or {}).get('type')}: {(error or {}).get('message')}"[:500],
        )
    else:
        rew = compute_reward(traj, grade, task, reward)
    rollout = Rollout(
        instance_id=task.instance_id, task_digest=task_digest(task), sample=sample, seed=seed, model=label, scaffold=SCAFFOLD,
        format=traj.format if traj else None, trajectory=traj, patch=patch, grade=grade, reward=rew,
        error=error, duration_s=time.monotonic() - start, grade_s=grade_s,
    )  # fmt: skip
    append_jsonl(out_dir / ROLLOUTS, [rollout])
    return rollout


def run_mini_rollouts(
    tasks: Path, out: Path, model: str, *, n: int = 1, limit: int | None = None, seed: int = 0,
    redo: bool = False, on_done: Callable[[Rollout], None] | None = None, **episode: Any,
) -> list[Rollout]:  # fmt: skip
    """mini-swe-agent on every task x `n` samples; pairs already in `out/rollouts.jsonl` are skipped.
    Like `codekiln rollout`, a directory holds one configuration (`manifest.json`) unless `redo`."""
    import_mini()
    out = Path(out)
    with open_stage(out, LAYOUT, redo=redo) as stage:
        stage.match(
            Manifest(
                model=model, model_options=episode.get("model_options") or {},
                scaffold=f"{SCAFFOLD}:{episode.get('config', DEFAULT_CONFIG)}", format=None,
                max_turns=episode.get("max_turns", 50), temperature=0.0, seed=seed,
                reward=episode.get("reward") or RewardConfig(), tasks=str(tasks),
            )
        )  # fmt: skip
        task_list = load_tasks(tasks)[:limit]
        done = finished_pairs(out, task_list)
        envs: dict[str, EnvRecord] = {}
        rollouts = []
        for task in task_list:
            for sample in range(n):
                if (task.instance_id, sample) in done:
                    continue
                if not task.environment_id:
                    raise ConfigError(
                        f"task {task.instance_id} names no environment",
                        hint="use tasks made by codekiln synth",
                    )
                env = envs.setdefault(task.environment_id, load_env(task.environment_id))
                rollout = run_mini_swe_agent(
                    task, env, model, out, sample=sample, seed=sample_seed(seed, task.instance_id, sample),
                    **episode,
                )  # fmt: skip
                rollouts.append(rollout)
                if on_done is not None:
                    on_done(rollout)
        return rollouts


__all__ = [
    "DEFAULT_CONFIG", "SCAFFOLD", "SandboxEnvironment", "SandboxEnvironmentConfig", "import_mini",
    "mini_config", "resolve_model", "run_mini_rollouts", "run_mini_swe_agent", "to_trajectory",
]  # fmt: skip
