"""The synthesis front end: from a snapshot's source to candidate bugs, and statements for the tasks.

Nothing here runs tests, and nothing imports the validation engine (an import-linter contract).

- `entities`: functions, methods and classes of the snapshot's source, with spans (`find_entities`);
  `lang/` holds the per-language parsing.
- `mutators/`: procedural bug injectors (`func_pm`), small declarative classes over Python's `ast`.
- `candidates`: mutators run over entities, each change a `git diff` (`generate_candidates`, `combine`).
- `statements`: problem statements from observed failures (`TemplateStatementWriter`), checked by
  `leaks` (the fix never revealed, hidden tests never named); `reproduce` writes a failing test's body
  as a standalone reproduction.
"""
