"""The public surface of codekiln.tasks is explicit and pinned."""

from __future__ import annotations

import codekiln.tasks


def test_all_is_pinned_and_importable() -> None:
    assert codekiln.tasks.__all__ == sorted(codekiln.tasks.__all__, key=lambda n: (not n.isupper(), n))
    assert set(codekiln.tasks.__all__) == {
        "LANGUAGES",
        "MUTATORS",
        "Candidate",
        "Difficulty",
        "Entity",
        "Generation",
        "LanguageSupport",
        "ModelStatementWriter",
        "Mutator",
        "RejectReason",
        "RejectedCandidate",
        "SkippedMutation",
        "StatementWriter",
        "TaskRecord",
        "TaskSource",
        "TemplateStatementWriter",
        "Validation",
        "apply_diff",
        "combine",
        "dedup",
        "diff_hash",
        "export_harbor",
        "export_harbor_task",
        "export_swebench",
        "export_swebench_bundle",
        "find_entities",
        "generate_candidates",
        "hidden_tests_patch",
        "import_swebench",
        "leak_check",
        "load_mutators",
        "load_tasks",
        "make_diff",
        "merge_patches",
        "parse_diff",
        "read_parquet_tasks",
        "read_tasks",
        "reverse_diff",
        "sample_combinations",
        "task_from_candidate",
        "template_statement",
        "to_hf_dataset",
        "valid_tasks",
        "write_parquet_dataset",
        "write_tasks",
    }
    for name in codekiln.tasks.__all__:
        assert getattr(codekiln.tasks, name) is not None
