"""`sri make` and `sri eval` on real toolz 1.2.0: samples from covered code, SFT rows with loss masks,
execution scoring of SRI and FIM answers in bwrap sandboxes, and both forms through the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.sri import app
from codekiln.core.errors import ConfigError
from codekiln.core.patches import apply_diff
from codekiln.core.records import iter_jsonl
from codekiln.sri import MakeConfig, SriSample, apply_block, evaluate_samples, make_samples, render_block
from codekiln.sri.data import FIM_ROWS, SAMPLES, TEST, TRAIN
from codekiln.sri.fim import get_family
from codekiln.sri.midtrain import buggy_files, diff_blocks, export_task_rows
from codekiln.testing import recorded_tasks
from codekiln.training import load_tokenizer

TOOLZ = "pypi:toolz==1.2.0"
RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "toolz-1.2.0.tasks.jsonl"
pytestmark = pytest.mark.root  # the environment, coverage map and test runs use bwrap sandboxes


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("sri") / "toolz"
    config = MakeConfig(spec=TOOLZ, out=out, per_kind=3, corrupt=0.5, tokenizer="byte", seed=1)
    return out, make_samples(config)


def samples(out: Path) -> list[SriSample]:
    return [SriSample.model_validate(row) for row in iter_jsonl(out / SAMPLES)]


def test_make_draws_covered_spans_of_every_kind_split_by_file(made: tuple[Path, dict[str, object]]) -> None:
    out, report = made
    got = samples(out)
    assert report["samples"] == len(got) == 15
    assert report["per_kind"] == {
        k: 3 for k in ("line", "block", "control_flow", "api_call", "function_body")
    }
    assert 0 < report["corrupted"] == sum(1 for s in got if s.corruption) < 15  # type: ignore[operator]
    assert all(s.tests and s.repo == "toolz" and not s.path.startswith("toolz/tests") for s in got)
    train = {s.path for s in got if s.split == "train"}
    test = {s.path for s in got if s.split == "test"}
    assert train and test and not train & test  # whole files go to one split
    for s in got:
        problem = s.problem()
        problem.check()
        assert s.text[s.start : s.end] == problem.middle
        assert problem.gold_file() == s.text


def test_sft_rows_mask_exactly_the_answer(made: tuple[Path, dict[str, object]]) -> None:
    out, _ = made
    by_id = {s.id: s for s in samples(out)}
    splits = {TRAIN: "train", TEST: "test"}
    rows = [(splits[name], row) for name in splits for row in iter_jsonl(out / name)]
    assert sorted(r["episode_id"] for _, r in rows) == sorted(by_id)
    tok = load_tokenizer("byte")
    assert tok is not None
    for split, row in rows:
        sample = by_id[row["episode_id"]]
        assert sample.split == split and row["format"] == "qwen3_coder"
        learned = tok.decode([i for i, m in zip(row["input_ids"], row["loss_mask"], strict=True) if m])
        assert learned == sample.problem().gold_answer() + "<|im_end|>"  # the answer and its end of turn
    fim_rows = list(iter_jsonl(out / FIM_ROWS))
    assert sorted(r["sample_id"] for r in fim_rows) == sorted(by_id)
    for row in fim_rows:
        sample = by_id[row["sample_id"]]
        prefix, suffix = sample.view().fim_parts()
        assert (
            row["text"]
            == f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>{sample.problem().middle}<|endoftext|>"
        )
        learned = tok.decode([i for i, m in zip(row["input_ids"], row["loss_mask"], strict=True) if m])
        assert learned == sample.problem().middle + "<|endoftext|>" and row["split"] == sample.split


def test_make_resumes_and_refuses_other_options(made: tuple[Path, dict[str, object]]) -> None:
    out, report = made
    again = make_samples(MakeConfig(spec=TOOLZ, out=out, per_kind=3, corrupt=0.5, tokenizer="byte", seed=1))
    assert again == report and len(samples(out)) == 15
    with pytest.raises(ConfigError, match="per_kind"):
        make_samples(MakeConfig(spec=TOOLZ, out=out, per_kind=4, corrupt=0.5, tokenizer="byte", seed=1))


def wrong_answer(sample: SriSample) -> str:
    """The window with the middle replaced by code that raises: the covering tests must fail."""
    problem = sample.problem()
    window = problem.window_text()
    indent = problem.middle[: len(problem.middle) - len(problem.middle.lstrip())]
    broken = window.replace(problem.marker_text(), f"{indent}raise AssertionError('planted')\n")
    return render_block(window, broken)


def test_execution_scores_real_answers(made: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    out, _ = made
    got = samples(out)
    body = next(s for s in got if s.kind == "function_body" and not s.corruption)
    bad = next(s for s in got if s.corruption)
    chosen = [body, body.model_copy(update={"id": "planted"}), bad]
    file = tmp_path / "chosen.jsonl"
    file.write_text("".join(s.model_dump_json() + "\n" for s in chosen))
    fim = get_family("qwen")
    outputs = [
        body.problem().gold_answer(), body.problem().middle + "<|endoftext|>",  # both right
        wrong_answer(body), "    return None\n<|endoftext|>",  # both wrong
        render_block("no such lines", "x"), bad.problem().middle,  # SRI does not apply; FIM cannot repair
    ]  # fmt: skip
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(outputs))
    summary = evaluate_samples(file, tmp_path / "eval", model=f"scripted:{script}", split="all", fim=fim.name)
    rows = {(r["sample_id"], r["mode"]): r for r in iter_jsonl(tmp_path / "eval" / "results.jsonl")}
    right_sri, right_fim = rows[(body.id, "sri")], rows[(body.id, "fim")]
    assert (right_sri["outcome"], right_sri["exact"], right_sri["passed"]) == ("exact", True, True)
    assert (right_fim["exact"], right_fim["passed"]) == (True, True)
    planted = rows[("planted", "sri")]
    assert (planted["applied"], planted["exact"], planted["passed"]) == (True, False, False)
    assert planted["failed_tests"] and set(planted["failed_tests"]) <= set(body.tests)
    assert rows[("planted", "fim")]["passed"] is False
    assert rows[(bad.id, "sri")]["outcome"] == "not_found" and rows[(bad.id, "sri")]["passed"] is False
    bad_fim = rows[(bad.id, "fim")]
    assert (bad_fim["repaired"], bad_fim["exact"]) == (False, False)
    assert summary["modes"]["sri"]["all"]["apply_rate"] == 0.6667  # 2 of 3, rounded
    assert summary["modes"]["fim"]["all"]["repair_rate"] == 0.0
    assert all(r["infra_error"] is None for r in rows.values())
    # resuming asks the model nothing (the script is used up) and gives the same summary
    assert (
        evaluate_samples(file, tmp_path / "eval", model=f"scripted:{script}", split="all", fim="qwen")
        == summary
    )


def test_sri_and_fim_through_the_embedded_model(made: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (the embedded extra)")
    out, _ = made
    two = [s.model_copy(update={"context_lines": 2}) for s in samples(out) if s.kind == "line"][:2]
    file = tmp_path / "two.jsonl"
    file.write_text("".join(s.model_dump_json() + "\n" for s in two))
    result = CliRunner().invoke(
        app, ["eval", str(file), "--out", str(tmp_path / "eval"), "--option", "max_tokens=16", "--split", "all",
              "--no-execute"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(iter_jsonl(tmp_path / "eval" / "results.jsonl"))
    assert sorted((r["sample_id"], r["mode"]) for r in rows) == sorted(
        (s.id, m) for s in two for m in ("sri", "fim")
    )
    for row in rows:
        assert row["model"] == "embedded" and row["output"] and 0 < row["completion_tokens"] <= 16
        assert row["latency_s"] > 0 and row["passed"] is None
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["fim"] == "prefix" and set(summary["modes"]) == {"sri", "fim"}
    assert "sri" in result.output and "fim" in result.output


def test_recorded_tasks_as_search_replace_and_diff_rows(
    made: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    tasks = recorded_tasks(RECORDED)  # three real toolz tasks
    chosen = tmp_path / "tasks.jsonl"
    chosen.write_text("".join(t.model_dump_json() + "\n" for t in tasks))
    cli = CliRunner().invoke(
        app, ["tasks", str(chosen), "--out", str(tmp_path / "mid"), "--tokenizer", "byte"]
    )
    assert cli.exit_code == 0, cli.output
    report = json.loads((tmp_path / "mid" / "report.json").read_text())
    assert report == {"tasks": 3, "rows": {"sri": 3, "diff": 3}, "skipped": {}}
    rows = {r["id"]: r for r in iter_jsonl(tmp_path / "mid" / "rows.jsonl")}
    tok = load_tokenizer("byte")
    assert tok is not None
    for task in tasks:
        buggy = buggy_files(task)
        fixed = {**buggy, **apply_diff(buggy, task.patch)}
        # the blocks, applied with the SRI applier, make exactly the fix
        for path, blocks in diff_blocks(task.patch).items():
            text: str | None = buggy[path]
            for block in blocks:
                assert text is not None
                text, outcome = apply_block(text, block)
                assert outcome == "exact"
            assert text == fixed[path]
        sri, diff = rows[f"{task.instance_id}:sri:qwen3_coder"], rows[f"{task.instance_id}:diff:qwen3_coder"]
        assert diff["messages"][-1]["content"] == task.patch
        for row in (sri, diff):
            learned = tok.decode([i for i, m in zip(row["input_ids"], row["loss_mask"], strict=True) if m])
            assert learned == row["messages"][-1]["content"] + "<|im_end|>"
            assert all(text.rstrip() in row["messages"][1]["content"] for text in buggy.values())
    again = export_task_rows(chosen, tmp_path / "mid", targets=("sri", "diff"), tokenizer="byte")
    assert again == report and len(list(iter_jsonl(tmp_path / "mid" / "rows.jsonl"))) == len(rows)
