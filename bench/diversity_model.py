"""The template-diversity bench's model side: cheap fine-tuning and batched format-following eval.

    tuner = TopLayers(model, layers=6)          # only the top 6 blocks train; the rest stays frozen
    losses = tuner.train(rows, steps=32, batch=4, lr=3e-4, seed=0)
    tuner.reset()                               # back to the base weights (only the trained blocks)
    valid = follow_rate(model, "hermes", prompts, max_new_tokens=64, batch=8)   # [1, 0, ...] per prompt

CPU economies, each honest about what it changes:
- Only the top `layers` transformer blocks (and the final norm) are trained; embeddings (tied to the
  output head) and the lower blocks stay at the base weights, so no gradient flows below them.
- The output head runs only at the positions whose next token is an assistant token (the loss mask):
  the loss is the same mean cross-entropy over assistant tokens as a full forward would give.
- Eval decodes greedily a batch of prompts at once (left-padded, KV cache, stop strings of the format),
  then judges every output exactly like `codekiln.models.eval` does: the format's parser
  (`parse_message`) and `judge` (parses + valid call of an offered tool).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from codekiln.formats import get_format
from codekiln.models.base import ModelResponse, cut_at_stop, parse_message, stop_strings
from codekiln.models.eval import EvalPrompt, judge
from codekiln.models.transformers import TransformersModel

Row = tuple[list[int], list[int]]
"""(input_ids, loss_mask) of one rendered conversation."""


class TopLayers:
    """Fine-tunes the top `layers` blocks of `model.torch_model` in place; `reset` restores them."""

    def __init__(self, model: TransformersModel, layers: int) -> None:
        self.model = model
        net = model.torch_model
        blocks = net.model.layers
        self.layers = max(1, min(layers, len(blocks)))
        for p in net.parameters():
            p.requires_grad_(False)
        self.trainable = [*blocks[-self.layers :], net.model.norm]
        for module in self.trainable:
            for p in module.parameters():
                p.requires_grad_(True)
        self.base = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in self.trainable]

    def reset(self) -> None:
        for module, state in zip(self.trainable, self.base, strict=True):
            module.load_state_dict(state)

    def params(self) -> list[Any]:
        return [p for m in self.trainable for p in m.parameters()]

    def loss(self, batch: Sequence[Row]) -> Any:
        """Mean cross-entropy of the assistant tokens of `batch` (right-padded)."""
        torch, net = self.model.torch, self.model.torch_model
        width = max(len(ids) for ids, _ in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        attn = torch.zeros((len(batch), width), dtype=torch.long)
        target = torch.zeros((len(batch), width), dtype=torch.bool)
        for i, (row, mask) in enumerate(batch):
            ids[i, : len(row)] = torch.tensor(row)
            attn[i, : len(row)] = 1
            target[i, : len(row)] = torch.tensor([bool(m) for m in mask])
        hidden = net.model(input_ids=ids, attention_mask=attn).last_hidden_state
        # position t predicts token t+1: keep the positions whose next token is an assistant token
        where = target[:, 1:]
        logits = net.lm_head(hidden[:, :-1][where])
        return torch.nn.functional.cross_entropy(logits.float(), ids[:, 1:][where])

    def train(self, rows: Sequence[Row], *, steps: int, batch: int, lr: float, seed: int) -> list[float]:
        """AdamW over `rows` (shuffled per epoch, seeded), `steps` steps of `batch`; the per-step loss."""
        torch, net = self.model.torch, self.model.torch_model
        torch.manual_seed(seed)
        order: list[int] = []
        rng = random.Random(seed)
        params = self.params()
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        net.train()
        losses = []
        for _ in range(steps):
            while len(order) < batch:
                epoch = list(range(len(rows)))
                rng.shuffle(epoch)
                order += epoch
            picked, order = order[:batch], order[batch:]
            loss = self.loss([rows[i] for i in picked])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.item()))
        net.eval()
        return losses


def follow_rate(
    model: TransformersModel,
    fmt_name: str,
    prompts: Sequence[EvalPrompt],
    *,
    max_new_tokens: int,
    batch: int = 8,
) -> tuple[list[int], dict[str, int]]:
    """1/0 per prompt: does the greedy answer in `fmt_name` make a valid call of an offered tool?
    Also the failure reasons counted (parse_error, no_call, unknown_tool, bad_arguments)."""
    torch, net, hf = model.torch, model.torch_model, model.tokenizer.hf
    fmt = get_format(fmt_name)
    stops = stop_strings(fmt)
    pad = hf.pad_token_id if hf.pad_token_id is not None else hf.eos_token_id
    valid: list[int] = []
    reasons: dict[str, int] = {}
    for start in range(0, len(prompts), batch):
        group = prompts[start : start + batch]
        encoded = [model.tokenize(fmt.render_prompt(p.messages, p.tools)) for p in group]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(group), width), pad, dtype=torch.long)
        attn = torch.zeros((len(group), width), dtype=torch.long)
        for i, e in enumerate(encoded):  # left padding: every prompt ends where generation starts
            ids[i, width - len(e) :] = torch.tensor(e)
            attn[i, width - len(e) :] = 1
        with torch.no_grad():
            out = net.generate(
                input_ids=ids,
                attention_mask=attn,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
                eos_token_id=sorted(model.eos_ids),
                stop_strings=stops or None,
                tokenizer=hf,
            )
        for i, prompt in enumerate(group):
            new: list[int] = []
            for token in out[i, width:].tolist():  # an end-of-turn token ends the answer
                if token in model.eos_ids:
                    break
                new.append(token)
            text = cut_at_stop(model.detokenize(new), stops)
            message, error = parse_message(fmt, text, prompt.tools)
            reason, _ = judge(ModelResponse(text=text, message=message, parse_error=error), prompt.tools)
            valid.append(int(reason is None))
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
    return valid, reasons
