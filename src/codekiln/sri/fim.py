"""The same problems in fill-in-the-middle form: prefix, suffix and middle in a model family's FIM tokens.

    fim = FIM_FAMILIES["qwen"]
    prompt = fim.prompt(prefix, suffix)        # "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
    middle = fim.middle(model_output, suffix)  # the completion cut at the family's stop tokens
    fim.training_text(prefix, middle, suffix)  # prompt + middle + end token: one FIM training example

Families (tokens as in each family's tokenizer_config / reference code):

    starcoder   <fim_prefix>P<fim_suffix>S<fim_middle>M<|endoftext|>     StarCoder 1/2 (PSM)
    qwen        <|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>M<|endoftext|>  Qwen2.5-Coder, Qwen3-Coder
    deepseek    <｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>M<｜end▁of▁sentence｜>  DeepSeek-Coder, V2, V3
    codestral   [SUFFIX]S[PREFIX]PM</s>                                   Codestral / Mistral (SPM)
    prefix      PM                                                        no FIM tokens: left to right

`family_for_format` maps codekiln's chat formats to their family. SmolLM2-135M (the embedded model) has
no FIM tokens in its vocabulary (`<fim_prefix>` is six ordinary pieces), so its family is `prefix`: the
model continues the prefix and `middle` keeps what fits the hole (one line for a middle inside a line;
for whole lines, up to the first line that dedents below the first one or repeats the suffix's first line).
"""

from __future__ import annotations

from dataclasses import dataclass

from codekiln.core.errors import ConfigError


@dataclass(frozen=True)
class FimFamily:
    """One family's FIM framing. `spm` puts the suffix first (suffix-prefix-middle)."""

    name: str
    prefix_token: str
    suffix_token: str
    middle_token: str
    end: tuple[str, ...]
    """Strings that end a middle: the end-of-text token and the family's other FIM/file tokens."""
    spm: bool = False
    models: str = ""

    def prompt(self, prefix: str, suffix: str) -> str:
        if not self.prefix_token:
            return prefix
        if self.spm:
            return f"{self.suffix_token}{suffix}{self.prefix_token}{prefix}{self.middle_token}"
        return f"{self.prefix_token}{prefix}{self.suffix_token}{suffix}{self.middle_token}"

    def training_text(self, prefix: str, middle: str, suffix: str) -> str:
        """One FIM training example: the prompt, the middle, the end-of-text token."""
        return self.prompt(prefix, suffix) + middle + (self.end[0] if self.end else "")

    def middle(self, output: str, suffix: str, *, inline: bool = False) -> str:
        """The middle a completion gives: cut at the first end string; for the `prefix` family (no
        suffix seen) cut where the hole ends (see the module docstring)."""
        cut = min((i for i in (output.find(s) for s in self.end) if i >= 0), default=len(output))
        text = output[:cut]
        if self.prefix_token:
            return text
        return _fit_hole(text, suffix, inline=inline)


def _fit_hole(text: str, suffix: str, *, inline: bool) -> str:
    if inline:
        return text.split("\n", 1)[0]
    lines = text.split("\n")
    following = next((s.strip() for s in suffix.split("\n") if s.strip()), None)
    first = next((line for line in lines if line.strip()), "")
    indent = len(first) - len(first.lstrip())
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped and (len(line) - len(line.lstrip()) < indent or stripped == following):
            break
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + "\n" if kept else ""


FIM_FAMILIES: dict[str, FimFamily] = {
    "starcoder": FimFamily(
        "starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", ("<|endoftext|>", "<file_sep>"),
        models="StarCoder, StarCoder2",
    ),
    "qwen": FimFamily(
        "qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
        ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"),
        models="Qwen2.5-Coder, Qwen3-Coder",
    ),
    "deepseek": FimFamily(
        "deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", ("<｜end▁of▁sentence｜>", "<|EOT|>"),
        models="DeepSeek-Coder, DeepSeek-V2/V3",
    ),
    "codestral": FimFamily(
        "codestral", "[PREFIX]", "[SUFFIX]", "", ("</s>",), spm=True, models="Codestral"
    ),
    "prefix": FimFamily("prefix", "", "", "", (), models="any model without FIM tokens (SmolLM2)"),
}  # fmt: skip
"""Family name -> its FIM framing."""

_FORMAT_FAMILY = {
    "qwen3_coder": "qwen",
    "qwen3_xml_mixed": "qwen",
    "qwen25_coder": "qwen",
    "deepseekv3": "deepseek",
    "deepseekv31": "deepseek",
    "deepseekv32": "deepseek",
    "mistral3": "codestral",
}


def get_family(name: str) -> FimFamily:
    try:
        return FIM_FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown FIM family {name!r}", hint=f"use one of {', '.join(FIM_FAMILIES)}"
        ) from None


def family_for_format(format_name: str | None, model_name: str = "") -> FimFamily:
    """The FIM family of a model served with the codekiln chat format `format_name`: `prefix` for the
    embedded SmolLM2 and for families without FIM tokens."""
    if model_name in ("embedded", "transformers"):
        return FIM_FAMILIES["prefix"]
    return FIM_FAMILIES[_FORMAT_FAMILY.get(format_name or "", "prefix")]
