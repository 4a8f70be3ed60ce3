"""SFT export on real episodes (scripted model, real formats, real sandbox, graded by execution):
the three filters with exact drop counts, template augmentation whose every rendering parses back with its
own format, token ids and loss masks with the byte and SmolLM2 tokenizers, the head segment, and the
export files (JSONL, report, parquet via `datasets`) with resume and --redo."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from codekiln.agents import Trajectory
from codekiln.core.errors import ConfigError
from codekiln.core.records import append_jsonl, iter_jsonl
from codekiln.core.stage import TornTailWarning
from codekiln.formats import Tokenizer, get_format, list_formats
from codekiln.formats.base import message_calls
from codekiln.formats.tokenizers import ByteTokenizer
from codekiln.grading import GradeResult
from codekiln.grading.grader import Outcome
from codekiln.rewards import compute_reward
from codekiln.rollouts import Rollout
from codekiln.tasks.records import TaskRecord
from codekiln.training import augment, export_sft, load_episodes, select_trajectories
from codekiln.training.sft import drop_reason, malformed_reason
from codekiln.training.source import Episode

ALL = list_formats()


@pytest.fixture(scope="module")
def kept(rollouts_file: Path) -> list[Episode]:
    return select_trajectories(load_episodes(rollouts_file)).kept


def test_filters_keep_finished_resolved_well_formed_episodes(rollouts_file: Path) -> None:
    selection = select_trajectories(load_episodes(rollouts_file))
    assert [(e.task_id, e.trajectory.scaffold) for e in selection.kept] == [
        ("t-always", "swe"),
        ("t-always", "mini"),
        ("t-mixed", "terminus"),
    ]
    assert selection.report() == {
        "episodes": 9,
        "kept": 3,
        "dropped": {"masked": 1, "unfinished": 1, "ungraded": 0, "unresolved": 3, "malformed_calls": 1},
    }


def test_the_malformed_episode_resolved_its_task_but_had_a_format_error(rollouts_file: Path) -> None:
    episodes = list(load_episodes(rollouts_file))
    bad = [e for e in episodes if drop_reason(e) == "malformed_calls"]
    assert len(bad) == 1 and bad[0].resolved and bad[0].trajectory.exit_reason == "submitted"
    assert (malformed_reason(bad[0]) or "").startswith("step 0: Your call to bash is not closed")


def test_a_call_to_a_tool_the_episode_never_offered_is_malformed(kept: list[Episode]) -> None:
    episode = copy.deepcopy(kept[0])
    msg = next(m for m in episode.trajectory.messages if m.get("tool_calls"))
    msg["tool_calls"][0]["function"]["name"] = "rm_rf"
    assert drop_reason(episode) == "malformed_calls"
    assert "There is no tool named 'rm_rf'" in (malformed_reason(episode) or "")


def test_every_format_renders_the_same_conversation_and_parses_back(kept: list[Episode]) -> None:
    for episode in kept:
        rows = augment(episode, ALL)
        assert sorted(r.format for r in rows) == sorted(ALL)
        assert len({r.text for r in rows}) == len(ALL)  # the formats differ...
        assert all(r.messages == rows[0].messages for r in rows)  # ...the content does not
        tools = episode.trajectory.tools
        for row in rows:
            fmt = get_format(row.format)
            segments = fmt.segments(row.messages, tools, add_generation_prompt=False)
            assert "".join(s.text for s in segments) == row.text
            replies = [s.text for s in segments if s.trainable]
            wanted = [m for m in row.messages if m["role"] == "assistant"]
            assert len(replies) == len(wanted) >= 2
            for text, msg in zip(replies, wanted, strict=True):
                turn = fmt.parse(text, tools)  # the rendered reply, parsed back by its own format
                calls = [(c.name, c.arguments) for c in turn.tool_calls]
                assert calls == [(c.name, c.arguments) for c in message_calls(msg)], row.format
                kept = "" if fmt.calls_only and calls else msg["content"]  # calls-only formats drop it
                assert turn.content.strip() == kept.strip()


def test_k_formats_per_episode_are_seeded_and_differ_across_episodes(kept: list[Episode]) -> None:
    picks = [[r.format for r in augment(e, ALL, k=4, seed=7)] for e in kept]
    assert all(len(set(p)) == 4 and set(p) <= set(ALL) for p in picks)
    assert picks == [[r.format for r in augment(e, ALL, k=4, seed=7)] for e in kept]
    assert len({tuple(p) for p in picks}) > 1
    assert [r.format for r in augment(kept[0], ALL, k=4, seed=8)] != picks[0]


def check_tokens(row: Any, tok: Tokenizer, tools: list[dict[str, Any]]) -> None:
    fmt = get_format(row.format)
    assert (row.input_ids, row.loss_mask) == fmt.render_tokens(row.messages, tools, tok)
    head = tok.decode(row.input_ids[: row.head_len])
    assert fmt.render_tools(tools) in head and row.text.startswith(head)
    assert not any(row.loss_mask[: row.head_len])
    trained = tok.decode([i for i, m in zip(row.input_ids, row.loss_mask, strict=True) if m])
    replies = [fmt.render_assistant(m) for m in fmt.prepare(row.messages) if m["role"] == "assistant"]
    assert trained == "".join(replies)


def test_byte_tokens_loss_mask_and_head(kept: list[Episode]) -> None:
    tok = ByteTokenizer()
    for episode in kept:
        for row in augment(episode, ALL, tokenizer=tok):
            assert tok.decode(row.input_ids or []) == row.text
            check_tokens(row, tok, episode.trajectory.tools)


@pytest.mark.model
def test_smollm2_tokens_loss_mask_and_head(kept: list[Episode], smollm2: Tokenizer) -> None:
    for row in augment(kept[0], ALL, tokenizer=smollm2):
        assert row.input_ids and len(row.input_ids) < len(row.text) / 2  # a real subword vocabulary
        check_tokens(row, smollm2, kept[0].trajectory.tools)


def test_export_writes_rows_report_and_parquet_and_resumes(rollouts_file: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the data extra (pip install 'codekiln[data]')")
    report = export_sft(rollouts_file, tmp_path, formats="all", k=3, seed=1, tokenizer="byte")
    rows = list(iter_jsonl(tmp_path / "sft.jsonl"))
    assert len(rows) == report["rows"] == report["rows_written_now"] == 9
    assert (
        report["kept"] == 3 and report["dropped"]["unresolved"] == 3 and report["round_trip_failures"] == {}
    )
    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert {r["episode_id"] for r in rows} == {
        e.id for e in select_trajectories(load_episodes(rollouts_file)).kept
    }
    assert all(len(r["input_ids"]) == len(r["loss_mask"]) and r["head_len"] > 0 for r in rows)
    ds = datasets.load_dataset(str(tmp_path / "hf"), split="train")
    assert (
        ds.num_rows == 9 and ds[0]["id"] == rows[0]["id"] and json.loads(ds[0]["tools"]) == rows[0]["tools"]
    )
    assert ds[0]["messages"][1]["content"] == rows[0]["messages"][1]["content"]

    again = export_sft(rollouts_file, tmp_path, formats="all", k=3, seed=1, tokenizer="byte")
    assert again["rows_written_now"] == 0 and again["rows"] == 9  # finished episodes are skipped
    redo = export_sft(rollouts_file, tmp_path, formats="hermes,qwen3_coder", redo=True, parquet=False)
    assert redo["rows"] == redo["rows_written_now"] == 6 and redo["rows_per_format"] == {
        "hermes": 3,
        "qwen3_coder": 3,
    }


def test_rollout_records_are_read_through_their_reward(
    rollout_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Real `Rollout` records (the rollout stage's rows) around a real episode, graded four ways."""
    task = TaskRecord(
        instance_id="t-always", repo="local/pkg", base_commit="0" * 40, patch="", FAIL_TO_PASS=["t"]
    )
    traj = Trajectory.model_validate(rollout_rows[0]["trajectory"])
    cases: list[tuple[Outcome | None, bool | None, bool]] = [
        ("resolved", True, False),
        ("unresolved", False, False),
        ("error", None, True),  # the grader could not run: masked, never a 0
        (None, None, True),  # the episode could not start: no trajectory
    ]
    for sample, (outcome, _, _) in enumerate(cases):
        grade = None
        if outcome is not None:
            status = "passed" if outcome == "resolved" else "failed"
            grade = GradeResult(
                instance_id="t-always",
                outcome=outcome,
                resolved=outcome == "resolved",
                statuses={"t": status},
            )
        rollout = Rollout(
            instance_id="t-always", sample=sample, seed=sample, model="scripted", scaffold="swe",
            trajectory=traj if outcome is not None else None, grade=grade,
            reward=compute_reward(traj if outcome is not None else None, grade, task),
        )  # fmt: skip
        append_jsonl(tmp_path / "rollouts.jsonl", [rollout])
    got = [(e.id, e.task_id, e.resolved, e.masked) for e in load_episodes(tmp_path)]
    assert got == [(f"t-always:{i}", "t-always", r, m) for i, (_, r, m) in enumerate(cases)]
    selection = select_trajectories(load_episodes(tmp_path))
    assert [e.id for e in selection.kept] == ["t-always:0"]
    assert selection.dropped == Counter({"masked": 2, "unresolved": 1})


