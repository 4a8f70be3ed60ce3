"""Test support: what codekiln's own tests (and tests of plugins built on it) share.

Start here when writing a test:
- `make_repo(root, {"pkg/mod.py": "..."})`: a snapshot (git repo, one commit) from a dict of files;
  `git`, `run_git`, `commit_all`: git with a fixed identity and no user config (`git`).
- `open_test_sandbox(snapshot)`: a sandbox that needs no root (the `local` backend: real commands in
  a real copy, no isolation); `backend_params()` adds bwrap as root (`sandboxes`).
- `root_problem()`, `network_problem()`: why the `root` / `network` test tiers cannot run here, the
  reasons tests/conftest.py prints when it skips them (`tiers`).
- `recorded_tasks(path)`, `bind_tasks(tasks, env)`: real task records synthesized once and checked in,
  so tests that use tasks do not rerun synthesis (`recorded`).
- `index.LocalIndex`, `index.write_wheel`, `index.wheel_of_installed`: a PEP 691/700 package index on
  loopback (with or without upload times) serving wheels built in the test, for installs without the
  network (imported from its module).
- `ray_cluster.LocalRayCluster`: a real Ray cluster of `ray start` processes on loopback (a head and
  more nodes), whose raylets and workers tests can kill by pid (`kill_during`: once a named unit runs);
  torn down by pid (imported from its module: it needs the ray extra only when started).

Nothing in codekiln imports this package (an import-linter contract keeps it so).
"""

from codekiln.testing.git import GIT_ENV, GitError, commit_all, git, make_repo, run_git, write_files
from codekiln.testing.recorded import bind_tasks, recorded_tasks, write_recorded
from codekiln.testing.sandboxes import TEST_BACKEND, backend_params, open_test_sandbox
from codekiln.testing.tiers import ROOT_MARKERS, network_problem, root_problem

__all__ = [
    "GIT_ENV",
    "ROOT_MARKERS",
    "TEST_BACKEND",
    "GitError",
    "backend_params",
    "bind_tasks",
    "commit_all",
    "git",
    "make_repo",
    "network_problem",
    "open_test_sandbox",
    "recorded_tasks",
    "root_problem",
    "run_git",
    "write_files",
    "write_recorded",
]
