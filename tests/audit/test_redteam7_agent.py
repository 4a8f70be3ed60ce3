"""Red team of the agent's shell and sandbox (the seventh): what a policy leaves in its workspace for
the host to read after the episode. Scripted episodes of `codekiln rollout` on a real toolz task, real
bwrap sandboxes and the real grader (the same attacks on podman are in
tests/sandbox/test_sandbox_attacks.py). Each test attacks one property and asserts the exact outcome.

Found by trying, each now closed at its cause:
- `git init` of a folder in the workspace made the host's `git add -A` fail ("does not have a commit
  checked out"), which masked the episode as the sandbox's failure: a one-line way out of any 0. A
  `.gitattributes` line `* working-tree-encoding=UTF-16` did the same.
- The change's weight counted files' sizes only: 5,000 empty files with long names, or links with
  4,000-byte targets (20,000 of them made an 83 MB diff in half a second), weighed nothing.
- The agent's change was read by following each link inside the sandbox: one command per link, and a
  link to a FIFO held the driver a minute each (three links: three minutes).
- The editor read a file whole on the host: a 1,000 MB sparse file (free in the sandbox) took the
  driver to 3 GB of memory for one `view`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_redteam_agent import SUBMIT, bash, rollout, view

from codekiln.rollouts.engine import ROLLOUTS
from codekiln.sandbox import MAX_CHANGE_BYTES

pytestmark = pytest.mark.root  # real tasks: environment and grading in bwrap sandboxes


def test_a_nested_repository_is_scored_not_masked(tmp_path: Path) -> None:
    """A folder holding a `.git` with no commit: git could not index it, the diff raised, and the
    episode was masked (infrastructure, never scored). It is now left out of the diff, as git leaves
    out what it cannot index, and the episode is graded."""
    _, r = rollout(tmp_path, [bash("git init -q toolz/sub && echo 'x = 1' > toolz/sub/mod.py"), SUBMIT])
    assert not r.reward.masked and r.reward.value == 0.0
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("unresolved", "")
    assert r.trajectory is not None and r.trajectory.error is None and "toolz/sub" not in r.patch


def test_a_gitattributes_git_cannot_apply_is_scored_not_masked(tmp_path: Path) -> None:
    """A `.gitattributes` naming a `working-tree-encoding` the files are not in made the host's
    `git add` die: the same masked episode. The diff's git no longer takes that attribute from the tree."""
    attrs = "printf '* working-tree-encoding=UTF-16\\n' > .gitattributes"
    _, r = rollout(tmp_path, [bash(attrs), SUBMIT])
    assert not r.reward.masked and r.reward.value == 0.0
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("unresolved", "")
    assert "+++ b/.gitattributes\n" in r.patch


def test_empty_files_with_long_names_weigh_what_their_patch_would(tmp_path: Path) -> None:
    """5,000 empty files named by 200 characters: nothing by their sizes, a 2.4 MB diff of headers, read
    and stored twice in the rollout's record."""
    make = "for i in $(seq 5000); do : > toolz/$(printf '%0200d' $i); done"
    cfg, r = rollout(tmp_path, [bash(make), SUBMIT])
    assert not r.reward.masked and r.reward.value == 0.0
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("rejected", "change_too_large")
    assert r.grade.detail.startswith("a patch of the agent's change would weigh about 2,")
    assert r.patch == "" and r.trajectory is not None and r.trajectory.diff.startswith("(not read: 2,")
    assert (Path(cfg.out) / ROLLOUTS).stat().st_size < 200_000


def test_links_with_long_targets_weigh_what_their_patch_would(tmp_path: Path) -> None:
    make = "python -c \"import os\nfor i in range(600): os.symlink('x' * 4000, 'toolz/l%d' % i)\""
    _, r = rollout(tmp_path, [bash(make), SUBMIT])
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("rejected", "change_too_large")
    assert not r.reward.masked and r.patch == ""


def test_a_link_to_a_fifo_stays_a_link_and_is_not_read(tmp_path: Path) -> None:
    """Each link was read through, inside the sandbox (a minute per link to a FIFO with no writer). A
    link now reaches the patch as a link, which the grader rejects (as it rejects a patch's links)."""
    links = "mkfifo /tmp/f && for i in 1 2 3; do ln -s /tmp/f toolz/l$i.py; done"
    start = time.monotonic()
    _, r = rollout(tmp_path, [bash(links), SUBMIT])
    assert time.monotonic() - start < 60  # was 3 minutes: 60 s per link
    assert r.grade is not None and (r.grade.outcome, r.grade.reason, r.grade.detail) == (
        "rejected",
        "patch_rule",
        "toolz/l1.py: creates a symbolic link",
    )
    assert not r.reward.masked and r.reward.value == 0.0
    assert "diff --git a/toolz/l1.py b/toolz/l1.py\nnew file mode 120000\n" in r.patch
    assert "+/tmp/f\n\\ No newline at end of file\n" in r.patch


def test_the_editor_does_not_open_a_sparse_gigabyte(tmp_path: Path) -> None:
    _, r = rollout(tmp_path, [bash("truncate -s 1000M toolz/big.txt"), view("toolz/big.txt"), SUBMIT])
    assert r.trajectory is not None
    obs = r.trajectory.steps[1].observations[0]
    assert (obs.ok, obs.text) == (
        False,
        f"/testbed/toolz/big.txt is over {MAX_CHANGE_BYTES:,} bytes, more than the editor opens; look at "
        "parts of it with bash (`sed -n '1,100p' /testbed/toolz/big.txt`)",
    )
    assert r.grade is not None and (r.grade.outcome, r.grade.reason) == ("rejected", "change_too_large")