def test_formats_that_cannot_write_a_turn_faithfully_are_skipped_and_counted(kept: list[Episode]) -> None:
    """Text quoting another format's call syntax: those formats would parse it as a call, so they are skipped."""
    episode = copy.deepcopy(kept[0])
    msg = next(m for m in episode.trajectory.messages if m["role"] == "assistant")
    msg["content"] = 'I will write <tool_call>\n{"name": "submit", "arguments": {}}\n</tool_call> later.'
    skipped: Counter[str] = Counter()
    rows = augment(episode, ALL, skipped=skipped)
    assert set(skipped) == {"qwen3_coder", "qwen3_xml_mixed", "hermes", "glm46"}
    assert sorted(r.format for r in rows) == sorted(set(ALL) - set(skipped))
    four = augment(episode, ALL, k=4, seed=3)
    assert len(four) == 4 and not {r.format for r in four} & set(skipped)  # the next formats stand in


def test_a_rerun_with_other_options_does_not_mix_its_rows(rollouts_file: Path, tmp_path: Path) -> None:
    export_sft(rollouts_file, tmp_path, formats="hermes", k=1, seed=0, parquet=False)
    with pytest.raises(ConfigError, match="seed was 0, now 3"):
        export_sft(rollouts_file, tmp_path, formats="hermes", k=1, seed=3, parquet=False)
    rows = list(iter_jsonl(tmp_path / "sft.jsonl"))
    assert {r["format"] for r in rows} == {"hermes"}
    # the same options resume; a torn last line from a crash is dropped and its episode redone
    with (tmp_path / "sft.jsonl").open("ab") as fh:
        fh.write(b'{"id": "half a li')
    with pytest.warns(TornTailWarning):
        again = export_sft(rollouts_file, tmp_path, formats="hermes", k=1, seed=0, parquet=False)
    assert again["rows"] == len(rows) and again["rows_written_now"] == 0
