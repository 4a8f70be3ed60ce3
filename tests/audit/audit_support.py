"""Real tasks of a src-layout library for the red-team suite: markupsafe 3.0.4, whose editable install
adds `/testbed/src` to `sys.path` through a `.pth` file, synthesized by the real pipeline into the test
CODEKILN_HOME (test-cache/audit-tasks-markupsafe) so later sessions resume them in seconds."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.tasks.datasets import read_tasks
from codekiln.tasks.synth import SynthConfig, synthesize

MARKUPSAFE = "pypi:markupsafe==3.0.4"
N_TASKS = 3


def synth_markupsafe() -> Path:
    out = state_dir("test-cache") / "audit-tasks-markupsafe"
    config = SynthConfig(spec=MARKUPSAFE, out=out, max_tasks=N_TASKS, workers=1, batch_size=8)
    fd = os.open(state_dir("test-cache") / "audit-tasks-markupsafe.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            synthesize(config)
        except ConfigError:
            synthesize(config, redo=True)
    finally:
        os.close(fd)
    assert read_tasks(out / "tasks.jsonl"), f"no markupsafe tasks synthesized in {out}"
    return out
