"""GRPO that a 135M model can learn on a CPU: the reward is format following, the easiest tier of prompts.

    prompts = easy_prompts()                                   # 27 requests, each after a demonstrated call
    train, heldout = split_prompts(prompts)                    # every 4th request held out of training
    format_reward(response, prompt.tools)                      # 1.0 valid call ... 0.0 no call attempted
    run_format_grpo(FormatGRPOConfig(out=Path("runs/fmt"), steps=40), on_step=print)

Why this task: on codekiln's coding tasks the embedded SmolLM2-135M never resolves anything, so every
group's rewards are equal and GRPO has no signal. Format following (the metric of `codekiln.models.eval`)
is a skill it sometimes has: with one demonstrated call in the history (a previous request, the
assistant's tool call rendered in the chat format, its result) it copies the format a fair share of the
time, so the rewards of a group differ and the group-relative advantage is not zero.

The easy tier: each single-turn prompt shipped with the format eval (`data/format_eval.json`), offering
only its first tool (the one the request needs), preceded by a demonstration of that tool (`DEMOS`).

The reward grades `models.eval.judge`'s verdict: 1.0 a valid call of the offered tool, 0.5 a call that
parses but names another tool or has wrong arguments, 0.25 an attempt the format's parser rejects, 0.0
no call at all (prose). A completion cut at the token budget is judged as it stands.
Limit, measured (README, `bench/grpo_curve.py`): the 135M model climbs to the 0.25 rung by answering
`[{}]` in xlam_qwen, an attempt with no tool name, and stops there; the rung does not yet require one.

Training uses TRL's GRPOTrainer through `grpo.CodekilnGRPOTrainer` (codekiln's group advantages): the
rollout function samples each completion with `policy.PolicyModel` (the token ids the model sampled,
never re-tokenized) from the same torch model the trainer updates. After every optimizer step one
`StepRow` (rewards, group baselines, advantage spread) is appended to `OUT/steps.jsonl`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from codekiln.core.errors import ConfigError
from codekiln.core.records import Record, append_jsonl
from codekiln.formats import get_format
from codekiln.models import ModelResponse
from codekiln.models.eval import EvalPrompt, judge, load_prompts
from codekiln.training.grpo import group_advantages

# One demonstration per tool: (a request, the call that answers it, the tool's output).
DEMOS: dict[str, tuple[str, dict[str, Any], str]] = {
    "bash": ("Show the current directory.", {"command": "pwd"}, "/testbed"),
    "read_file": ("Open the README.", {"path": "README.md"}, "# toolz\nA functional standard library."),
    "write_file": ("Create an empty notes.txt.", {"path": "notes.txt", "content": ""}, "wrote 0 bytes"),
    "edit_file": (
        "Rename the variable tmp to total in app.py.",
        {"path": "app.py", "old_text": "tmp", "new_text": "total"},
        "1 replacement",
    ),
    "search": ("Where is parse_args used?", {"pattern": "parse_args"}, "cli.py:12: args = parse_args()"),
    "find_files": ("List the YAML files.", {"glob": "**/*.yaml"}, "config.yaml"),
    "run_tests": ("Run the test suite.", {}, "12 passed"),
    "python": ("What is 2 ** 10?", {"code": "print(2 ** 10)"}, "1024"),
    "str_replace_editor": (
        "Show setup.py.",
        {"command": "view", "path": "setup.py"},
        "from setuptools import setup\nsetup()",
    ),
    "submit": ("You are done; submit.", {"summary": "done"}, "submitted"),
}
LEVELS = {None: 1.0, "bad_arguments": 0.5, "unknown_tool": 0.5, "parse_error": 0.25, "no_call": 0.0}
OPENER_CREDIT = 0.2


def demonstrated(prompt: EvalPrompt) -> EvalPrompt:
    """`prompt` offering only its first tool, after one demonstrated call of that tool."""
    tool = prompt.tools[0]
    name = tool["function"]["name"]
    request, arguments, result = DEMOS[name]
    call = {
        "id": "call_0",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    system, *rest = prompt.messages
    demo: list[dict[str, Any]] = [
        {"role": "user", "content": request},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_0", "name": name, "content": result},
    ]
    return EvalPrompt(prompt.id, [system, *demo, *rest], [tool])


def easy_prompts() -> list[EvalPrompt]:
    """The easy tier: every single-turn eval prompt, demonstrated (see the module docstring)."""
    return [demonstrated(p) for p in load_prompts() if len(p.messages) == 2]


def split_prompts(prompts: Sequence[EvalPrompt], every: int = 4) -> tuple[list[EvalPrompt], list[EvalPrompt]]:
    """(train, held out): every `every`-th prompt, starting with the second, is held out of training."""
    held = [p for i, p in enumerate(prompts) if i % every == 1]
    return [p for p in prompts if p not in held], held


def call_opener(prompt: EvalPrompt, fmt: str) -> str:
    """How the format starts a call, as the prompt's demonstration writes it: the demonstrated assistant
    turn's text up to the called tool's name (e.g. xlam_qwen's `[{"name": "`)."""
    name = prompt.tools[0]["function"]["name"]
    segments = get_format(fmt).segments(prompt.messages[:3], prompt.tools)
    turn = next((s.text for s in segments if s.trainable), "")
    return turn[: turn.find(name)].lstrip() if name in turn else ""


def opener_share(text: str, opener: str) -> float:
    """The share of `opener` whose longest leading part occurs somewhere in `text` (`[{"` of
    `[{"name": "` gives 3/11): a dense signal while the model still writes prose around its attempts."""
    n = 0
    while n < len(opener) and opener[: n + 1] in text:
        n += 1
    return n / len(opener) if opener else 0.0


def format_reward(response: ModelResponse, tools: Sequence[dict[str, Any]], opener: str = "") -> float:
    """The graded verdict on one completion (see `LEVELS`). With an `opener`, the parse_error rung needs
    the format's call opening followed by an offered tool's name; a completion with no call attempt, or
    one short of that, earns up to `OPENER_CREDIT` for writing the way the format starts a call
    (`opener`, see `opener_share`)."""
    reason, _ = judge(response, tools)
    names = [t["function"]["name"] for t in tools]
    attempt = reason == "parse_error" and (
        not opener or any(opener + name in response.text for name in names)
    )
    if opener and (reason == "no_call" or (reason == "parse_error" and not attempt)):
        # No call, or a broken one that does not even open a call of an offered tool (`[{}]` would
        # otherwise earn the parse_error rung for nothing: the first run's policy learned just that).
        return round(OPENER_CREDIT * opener_share(response.text, opener), 4)
    return LEVELS.get(reason, 0.0)


class StepRow(Record):
    """One optimizer step's rollouts: rewards per group, each group's baseline and the advantage spread."""

    schema_version: int = 1
    step: int
    prompts: list[str]
    rewards: list[float]
    mean_reward: float
    valid_rate: float
    baselines: list[float]
    """Each group's mean reward (the GRPO baseline its samples are compared with)."""
    adv_std: float
    adv_min: float
    adv_max: float
    zero_signal_groups: int
    """Groups whose samples all scored the same (no gradient from them)."""
    completion_tokens: float
    duration_s: float


def step_row(
    step: int, prompt_ids: Sequence[str], rewards: Sequence[float], tokens: float, duration_s: float
) -> StepRow:
    """The row of one step, its advantages computed as the trainer does (`grpo.group_advantages`)."""
    advantages = group_advantages(list(rewards), list(prompt_ids))
    groups: dict[str, list[float]] = {}
    for key, r in zip(prompt_ids, rewards, strict=True):
        groups.setdefault(key, []).append(r)
    mean_adv = sum(advantages) / len(advantages)
    return StepRow(
        step=step, prompts=list(groups), rewards=list(rewards), mean_reward=sum(rewards) / len(rewards),
        valid_rate=sum(r == 1.0 for r in rewards) / len(rewards),
        baselines=[sum(v) / len(v) for v in groups.values()],
        adv_std=math.sqrt(sum((a - mean_adv) ** 2 for a in advantages) / len(advantages)),
        adv_min=min(advantages), adv_max=max(advantages),
        zero_signal_groups=sum(len(set(v)) == 1 for v in groups.values()),
        completion_tokens=tokens, duration_s=round(duration_s, 3),
    )  # fmt: skip


class FormatGRPOConfig(BaseModel):
    """One format-following GRPO run."""

    out: Path = Field(description="output directory: steps.jsonl, heldout.jsonl, summary.json")
    model: str = Field(default="embedded-torch", description="embedded-torch or a HF model directory")
    format: str = Field(default="hermes", description="chat format of prompts and completions")
    steps: int = Field(default=40, ge=1, description="optimizer steps")
    group_size: int = Field(default=4, ge=2, description="completions per prompt (one GRPO group)")
    prompts_per_step: int = Field(default=1, ge=1, description="groups per optimizer step")
    max_tokens: int = Field(default=40, ge=1, description="tokens sampled per completion")
    temperature: float = Field(default=1.0, gt=0.0, description="sampling temperature")
    learning_rate: float = Field(default=3e-5, gt=0.0, description="AdamW learning rate")
    heldout_samples: int = Field(default=4, ge=1, description="samples per held-out prompt, before and after")
    heldout_limit: int | None = Field(
        default=None, ge=1, description="score only the first N held-out prompts"
    )
    seed: int = Field(default=0, description="seed of sampling, prompt order and initialization")
    device: str | None = Field(default=None, description="torch device (default: cuda if present, else cpu)")
    threads: int | None = Field(
        default=None, ge=1, description="torch CPU threads (1 is several times faster on a busy machine)"
    )


OnStep = Callable[[StepRow], None]


class FormatRollout:
    """TRL `rollout_func`: one sampled completion per prompt id, judged by `format_reward`."""

    def __init__(
        self, config: FormatGRPOConfig, prompts: Sequence[EvalPrompt], policy: Any, on_step: OnStep | None
    ):
        self.config, self.policy, self.on_step = config, policy, on_step
        self.prompts = {p.id: p for p in prompts}
        self.step, self.sampled = 0, 0

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        start = time.monotonic()
        model = trainer.accelerator.unwrap_model(trainer.model)
        was_training = model.training
        model.eval()
        keys = ("prompt_ids", "completion_ids", "logprobs", "env_mask", "codekiln_reward", "codekiln_masked",
                "codekiln_penalties", "codekiln_group")  # fmt: skip
        out: dict[str, list[Any]] = {k: [] for k in keys}
        eos = int(trainer.processing_class.eos_token_id)
        try:
            for pid in prompts:
                prompt = self.prompts[str(pid)]
                self.policy.seed = self.config.seed * 1_000_003 + self.sampled
                self.sampled += 1
                response = self.policy.chat(prompt.messages, prompt.tools)
                completion = list(response.completion_ids or []) or [eos]
                out["prompt_ids"].append(list(response.prompt_ids or []))
                out["completion_ids"].append(completion)
                out["logprobs"].append(list(response.logprobs or [0.0]))
                out["env_mask"].append([1] * len(completion))
                opener = call_opener(prompt, self.config.format)
                out["codekiln_reward"].append(format_reward(response, prompt.tools, opener))
                out["codekiln_masked"].append(False)
                out["codekiln_penalties"].append([])
                out["codekiln_group"].append(prompt.id)
        finally:
            model.train(was_training)
        self.step += 1
        tokens = sum(len(c) for c in out["completion_ids"]) / len(out["completion_ids"])
        row = step_row(
            self.step, out["codekiln_group"], out["codekiln_reward"], tokens, time.monotonic() - start
        )
        append_jsonl(self.config.out / "steps.jsonl", [row])
        if self.on_step:
            self.on_step(row)
        return out


class HeldoutRow(Record):
    """One held-out prompt sampled once, before or after training."""

    schema_version: int = 1
    phase: str
    prompt: str
    sample: int
    reward: float
    reason: str | None = None
    text: str = ""


def score_heldout(
    policy: Any, prompts: Sequence[EvalPrompt], samples: int, phase: str, seed: int, fmt: str
) -> list[HeldoutRow]:
    """Each prompt sampled `samples` times with fixed seeds (the same seeds before and after training)."""
    rows = []
    for prompt in prompts:
        for k in range(samples):
            response = policy.chat(prompt.messages, prompt.tools, seed=seed * 7919 + k)
            reason, _ = judge(response, prompt.tools)
            reward = format_reward(response, prompt.tools, call_opener(prompt, fmt))
            rows.append(HeldoutRow(phase=phase, prompt=prompt.id, sample=k, reward=reward, reason=reason,
                                   text=response.text[:400]))  # fmt: skip
    return rows


class FormatGRPOResult(BaseModel):
    """What `run_format_grpo` wrote to OUT/summary.json."""

    config: dict[str, Any]
    steps: int
    train_prompts: int
    heldout_prompts: int
    heldout_before: float
    heldout_after: float
    weight_change: float
    duration_s: float


def _mean(rows: Sequence[HeldoutRow]) -> float:
    return sum(r.reward for r in rows) / len(rows) if rows else 0.0


def run_format_grpo(config: FormatGRPOConfig, *, on_step: OnStep | None = None) -> FormatGRPOResult:
    """Held-out score, `config.steps` GRPO steps on the training prompts, held-out score again.

    Writes OUT/steps.jsonl (one `StepRow` per step, appended as it is made), OUT/heldout.jsonl and
    OUT/summary.json. A rerun starts over: it refuses an OUT that already has steps (use a new OUT)."""
    from datasets import Dataset
    from trl import GRPOConfig

    from codekiln.training.trl_env import (
        CodekilnGRPOTrainer,
        GRPORunConfig,
        codekiln_reward,
        load_backend,
        make_trainable,
        torch,
    )

    start = time.monotonic()
    if (config.out / "steps.jsonl").exists():
        raise ConfigError(f"{config.out} already holds a run", hint="give --out a new directory")
    config.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    backend = load_backend(GRPORunConfig(tasks=config.out, out=config.out, model=config.model,
                                         format=config.format, max_tokens=config.max_tokens,
                                         temperature=config.temperature))  # fmt: skip
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    backend.device = device
    model = make_trainable(backend.torch_model.to(device))
    from codekiln.training.policy import PolicyModel

    policy = PolicyModel(
        backend, max_tokens=config.max_tokens, temperature=config.temperature, seed=config.seed
    )
    train, heldout = split_prompts(easy_prompts())
    heldout = heldout[: config.heldout_limit]
    before = score_heldout(policy, heldout, config.heldout_samples, "before", config.seed, config.format)
    append_jsonl(config.out / "heldout.jsonl", before)
    rollout = FormatRollout(config, train, policy, on_step)
    batch = config.group_size * config.prompts_per_step
    cpu = device == "cpu"
    args = GRPOConfig(
        output_dir=str(config.out / "trainer"), max_steps=config.steps, learning_rate=config.learning_rate,
        per_device_train_batch_size=batch, gradient_accumulation_steps=1, num_generations=config.group_size,
        max_completion_length=config.max_tokens, temperature=config.temperature, beta=0.0, loss_type="grpo",
        scale_rewards="group", use_cpu=cpu, bf16=False, gradient_checkpointing=False, report_to=[],
        save_strategy="no", logging_steps=1, seed=config.seed, disable_tqdm=True, lr_scheduler_type="constant",
    )  # fmt: skip
    dataset = Dataset.from_dict({"prompt": [p.id for p in train]})
    params = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    trainer = CodekilnGRPOTrainer(
        model=model, reward_funcs=[codekiln_reward], args=args, train_dataset=dataset,
        processing_class=backend.tokenizer.hf, rollout_func=rollout,
    )  # fmt: skip
    trainer.train()
    change = sum(
        float((p.detach() - params[n]).pow(2).sum()) for n, p in model.named_parameters() if n in params
    )
    after = score_heldout(policy, heldout, config.heldout_samples, "after", config.seed, config.format)
    append_jsonl(config.out / "heldout.jsonl", after)
    result = FormatGRPOResult(
        config=config.model_dump(mode="json"), steps=int(trainer.state.global_step), train_prompts=len(train),
        heldout_prompts=len(heldout), heldout_before=_mean(before), heldout_after=_mean(after),
        weight_change=change**0.5, duration_s=round(time.monotonic() - start, 1),
    )  # fmt: skip
    (config.out / "summary.json").write_text(result.model_dump_json(indent=2))
    return result


__all__ = [
    "DEMOS",
    "LEVELS",
    "OPENER_CREDIT",
    "FormatGRPOConfig",
    "FormatGRPOResult",
    "FormatRollout",
    "HeldoutRow",
    "StepRow",
    "call_opener",
    "demonstrated",
    "easy_prompts",
    "format_reward",
    "opener_share",
    "run_format_grpo",
    "score_heldout",
    "split_prompts",
    "step_row",
]
