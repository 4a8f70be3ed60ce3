"""The validation engine: which candidate bugs become tasks, by running their tests in a sandbox.

Start at `validate.Validator` (it orchestrates); the rules are pure functions in `verdict`.

- `coverage_map`: which tests execute which lines of the snapshot (cached per environment).
- `chunks`: a bug applied in memory, and the top-level statements it changes.
- `testexec`: running test jobs, warm (one pytest session serving forks, `in_sandbox.warm_runner`)
  or fresh (a pytest process per run).
- `gold`: the clean side's results, kept for later batches.
"""
