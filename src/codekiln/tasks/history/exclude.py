"""Contamination control for mined tasks: leave out a benchmark's instances, split by date.

    ex = load_exclusions(Path("swebench_ids.txt"))
    ex.matches(change, "requests")           # True: drop this change
    split_of("2024-03-01T10:00:00+00:00", "2024-01-01")   # "test"

An exclusion file has one entry a line (blank lines and `#` comments ignored):
- a SWE-bench instance id, `owner__name-NUMBER` (e.g. `psf__requests-2317`): the pull request NUMBER
  of the repository called `name`;
- a repository and a commit, `owner/name@SHA`, `name SHA` or `name,SHA`: that commit of that repository;
- a commit alone (7 to 40 hex digits): that commit, in any repository.
A change matches by its commit (a merged PR by its merge commit)
or by its pull request number. Repository names compare case-insensitively, `-` and `_` alike.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.core.errors import ConfigError
from codekiln.tasks.history.walk import Change

_SWEBENCH_ID = re.compile(r"^[\w.-]+__([\w.-]+)-(\d+)$")
_REPO_COMMIT = re.compile(r"^(?:[\w.-]+/)?([\w.-]+)(?:@|\s+|,)([0-9a-fA-F]{7,40})$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}$")


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


@dataclass
class Exclusions:
    prs: set[tuple[str, int]] = field(default_factory=set)
    commits: set[tuple[str, str]] = field(default_factory=set)
    """(repository or "" for any, commit prefix)"""
    digest: str = ""

    def matches(self, change: Change, repo: str) -> bool:
        name = _norm(repo)
        if change.pr is not None and (name, change.pr) in self.prs:
            return True
        return any((not r or r == name) and change.commit.startswith(prefix) for r, prefix in self.commits)


def load_exclusions(path: Path) -> Exclusions:
    """Read an exclusion file (see the module docstring); a line of another form is a ConfigError."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(
            f"cannot read the exclusion file {path}: {err}", hint="give a readable file"
        ) from err
    out = Exclusions(digest=hashlib.sha256(text.encode()).hexdigest()[:16])
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if m := _SWEBENCH_ID.match(line):
            out.prs.add((_norm(m[1]), int(m[2])))
        elif m := _REPO_COMMIT.match(line):
            out.commits.add((_norm(m[1]), m[2].lower()))
        elif _COMMIT.match(line):
            out.commits.add(("", line.lower()))
        else:
            raise ConfigError(
                f"{path}:{number}: cannot read {line!r} as an instance to exclude",
                hint="write owner__name-NUMBER (SWE-bench ids), owner/name@SHA, or a commit",
            )
    return out


def split_of(author_date: str, split_date: str) -> str:
    """ "test" for a change made on or after `split_date` (YYYY-MM-DD), "train" before; "" without one."""
    if not split_date:
        return ""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", split_date):
        raise ConfigError(f"bad --split-date {split_date!r}", hint="write it as YYYY-MM-DD")
    return "test" if author_date[:10] >= split_date else "train"
