"""Tools on a real bwrap sandbox: bash exit codes, timeouts and head+tail truncation; argument checks;
the editor's exact error messages, edits as seen by `sandbox.diff()`, and undo."""

from __future__ import annotations

import pytest

from codekiln.agents import BashTool, EditorTool, Submitted, SubmitTool, check_args, truncate
from codekiln.core.protocols import Sandbox


def test_truncate_keeps_head_and_tail_and_counts_what_it_elides() -> None:
    text = "H" * 60 + "M" * 100 + "T" * 40
    out, cut = truncate(text, 100)
    assert cut
    assert out == "H" * 50 + "\n[... 100 chars elided ...]\n" + "M" * 10 + "T" * 40
    assert truncate("short", 100) == ("short", False)


def test_bash_shows_exit_code_and_output(sandbox: Sandbox) -> None:
    obs = BashTool().run(sandbox, {"command": "echo out; echo err >&2; exit 3"}, timeout=30)
    assert obs.text == "exit code 3\nout\nerr\n"
    assert (obs.ok, obs.exit_code, obs.tool, obs.truncated) == (False, 3, "bash", False)
    ok = BashTool().run(sandbox, {"command": "cat pkg/mod.py"}, timeout=30)
    assert ok.ok and ok.text == "exit code 0\ndef add(a, b):\n    return a - b\n"


def test_bash_truncates_long_output_to_head_and_tail(sandbox: Sandbox) -> None:
    obs = BashTool(max_chars=200).run(sandbox, {"command": "seq 1 5000"}, timeout=30)
    assert obs.truncated and obs.ok
    body = obs.text.removeprefix("exit code 0\n")
    assert body.startswith("1\n2\n3\n")
    assert body.endswith("4999\n5000\n")
    full = len("".join(f"{i}\n" for i in range(1, 5001)))
    assert f"[... {full - 200} chars elided ...]" in body


def test_bash_timeout_is_reported_and_not_ok(sandbox: Sandbox) -> None:
    obs = BashTool().run(sandbox, {"command": "echo started; sleep 30"}, timeout=0.5)
    assert obs.timed_out and not obs.ok and obs.exit_code is None
    assert obs.text.startswith("The command timed out after 0.5s and was killed;")


def test_bash_rejects_bad_arguments_without_running(sandbox: Sandbox) -> None:
    assert BashTool().run(sandbox, {}).text == "bash: missing required argument(s): command"
    assert (
        BashTool().run(sandbox, {"command": 5}).text
        == "bash: argument 'command' must be of type string, got int"
    )
    assert not BashTool().run(sandbox, {"command": "  "}).ok


def test_check_args_enum_and_types() -> None:
    schema = EditorTool.parameters
    assert check_args(schema, {"command": "view", "path": "a"}, "e") is None
    assert check_args(schema, {"command": "delete", "path": "a"}, "e") == (
        "e: argument 'command' must be one of: view, create, str_replace, insert, undo_edit (got 'delete')"
    )
    assert check_args(schema, {"command": "insert", "path": "a", "insert_line": True}, "e") == (
        "e: argument 'insert_line' must be of type integer, got bool"
    )


def test_check_args_refuses_what_no_process_can_be_given() -> None:
    """A NUL byte or a lone surrogate at any depth (terminus sends a list of objects) is the model's
    error: passed on, it raised out of the sandbox call and lost the episode."""
    hint = "arguments must be plain text (write such bytes from bash, e.g. printf '\\000')"
    assert check_args(BashTool.parameters, {"command": "echo a\0b"}, "bash") == (
        f"bash: argument 'command' contains a NUL byte (\\x00); {hint}"
    )
    nested = {"commands": [{"keystrokes": "ls \ud800"}]}
    assert check_args({"type": "object"}, nested, "t") == (
        f"t: argument 'commands' contains an unpaired surrogate ('\\ud800'), which is not text; {hint}"
    )
    assert check_args(BashTool.parameters, {"command": "printf '\\000' | od -c # é 😀"}, "bash") is None


