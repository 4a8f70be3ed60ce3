"""Real tasks of a src-layout library for the red-team suite: markupsafe 3.0.4, whose editable install
adds `/testbed/src` to `sys.path` through a `.pth` file, synthesized by the real pipeline into the test
CODEKILN_HOME (test-cache/audit-tasks-markupsafe) so later sessions resume them in seconds."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import synth_cached

from codekiln.tasks.export.datasets import read_tasks

MARKUPSAFE = "pypi:markupsafe==3.0.4"
N_TASKS = 3


def synth_markupsafe() -> Path:
    out = synth_cached(MARKUPSAFE, "audit-tasks-markupsafe", N_TASKS)
    assert read_tasks(out / "tasks.jsonl"), f"no markupsafe tasks synthesized in {out}"
    return out
