"""Task synthesis: turn a repository snapshot into verifiable bug-fixing tasks.

The stage's parts, in order (the validation engine that runs tests builds on them):

- `entities`: functions, methods and classes of the snapshot's source, with spans (`find_entities`).
- `mutators`: procedural bug injectors (`func_pm`), small declarative classes over Python's `ast`.
- `candidates`: mutators run over entities, each change a `git diff` (`generate_candidates`, `combine`).
- `records`: `TaskRecord` (SWE-bench-compatible) and `RejectedCandidate`.
- `statements`: problem statements from observed failures, with a leak check against the fix.
- `datasets` / `harbor` / `swebench`: JSONL, Hugging Face parquet, SWE-bench rows (with their git
  repository), Harbor task folders.
"""

from codekiln.core.diffs import diff_hash, make_diff, parse_diff, reverse_diff
from codekiln.core.patches import apply_diff, merge_patches
from codekiln.tasks.export.datasets import (
    dedup,
    export_swebench,
    import_swebench,
    read_parquet_tasks,
    read_tasks,
    to_hf_dataset,
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
    "write_parquet_dataset",
    "write_tasks",
]