def test_submit_raises_submitted(sandbox: Sandbox) -> None:
    with pytest.raises(Submitted):
        SubmitTool().run(sandbox, {})


def edit(editor: EditorTool, sandbox: Sandbox, **args: object) -> tuple[bool, str]:
    obs = editor.run(sandbox, dict(args))
    return obs.ok, obs.text


def test_view_file_range_and_directory(sandbox: Sandbox) -> None:
    w = sandbox.workdir
    ed = EditorTool()
    assert edit(ed, sandbox, command="view", path="pkg/dup.py") == (
        True,
        f"Here is {w}/pkg/dup.py (lines 1-3 of 3):\n     1\tx = 1\n     2\ty = 2\n     3\tx = 1",
    )
    assert edit(ed, sandbox, command="view", path=f"{w}/pkg/dup.py", view_range=[2, -1])[1].endswith(
        "(lines 2-3 of 3):\n     2\ty = 2\n     3\tx = 1"
    )
    assert edit(ed, sandbox, command="view", path="pkg/dup.py", view_range=[2, 9]) == (
        False,
        "view_range end 9 is out of range: it must be between 2 and 3, or -1",
    )
    ok, listing = edit(ed, sandbox, command="view", path="pkg")
    assert ok and listing.splitlines()[1:] == [
        f"{w}/pkg",
        f"{w}/pkg/__init__.py",
        f"{w}/pkg/dup.py",
        f"{w}/pkg/mod.py",
    ]
    assert edit(ed, sandbox, command="view", path="nope.py") == (
        False,
        f"{w}/nope.py does not exist; use `create` to make a new file",
    )


def test_str_replace_errors_are_exact(sandbox: Sandbox) -> None:
    w = sandbox.workdir
    ed = EditorTool()
    assert edit(ed, sandbox, command="str_replace", path="pkg/mod.py", old_str="a-b", new_str="a+b") == (
        False,
        f"old_str not found in {w}/pkg/mod.py; it must match the file exactly, whitespace and "
        "indentation included (view the file to copy the text)",
    )
    assert edit(ed, sandbox, command="str_replace", path="pkg/dup.py", old_str="x = 1", new_str="x = 3") == (
        False,
        f"old_str appears 2 times in {w}/pkg/dup.py (lines 1, 3); add context to make it unique",
    )
    assert edit(ed, sandbox, command="str_replace", path="pkg/dup.py", old_str="", new_str="z") == (
        False,
        "str_replace needs a non-empty `old_str` (the exact text to replace)",
    )
    assert sandbox.diff() == ""


def test_str_replace_edits_the_file_and_undo_restores_it(sandbox: Sandbox, fixed_diff: str) -> None:
    w = sandbox.workdir
    ed = EditorTool()
    ok, text = edit(ed, sandbox, command="str_replace", path="pkg/mod.py", old_str="a - b", new_str="a + b")
    assert ok and text.startswith(f"The file {w}/pkg/mod.py has been edited.")
    assert "     2\t    return a + b" in text
    assert sandbox.diff() == fixed_diff
    assert edit(ed, sandbox, command="undo_edit", path="pkg/mod.py")[0]
    assert sandbox.read_file("pkg/mod.py") == b"def add(a, b):\n    return a - b\n"
    assert sandbox.diff() == ""
    assert edit(ed, sandbox, command="undo_edit", path="pkg/mod.py") == (
        False,
        f"no edit to undo for {w}/pkg/mod.py",
    )


def test_insert_and_its_range_check(sandbox: Sandbox) -> None:
    ed = EditorTool()
    assert edit(ed, sandbox, command="insert", path="pkg/dup.py", insert_line=4, new_str="w = 0") == (
        False,
        "insert_line 4 is out of range: it must be between 0 and 3",
    )
    assert edit(ed, sandbox, command="insert", path="pkg/dup.py", insert_line=0, new_str="# top")[0]
    assert edit(ed, sandbox, command="insert", path="pkg/dup.py", insert_line=4, new_str="z = 3\n")[0]
    assert sandbox.read_file("pkg/dup.py") == b"# top\nx = 1\ny = 2\nx = 1\nz = 3\n"
    edit(ed, sandbox, command="undo_edit", path="pkg/dup.py")
    assert sandbox.read_file("pkg/dup.py") == b"# top\nx = 1\ny = 2\nx = 1\n"


