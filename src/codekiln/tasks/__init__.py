"""Task synthesis: turn a repository snapshot into verifiable bug-fixing tasks.

Where to start reading: `synth.py` (the stage, `codekiln synth`) runs the pipeline below in order; each
sub-package is one kind of code, and import-linter contracts in pyproject.toml keep them apart.

    synth.py         the stage: environment -> coverage map -> candidates -> validation, resumable
    synth_unit.py    its unit of work (a batch validated wherever the executor runs it: threads or Ray)
    synth_repos.py   many repositories in one run (`codekiln synth --repos FILE`), one dataset
    frontend/        candidate bugs and statements: entities, lang/, mutators/, candidates, statements,
                     leaks, reproduce (runs no tests; never imports validation/)
    validation/      which candidates become tasks: validate (the Validator), verdict (the rules, a pure
                     function), testexec, coverage_map, chunks, gold
    in_sandbox/      scripts copied into sandboxes by path: warm_runner, codekiln_swap, cover_runner
                     (import nothing from codekiln; the pytest internals they patch are listed in
                     `in_sandbox/pytest_patches.PYTEST_PATCHES`)
    records.py       `TaskRecord` (SWE-bench-compatible) and `RejectedCandidate`: what the stage hands on
    export/          loading tasks (`load_tasks`, `valid_tasks`); JSONL, Hugging Face parquet, SWE-bench
                     rows (with a git repository of the tasks' buggy commits), Harbor task folders

Elsewhere: the grader every stage shares is `codekiln.grading` (`grade_patch`); diffs and in-memory
patching, which every stage may use, are `codekiln.core.diffs` and `codekiln.core.patches` (also
re-exported here).
"""

from codekiln.core.diffs import diff_hash, make_diff, parse_diff, reverse_diff
from codekiln.core.patches import apply_diff, merge_patches
from codekiln.tasks.export.datasets import (
    dedup,
    export_swebench,
    import_swebench,
    load_tasks,
    read_parquet_tasks,
    read_tasks,
    to_hf_dataset,
    valid_tasks,
    write_parquet_dataset,
    write_tasks,
)
from codekiln.tasks.export.harbor import export_harbor, export_harbor_task
from codekiln.tasks.export.swebench import export_swebench_bundle
from codekiln.tasks.frontend.candidates import (
    Candidate,
    Generation,
    SkippedMutation,
    combine,
    generate_candidates,
    sample_combinations,
)
from codekiln.tasks.frontend.entities import LANGUAGES, Entity, LanguageSupport, find_entities
from codekiln.tasks.frontend.mutators import MUTATORS, Mutator, load_mutators
from codekiln.tasks.frontend.statements import (
    ModelStatementWriter,
    StatementWriter,
    TemplateStatementWriter,
    leak_check,
    template_statement,
)
from codekiln.tasks.records import (
    Difficulty,
    RejectedCandidate,
    RejectReason,
    TaskRecord,
    TaskSource,
    Validation,
    hidden_tests_patch,
    task_from_candidate,
)

__all__ = [
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
]
