"""GRPO / GSPO on codekiln tasks with TRL's GRPOTrainer: codekiln plays the episodes, TRL optimizes.

    result = train_grpo(GRPORunConfig(tasks=Path("out/toolz"), out=Path("runs/grpo"), steps=2, group_size=4))
    result.steps, result.rewards, result.weight_change

How it plugs into TRL 1.16 (`GRPOTrainer(rollout_func=...)`):
- The dataset has one row per task whose `prompt` is the task's instance id; TRL's sampler repeats each
  row `group_size` times, so one optimizer step sees whole groups.
- `CodekilnRollout` is the `rollout_func`: for each prompt it plays a real episode (`policy.play_episode`:
  sandbox in the task's starting state, the agent loop with the model being trained wrapped as a
  `PolicyModel`, grading in a fresh sandbox, `rewards.compute_reward`) and returns TRL's contract:
  `prompt_ids` (the first turn's prompt), `completion_ids` (every later token, sampled turns and tool
  observations alike, as the renderer made them: never re-tokenized), `logprobs`, plus `env_mask`
  (1 on sampled tokens, 0 on observations; TRL multiplies it into the loss mask) and codekiln fields
  the reward function and the trainer read. Each episode is appended to `out/rollouts.jsonl` at once.
- `codekiln_reward` is the reward function: the episode's `Reward.value`, None when masked (TRL then
  leaves it out of the group statistics).
- `CodekilnGRPOTrainer` replaces TRL's per-sequence advantages by `grpo.token_advantages`: the
  group-relative advantage (`grpo.group_advantages`, masked samples excluded and given 0) plus the
  format penalty on the tokens of turns that broke the chat format; a masked sample's loss mask is all 0.
- GSPO is TRL's `importance_sampling_level="sequence"` with `loss_type="grpo"` (`gspo=True`).

CPU runs need `use_cpu=True, bf16=False` (set here when no GPU is present). For real models on GPUs see
docs/gpu_recipe.md (vLLM server mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from codekiln.agents import Agent, AgentLimits
from codekiln.core.errors import ConfigError
from codekiln.core.records import append_jsonl
from codekiln.envs import EnvRecord, load_env
from codekiln.rewards import RewardConfig
from codekiln.rollouts.engine import sample_seed
from codekiln.rollouts.records import Rollout
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks import load_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.training.grpo import group_advantages, loss_weights, token_advantages
from codekiln.training.policy import PlayedEpisode, PolicyModel, play_episode

_HINT = "install the train extra: pip install 'codekiln[train]' (torch, transformers, trl==1.16.0)"
try:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ConfigError(f"GRPO training needs TRL and torch: {err}", hint=_HINT) from err

EXTRA = ("codekiln_reward", "codekiln_masked", "codekiln_penalties", "codekiln_group")


class GRPORunConfig(BaseModel):
    """One GRPO run on codekiln tasks."""

    tasks: Path = Field(description="a synth output directory or a tasks .jsonl/.parquet file")
    out: Path = Field(description="output directory: rollouts.jsonl, trainer state, the final model")
    model: str = Field(default="embedded-torch", description="embedded-torch or a HF model directory")
    format: str = Field(default="hermes", description="chat format the policy speaks")
    scaffold: str = Field(default="mini", description="agent scaffold: mini, swe or terminus")
    steps: int = Field(default=2, ge=1, description="optimizer steps")
    group_size: int = Field(default=4, ge=2, description="rollouts per task (one GRPO group)")
    tasks_per_step: int = Field(default=1, ge=1, description="task groups per optimizer step")
    micro_batch: int = Field(default=1, ge=1, description="sequences per forward/backward pass")
    max_turns: int = Field(default=2, ge=1, description="model calls per episode")
    max_tokens: int = Field(default=64, ge=1, description="tokens sampled per model call")
    temperature: float = Field(default=1.0, gt=0.0, description="sampling temperature")
    learning_rate: float = Field(default=1e-5, gt=0.0, description="AdamW learning rate")
    gspo: bool = Field(default=False, description="GSPO: sequence-level importance ratios")
    scale: Literal["std", "none"] = Field(default="std", description="divide advantages by the group std")
    beta: float = Field(default=0.0, ge=0.0, description="KL coefficient against the initial model")
    limit: int | None = Field(default=None, ge=1, description="use only the first LIMIT tasks")
    seed: int = Field(default=0, description="base seed of sampling and data order")
    backend: str = Field(default=DEFAULT_BACKEND, description="sandbox backend")
    reward: RewardConfig = Field(default_factory=RewardConfig, description="how episodes are scored")
    save_model: bool = Field(default=True, description="save the trained model to OUT/model")
    vllm_server: str | None = Field(
        default=None, description="a `trl vllm-serve` base URL: sample through it (GPU recipe)"
    )


class VLLMServerGenerator:
    """Sampling through TRL's vLLM server (`trl vllm-serve`), whose weights the trainer syncs each step.

    Same `generate` contract as the transformers backend (ids in, ids + logprobs out), so `PolicyModel`
    still assembles the conversation from the renderer's ids; the server never sees text."""

    def __init__(self, local: Any, client: Any) -> None:
        self.local, self.client = local, client
        self.chat_format, self.tokenizer = local.chat_format, local.tokenizer
        self.name, self.max_tokens = local.name, local.max_tokens

    def generate(
        self, prompt_ids: list[int], *, max_tokens: int | None = None, temperature: float | None = None,
        seed: int | None = None, stop: list[str] | tuple[str, ...] = (),
    ) -> Any:  # fmt: skip
        from codekiln.models import GenerateResult, Usage
        from codekiln.models.base import cut_at_stop

        out = self.client.generate(
            prompts=[list(prompt_ids)], n=1, temperature=1.0 if temperature is None else temperature,
            max_tokens=max_tokens or self.max_tokens, logprobs=0,
            generation_kwargs={"stop": list(stop), "include_stop_str_in_output": True, "seed": seed},
        )  # fmt: skip
        ids = list(out["completion_ids"][0])
        logprobs = [float(lp[0]) for lp in out["logprobs"][0]]
        eos = self.local.eos_ids
        finish = (
            "stop" if ids and (ids[-1] in eos or len(ids) < (max_tokens or self.max_tokens)) else "length"
        )
        body = ids[:-1] if ids and ids[-1] in eos else ids
        return GenerateResult(
            text=cut_at_stop(self.tokenizer.decode(body), stop), finish_reason=finish, prompt_ids=list(prompt_ids),
            completion_ids=ids, logprobs=logprobs,
            usage=Usage(prompt_tokens=len(prompt_ids), completion_tokens=len(ids)),
        )  # fmt: skip


