"""The template-diversity bench's model side: cheap fine-tuning and batched format-following eval.

    tuner = TopLayers(model, layers=6)          # only the top 6 blocks train; the rest stays frozen
    losses = tuner.train(rows, steps=32, batch=4, lr=3e-4, seed=0)
    tuner.reset()                               # back to the base weights (only the trained blocks)
    valid = follow_rate(model, "hermes", prompts, max_new_tokens=64, batch=8)   # [1, 0, ...] per prompt
    frozen = FrozenPrefix(tuner, rows)          # the frozen blocks' output for these rows, computed once
    nll = frozen.nll()                          # nats per assistant token, one per row, current weights

CPU economies, each honest about what it changes:
- Only the top `layers` transformer blocks (and the final norm) are trained; embeddings (tied to the
  output head) and the lower blocks stay at the base weights, so no gradient flows below them.
- The output head runs only at the positions whose next token is an assistant token (the loss mask):
  the loss is the same mean cross-entropy over assistant tokens as a full forward would give.
- Eval decodes greedily a batch of prompts at once (left-padded, KV cache, stop strings of the format),
  then judges every output exactly like `codekiln.models.eval` does: the format's parser
  (`parse_message`) and `judge` (parses + valid call of an offered tool).
- The teacher-forced score (`FrozenPrefix.nll`) runs the frozen lower blocks once per eval row and
  keeps what enters the first trained block (its hidden states and the exact keyword arguments the
  model passed it, caught by a forward pre-hook); each fine-tune then runs only the trained blocks.
  The result equals a full forward's: the lower blocks' weights never change.
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
        ids, attn, where = _padded(torch, batch)
        hidden = net.model(input_ids=ids, attention_mask=attn).last_hidden_state
        # position t predicts token t+1: keep the positions whose next token is an assistant token
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


def _padded(torch: Any, batch: Sequence[Row]) -> tuple[Any, Any, Any]:
    """Right-padded ids, attention mask and the positions whose next token is an assistant token."""
    width = max(len(ids) for ids, _ in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    attn = torch.zeros((len(batch), width), dtype=torch.long)
    target = torch.zeros((len(batch), width), dtype=torch.bool)
    for i, (row, mask) in enumerate(batch):
        ids[i, : len(row)] = torch.tensor(row)
        attn[i, : len(row)] = 1
        target[i, : len(row)] = torch.tensor([bool(m) for m in mask])
    return ids, attn, target[:, 1:]


class FrozenPrefix:
    """Eval rows run once through the frozen blocks; `nll` then scores them under the current
    trained blocks: the mean cross-entropy of each row's assistant tokens (the right call, written in
    the row's format), teacher-forced. Lower means the model expects that format's call more."""

    def __init__(self, tuner: TopLayers, rows: Sequence[Row], *, batch: int = 8) -> None:
        self.tuner = tuner
        torch, net = tuner.model.torch, tuner.model.torch_model
        first = net.model.layers[len(net.model.layers) - tuner.layers]
        caught: list[tuple[Any, dict[str, Any]]] = []

        def catch(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            caught.append((args[0] if args else kwargs["hidden_states"], dict(kwargs)))
            raise _Caught

        self.batches: list[tuple[Any, dict[str, Any], Any, Any]] = []
        hook = first.register_forward_pre_hook(catch, with_kwargs=True)
        try:
            for start in range(0, len(rows), batch):
                ids, attn, where = _padded(torch, rows[start : start + batch])
                caught.clear()
                with torch.no_grad():
                    try:
                        net.model(input_ids=ids, attention_mask=attn, use_cache=False)
                    except _Caught:
                        pass
                hidden, kwargs = caught[0]
                kwargs.pop("hidden_states", None)
                self.batches.append((hidden, kwargs, ids[:, 1:][where], where))
        finally:
            hook.remove()

    def nll(self) -> list[float]:
        torch, net = self.tuner.model.torch, self.tuner.model.torch_model
        top = net.model.layers[len(net.model.layers) - self.tuner.layers :]
        out: list[float] = []
        with torch.no_grad():
            for hidden, kwargs, targets, where in self.batches:
                h = hidden
                for layer in top:
                    h = layer(h, **kwargs)
                h = net.model.norm(h)
                logits = net.lm_head(h[:, :-1][where])
                ce = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="none")
                row_of = where.nonzero()[:, 0]
                sums = torch.zeros(where.shape[0]).index_add_(0, row_of, ce)
                counts = where.sum(dim=1).clamp(min=1)
                out += (sums / counts).tolist()
        return out


class _Caught(Exception):
    """Stops the frozen pass at the first trained block, once its inputs are caught."""
