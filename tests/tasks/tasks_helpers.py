"""Helpers for the task-synthesis tests: git checkouts of PyPI sdists cached in the test
CODEKILN_HOME, pytest runs parsed from `-rA` output. (A uniquely named module, so test files can import
it without clashing with other folders' conftest modules.)"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from codekiln.core import proc
from codekiln.core.config import state_dir
from codekiln.repos.fetch import unpack
from codekiln.testing import commit_all, git

TOOLZ = "toolz-1.2.0"
_STATUS_RE = re.compile(r"^(PASSED|FAILED|ERROR) (\S+)")


def fetch_sdist(requirement: str, name: str) -> Path:
    """Download and unpack a PyPI sdist once per CODEKILN_HOME; returns the unpacked folder."""
    cache = state_dir("test-cache")
    target = cache / name
    with FileLock(str(cache / f"{name}.lock")):
        if not target.is_dir():
            dl = cache / "downloads"
            res = proc.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    requirement,
                    "-d",
                    str(dl),
                ],
                timeout=300,
            )
            archives = sorted(dl.glob(f"{name}.tar.gz"))
            if res.exit_code != 0 or not archives:
                pytest.fail(f"could not download {requirement} (needs PyPI access):\n{proc.tail(res.stderr)}")
            staging = cache / f".{name}.unpack"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            unpack(archives[0], staging).rename(target)
            shutil.rmtree(staging, ignore_errors=True)
    return target


def make_checkout(src: Path, dest: Path) -> Path:
    """A copy of `src` as a git repository with one commit."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest)
    return dest


def run_pytest(checkout: Path, *targets: str) -> tuple[dict[str, str], str]:
    """Run pytest in a checkout; returns ({test id: PASSED|FAILED|ERROR}, full output)."""
    res = proc.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *targets],
        cwd=checkout,
        timeout=300,
    )
    statuses = {}
    for line in res.stdout.splitlines():
        m = _STATUS_RE.match(line)
        if m:
            statuses[m.group(2)] = m.group(1)
    return statuses, res.stdout + res.stderr