def test_create_refuses_to_overwrite_and_undo_removes_it(sandbox: Sandbox) -> None:
    w = sandbox.workdir
    ed = EditorTool()
    assert edit(ed, sandbox, command="create", path="pkg/mod.py", file_text="x") == (
        False,
        f"{w}/pkg/mod.py already exists; `create` cannot overwrite files, use `str_replace`",
    )
    assert edit(ed, sandbox, command="create", path="pkg/new/helper.py", file_text="VALUE = 1\n") == (
        True,
        f"Created {w}/pkg/new/helper.py.",
    )
    assert sandbox.exec("python3 -c 'from pkg.new.helper import VALUE; print(VALUE)'").stdout == "1\n"
    assert "+VALUE = 1" in sandbox.diff()
    assert edit(ed, sandbox, command="undo_edit", path="pkg/new/helper.py")[0]
    assert sandbox.exec("test -e pkg/new/helper.py").exit_code == 1
    assert edit(ed, sandbox, command="create", path="pkg", file_text="x") == (
        False,
        f"{w}/pkg is a directory; give the path of a file",
    )


def test_bad_paths_are_the_models_mistake_not_an_infrastructure_failure(sandbox: Sandbox) -> None:
    w = sandbox.workdir
    # A path through a file or a name past the filesystem's limit once escaped as an OSError and ended
    # the episode as sandbox_error, which masks it: one tool call could hide any failing episode.
    ed = EditorTool()
    ok, text = edit(ed, sandbox, command="view", path="pkg/mod.py/x")
    assert not ok and text.startswith(f"cannot read {w}/pkg/mod.py/x:")
    ok, text = edit(ed, sandbox, command="create", path="pkg/mod.py/new.py", file_text="x")
    assert not ok and text == f"cannot read {w}/pkg/mod.py/new.py: Not a directory"
    ok, text = edit(ed, sandbox, command="create", path="n" * 300 + ".py", file_text="x")
    assert not ok and "cannot" in text


def test_a_python_file_in_latin1_is_edited_and_written_back_in_latin1(sandbox: Sandbox) -> None:
    """A module declaring `# -*- coding: latin-1 -*-` reads as Python reads it, and an edit keeps its
    encoding (it was refused as "not a UTF-8 text file"); a character the encoding lacks is the model's
    mistake, said as such. Any other file that is not UTF-8 is still refused."""
    source = '# -*- coding: latin-1 -*-\nGREETING = "café"\n'
    sandbox.write_file("pkg/latin.py", source.encode("latin-1"))
    sandbox.write_file("pkg/data.txt", "café\n".encode("latin-1"))
    ed = EditorTool()
    ok, text = edit(ed, sandbox, command="view", path="pkg/latin.py")
    assert ok and 'GREETING = "café"' in text
    assert edit(ed, sandbox, command="str_replace", path="pkg/latin.py", old_str="café", new_str="thé")[0]
    assert sandbox.read_file("pkg/latin.py") == source.replace("café", "thé").encode("latin-1")
    ok, text = edit(ed, sandbox, command="str_replace", path="pkg/latin.py", old_str="thé", new_str="☕")
    assert not ok and "cannot be written in the file's encoding (iso-8859-1)" in text, text
    assert edit(ed, sandbox, command="undo_edit", path="pkg/latin.py")[0]
    assert sandbox.read_file("pkg/latin.py") == source.encode("latin-1")
    ok, text = edit(ed, sandbox, command="view", path="pkg/data.txt")
    assert not ok and "is not a UTF-8 text file" in text
