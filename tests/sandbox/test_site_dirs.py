"""`hidden_site_dirs` follows what a venv's pyvenv.cfg says, also when the file is rewritten and keeps its
old modification time (a venv made again and copied over with `cp -a`, or a rewrite within one tick)."""

from __future__ import annotations

import os
from pathlib import Path

from codekiln.sandbox.common import hidden_site_dirs


def test_a_rewritten_pyvenv_cfg_with_its_old_mtime_is_read_again(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    cfg = venv / "pyvenv.cfg"
    cfg.write_text("include-system-site-packages = false\n")
    before = cfg.stat()
    hidden = hidden_site_dirs(venv)
    assert hidden  # the interpreter's own site-packages at least
    cfg.write_text("include-system-site-packages = true\n")
    os.utime(cfg, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert hidden_site_dirs(venv) == []  # the venv now imports from them: nothing is hidden
    cfg.write_text("include-system-site-packages = false\n")
    os.utime(cfg, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert hidden_site_dirs(venv) == hidden
