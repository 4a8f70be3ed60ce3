"""Git-style diffs made, parsed, reversed, merged and hashed, checked against real git on toolz."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from codekiln.core import proc
from codekiln.core.diffs import (
    diff_hash,
    diff_stats,
    make_diff,
    parse_diff,
    quote_path,
    render_diff,
    reverse_diff,
    unquote_path,
    whole_file_diff,
)
from codekiln.core.errors import TaskError
from codekiln.core.patches import apply_diff, merge_patches
from codekiln.testing import make_repo, run_git

FILE = "toolz/itertoolz.py"


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_make_diff_matches_git_and_applies_both_ways(toolz_checkout: Path) -> None:
    old = (toolz_checkout / FILE).read_text()
    new = _edit(old, "def remove(predicate, seq):", "def remove(predicate, seq):  # edited")
    new = _edit(new, "    return filterfalse(predicate, seq)", "    return filter(predicate, seq)")
    patch = make_diff(FILE, old, new)
    assert patch.startswith(f"diff --git a/{FILE} b/{FILE}\n--- a/{FILE}\n+++ b/{FILE}\n@@ -")
    assert run_git(toolz_checkout, "apply", "--check", "-", input=patch).exit_code == 0
    assert run_git(toolz_checkout, "apply", "-", input=patch).exit_code == 0
    assert (toolz_checkout / FILE).read_text() == new
    # git's own diff of the same change makes the same edits
    assert diff_hash(run_git(toolz_checkout, "diff").stdout) == diff_hash(patch)
    assert run_git(toolz_checkout, "apply", "-R", "-", input=patch).exit_code == 0
    assert run_git(toolz_checkout, "status", "--porcelain").stdout == ""
    assert apply_diff({FILE: new}, reverse_diff(patch)) == {FILE: old}


def test_hash_ignores_context_size_but_not_place(toolz_checkout: Path) -> None:
    path = toolz_checkout / FILE
    old = path.read_text()
    path.write_text(_edit(old, "    return filterfalse(predicate, seq)", "    return filter(predicate, seq)"))
    u1, u7 = run_git(toolz_checkout, "diff", "-U1").stdout, run_git(toolz_checkout, "diff", "-U7").stdout
    assert u1 != u7 and diff_hash(u1) == diff_hash(u7)
    first = run_git(toolz_checkout, "diff").stdout
    path.write_text(_edit(old, "    return tail(1, seq)[0]", "    return filter(predicate, seq)"))
    assert diff_hash(run_git(toolz_checkout, "diff").stdout) != diff_hash(first)


def test_file_without_final_newline_round_trips(toolz_checkout: Path) -> None:
    path = toolz_checkout / "toolz/sandbox/__init__.py"
    text = path.read_text()
    path.write_text(text.rstrip("\n"))
    run_git(toolz_checkout, "commit", "-qam", "no final newline")
    old = path.read_text()
    new = old.replace("from", "from ", 1) + "\nx = 1"
    patch = make_diff("toolz/sandbox/__init__.py", old, new)
    assert "\\ No newline at end of file" in patch
    assert run_git(toolz_checkout, "apply", "-", input=patch).exit_code == 0
    assert path.read_text() == new
    assert run_git(toolz_checkout, "apply", "-", input=reverse_diff(patch)).exit_code == 0
    assert path.read_text() == old
    assert render_diff(parse_diff(patch)) == patch


def test_created_and_deleted_files(toolz_checkout: Path) -> None:
    rel = "toolz/tests/test_recipes.py"
    text = (toolz_checkout / rel).read_text()
    created = make_diff(rel, None, text)
    assert "new file mode 100644\n--- /dev/null\n" in created
    (toolz_checkout / rel).unlink()
    assert run_git(toolz_checkout, "apply", "-", input=created).exit_code == 0
    assert (toolz_checkout / rel).read_text() == text
    deleted = reverse_diff(created)
    assert "deleted file mode 100644" in deleted and "+++ /dev/null" in deleted
    assert run_git(toolz_checkout, "apply", "-", input=deleted).exit_code == 0
    assert not (toolz_checkout / rel).exists()
    assert run_git(toolz_checkout, "checkout", "--", rel).exit_code == 0
    assert make_diff(rel, text, None) == deleted
    assert run_git(toolz_checkout, "apply", "--check", "-", input=make_diff(rel, text, None)).exit_code == 0


def test_merge_patches_and_overlap(toolz_repo: Path) -> None:
    old = (toolz_repo / FILE).read_text()
    a = make_diff(
        FILE, old, _edit(old, "    return filterfalse(predicate, seq)", "    return filter(predicate, seq)")
    )
    b = make_diff(FILE, old, _edit(old, "    return tail(1, seq)[0]", "    return seq[-1]"))
    merged = merge_patches({FILE: old}, [a, b])
    new = apply_diff({FILE: old}, merged)[FILE]
    assert new is not None and "return filter(predicate, seq)" in new and "return seq[-1]\n" in new
    assert diff_stats(merged)[1] == 4
    c = make_diff(FILE, old, _edit(old, "    return filterfalse(predicate, seq)", "    return []"))
    with pytest.raises(TaskError, match="overlap"):
        merge_patches({FILE: old}, [a, c])


def test_strict_apply_rejects_a_changed_file(toolz_repo: Path) -> None:
    old = (toolz_repo / FILE).read_text()
    patch = make_diff(FILE, old, _edit(old, "    return tail(1, seq)[0]", "    return seq[-1]"))
    with pytest.raises(TaskError, match="does not apply"):
        apply_diff({FILE: _edit(old, "    >>> last('ABC')\n    'C'", "    >>> last('ABC')\n    'X'")}, patch)


def test_plain_unified_diff_with_dash_lines(toolz_checkout: Path, tmp_path: Path) -> None:
    """A `diff -u` patch (no `diff --git` line) whose removed lines look like file headers."""
    rel = "README.rst"
    old = (
        (toolz_checkout / rel)
        .read_text()
        .replace("LICENSE\n-------\n", "LICENSE\n-------\n-- note\n--- x\n", 1)
    )
    (toolz_checkout / rel).write_text(old)
    run_git(toolz_checkout, "commit", "-qam", "dash lines")
    new = old.replace("-- note\n--- x\n", "", 1).replace("New BSD.", "BSD.", 1)
    (tmp_path / "new.rst").write_text(new)
    plain = proc.run(
        [
            "diff",
            "-u",
            "--label",
            f"a/{rel}",
            "--label",
            f"b/{rel}",
            str(toolz_checkout / rel),
            str(tmp_path / "new.rst"),
        ]
    ).stdout
    assert "\n--- x\n" not in plain and "\n---- x\n" in plain
    (patch,) = parse_diff(plain)
    assert (patch.old_path, patch.new_path) == (rel, rel)
    assert apply_diff({rel: old}, plain) == {rel: new}
    assert diff_hash(plain) == diff_hash(make_diff(rel, old, new))
    assert run_git(toolz_checkout, "apply", "-", input=plain).exit_code == 0
    assert (toolz_checkout / rel).read_text() == new


def test_random_edits_round_trip_in_memory() -> None:
    """Thousands of small random edits, with and without final newlines, on both sides: applying the
    diff gives the new text, applying its reverse gives the old one back."""
    rng = random.Random(0)
    checked = 0
    for _ in range(3000):
        old = [rng.choice("abc") * rng.randint(0, 2) for _ in range(rng.randint(0, 10))]
        new = list(old)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.3 and new:
                del new[rng.randrange(len(new))]
            elif op < 0.6:
                new.insert(rng.randint(0, len(new)), rng.choice("xyz"))
            elif new:
                new[rng.randrange(len(new))] = rng.choice("pq")
        a = "\n".join(old) + ("\n" if old and rng.random() < 0.6 else "")
        b = "\n".join(new) + ("\n" if new and rng.random() < 0.6 else "")
        patch = make_diff("f.py", a, b)
        if a == b or not patch:
            continue
        assert apply_diff({"f.py": a}, patch) == {"f.py": b}, patch
        assert apply_diff({"f.py": b}, reverse_diff(patch)) == {"f.py": a}, patch
        checked += 1
    assert checked > 2000


ODD_NAMES = ['q"uote.py', "ta\tb.py", "new\nline.py", "back\\slash.py", "sp ace.py", "é.py", "bad\udcff.py"]


def _git_bytes(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True)
    return done.stdout


@pytest.mark.parametrize("quote_path", ["true", "false"])
def test_names_git_quotes_are_read_and_written_as_git_does(tmp_path: Path, quote_path: str) -> None:
    """git C-quotes a name with a double quote, a backslash or a control character ("b/ta\\tb.py"),
    and with core.quotePath (its default) every non-ASCII byte as octal; a name with a space stays bare
    and is split in the middle of the `diff --git` line. parse_diff read the quotes as part of the name,
    so such a file left every patch read from git (an agent's, a mined commit's)."""
    repo = make_repo(tmp_path / "repo", {"keep.py": "k\n"})
    for name in ODD_NAMES:
        with open(bytes(repo) + b"/" + name.encode("utf-8", "surrogateescape"), "w") as f:
            f.write("x = 1\n")
    _git_bytes(repo, "add", "-A")
    text = _git_bytes(repo, "-c", f"core.quotePath={quote_path}", "diff", "--cached")
    patches = parse_diff(text.decode("utf-8", "surrogateescape"))
    assert sorted(fp.path for fp in patches) == sorted(ODD_NAMES)
    assert all(fp.old_path is None and fp.hunks for fp in patches)
    # What codekiln writes, git reads back: applied, then undone, byte for byte.
    _git_bytes(repo, "reset", "-q", "--hard")
    ours = "".join(make_diff(name, None, "x = 1\n") for name in ODD_NAMES)
    assert [fp.path for fp in parse_diff(reverse_diff(reverse_diff(ours)))] == ODD_NAMES
    _git_bytes(repo, "apply", "-", data=ours.encode("utf-8", "surrogateescape"))
    status = _git_bytes(repo, "status", "--porcelain", "-z", "--untracked-files=all").split(b"\0")
    assert sorted(s[3:] for s in status if s) == sorted(
        n.encode("utf-8", "surrogateescape") for n in ODD_NAMES
    )
    _git_bytes(repo, "apply", "-", data=reverse_diff(ours).encode("utf-8", "surrogateescape"))
    assert _git_bytes(repo, "status", "--porcelain") == b""


def test_quoted_names_parse_edge_cases() -> None:
    assert quote_path("a/plain é.py") == "a/plain é.py"
    assert quote_path('a/x"\t\n\\\x7f.py') == '"a/x\\"\\t\\n\\\\\\177.py"'
    assert unquote_path('"a/x\\"\\t\\n\\\\\\177.py" rest') == ('a/x"\t\n\\\x7f.py', " rest")
    assert unquote_path('"\\303\\251\\377"') == ("é\udcff", "")
    (fp,) = parse_diff("diff --git a/e mpty b/e mpty\nnew file mode 100644\nindex 0000000..e69de29\n")
    assert (fp.old_path, fp.new_path) == ("e mpty", "e mpty")
    with pytest.raises(TaskError, match="unterminated quoted file name"):
        parse_diff('diff --git "a/open b/open\n')


def test_whole_file_diffs_follow_a_rewrite_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    # A rewrite whose mtime is put back (as task trees and the trace guard do), or one within the file
    # system's clock tick, looks unchanged to a size+mtime key: the diff must still be of the new bytes.
    path = tmp_path / "test_a.py"
    path.write_text("assert 1\n")
    before = path.stat()
    assert whole_file_diff(path, "test_a.py", create=True).endswith("+assert 1\n")
    path.write_text("assert 2\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_size == before.st_size
    assert whole_file_diff(path, "test_a.py", create=True).endswith("+assert 2\n")
    assert whole_file_diff(path, "test_a.py", create=False).endswith("-assert 2\n")
    path.chmod(0o755)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "new file mode 100755" in whole_file_diff(path, "test_a.py", create=True)
