"""The front end of `codekiln mine` on small histories made here with real git: which commits become
candidates (and why the others do not), pull-request recognition, the fix/test split, the bounds, the
ways a repository is given (checkout, bare, bundle, URL), exclusions, splits and statements."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codekiln.core.diffs import parse_diff, reverse_diff
from codekiln.core.errors import ConfigError, RepoError
from codekiln.envs import EnvRecord
from codekiln.envs.recipe import Interpreter, Recipe
from codekiln.grading import TestCommand
from codekiln.tasks.frontend.statements import TemplateStatementWriter
from codekiln.tasks.history.exclude import Exclusions, load_exclusions, split_of
from codekiln.tasks.history.mine import repo_name, unusable_env
from codekiln.tasks.history.statements import HistoryStatementWriter, describes_problem, history_text
from codekiln.tasks.history.walk import (
    Change,
    WalkOptions,
    export_tree,
    is_test_path,
    open_history,
    walk_history,
)
from codekiln.tasks.records import TaskRecord
from codekiln.testing import git, make_repo, write_files

ADD = "def add(a, b):\n    return a + b\n"
TEST = "from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def _commit(repo: Path, files: dict[str, str], message: str, day: int) -> str:
    write_files(repo, files)
    date = f"2024-01-{day:02d}T12:00:00+00:00"
    os.environ["GIT_AUTHOR_DATE"] = os.environ["GIT_COMMITTER_DATE"] = date
    try:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message)
    finally:
        del os.environ["GIT_AUTHOR_DATE"], os.environ["GIT_COMMITTER_DATE"]
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """main: root, fix+test, code only, tests only, a merged PR (#12), a squash (#34), a plain merge."""
    repo = make_repo(tmp_path_factory.mktemp("hist") / "demo", {"pkg/__init__.py": "", "pkg/mod.py": ADD})
    c: dict[str, str] = {"root": git(repo, "rev-parse", "HEAD").strip()}
    c["both"] = _commit(
        repo,
        {"pkg/mod.py": ADD + "\n\ndef neg(a):\n    return -a\n", "tests/test_mod.py": TEST},
        "Add neg() so callers can negate numbers without operator tricks",
        2,
    )
    c["code"] = _commit(repo, {"pkg/mod.py": ADD + "\n\ndef neg(a):\n    return 0 - a\n"}, "refactor", 3)
    c["tests"] = _commit(repo, {"tests/test_mod.py": TEST + "\n\ndef test_more():\n    pass\n"}, "tests", 4)
    git(repo, "checkout", "-q", "-b", "feature")
    _commit(
        repo, {"pkg/mod.py": ADD + "\n\ndef neg(a):\n    return -1 * a\n", "tests/conftest.py": ""}, "wip", 5
    )
    git(repo, "checkout", "-q", "main")
    os.environ["GIT_AUTHOR_DATE"] = os.environ["GIT_COMMITTER_DATE"] = "2024-01-06T12:00:00+00:00"
    try:
        message = "Merge pull request #12 from someone/feature\n\nneg() multiplies by minus one"
        git(repo, "merge", "-q", "--no-ff", "feature", "-m", message)
    finally:
        del os.environ["GIT_AUTHOR_DATE"], os.environ["GIT_COMMITTER_DATE"]
    c["merge"] = git(repo, "rev-parse", "HEAD").strip()
    c["squash"] = _commit(
        repo, {"pkg/util.py": "X = 1\n", "pkg/test_util.py": "def test_x():\n    pass\n"}, "Add X (#34)", 7
    )
    git(repo, "checkout", "-q", "-b", "other")
    _commit(repo, {"pkg/other.py": "Y = 2\n", "tests/test_other.py": ""}, "other", 8)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "other", "-m", "Merge branch 'other'")
    return repo, c


def test_candidates_touch_code_and_tests_and_the_rest_is_counted_by_reason(
    history: tuple[Path, dict[str, str]],
) -> None:
    repo, c = history
    walk = walk_history(open_history(str(repo)), WalkOptions())
    assert [ch.commit for ch in walk.changes] == [c["squash"], c["merge"], c["both"]]  # newest first
    assert walk.commits == 7  # first-parent only: the branches' own commits are not walked
    assert walk.skipped == {"merge_commit": 1, "no_test_change": 1, "no_code_change": 1, "root_commit": 1}
    squash, merge, both = walk.changes
    assert (squash.pr, squash.kind, squash.title) == (34, "squash", "Add X")
    assert squash.fix_files == ["pkg/util.py"] and squash.test_files == ["pkg/test_util.py"]
    assert (merge.pr, merge.kind, merge.title) == (12, "merge", "neg() multiplies by minus one")
    assert merge.parent == c["tests"]  # the PR is one change against the branch's previous state
    assert merge.test_files == ["tests/conftest.py"] and "return -1 * a" in merge.fix_patch
    assert both.pr is None and both.kind == "commit" and both.parent == c["root"]
    assert both.author_date.startswith("2024-01-02")
    assert "tests/test_mod.py" in both.test_patch and "tests/" not in both.fix_patch
    assert "+def neg(a):" in both.fix_patch and "+def test_add" in both.test_patch


