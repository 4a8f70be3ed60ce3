"""Model-written bugs without a sandbox: the prompts, each cheap rejection by name, near-duplicates, and
the model calls through the real `openai` backend against a stand-in server (slow, then down and back)."""

from __future__ import annotations

import ast
import textwrap
import time
from pathlib import Path

import pytest
from lm_support import FakeServer, fenced

from codekiln.core.diffs import parse_diff
from codekiln.core.errors import ConfigError, ModelError
from codekiln.core.patches import apply_file_patch
from codekiln.models import make_model
from codekiln.models.scripted import ScriptedModel
from codekiln.reports.results import EvalResult, summarize_results
from codekiln.tasks.frontend.entities import Entity, find_entities
from codekiln.tasks.frontend.lm import (
    LmCall,
    dedupe,
    judge,
    load_prompt,
    plan_requests,
    prompt_versions,
    run_requests,
)
from codekiln.tasks.records import TaskSource, source_of

MODULE = '''"""A small module."""
import math


def area(r):
    """The area of a circle of radius r."""
    return math.pi * r * r


class Box:
    """A box."""

    @staticmethod
    def clamp(x, lo=0, hi=10):
        """x, limited to [lo, hi]."""
        if x < lo:
            return lo
        if x > hi:
            return hi
        return x

    def size(self):
        return 3
'''
CLAMP_BUGGY = '''    @staticmethod
    def clamp(x, lo=0, hi=10):
        """x, limited to [lo, hi]."""
        if x <= lo:
            return lo
        if x > hi:
            return hi
        return x
'''


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Entity]:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "geo.py").write_text(MODULE)
    return {e.qualname: e for e in find_entities(tmp_path)}


def verdict(entity: Entity, raw: str, strategy: str = "lm_modify") -> tuple[str | None, str]:
    j = judge(strategy, entity, MODULE, raw)
    return (None if j.candidate else j.reason), j.detail


def test_a_good_bug_in_a_method_is_spliced_with_its_decorator_and_indentation(
    tree: dict[str, Entity],
) -> None:
    clamp = tree["Box.clamp"]
    raw = fenced(textwrap.dedent(CLAMP_BUGGY), "lo is now exclusive")  # the model wrote it dedented
    j = judge("lm_modify", clamp, MODULE, raw, seed=3)
    assert j.candidate is not None and j.reason is None
    assert j.explanation == "lo is now exclusive"
    assert j.candidate.mutators == ["lm_modify"] and j.candidate.entities == ["pkg/geo.py::Box.clamp"]
    new = apply_file_patch(MODULE, parse_diff(j.candidate.patch)[0])
    assert new == MODULE.replace("if x < lo:", "if x <= lo:")  # nothing else moved
    crlf = judge("lm_modify", clamp, MODULE, raw.replace("\n", "\r\n"), seed=3)
    assert crlf.candidate is not None and crlf.candidate.patch == j.candidate.patch  # Windows line ends
    assert source_of(j.candidate.mutators) is TaskSource.lm_modify
    assert source_of(["flip_comparison"]) is TaskSource.func_pm


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("I would rather not.", "no_code"),
        ("```python\ndef area(r:\n    return 1\n```", "unparsable"),
        ("```python\ndef volume(r):\n    return 1\n```", "no_function"),
        (
            fenced('def area(r, n=2):\n    """The area of a circle of radius r."""\n    return r'),
            "signature_changed",
        ),
        (
            fenced('async def area(r):\n    """The area of a circle of radius r."""\n    return r'),
            "signature_changed",
        ),
        (
            fenced(
                'def area(r):\n    """The area of a circle of radius r."""\n    return r\n\ndef size():\n    return 4'
            ),
            "touches_other_functions",
        ),
        (fenced("def area(r):\n    return math.pi * r"), "docstring_dropped"),
        (
            fenced('def area(r):\n    """The area, with a bug."""\n    return math.pi * r'),
            "docstring_changed",
        ),
        (
            fenced(
                'def area(r):\n    """The area of a circle of radius r."""\n    return (math.pi*r) * r  # tidy'
            ),
            "identical",
        ),
    ],
)
def test_each_cheap_rejection_has_its_name(tree: dict[str, Entity], raw: str, reason: str) -> None:
    assert verdict(tree["area"], raw)[0] == reason


def test_an_unchanged_copy_of_another_function_is_not_touching_it(tree: dict[str, Entity]) -> None:
    raw = fenced(
        'import math\n\ndef area(r):\n    """The area of a circle of radius r."""\n    return math.pi * r\n'
    )
    assert verdict(tree["area"], raw) == (None, "")
    wrapped = "class Box:\n" + textwrap.indent(
        textwrap.dedent(CLAMP_BUGGY), "    "
    )  # the model kept the class
    wrapped += "\n    def size(self):\n        return 3\n"
    assert verdict(tree["Box.clamp"], fenced(wrapped)) == (None, "")


def test_near_duplicates_of_the_same_function_are_dropped_in_order(tree: dict[str, Entity]) -> None:
    doc = '    """The area of a circle of radius r."""\n'
    one = fenced(f"def area(r):\n{doc}    half = r / 2\n    return math.pi * half * r\n")
    same = fenced(f"def area(r):\n{doc}    h = (r / 2)\n    return math.pi*h*r\n")  # renamed, reformatted
    other = fenced(f"def area(r):\n{doc}    return math.pi * r * 2\n")
    judged = [judge("lm_modify", tree["area"], MODULE, raw) for raw in (one, same, other)]
    assert all(j.candidate is not None for j in judged)
    dedupe(("area", j) for j in judged)
    assert [j.reason for j in judged] == [None, "near_duplicate", None]
    assert judged[0].candidate is not None and judged[0].candidate.id in judged[1].detail


