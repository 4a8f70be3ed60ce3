"""Conformance with the official chat templates: the same conversations rendered by a model family's own
Jinja template (tests/fixtures/templates, see SOURCE.md there) and by codekiln must be equal, up to the
deliberate differences listed per format in template_specs.py. Each difference says why codekiln departs, and the test
checks that every listed difference actually occurs, so the list cannot go stale.

Conversations: an agent episode (one user request, calls with code, nested JSON, a boolean and a null, two
parallel calls, results, a final answer), with and without a system message, with and without tools, as a
finished conversation and as a prompt for the next assistant turn, and the same episode followed by a
second user request and answer (history that templates rewrite: dropped reasoning, moved tool lists).
Families that reason are also checked with reasoning on every assistant turn.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from format_cases import TOOLS, assistant, call, trajectory
from official_templates import render_official
from template_specs import SPECS, Messages, Spec

from codekiln.formats import get_format


def _with_ids(msgs: Messages, ids: Callable[[str], str]) -> Messages:
    out = []
    for m in map(dict, msgs):
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "id": ids(c["id"])} for c in m["tool_calls"]]
        if "tool_call_id" in m:
            m["tool_call_id"] = ids(m["tool_call_id"])
        out.append(m)
    return out


def _conversations(spec: Spec) -> list[Messages]:
    out = []
    for system in (True, False):
        msgs = trajectory(system)
        for m in msgs:
            m.pop("reasoning_content", None)
        final = msgs.pop()  # a call with a boolean and a null before the final answer
        extra = assistant("", call("bash", command="git diff", background=True, note=None))
        msgs += [
            extra,
            {"role": "tool", "tool_call_id": extra["tool_calls"][0]["id"], "content": "diff"},
            final,
        ]
        if spec.follow_up:
            follow = [
                {"role": "user", "content": "Thanks. Run the whole suite."},
                assistant("All 12 tests pass."),
            ]
            out.append(_with_ids(msgs + follow, spec.call_ids) if spec.call_ids else msgs + follow)
        out.append(_with_ids(msgs, spec.call_ids) if spec.call_ids else msgs)
        if spec.reasoning:
            out.append(
                [
                    {**m, "reasoning_content": f"Step {i}."} if m["role"] == "assistant" else m
                    for i, m in enumerate(msgs)
                ]
            )
    return out


@pytest.mark.parametrize("spec", SPECS, ids=[s.format for s in SPECS])
def test_renders_as_the_official_template(spec: Spec) -> None:
    fmt = get_format(spec.format)
    context = dict(spec.context)
    if spec.format == "llama4_pythonic":  # its template lists tools only when they come as custom_tools
        context["custom_tools"] = TOOLS
    used: set[str] = set()
    for conversation in _conversations(spec):
        for tools in (TOOLS,) if spec.needs_tools else (TOOLS, None):
            for generation in (False, True):
                msgs = conversation[:-1] if generation else conversation
                ctx = {k: v for k, v in context.items() if tools or k != "custom_tools"}
                ctx |= spec.render
                expected = render_official(
                    spec.template, msgs, tools, add_generation_prompt=generation, **ctx
                )
                if spec.layout:
                    laid_out = expected
                    expected = render_official(
                        spec.template, msgs, tools, add_generation_prompt=generation, strip_layout=True, **ctx
                    )
                    used |= {spec.layout} if laid_out != expected else set()
                for diff in spec.differences:
                    changed = diff.apply(expected, msgs, generation)
                    used |= {diff.reason} if changed != expected else set()
                    expected = changed
                assert fmt.render_prompt(msgs, tools, add_generation_prompt=generation) == expected
    listed = {d.reason for d in spec.differences} | ({spec.layout} if spec.layout else set())
    assert used == listed, "a listed difference no longer occurs"


def test_hermes_template_recurses_on_a_type_list_under_plain_jinja() -> None:
    """Why the Hermes template is rendered with iterable_strings=False: Jinja2's `is iterable` is true for a
    string, so its type macro splits an unmapped type name ("null" in ["string", "null"]) into characters,
    each again a type name, forever. The template means a list of types there."""
    with pytest.raises(RecursionError):
        render_official(
            "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
            [{"role": "user", "content": "hi"}],
            TOOLS,
            bos_token="",
        )
