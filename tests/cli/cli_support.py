"""What the CLI tests share: the type of the `codekiln` fixture (tests/cli/conftest.py), which runs
`codekiln ARGV...` in-process as `main()` runs it and returns its exit status and output."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

Codekiln = Callable[..., subprocess.CompletedProcess[str]]