def test_prompts_are_versioned_files_and_rewrite_hides_the_body(tree: dict[str, Entity]) -> None:
    assert prompt_versions("lm_modify") == ["lm_modify.v1"] and prompt_versions("lm_rewrite") == [
        "lm_rewrite.v1"
    ]
    clamp = tree["Box.clamp"]
    modify = load_prompt("lm_modify").messages(clamp, MODULE)[1]["content"]
    assert "if x < lo:" in modify and "class Box:" in modify and "import math" in modify
    rewrite = load_prompt("lm_rewrite").messages(clamp, MODULE)[1]["content"]
    shown = rewrite.rsplit("```python", 1)[1].split("```")[0]
    assert "if x < lo" not in shown and '"""x, limited to [lo, hi]."""' in shown and "@staticmethod" in shown
    ast.parse(textwrap.dedent(shown))  # what the model is shown is valid Python
    with pytest.raises(ConfigError, match=r"lm_modify\.v9"):
        load_prompt("lm_modify", "lm_modify.v9")


def test_each_call_records_prompt_version_raw_output_tokens_and_latency(
    tree: dict[str, Entity], tmp_path: Path
) -> None:
    requests = plan_requests(list(tree.values()), ["lm_modify"], seed=0, only=["area"])
    raw = fenced(
        'def area(r):\n    """The area of a circle of radius r."""\n    return math.pi * r\n',
        "dropped a factor",
    )
    calls: list[LmCall] = []
    made = run_requests(ScriptedModel([raw]), requests, tmp_path, on_call=calls.append, concurrency=1)
    assert made == 1 and len(calls) == 1
    call = calls[0]
    assert (call.key, call.prompt, call.raw, call.outcome) == (
        "lm_modify:pkg/geo.py::area:0",
        "lm_modify.v1",
        raw,
        "candidate",
    )
    assert call.prompt_tokens > 0 and call.completion_tokens > 0 and call.latency_s >= 0
    assert call.explanation == "dropped a factor" and call.model == "scripted"


def _area_answers(strategy: str, name: str) -> str:
    return fenced(f'def {name}(r):\n    """The area of a circle of radius r."""\n    return {strategy!r}\n')


def _many(tmp_path: Path, n: int) -> list[Entity]:
    """n functions like `area` in one file."""
    body = "".join(
        f'\n\ndef f{i}(r):\n    """The area of a circle of radius r."""\n    x = r * {i}\n    return x\n'
        for i in range(n)
    )
    (tmp_path / "many.py").write_text(body)
    return find_entities(tmp_path)


def test_a_slow_server_is_called_concurrently(tmp_path: Path) -> None:
    entities = _many(tmp_path, 8)
    requests = plan_requests(entities, ["lm_modify"], seed=0)
    server = FakeServer(_area_answers, delay=0.4)
    with server.running():
        model = make_model(f"openai:fake@{server.url}")
        calls: list[LmCall] = []
        start = time.monotonic()
        run_requests(model, requests, tmp_path, on_call=calls.append, concurrency=4)
        elapsed = time.monotonic() - start
    assert sorted(c.key for c in calls) == sorted(r.key for r in requests)
    assert server.max_inflight == 4  # never more than asked for, and the server saw them overlap
    assert elapsed < 8 * 0.4  # faster than one at a time
    assert all(c.latency_s >= 0.4 and c.completion_tokens > 0 for c in calls)
    assert {c.outcome for c in calls} == {"candidate"}


def test_a_server_down_mid_run_stops_it_and_a_rerun_makes_only_the_missing_calls(tmp_path: Path) -> None:
    entities = _many(tmp_path, 6)
    requests = plan_requests(entities, ["lm_modify"], seed=0)
    server = FakeServer(_area_answers, up_for=3)
    calls: dict[str, LmCall] = {}
    with server.running():
        model = make_model(f"openai:fake@{server.url}", retries=1, backoff=0.01)
        with pytest.raises(ModelError, match=r"cannot reach http://127\.0\.0\.1:\d+/v1/chat/completions"):
            run_requests(
                model, requests, tmp_path, on_call=lambda c: calls.setdefault(c.key, c), concurrency=2
            )
        assert 3 <= len(calls) == len(server.answered) < 6  # what finished before it went down is kept
        server.up_for = None  # back up
        missing = [r for r in requests if r.key not in calls]
        run_requests(model, missing, tmp_path, on_call=lambda c: calls.setdefault(c.key, c), concurrency=2)
    assert sorted(calls) == sorted(r.key for r in requests)
    assert len(server.answered) == 6  # no call was made twice


def test_resolve_rates_break_down_by_strategy() -> None:
    rows = [
        EvalResult(instance_id="a", model="m", outcome="resolved", resolved=True, strategy="lm_modify"),
        EvalResult(instance_id="b", model="m", outcome="unresolved", strategy="lm_modify"),
        EvalResult(instance_id="c", model="m", outcome="resolved", resolved=True, strategy="func_pm"),
    ]
    by = summarize_results(rows, "predictions").breakdowns["strategy"]
    assert (by["lm_modify"].rate, by["func_pm"].rate) == (0.5, 1.0)
    assert source_of(["lm_rewrite", "flip_comparison"]) is TaskSource.combined