def test_bounds_by_count_and_date(history: tuple[Path, dict[str, str]]) -> None:
    repo, c = history
    gitdir = open_history(str(repo))
    assert walk_history(gitdir, WalkOptions(max_commits=2)).commits == 2
    assert [ch.commit for ch in walk_history(gitdir, WalkOptions(max_commits=2)).changes] == [c["squash"]]
    dated = walk_history(gitdir, WalkOptions(since="2024-01-04T00:00:00", until="2024-01-06T23:00:00"))
    assert [ch.commit for ch in dated.changes] == [c["merge"]]


def test_bare_repository_bundle_and_url_give_the_same_changes(
    history: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, _ = history
    want = [ch.commit for ch in walk_history(open_history(str(repo)), WalkOptions()).changes]
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    bundle = tmp_path / "demo.bundle"
    git(repo, "bundle", "create", str(bundle), "main")
    for spec in (str(bare), str(bundle), f"file://{repo}"):
        gitdir = open_history(spec)
        assert [ch.commit for ch in walk_history(gitdir, WalkOptions(ref="main")).changes] == want, spec
    assert open_history(str(bare)) == bare  # read in place; bundles and URLs are cloned into the cache
    assert open_history(str(bundle)) != bundle and open_history(str(bundle)).is_relative_to(
        Path(os.environ["CODEKILN_HOME"])
    )


def test_export_writes_a_commit_files_without_touching_the_repository(
    history: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, c = history
    status = git(repo, "status", "--porcelain")
    dest = export_tree(open_history(str(repo)), c["both"], tmp_path / "state")
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "pkg/__init__.py",
        "pkg/mod.py",
        "tests/test_mod.py",
    ]
    assert git(repo, "status", "--porcelain") == status and not (dest / ".git").exists()


def test_what_is_not_a_repository_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="not a git repository"):
        open_history(str(tmp_path))
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(RepoError, match="not a git bundle"):
        open_history(str(tmp_path / "f.txt"))


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("tests/test_a.py", True),
        ("pkg/tests/data.json", True),
        ("pkg/test_a.py", True),
        ("pkg/a_test.py", True),
        ("conftest.py", True),
        ("pkg/testing_utils.py", False),
        ("pkg/contest.py", False),
        ("docs/testing.rst", False),
    ],
)
def test_test_paths(path: str, is_test: bool) -> None:
    assert is_test_path(path) is is_test


def _change(**kw: object) -> Change:
    base: dict[str, object] = {
        "commit": "ab" * 20,
        "parent": "cd" * 20,
        "author_date": "2024-05-01T00:00:00Z",
    }
    return Change.model_validate({"title": "t", "message": "t", **base, **kw})


def test_exclusions_by_swebench_id_repo_commit_or_commit(tmp_path: Path) -> None:
    path = tmp_path / "ex.txt"
    path.write_text("# benchmark\npsf__requests-2317\nowner/toolz@abababab\n\ncdcdcdcd  # any repo\n")
    ex = load_exclusions(path)
    other = "ef" * 20
    assert ex.matches(_change(pr=2317, commit=other), "requests")
    assert not ex.matches(_change(pr=2317, commit=other), "toolz")
    assert ex.matches(_change(), "toolz") and not ex.matches(_change(), "requests")
    assert ex.matches(_change(commit="cdcdcdcd" + "0" * 32), "anything")
    assert not Exclusions().matches(_change(pr=1), "x") and ex.digest
    path.write_text("not an id\n")
    with pytest.raises(ConfigError, match=r"ex\.txt:1"):
        load_exclusions(path)


def test_split_by_date() -> None:
    assert split_of("2024-05-01T00:00:00Z", "2024-05-01") == "test"
    assert split_of("2024-04-30T23:59:59Z", "2024-05-01") == "train"
    assert split_of("2024-04-30T23:59:59Z", "") == ""
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        split_of("x", "May 1st")