def codekiln_reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
    """TRL reward function: each episode's codekiln reward (None for masked episodes)."""
    return list(kwargs["codekiln_reward"])


class CodekilnRollout:
    """TRL `rollout_func`: one real codekiln episode per prompt (a task instance id)."""

    def __init__(self, config: GRPORunConfig, tasks: list[TaskRecord], policy: PolicyModel) -> None:
        self.config, self.policy = config, policy
        self.tasks = {t.instance_id: t for t in tasks}
        self.envs: dict[str, EnvRecord] = {}
        self.agent = Agent(config.scaffold, AgentLimits(max_turns=config.max_turns))
        self.played = 0
        self.episodes: list[PlayedEpisode] = []

    def env_for(self, task: TaskRecord) -> EnvRecord:
        key = task.environment_id or ""
        if not key:
            raise ConfigError(
                f"task {task.instance_id} names no environment", hint="use tasks made by codekiln synth"
            )
        if key not in self.envs:
            self.envs[key] = load_env(key)
        return self.envs[key]

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        if getattr(trainer, "use_vllm", False) and not isinstance(self.policy.backend, VLLMServerGenerator):
            client = trainer.vllm_generation.vllm_client
            self.policy.backend = VLLMServerGenerator(self.policy.backend, client)
        torch_model = trainer.accelerator.unwrap_model(trainer.model)
        was_training = torch_model.training
        torch_model.eval()
        out: dict[str, list[Any]] = {
            k: [] for k in ("prompt_ids", "completion_ids", "logprobs", "env_mask", *EXTRA)
        }
        eos = int(trainer.processing_class.eos_token_id)
        try:
            for prompt in prompts:
                task = self.tasks[str(prompt)]
                self.policy.seed = sample_seed(self.config.seed, task.instance_id, self.played)
                episode = play_episode(
                    task, self.env_for(task), self.policy, self.agent,
                    reward_config=self.config.reward, backend=self.config.backend,
                )  # fmt: skip
                self._record(episode)
                s = episode.sample
                masked = episode.reward.masked or not s.completion_ids
                completion = s.completion_ids or [eos]  # TRL needs at least one token per completion
                out["prompt_ids"].append(s.prompt_ids or [eos])
                out["completion_ids"].append(completion)
                out["logprobs"].append(s.logprobs or [0.0])
                out["env_mask"].append(loss_weights(s.env_mask or [0], masked))
                out["codekiln_reward"].append(None if masked else episode.reward.value)
                out["codekiln_masked"].append(masked)
                out["codekiln_penalties"].append(s.penalties)
                out["codekiln_group"].append(task.instance_id)
        finally:
            torch_model.train(was_training)
        return out

    def _record(self, episode: PlayedEpisode) -> None:
        task = episode.task
        rollout = Rollout(
            instance_id=task.instance_id, sample=self.played, seed=self.policy.seed, model=self.policy.name,
            scaffold=self.config.scaffold, format=self.policy.format, trajectory=episode.trajectory,
            patch=episode.patch, grade=episode.grade, reward=episode.reward, duration_s=episode.duration_s,
        )  # fmt: skip
        self.config.out.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.config.out / "rollouts.jsonl", [rollout])
        self.played += 1
        self.episodes.append(episode)


class CodekilnGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
    """GRPOTrainer whose advantages are codekiln's: per token, masked samples excluded (see module doc)."""

    def __init__(self, *args: Any, advantage_scale: Literal["std", "none"] = "std", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.advantage_scale = advantage_scale

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output: dict[str, Any] = super()._generate_and_score_completions(inputs)
        rewards = [None if x["codekiln_masked"] else x["codekiln_reward"] for x in inputs]
        advantages = group_advantages(
            rewards, [x["codekiln_group"] for x in inputs], scale=self.advantage_scale
        )
        mask = (
            output["completion_mask"] * output["tool_mask"]
            if "tool_mask" in output
            else output["completion_mask"]
        )
        rows = [
            token_advantages(adv, [int(m) for m in mask[i].tolist()], x["codekiln_penalties"])
            for i, (adv, x) in enumerate(zip(advantages, inputs, strict=True))
        ]
        output["advantages"] = torch.tensor(rows, dtype=torch.float32, device=mask.device)
        return output


class GRPOResult(BaseModel):
    """What a run did."""

    steps: int
    episodes: int
    rewards: list[float | None]
    masked: int
    weight_change: float
    """L2 norm of the change of all trainable parameters."""
    model_dir: Path | None = None


def make_trainable(model: Any) -> Any:
    """Clear the GGUF quantization marker a dequantized model may still carry (its weights are fp32
    tensors; the marker alone makes transformers' Trainer refuse to fine-tune it)."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if "is_quantized" in vars(model):
        model.is_quantized = False
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    return model


def load_backend(config: GRPORunConfig) -> Any:
    """The transformers backend holding the torch model to train."""
    from codekiln.models import make_model

    spec = (
        "transformers"
        if config.model in ("embedded-torch", "transformers")
        else f"transformers:{config.model}"
    )
    return make_model(
        spec, format=config.format, temperature=config.temperature, max_tokens=config.max_tokens
    )


OnLog = Callable[[int, dict[str, float]], None]


class _LogCallback(TrainerCallback):  # type: ignore[misc]
    def __init__(self, on_log: OnLog) -> None:
        self.fn = on_log

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any
    ) -> None:
        self.fn(int(state.global_step), dict(logs or {}))


def train_grpo(config: GRPORunConfig, *, backend: Any = None, on_log: OnLog | None = None) -> GRPOResult:
    """Run `config.steps` GRPO steps on real codekiln episodes; see the module docstring.

    `backend`: a loaded transformers backend (default: `load_backend(config)`); `on_log(step, logs)`
    receives TRL's logged metrics (reward, loss, ...) after each step."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    tasks = load_tasks(config.tasks)[: config.limit]
    backend = backend or load_backend(config)
    model, tokenizer = make_trainable(backend.torch_model), backend.tokenizer.hf
    policy = PolicyModel(
        backend, max_tokens=config.max_tokens, temperature=config.temperature, seed=config.seed
    )
    rollout = CodekilnRollout(config, tasks, policy)
    cpu = not torch.cuda.is_available()
    batch = config.group_size * config.tasks_per_step
    if batch % config.micro_batch:
        raise ConfigError(
            f"micro_batch {config.micro_batch} does not divide the {batch} rollouts of a step",
            hint="choose a micro batch that divides group_size x tasks_per_step",
        )
    accumulation = batch // config.micro_batch
    args = GRPOConfig(
        output_dir=str(config.out / "trainer"), max_steps=config.steps, learning_rate=config.learning_rate,
        per_device_train_batch_size=config.micro_batch, gradient_accumulation_steps=accumulation,
        num_generations=config.group_size, max_completion_length=config.max_tokens * config.max_turns,
        temperature=config.temperature, beta=config.beta, loss_type="grpo",
        importance_sampling_level="sequence" if config.gspo else "token",
        scale_rewards="group" if config.scale == "std" else "none", use_cpu=cpu, bf16=not cpu,
        gradient_checkpointing=False, report_to=[], save_strategy="no", logging_steps=1,
        seed=config.seed, disable_tqdm=True, use_vllm=config.vllm_server is not None, vllm_mode="server",
        vllm_server_base_url=config.vllm_server,
    )  # fmt: skip
    dataset = Dataset.from_dict({"prompt": [t.instance_id for t in tasks]})
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    trainer = CodekilnGRPOTrainer(
        model=model, reward_funcs=[codekiln_reward], args=args, train_dataset=dataset,
        processing_class=tokenizer, rollout_func=rollout, advantage_scale=config.scale,
        callbacks=[_LogCallback(on_log)] if on_log else None,
    )  # fmt: skip
    trainer.train()
    change = sum(
        float((p.detach() - before[n]).pow(2).sum()) for n, p in model.named_parameters() if n in before
    )
    model_dir = None
    if config.save_model:
        model_dir = config.out / "model"
        model.save_pretrained(str(model_dir), safe_serialization=True)
        tokenizer.save_pretrained(str(model_dir))
    rewards = [e.reward.value for e in rollout.episodes]
    return GRPOResult(
        steps=int(trainer.state.global_step), episodes=len(rollout.episodes), rewards=rewards,
        masked=sum(e.reward.masked for e in rollout.episodes), weight_change=change**0.5, model_dir=model_dir,
    )  # fmt: skip


__all__ = [
    "CodekilnGRPOTrainer",
    "CodekilnRollout",
    "GRPOResult",
    "GRPORunConfig",
    "codekiln_reward",
    "train_grpo",
]
