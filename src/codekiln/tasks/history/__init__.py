"""Tasks from a repository's real history (`codekiln mine`): `walk` turns first-parent history into
candidate changes (fix and test patches), `exclude` drops benchmark instances and splits by date,
`statements` picks who writes each problem statement, and `mine` is the resumable stage that builds
environments (`envs.shared`) and validates candidates with synthesis' own validation engine."""