def test_statements_come_from_text_that_describes_a_problem() -> None:
    pr = _change(
        pr=12,
        kind="merge",
        title="interpose() fails on an empty sequence",
        message="Merge pull request #12 from a/b\n\ninterpose() fails on an empty sequence\n\nIt raises StopIteration.",
    )
    assert history_text(pr) == (
        "interpose() fails on an empty sequence\n\nIt raises StopIteration.",
        "pr",
    )
    assert history_text(_change(message="Fix it\n\nbody")) == ("Fix it\n\nbody", "commit")
    assert describes_problem(
        "interpose() raises StopIteration on an empty sequence instead of yielding nothing"
    )
    for text in ("toolz 1.2.0", "Release 1.2", "Bump version to 2.0 for the release", "fix typo"):
        assert not describes_problem(text), text


def test_repository_names_come_from_the_origin_else_the_spec(tmp_path: Path) -> None:
    assert repo_name("https://github.com/pytoolz/toolz.git") == "toolz"
    assert repo_name("git@github.com:psf/requests") == "requests"
    assert repo_name("/x/y/demo.bundle") == "demo"
    repo = make_repo(tmp_path / "checkout", {"a.py": ""})
    assert repo_name(str(repo), open_history(str(repo))) == "checkout"
    git(repo, "remote", "add", "origin", "https://example.org/owner/real-name.git")
    assert repo_name(str(repo), open_history(str(repo))) == "real-name"


FIX = (
    "diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,2 +1,2 @@\n"
    " def neg(a):\n-    return a\n+    return -a\n"
)


class _Model:
    """Answers in turn, whatever it is asked (what `ModelStatementWriter` needs: `.chat`)."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    def chat(self, messages: list[dict[str, str]]) -> str:
        return self.answers.pop(0)


def test_statement_from_the_history_else_a_model_else_the_template() -> None:
    task = TaskRecord(
        instance_id="demo.1", repo="demo", base_commit="0" * 8, patch=FIX, candidate_id="c",
        FAIL_TO_PASS=["tests/test_mod.py::test_neg"], hidden_tests=["tests/test_mod.py"],
    )  # fmt: skip
    failures = {"tests/test_mod.py::test_neg": "E   assert 1 == -1"}
    template = TemplateStatementWriter()
    described = "neg() returns its argument unchanged instead of negating it, see test_neg"
    writer = HistoryStatementWriter(template, {"c": (described, "pr")})
    assert writer.write(task, failures) == described.replace("test_neg", "...") + "\n"  # name redacted
    assert writer.sources == {"c": "pr"}
    leaky = "neg() is wrong: it should `return -a` for every number it is given"
    for text in (leaky, "toolz 1.2.0"):
        writer = HistoryStatementWriter(template, {"c": (text, "commit")})
        assert writer.write(task, failures) == template.write(task, failures) and writer.sources == {
            "c": "template"
        }
    issue = "neg(1) gives 1\n\nCalling neg with a positive number returns the same number."
    writer = HistoryStatementWriter(template, {"c": ("toolz 1.2.0", "commit")}, model=_Model([leaky, issue]))
    assert writer.write(task, failures) == issue + "\n" and writer.sources == {"c": "model"}


def test_a_state_where_no_test_passes_is_an_environment_failure() -> None:
    recipe = Recipe(
        python=Interpreter(executable="python3", version="3.11", prefix="/usr"), test=TestCommand()
    )
    env = EnvRecord(
        id="e", snapshot_id="s", snapshot_path="/x", name="demo", python="3.11", python_prefix="/usr",
        venv="/v", backend="local", recipe=recipe, test=recipe.test,
        collection_errors={"tests/test_a.py": "Traceback\nE   ImportError: cannot import name 'Mapping'\n"},
    )  # fmt: skip
    assert unusable_env(env) == (
        "no test passes on this state (0 ran); tests/test_a.py: E   ImportError: cannot import name 'Mapping'"
    )
    env.baseline = {"tests/test_a.py::test_x": "failed", "tests/test_b.py::test_y": "passed"}
    assert unusable_env(env) == ""


def test_a_change_to_files_git_quotes_keeps_their_names(tmp_path: Path) -> None:
    """git quotes these names in the diff it writes; the mined fix and test patches parse back to the
    very files the commit changed, and the reversed fix (the task's bug) names them too."""
    code, test = 'pkg/q"uote\tmod\u00e9.py', "tests/test_ta\tb.py"
    repo = make_repo(tmp_path / "demo", {"pkg/__init__.py": "", code: ADD})
    _commit(repo, {code: ADD + "\n\ndef neg(a):\n    return -a\n", test: TEST}, "neg", 2)
    (change,) = walk_history(repo / ".git", WalkOptions()).changes
    assert (change.fix_files, change.test_files) == ([code], [test])
    assert [fp.path for fp in parse_diff(change.fix_patch)] == [code]
    assert [fp.path for fp in parse_diff(change.test_patch)] == [test]
    assert [fp.path for fp in parse_diff(reverse_diff(change.fix_patch))] == [code]
