"""The validation engine: which candidate bugs become tasks, by running their tests in a sandbox.

Start at `validate.Validator` (it orchestrates; its settings are `config.ValidateConfig`); the rules
are pure functions in `verdict`.

- `coverage_map`: which tests execute which lines of the snapshot (cached per environment).
- `selection`: which tests a candidate's validation runs, and their cost, from the map alone.
- `chunks`: a bug applied in memory, and the top-level statements it changes.
- `testexec`: running test jobs, warm (one pytest session serving forks, `in_sandbox.warm_runner`)
  or fresh (a pytest process per run).
- `gold`: the clean side's results, kept for later batches.
- `import_time`: when a bug whose lines ran at import time can still be swapped in (its change
  confined to function bodies that did not run then).
- `gate`: the grader gate (gold and empty patches confirmed by the grader agents face).
"""
